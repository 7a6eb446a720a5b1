"""``/v1/screen``: restricted-party screening of a name or a batch (the answers of ``tiergate screen name|batch
--format json``), officers' decisions on hits (clear as a false positive, confirm, re-open), and the lists
(status for everyone; loading for admins). Every write is entered in the ledger's audit log under the key's owner
(and in the list store's own trail, with the key's owner as the decision's author)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from tiergate.api.auth import admin, authorize, context, require, viewer
from tiergate.api.bodies import check_batch, records_body
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey
from tiergate.api.limits import encode_rows, within_budget
from tiergate.api.schemas import json_body as body_doc
from tiergate.api.schemas import multipart_body, ok, ref
from tiergate.api.screening import ServerLists, screenable
from tiergate.errors import InputError, UnknownCountryError
from tiergate.interchange import iso_codes
from tiergate.screen.model import DEFAULT_THRESHOLD, SCHEMAS
from tiergate.screen.model import Query as NameQuery
from tiergate.screen.service import party_id, query_to_dict

router = APIRouter(prefix="/v1/screen", tags=["screen"])
officer_hits = require("officer", "clear or confirm screening hits")

Schema = Literal["Person", "Organization", "Company", "LegalEntity", "Vessel", "Airplane"]
assert set(Schema.__args__) == set(SCHEMAS)  # type: ignore[attr-defined]
Threshold = Annotated[
    float, Query(ge=0.0, le=1.0, description=f"Match threshold (default {DEFAULT_THRESHOLD}), as `--threshold`.")
]
Record = Annotated[
    bool,
    Query(description="Record each party's result for re-screening after a list update (officer or above)."),
]


class PartyIn(BaseModel):
    """A party to screen: its name in any script, and what else is known."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=1000, description="The party's name, in any script.")]
    country: Annotated[str | None, Field(max_length=2, description="ISO 3166-1 alpha-2 country.")] = None
    schema_: Annotated[Schema | None, Field(alias="schema", description="The kind of party, if known.")] = None
    identifiers: Annotated[
        list[Annotated[str, Field(max_length=200)]],
        Field(max_length=20, description="Registration, passport, IMO numbers..."),
    ] = []
    id: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=300,
            description="The party's id (decisions are kept per party and list entry); default: country and name.",
        ),
    ] = None


class ScreenIn(PartyIn):
    threshold: Annotated[float, Field(ge=0.0, le=1.0, description="Match threshold.")] = DEFAULT_THRESHOLD
    limit: Annotated[int, Field(ge=1, le=100, description="At most this many hits, best first.")] = 10
    record: Annotated[bool, Field(description="Record the result under the party (officer or above).")] = False


