"""The Vault page: the approver set, the registered artefacts with their ECCN, the transfer requests with their
status and approvals (an approver approves here, as the signed-in key's owner), and the state of the Merkle log
(verified on demand). It calls the same functions as ``/v1/vault``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.errors import ApiError, page_message
from tiergate.api.vault import vault_of
from tiergate.errors import TiergateError
from tiergate.web.app import NavEntry, check_csrf, context, page_key, render

router = APIRouter()
NAV = NavEntry("Vault", "/vault", "viewer")
RECENT = 100


def _state(request: Request, verify: bool) -> dict[str, Any]:
    ctx = context(request)
    try:
        vault = vault_of(ctx)
    except ApiError:
        return {"ready": False}
    summary = vault.summary()
    state: dict[str, Any] = {
        "ready": True,
        "summary": summary,
        "artefacts": vault.artefacts(),
        "requests": vault.requests(RECENT),
        "verification": None,
    }
    if verify:
        from tiergate.api.vault import trusted_key

        trusted, trust = trusted_key(ctx)
        state["verification"] = vault.verify(trusted, trust=trust).to_dict()
    return state


async def _page(
    request: Request, *, status: int = 200, notice: str | None = None, error: str | None = None
) -> Response:
    key = page_key(request, NAV.role)
    verify = request.query_params.get("verify") == "1"
    state = await run_in_threadpool(_state, request, verify)
    approvers = [a.casefold() for a in state["summary"]["approver_set"]["approvers"]] if state["ready"] else []
    return render(
        request,
        "vault.html",
        status=status,
        notice=notice,
        error=error,
        can_approve=key.allows("approver") and key.owner.casefold() in approvers,
        **state,
    )


@router.get("/vault")
async def vault_page(request: Request) -> Response:
    return await _page(request)


@router.post("/vault/approve")
async def vault_approve(request: Request) -> Response:
    key = page_key(request, "approver")
    form = await request.form()
    check_csrf(request, form)
    rid = str(form.get("request") or "")[:20]
    ctx = context(request)
    try:
        outcome = await run_in_threadpool(lambda: vault_of(ctx, key).approve(rid, key.owner))
    except (ApiError, TiergateError) as found:
        return await _page(request, status=422, error=page_message(found))
    view = outcome.view
    if outcome.refused:
        return await _page(
            request, error=f"{rid}: your approval was recorded but does not count ({view['approval_reason']})"
        )
    return await _page(request, notice=f"{rid}: approved by {view['approver']}; status {view['status']}")
