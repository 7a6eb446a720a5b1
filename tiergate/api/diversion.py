"""``/v1/diversion``: diversion scans of uploaded shipments and the case queue over HTTP. Scanning and analysts'
actions need the ``officer`` role; reading the queue, ``viewer``. An action's author is the API key's owner, and
each is entered in the ledger's audit log."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tiergate.api.auth import context, officer, viewer
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey, acting_as
from tiergate.api.schemas import multipart_body
from tiergate.errors import TiergateError

router = APIRouter(prefix="/v1/diversion", tags=["diversion"])
SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json", ".parquet")
LEVELS = ("block", "high", "medium", "low")

CaseId = Annotated[str, PathParam(max_length=20, pattern=r"^C-\d{4,8}$", description="A case's id (C-0001).")]

_FLAG = {
    "type": "object",
    "required": ["code", "points", "shipments", "why", "citation"],
    "properties": {
        "code": {"type": "string"},
        "points": {"type": "integer"},
        "shipments": {"type": "array", "items": {"type": "string"}},
        "why": {"type": "string"},
        "citation": {"type": "string"},
    },
}
CASE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A case (docs/ARCHITECTURE.md, 'Case'): a network of linked parties, its flags and shipments.",
    "required": ["case", "level", "score", "shipments", "parties", "value_at_risk_usd", "flags"],
    "properties": {
        "case": {"type": "string"},
        "level": {"type": "string", "enum": list(LEVELS)},
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "shipments": {"type": "array", "items": {"type": "string"}},
        "parties": {"type": "array", "items": {"type": "string"}},
        "value_at_risk_usd": {"type": "number"},
        "flags": {"type": "array", "items": _FLAG},
        "notes": {"type": "array", "items": {"type": "object"}},
        "links": {"type": "array", "items": {"type": "object"}},
        "status": {"type": "string", "enum": ["open", "assigned", "closed"]},
        "assignee": {"type": ["string", "null"]},
    },
}
EXAMPLE_CASE = {
    "case": "C-0001",
    "level": "high",
    "score": 75,
    "shipments": ["S00000101", "S00000102", "S00000103"],
    "parties": ["P-000010", "P-000011"],
    "value_at_risk_usd": 3211178.0,
    "flags": [
        {
            "code": "F12-split-lots",
            "points": 20,
            "shipments": ["S00000101", "S00000102", "S00000103"],
            "why": "3 lots of under 8 accelerators within 30 days to 2 linked firm(s), 21 accelerators in all",
            "citation": "DOJ/Commerce/Treasury tri-seal compliance note (2023-03-02)",
        }
    ],
    "links": [{"a": "P-000010", "b": "P-000011", "via": "address", "value": "1 example road singapore"}],
}
SCAN_EXAMPLE = {"as_of": "2025-12-26", "shipments": 800, "cases": [EXAMPLE_CASE], "problems": [], "notes": []}
QUEUED_EXAMPLE = {**EXAMPLE_CASE, "status": "assigned", "assignee": "alice", "reason": None, "decided_by": None}


def _ok(schema: dict[str, Any], example: Any, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"application/json": {"schema": schema, "example": example}}}}


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    assignee: Annotated[str, Field(min_length=1, max_length=200, description="The analyst who takes the case.")]


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: Annotated[str, Field(min_length=1, max_length=10_000, description="Why the case is closed.")]


def _queue(ctx: ApiContext, key: ApiKey | None = None, *, create: bool = False) -> Any:
    from tiergate.diversion.store import CaseError, CaseQueue

    queue = CaseQueue(ledger=acting_as(ctx.ledger, key.owner) if key else ctx.ledger)
    if create:
        return queue
    try:
        queue.check()
    except CaseError as error:
        raise ApiError(
            404, "this server's database holds no case queue", hint="scan with record=true to fill it"
        ) from error
    return queue


async def _files(request: Request) -> dict[str, tuple[str, bytes]]:
    """The uploaded ``shipments`` (required), ``parties`` and ``imports`` (optional) files."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "multipart/form-data":
        raise ApiError(415, f"content type {media[:100]!r} is not accepted", hint="send multipart/form-data")
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartException

    found: dict[str, tuple[str, bytes]] = {}
    try:
        async with request.form(max_files=3, max_fields=20) as form:
            for field in ("shipments", "parties", "imports"):
                item = form.get(field)
                if isinstance(item, UploadFile):
                    found[field] = (Path(item.filename or field).name, await item.read())
    except (MultiPartException, ValueError, KeyError) as error:
        raise ApiError(400, f"not a readable multipart body: {str(error)[:200]}", where="body") from None
    if "shipments" not in found:
        raise ApiError(422, "no file in the form field 'shipments'", where="body.shipments")
    return found


