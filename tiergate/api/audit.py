"""``/v1/audit``: the ledger's hash-chained audit log (export for an examiner, chain verification)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from tiergate.api.auth import context, viewer
from tiergate.api.context import ApiContext
from tiergate.api.errors import responses
from tiergate.api.schemas import ok, ref
from tiergate.interchange import spreadsheet_row
from tiergate.ledger.audit import PAGE, pages, recent, verify

router = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[Depends(viewer)])
FIELDS = ["seq", "at", "actor", "action", "subject", "pack_revision", "input_hash", "payload", "prev_hash", "hash"]


def audit_entries(ctx: ApiContext, after: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Entries after ``after``, at most ``limit``: one query with a limit (pages of the database, not the log)."""
    if limit is not None:
        return ctx.read(_page, ctx, after, limit)
    return ctx.read(lambda: [e for page in pages(ctx.ledger, after) for e in page])


def _page(ctx: ApiContext, after: int, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in pages(ctx.ledger, after, page=min(limit, PAGE)):
        out.extend(page[: limit - len(out)])
        if len(out) >= limit:
            break
    return out


def recent_entries(ctx: ApiContext, count: int) -> list[dict[str, Any]]:
    return ctx.read(recent, ctx.ledger, count)


def verification(ctx: ApiContext) -> dict[str, Any]:
    """The chain rehashed a page at a time, and the balances recomputed from the movements."""
    found = ctx.read(verify, ctx.ledger).to_dict()
    return {name: found[name] for name in ("intact", "entries", "broken_at", "problem", "balances")}


@router.get(
    "",
    summary="Export the audit log",
    description="Every entry with its hash and the previous entry's hash, oldest first, as JSON, JSON lines or CSV "
    "(`tiergate audit export`).",
    responses={
        200: {
            "description": "The entries.",
            "content": {
                "application/json": {"schema": {"type": "array", "items": ref("AuditEntry")}},
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **responses(),
    },
    response_class=Response,
)
def export_audit(
    request: Request,
    format: Annotated[Literal["json", "jsonl", "csv"], Query(description="json, jsonl or csv.")] = "json",
    after: Annotated[int, Query(ge=0, le=2**62, description="Only entries after this sequence number.")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description="At most this many entries.")] = None,
) -> Response:
    entries = audit_entries(context(request), after, limit)
    if format == "jsonl":
        return Response(b"".join(orjson.dumps(e) + b"\n" for e in entries), media_type="application/x-ndjson")
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(spreadsheet_row(e) for e in entries)
        return Response(buffer.getvalue(), media_type="text/csv")
    return Response(orjson.dumps(entries), media_type="application/json")


@router.get(
    "/verify",
    summary="Verify the audit chain",
    description="Recomputes every entry's hash, a page at a time, and every balance from the movements; "
    "`broken_at` names the first entry altered, deleted or reordered, `balances` every account that differs. "
    "To catch a rewrite with recomputed hashes, verify against a signed checkpoint (`tiergate audit verify "
    "--checkpoint FILE`).",
    responses={**ok(ref("AuditVerification"), "Whether the chain holds."), **responses()},
)
def verify_audit(request: Request) -> dict[str, Any]:
    return verification(context(request))
