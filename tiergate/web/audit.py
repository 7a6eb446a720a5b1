"""The Audit page: the latest entries of the hash-chained audit log and a chain-verification badge."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.audit import recent_entries, verification
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
