"""The Denials page: the shared denial notices held in the store, and a form to keep one (as ``tiergate
denials add``); a decision for an essentially identical transaction carries a consultation notice."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.denials.model import denial_to_dict, jurisdiction_aliases, parse_denial
from tiergate.denials.store import DenialStore
from tiergate.errors import TiergateError
from tiergate.web.app import NavEntry, check_csrf, context, page_key, render

router = APIRouter()
NAV = NavEntry("Denials", "/denials", "viewer")
FIELDS = ("id", "jurisdiction", "date", "items", "destination", "end_user", "reason")


def _page(request: Request, status: int = 200, **values: Any) -> Response:
    ctx = context(request)
    defaults: dict[str, Any] = {
        "notices": [denial_to_dict(d) for d in ctx.denials()],
        "form": {name: "" for name in FIELDS},
        "error": None,
        "kept": None,
        "jurisdictions": sorted(ctx.book.jurisdictions),
    }
    defaults.update(values)
    return render(request, "denials.html", status=status, **defaults)


@router.get("/denials")
async def denials_page(request: Request) -> Response:
    page_key(request, NAV.role)
    return _page(request)


@router.post("/denials")
async def denials_form(request: Request) -> Response:
    page_key(request, "officer")
    form = await request.form()
    check_csrf(request, form)
    values = {name: str(form.get(name) or "")[:500] for name in FIELDS}
    ctx = context(request)
    data = {
        "id": values["id"],
        "jurisdiction": values["jurisdiction"],
        "date": values["date"],
        "control_keys": [k.strip() for k in values["items"].split(",") if k.strip()],
        "destination": values["destination"],
        "end_user": {"name": values["end_user"]},
        "reason": values["reason"],
    }
    aliases = jurisdiction_aliases([(j.code, j.aliases) for j in ctx.book.jurisdictions.values()])
    try:
        notice = parse_denial(data, where="form", jurisdictions=aliases)
        store = DenialStore(ctx.settings.db, engine=ctx.ledger.engine)
        await run_in_threadpool(store.add, [notice])
    except TiergateError as error:
        return _page(request, 422, form=values, error=str(error))
    ctx.forget_denials()
    return _page(request, kept=notice.id)