class DecisionIn(BaseModel):
    """An officer's decision on a hit: for this party and this list entry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    party: Annotated[str, Field(min_length=1, max_length=300, description="The party id (a screening's `party`).")]
    entry: Annotated[
        str, Field(min_length=3, max_length=420, description="The list entry, DATASET:ID (a hit's `entry`).")
    ]
    verdict: Annotated[
        Literal["cleared", "confirmed", "reopened"],
        Field(description="cleared (a false positive), confirmed (a true match) or reopened (withdraw the decision)."),
    ]
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="Why; kept with the decision.")]
    name: Annotated[
        str | None,
        Field(
            max_length=1000,
            description="The party's name as screened (default: its recorded screening's). The decision holds only "
            "for this name, country and identifiers: a change of any re-opens it.",
        ),
    ] = None
    country: Annotated[str | None, Field(max_length=2, description="The party's country as screened.")] = None
    identifiers: Annotated[list[str], Field(max_length=20, description="The party's identifiers as screened.")] = []


def country_code(value: str | None, where: str) -> str | None:
    if value is None or value == "":
        return None
    code = value.strip().upper()
    if code not in iso_codes():
        raise UnknownCountryError(f"{value[:20]!r} is not an ISO 3166-1 alpha-2 country code", where=where)
    return code


def party_query(party: PartyIn, where: str) -> tuple[NameQuery, str]:
    """The screening query of ``party`` (its name cleaned, as ``tiergate screen name`` cleans it) and the party id
    its decisions are kept under (``party_id``, as the CLI, ``decide`` and ``ship`` make it)."""
    name = screenable(party.name, f"{where}.name")
    query = NameQuery(name, party.schema_, country_code(party.country, f"{where}.country"), tuple(party.identifiers))
    return query, party_id(query.name, query.country, party.id)


def _lists(ctx: ApiContext) -> ServerLists:
    lists = ctx.list_store()
    if not lists.has_lists():
        raise ApiError(
            409,
            "the list store holds no lists",
            hint="an admin loads them: POST /v1/screen/lists",
        )
    return lists


def _audit(ctx: ApiContext, key: ApiKey, action: str, subject: str, payload: dict[str, Any]) -> None:
    writer = ctx.ledger_for(key)
    ctx.read(writer.run, lambda conn: writer.append_audit(conn, action, subject[:500], payload))


def screen_party(ctx: ApiContext, key: ApiKey | None, body: ScreenIn, where: str = "body") -> dict[str, Any]:
    """One screening, as ``tiergate screen name --format json`` answers it (recorded when asked)."""
    lists = _lists(ctx)
    query, party = party_query(body, where)
    hits = lists.screen(query, party=party, threshold=body.threshold, limit=body.limit, where=f"{where}.name")
    rows = [h.to_dict() for h in hits]
    if body.record:
        assert key is not None
        lists.record([(party, query_to_dict(query), rows)], actor=key.actor)
        _audit(
            ctx, key, "screen", party, {"query": query_to_dict(query), "hits": len(rows), "data": lists.data_version()}
        )
    return {
        "query": {"name": body.name, "country": query.country, "schema": body.schema_, "party": party},
        "threshold": body.threshold,
        "data_version": lists.data_version(),
        "list_warnings": ctx.settings.list_warnings(lists.status()),
        "hits": rows,
    }


def screen_batch(
    ctx: ApiContext, key: ApiKey | None, records: list[tuple[Any, str]], threshold: float, limit: int, record: bool
) -> list[dict[str, Any]]:
    """Each party's result, in order, as ``tiergate screen batch`` writes them; the first bad party is a 422."""
    check_batch(records, ctx.settings.max_batch_records, "parties")
    from pydantic import ValidationError

    lists = _lists(ctx)
    parsed: list[tuple[NameQuery, str, str]] = []
    for data, where in within_budget(records):
        try:
            party = PartyIn.model_validate(data)
        except ValidationError as error:
            from tiergate.interchange import unknown_field_hint

            problems = sorted(error.errors(), key=lambda p: p["type"] != "extra_forbidden")
            first = problems[0]
            field = ".".join(str(step) for step in first["loc"])
            unknown = first["type"] == "extra_forbidden"
            message = "unknown field" if unknown else str(first["msg"])
            hint = unknown_field_hint(PartyIn, list(first["loc"])) if unknown else None
            raise InputError(f"{field}: {message}" if field else message, where=where, hint=hint) from None
        query, party_id = party_query(party, where)
        parsed.append((query, party_id, where))
    results: list[dict[str, Any]] = []
    recorded: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
    for query, party_id, where in within_budget(parsed):
        hits = lists.screen(query, party=party_id, threshold=threshold, limit=limit, where=f"{where}.name")
        rows = [h.to_dict() for h in hits]
        results.append(
            {
                "id": party_id,
                "name": query.name,
                "country": query.country,
                "hit": any(h.match and h.status != "cleared" for h in hits),
                "best_score": round(hits[0].score, 4) if hits else 0.0,
                "hits": rows,
            }
        )
        if record:
            recorded.append((party_id, query_to_dict(query), rows))
    if record and recorded:
        assert key is not None
        lists.record(recorded, actor=key.actor)
        _audit(ctx, key, "screen-batch", f"{len(recorded)} parties", {"parties": [p for p, _, _ in recorded][:1000]})
    return results