def _answer(run: Any) -> Any:
    from tiergate.diversion.store import CaseError, UnknownCase

    try:
        return run()
    except UnknownCase as error:
        raise ApiError(404, error.message, where=error.where, hint=error.hint) from None
    except CaseError as error:
        raise ApiError(422, error.message, where=error.where, hint=error.hint) from None


def _scan(
    ctx: ApiContext,
    key: ApiKey,
    shipments: tuple[str, bytes],
    parties: tuple[str, bytes] | None,
    as_of: dt.date | None,
    min_level: str,
    record: bool,
    imports: tuple[str, bytes] | None = None,
) -> dict[str, Any]:
    from tiergate.diversion.model import LEVEL_RANK
    from tiergate.diversion.scan import run_scan

    with tempfile.TemporaryDirectory(prefix="tiergate-diversion-") as folder:
        paths: dict[str, Path] = {}
        names: dict[str, str] = {}
        for field, upload in (("shipments", shipments), ("parties", parties), ("imports", imports)):
            if upload is None:
                continue
            name, content = upload
            suffix = Path(name).suffix.lower()
            if suffix not in SUFFIXES:
                raise ApiError(415, f"{name[:100]!r}: upload a .csv, .jsonl or .parquet file", where=f"body.{field}")
            paths[field] = Path(folder) / f"{field}{suffix}"
            paths[field].write_bytes(content)
            names[str(paths[field])] = name

        def named(text: str | None) -> str:
            text = text or ""
            for path, name in names.items():
                text = text.replace(path, name)
            return text

        lists = ctx.settings.lists_url() if ctx.lists is not None else None
        try:
            result = run_scan(
                paths["shipments"], paths.get("parties"), as_of=as_of, lists_url=lists, imports=paths.get("imports")
            )
        except TiergateError as error:
            raise ApiError(422, named(error.render()), where="body.shipments") from None
    shown = [c for c in result.cases if LEVEL_RANK[c.level] <= LEVEL_RANK[min_level]]
    if record:
        queue = _queue(ctx, key, create=True)
        ctx.read(queue.record, shown)
    body = result.to_dict()
    body["cases"] = [c.to_dict() for c in shown]
    for problem in body["problems"]:
        problem["file"] = named(problem["file"])
    return body


