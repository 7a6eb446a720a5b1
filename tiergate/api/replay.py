"""``/v1/replay``: a history of transactions decided under two regimes (or a regime and a proposal) in date order,
each side carrying its allocations forward, and what changed: the Replay report of ``tiergate replay``
(docs/ARCHITECTURE.md, Replay). The history is a JSON body (``transactions``) or an uploaded file (Parquet, CSV,
JSON, JSON lines); ``format=html`` answers the offline HTML report as a download. A row that cannot be replayed
is listed in ``unreplayable`` (the replay goes on); an unknown regime or a bad listing is a 422."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.auth import context, officer
from tiergate.api.bodies import json_body
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey
from tiergate.api.schemas import json_body as body_doc
from tiergate.api.schemas import multipart_body, ref
from tiergate.api.screen import uploaded
from tiergate.errors import TiergateError
from tiergate.interchange import validation_error

router = APIRouter(prefix="/v1/replay", tags=["replay"])

_REPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The Replay report (JSON; with `format=html`, the offline HTML report as a download).",
        "content": {
            "application/json": {"schema": ref("Replay")},
            "text/html": {"schema": {"type": "string"}},
        },
    }
}

SUFFIXES = (".parquet", ".pq", ".csv", ".json", ".jsonl", ".ndjson", ".yaml", ".yml")


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    regime_from: Annotated[str, Field(alias="from", min_length=1, max_length=100)]
    regime_to: Annotated[str, Field(alias="to", min_length=1, max_length=100)]
    transactions: Annotated[list[Any], Field(min_length=1)]
    effective_dates: bool = False
    listings: list[Any] = []


Format = Annotated[str, Query(pattern="^(json|html)$", description="json (the Replay report) or html (a download).")]


def check_regimes(ctx: ApiContext, regime_from: str, regime_to: str, where: str) -> None:
    for field, name in (("from", regime_from), ("to", regime_to)):
        if name not in ctx.book.regimes:
            raise ApiError(
                422,
                f"unknown regime {name[:100]!r}",
                where=f"{where}: {field}",
                hint=f"regimes: {', '.join(ctx.book.regimes)}",
            )


def _listings(data: list[Any], where: str) -> list[Any]:
    from tiergate.replay.engine import Listing
    from tiergate.replay.history import ListingIn

    out = []
    for index, item in enumerate(data):
        here = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise ApiError(422, f"expected a listing object, got {type(item).__name__}", where=here)
        try:
            parsed = ListingIn.model_validate(item)
        except ValidationError as error:
            raise validation_error(error, here) from None
        if parsed.name is None and parsed.consignee_id is None:
            raise ApiError(422, "a listing names the consignee: give name (and country) or consignee_id", where=here)
        out.append(
            Listing(
                parsed.list,
                parsed.effective,
                parsed.name,
                parsed.country,
                parsed.consignee_id,
                parsed.license_policy,
                here,
            )
        )
    return out


def answer(report: dict[str, Any], format: str) -> Response:
    from tiergate.replay.report import dumps

    if format == "html":
        from tiergate.replay.html import render_html

        return Response(
            render_html(report),
            media_type="text/html; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="replay.html"'},
        )
    return Response(dumps(report), media_type="application/json")


def _report(ctx: ApiContext, result: Any) -> dict[str, Any]:
    from tiergate.classify.metrics import tpp
    from tiergate.replay.report import build_report

    h100 = ctx.book.catalogue.get("nvidia-h100-sxm")
    h100_tpp = tpp(h100, ctx.book.full(result.regime_to).bit_lengths).value if h100 is not None else None
    return build_report(result, h100_tpp=h100_tpp)


def replay_body(ctx: ApiContext, body: ReplayIn) -> dict[str, Any]:
    from tiergate.replay.engine import HistoryRow, replay_rows

    listings = _listings(body.listings, "body: listings")
    rows = [HistoryRow(data, f"body: transactions[{i}]") for i, data in enumerate(body.transactions)]
    result = replay_rows(
        ctx.book,
        rows,
        regime_from=body.regime_from,
        regime_to=body.regime_to,
        effective_dates=body.effective_dates,
        listings=listings,
        today=ctx.today(),
        history_source="request body",
    )
    return _report(ctx, result)


def replay_upload(
    ctx: ApiContext, name: str, content: bytes, regime_from: str, regime_to: str, effective_dates: bool
) -> dict[str, Any]:
    """Replay an uploaded history file (kept in a temporary folder for the time of the replay only)."""
    from tiergate.replay.history import replay_file

    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise ApiError(
            422, f"cannot tell the format of {name[:100]!r}", where="body.history", hint=f"use {', '.join(SUFFIXES)}"
        )
    with tempfile.TemporaryDirectory(prefix="tiergate-replay-") as folder:
        path = Path(folder) / f"history{suffix}"
        path.write_bytes(content)
        try:
            result = replay_file(
                ctx.book,
                path,
                regime_from=regime_from,
                regime_to=regime_to,
                effective_dates=effective_dates,
                today=ctx.today(),
            )
        except TiergateError as error:  # the temporary path is no business of the client: name the upload
            place = (error.where or "").replace(str(path), name) or name
            raise type(error)(f"upload {place}: {error.message}", where="body.history", hint=error.hint) from None
        result.history_source = f"upload {name}"
        for entry in result.unreplayable:
            entry["where"] = entry["where"].replace(str(path), name)
        return _report(ctx, result)


_BODY = body_doc(
    {
        "type": "object",
        "required": ["from", "to", "transactions"],
        "additionalProperties": False,
        "properties": {
            "from": {"type": "string", "minLength": 1, "maxLength": 100, "description": "The baseline regime."},
            "to": {"type": "string", "minLength": 1, "maxLength": 100, "description": "The candidate regime."},
            "transactions": {"type": "array", "minItems": 1, "items": ref("TransactionIn")},
            "effective_dates": {"type": "boolean", "default": False},
            "listings": {"type": "array", "items": ref("ReplayListing")},
        },
    },
    description="Two regimes and a history of transactions (docs/ARCHITECTURE.md).",
)


@router.post(
    "",
    summary="Replay a history under two regimes",
    description="Every transaction decided under `from` and `to` in date order, each side carrying its "
    "allocations forward as the ledger would; the Replay report (or, with `format=html`, the offline HTML "
    "report as a download). Rows that cannot be replayed are listed in `unreplayable`.",
    response_class=Response,
    responses={
        **_REPORT,
        **responses(413, 415),
    },
    openapi_extra=_BODY,
)
async def post_replay(request: Request, key: Annotated[ApiKey, Depends(officer)], format: Format = "json") -> Response:
    data = await json_body(request)
    if not isinstance(data, dict):
        raise ApiError(422, f"expected a JSON object, got {type(data).__name__}", where="body")
    try:
        body = ReplayIn.model_validate(data)
    except ValidationError as error:
        raise validation_error(error, "body") from None
    ctx = context(request)
    if len(body.transactions) > ctx.settings.max_batch_records:
        raise ApiError(
            413,
            f"{len(body.transactions):,} transactions in one request; at most {ctx.settings.max_batch_records:,}",
            hint="upload a Parquet file to /v1/replay/upload",
        )
    check_regimes(ctx, body.regime_from, body.regime_to, "body")
    report = await run_in_threadpool(replay_body, ctx, body)
    return answer(report, format)


@router.post(
    "/upload",
    summary="Replay an uploaded history under two regimes",
    description="The history as a file (multipart field `history`: .parquet, .csv, .json, .jsonl or .yaml); "
    "Parquet is replayed column-wise. Nothing is kept.",
    response_class=Response,
    responses={**_REPORT, **responses(413, 415)},
    openapi_extra=multipart_body(
        {"history": {"type": "string", "format": "binary", "description": "The history file."}}, ["history"]
    ),
)
async def post_replay_upload(
    request: Request,
    key: Annotated[ApiKey, Depends(officer)],
    regime_from: Annotated[str, Query(alias="from", min_length=1, max_length=100, description="Baseline regime.")],
    regime_to: Annotated[str, Query(alias="to", min_length=1, max_length=100, description="Candidate regime.")],
    effective_dates: Annotated[bool, Query(description="Apply each pack only from its effective date.")] = False,
    format: Format = "json",
) -> Response:
    ctx = context(request)
    check_regimes(ctx, regime_from, regime_to, "query")
    files = await uploaded(request, ("history",), max_files=1)
    name, content = files["history"][0]
    report = await run_in_threadpool(replay_upload, ctx, name, content, regime_from, regime_to, effective_dates)
    return answer(report, format)