def decide_hit(ctx: ApiContext, key: ApiKey, body: DecisionIn) -> dict[str, Any]:
    """Clear, confirm or re-open a hit for (party, entry) as the key's owner."""
    lists = ctx.list_store()
    decision = lists.decide(
        body.party,
        body.entry,
        body.verdict,
        body.reason,
        key.actor,
        name=body.name,
        country=country_code(body.country, "body.country"),
        identifiers=body.identifiers,
    )
    _audit(
        ctx,
        key,
        f"screen-{body.verdict}",
        f"{body.party} / {body.entry}",
        {"reason": body.reason, "entry_hash": decision["entry_hash"]},
    )
    return decision


def standing_decisions(ctx: ApiContext, party: str | None) -> list[dict[str, Any]]:
    found = ctx.list_store().store.decisions(party)
    return sorted((d.to_dict() for d in found.values()), key=lambda d: (d["decided_at"], d["party"], d["entry"]))


STALE_HEADER = "Tiergate-Stale-Lists"
"""The header of a batch screening naming each list older than the maximum list age (and its data date)."""
BEARER: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
"""Routes that check the key in the handler (the role depends on the request) declare it here."""


@router.post(
    "",
    summary="Screen a name",
    description="Ranked hits against the loaded restricted-party lists, each with its score, its status (open, "
    "cleared or confirmed by an officer for this party) and the features behind the score. `record` (officer) "
    "keeps the result for re-screening after a list update.",
    responses={**ok(ref("Screening"), "The screening."), **responses(409)},
)
async def post_screen(request: Request, key: Annotated[ApiKey, Depends(viewer)], body: ScreenIn) -> dict[str, Any]:
    # The key is checked (a dependency) before the body is validated: a caller without a key learns nothing of it.
    if body.record:
        await authorize(request, "officer", "record a screening")
    return await run_in_threadpool(screen_party, context(request), key, body)


@router.post(
    "/batch",
    summary="Screen a batch of parties",
    description="A JSON array of parties (or JSON lines, `application/x-ndjson`); one result per party, in order, "
    "as `tiergate screen batch` writes them. The first bad party fails the batch with its position in `where`. "
    "The header `Tiergate-Stale-Lists` names each list older than the server's maximum list age.",
    response_class=Response,
    responses={**ok({"type": "array", "items": ref("ScreeningRow")}, "One result per party."), **responses(409, 415)},
    openapi_extra={
        **body_doc(
            {"type": "array", "items": PartyIn.model_json_schema(by_alias=True), "minItems": 1},
            description="Parties.",
            ndjson=True,
        ),
        **BEARER,
    },
)
async def post_screen_batch(
    request: Request,
    threshold: Threshold = DEFAULT_THRESHOLD,
    limit: Annotated[int, Query(ge=1, le=100, description="Hits kept per party.")] = 5,
    record: Record = False,
) -> Response:
    key = await authorize(request, "officer" if record else "viewer", "record screenings")
    ctx = context(request)
    records = await records_body(request, most=ctx.settings.max_batch_records, what="parties")
    if not records:
        raise ApiError(422, "the batch is empty", where="body")
    lines = request.headers.get("content-type", "").startswith(("application/x-ndjson", "application/jsonl"))

    def answer() -> bytes:
        results = screen_batch(ctx, key, records, threshold, limit, record)
        return encode_rows(results, ctx.settings.max_response_bytes, lines=lines, what="parties")

    body = await run_in_threadpool(answer)
    stale = await run_in_threadpool(lambda: ctx.settings.list_warnings(ctx.list_store().status()))
    headers = {STALE_HEADER: ", ".join(f"{w['dataset']} ({w['file_date'] or 'date unknown'})" for w in stale)}
    return Response(
        body, media_type="application/x-ndjson" if lines else "application/json", headers=headers if stale else None
    )