@router.post(
    "/scan",
    summary="Scan uploaded shipments for diversion",
    description="Multipart `shipments` (.csv, .jsonl or .parquet in the documented columns) and optional "
    "`parties` and `imports` (hub imports by country and month, for the mirror-gap prior F11). Returns the cases "
    "ordered by priority (from `min_level` up), the rows that did not parse (named by the uploaded file, line and "
    "column) and the notes (insufficient data, unknown chip ids with suggestions). "
    "With `record=true` the cases enter the case queue; a closed case stays closed while its evidence is unchanged.",
    responses={**_ok({"type": "object"}, SCAN_EXAMPLE, "The scan."), **responses(415)},
    openapi_extra=multipart_body(
        {
            "shipments": {"type": "string", "format": "binary", "description": "Shipments."},
            "parties": {"type": "string", "format": "binary", "description": "Parties (optional)."},
            "imports": {
                "type": "string",
                "format": "binary",
                "description": "Hub imports: country, month, value_usd[, documented_h100e] (optional).",
            },
        },
        ["shipments"],
    ),
)
async def post_scan(
    request: Request,
    key: Annotated[ApiKey, Depends(officer)],
    as_of: Annotated[str | None, Query(max_length=10, description="Scan date (YYYY-MM-DD).")] = None,
    min_level: Annotated[
        str, Query(pattern="^(block|high|medium|low)$", description="Lowest level returned.")
    ] = "medium",
    record: Annotated[bool, Query(description="Enter the cases in the case queue.")] = False,
) -> dict[str, Any]:
    day = None
    if as_of is not None:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ApiError(422, f"as_of: {as_of!r} is not a date (YYYY-MM-DD)", where="query.as_of") from None
    files = await _files(request)
    parties = files.get("parties")
    ctx = context(request)
    return await run_in_threadpool(
        _scan, ctx, key, files["shipments"], parties, day, min_level, record, files.get("imports")
    )


@router.get(
    "/cases",
    summary="The case queue",
    description="Open and assigned cases first, by level and score; filter by `status` and `level`.",
    responses={**_ok({"type": "array", "items": CASE_SCHEMA}, [QUEUED_EXAMPLE], "The cases."), **responses(404)},
)
def get_cases(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    status: Annotated[str | None, Query(pattern="^(open|assigned|closed)$")] = None,
    level: Annotated[str | None, Query(pattern="^(block|high|medium|low)$")] = None,
) -> list[dict[str, Any]]:
    ctx = context(request)
    found: list[dict[str, Any]] = _answer(lambda: ctx.read(_queue(ctx).list, status=status, level=level))
    return found


@router.get(
    "/cases/{case}",
    summary="One case",
    description="The case with its flags (why and citation), shipments, parties and links, analysts' notes and its "
    "history in the audit log.",
    responses={**_ok(CASE_SCHEMA, QUEUED_EXAMPLE, "The case."), **responses(404)},
)
def get_case(request: Request, case: CaseId, key: Annotated[ApiKey, Depends(viewer)]) -> dict[str, Any]:
    ctx = context(request)
    found: dict[str, Any] = _answer(lambda: ctx.read(_queue(ctx).show, case))
    return found


@router.post(
    "/cases/{case}/assign",
    summary="Assign a case",
    responses={**_ok(CASE_SCHEMA, QUEUED_EXAMPLE, "The case."), **responses(404, 415)},
)
def post_assign(
    request: Request, case: CaseId, body: AssignBody, key: Annotated[ApiKey, Depends(officer)]
) -> dict[str, Any]:
    ctx = context(request)
    queue = _queue(ctx, key)
    found: dict[str, Any] = _answer(lambda: queue.assign(case, body.assignee, author=key.owner))
    return found


@router.post(
    "/cases/{case}/notes",
    summary="Add a note to a case",
    responses={**_ok(CASE_SCHEMA, QUEUED_EXAMPLE, "The case."), **responses(404, 415)},
)
def post_note(
    request: Request, case: CaseId, body: NoteBody, key: Annotated[ApiKey, Depends(officer)]
) -> dict[str, Any]:
    ctx = context(request)
    queue = _queue(ctx, key)
    found: dict[str, Any] = _answer(lambda: queue.note(case, body.text, author=key.owner))
    return found


@router.post(
    "/cases/{case}/close",
    summary="Close a case with a reason",
    description="It stays closed on re-scans until its evidence (flags, points, shipments) changes.",
    responses={**_ok(CASE_SCHEMA, {**QUEUED_EXAMPLE, "status": "closed"}, "The case."), **responses(404, 415)},
)
def post_close(
    request: Request, case: CaseId, body: CloseBody, key: Annotated[ApiKey, Depends(officer)]
) -> dict[str, Any]:
    ctx = context(request)
    queue = _queue(ctx, key)
    found: dict[str, Any] = _answer(lambda: queue.close(case, body.reason, author=key.owner))
    return found
