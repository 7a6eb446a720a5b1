"""The Diversion page: the case queue, one case with its flags (why, citation, shipments) and the network of its
linked parties drawn as an SVG graph, analysts' actions (assign, note, close with a reason) and a scan of uploaded
shipments for officers. It calls the case queue and the scan (``tiergate.diversion``) as the API does."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from tiergate.api.errors import ApiError
from tiergate.api.keys import acting_as
from tiergate.errors import TiergateError
from tiergate.web.app import NavEntry, check_csrf, context, page_key, render

router = APIRouter()
NAV = NavEntry("Diversion", "/diversion", "viewer")
CASE_ID = re.compile(r"^C-\d{4,8}$")
SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json", ".parquet")


def _queue(request: Request, owner: str | None = None) -> Any:
    from tiergate.diversion.store import CaseQueue

    ctx = context(request)
    return CaseQueue(ledger=acting_as(ctx.ledger, owner) if owner else ctx.ledger)


def _page(request: Request, status: int = 200, **values: Any) -> Response:
    from tiergate.diversion.report import network_svg
    from tiergate.diversion.store import CaseError

    queue = _queue(request)
    try:
        cases = queue.list()
    except CaseError:
        cases = []
    defaults: dict[str, Any] = {"cases": cases, "case": None, "svg": None, "error": None, "done": None}
    defaults.update(values)
    case = defaults["case"]
    if case is not None and len(case["parties"]) > 1:
        defaults["svg"] = Markup(network_svg(case))  # noqa: S704 - every text in it is escaped by network_svg
    return render(request, "diversion.html", status=status, **defaults)


@router.get("/diversion")
async def diversion_page(request: Request, case: str | None = None) -> Response:
    page_key(request, NAV.role)
    if case is None:
        return _page(request)
    from tiergate.diversion.store import CaseError

    if not CASE_ID.match(case):
        raise ApiError(404, f"no case {case[:40]!r}")
    try:
        found = await run_in_threadpool(_queue(request).show, case)
    except CaseError as error:
        raise ApiError(404, error.message, hint=error.hint) from None
    return _page(request, case=found)


@router.post("/diversion/cases/{case}")
async def diversion_action(request: Request, case: str) -> Response:
    key = page_key(request, "officer")
    form = await request.form()
    check_csrf(request, form)
    from tiergate.diversion.store import CaseError, UnknownCase

    if not CASE_ID.match(case):
        raise ApiError(404, f"no case {case[:40]!r}")
    action = str(form.get("action") or "")
    text = str(form.get("text") or "")[:10_000]
    queue = _queue(request, key.owner)
    try:
        if action == "assign":
            found = await run_in_threadpool(queue.assign, case, text, author=key.owner)
        elif action == "note":
            found = await run_in_threadpool(queue.note, case, text, author=key.owner)
        elif action == "close":
            found = await run_in_threadpool(queue.close, case, text, author=key.owner)
        else:
            raise ApiError(422, f"unknown action {action[:40]!r}", hint="assign, note or close")
    except UnknownCase as error:
        raise ApiError(404, error.message) from None
    except CaseError as error:
        shown = await run_in_threadpool(queue.show, case)
        return _page(request, 422, case=shown, error=error.render())
    return _page(request, case=found, done=f"{action}: done")


@router.post("/diversion/scan")
async def diversion_scan(request: Request) -> Response:
    page_key(request, "officer")
    from tiergate.diversion.scan import run_scan

    ctx = context(request)
    async with request.form(max_files=2, max_fields=10) as form:
        check_csrf(request, form)
        uploads: dict[str, tuple[str, bytes]] = {}
        for field in ("shipments", "parties"):
            item = form.get(field)
            if isinstance(item, UploadFile) and item.filename:
                uploads[field] = (Path(item.filename).name, await item.read())
    if "shipments" not in uploads:
        return _page(request, 422, error="choose a shipments file (.csv, .jsonl or .parquet)")

    def scan() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="tiergate-diversion-") as folder:
            paths: dict[str, Path] = {}
            for field, (name, content) in uploads.items():
                suffix = Path(name).suffix.lower()
                if suffix not in SUFFIXES:
                    raise TiergateError(f"{name[:100]!r}: upload a .csv, .jsonl or .parquet file")
                paths[field] = Path(folder) / f"{field}{suffix}"
                paths[field].write_bytes(content)
            lists = ctx.settings.lists_url() if ctx.lists is not None else None
            try:
                result = run_scan(paths["shipments"], paths.get("parties"), lists_url=lists)
            except TiergateError as error:
                text = error.render()
                for field, path in paths.items():
                    text = text.replace(str(path), uploads[field][0])
                raise TiergateError(text) from None
        shown = [c for c in result.cases if c.level != "low"]
        summary = _queue(request).record(shown)
        return {"summary": summary, "problems": len(result.problems), "cases": len(shown)}

    try:
        outcome = await run_in_threadpool(scan)
    except TiergateError as error:
        return _page(request, 422, error=error.render())
    done = (
        f"scanned: {outcome['cases']} case(s) entered the queue ({outcome['summary']}); "
        f"{outcome['problems']} row(s) left out"
    )
    return _page(request, done=done)