@router.get(
    "/decisions",
    summary="Standing decisions on hits",
    responses={**ok({"type": "array", "items": ref("HitDecision")}, "The standing decisions."), **responses(404)},
)
def get_decisions(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    party: Annotated[str | None, Query(min_length=1, max_length=300, description="Only this party's.")] = None,
) -> list[dict[str, Any]]:
    return standing_decisions(context(request), party)


@router.post(
    "/decisions",
    summary="Clear, confirm or re-open a hit",
    description="For one (party, list entry) pair: `cleared` (a false positive: left out of decisions and "
    "shipments while the entry is unchanged; re-opened by itself when it changes), `confirmed`, or `reopened` "
    "(withdraws the standing decision). The key's owner is the decision's author; entered in the audit log.",
    status_code=201,
    responses={
        201: {"description": "The decision.", "content": {"application/json": {"schema": ref("HitDecision")}}},
        **responses(404, 409),
    },
)
async def post_decision(
    request: Request, key: Annotated[ApiKey, Depends(officer_hits)], body: DecisionIn
) -> dict[str, Any]:
    return await run_in_threadpool(decide_hit, context(request), key, body)


@router.get(
    "/lists",
    summary="The loaded lists",
    description="Each dataset: entries, version, the files' SHA-256, its data date (the list's own date) and a "
    "`warning` when it is older than the server's maximum list age (`tiergate lists status`).",
    responses={**ok({"type": "array", "items": {"type": "object"}}, "The datasets."), **responses(404)},
)
def get_lists(request: Request, key: Annotated[ApiKey, Depends(viewer)]) -> list[dict[str, Any]]:
    ctx = context(request)
    rows = ctx.list_store().status()
    stale = {w["dataset"]: w["message"] for w in ctx.settings.list_warnings(rows)}
    return [{**row, "warning": stale.get(row["dataset"])} for row in rows]


_UPLOAD = multipart_body({"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}, ["files"])


@router.post(
    "/lists",
    summary="Load list files (admin)",
    description="OFAC CSV, trade.gov CSL CSV, UN XML, NSF JSON or FollowTheMoney JSON lines, as multipart `files`; "
    "stored all or nothing (a list losing more than 10 % of its entries is refused unless `force`), then the "
    "recorded parties the update touches are screened again (`tiergate lists load`).",
    responses={**ok({"type": "object"}, "What was loaded, and the re-screening."), **responses(409, 415)},
    openapi_extra=_UPLOAD,
)
async def post_lists(
    request: Request,
    key: Annotated[ApiKey, Depends(admin)],
    force: Annotated[bool, Query(description="Load even if a list drops more than 10 % of its entries.")] = False,
) -> dict[str, Any]:
    files = (await uploaded(request, ("files",), max_files=20))["files"]
    ctx = context(request)
    result = await run_in_threadpool(lambda: ctx.list_store().load(files, force=force, actor=key.actor))
    _audit(ctx, key, "lists-load", ",".join(r["dataset"] for r in result["loaded"]), result)
    return result


async def uploaded(request: Request, fields: tuple[str, ...], *, max_files: int) -> dict[str, list[tuple[str, bytes]]]:
    """The files of each multipart field (name, content); 415 for another content type, 422 for a field without."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "multipart/form-data":
        raise ApiError(415, f"content type {media[:100]!r} is not accepted", hint="send multipart/form-data")
    from starlette.formparsers import MultiPartException

    found: dict[str, list[tuple[str, bytes]]] = {}
    try:
        async with request.form(max_files=max_files, max_fields=20) as form:
            for field in fields:
                found[field] = [
                    (Path(item.filename or field).name, await item.read())
                    for item in form.getlist(field)
                    if isinstance(item, UploadFile)
                ]
    except (MultiPartException, ValueError, KeyError) as error:
        raise ApiError(400, f"not a readable multipart body: {str(error)[:200]}", where="body") from None
    for field in fields:
        if not found[field]:
            raise ApiError(422, f"no file in the form field {field!r}", where=f"body.{field}")
    return found
