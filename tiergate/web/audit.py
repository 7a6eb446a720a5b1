"""The Audit page: the latest entries of the hash-chained audit log and a chain-verification badge; the whole log
as CSV (``/audit.csv``, what the table's download button fetches: the page shows only the latest entries)."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.audit import FIELDS, audit_entries, recent_entries, verification
from tiergate.interchange import spreadsheet_row
from tiergate.web.app import NavEntry, context, page_key, render

router = APIRouter()
NAV = NavEntry("Audit", "/audit", "viewer")
RECENT = 100


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    page_key(request, NAV.role)
    ctx = context(request)
    check = await run_in_threadpool(verification, ctx)
    entries = await run_in_threadpool(recent_entries, ctx, RECENT)
    return render(request, "audit.html", check=check, entries=entries)


@router.get("/audit.csv")
async def audit_csv(request: Request) -> Response:
    """Every entry of the log, oldest first, as the API's ``?format=csv`` writes it (formula-safe cells)."""
    page_key(request, NAV.role)
    entries = await run_in_threadpool(audit_entries, context(request))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(spreadsheet_row(e) for e in entries)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="audit.csv"'},
    )
