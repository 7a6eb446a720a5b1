"""Signing in with an API key (the session keeps the key's id, never the key), signing out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from tiergate.api.errors import ApiError
from tiergate.web.app import check_csrf, context, render, signed_in

router = APIRouter()


def _home(role: str) -> str:
    return "/decide" if role in ("officer", "approver", "admin") else "/allocations"


@router.get("/")
async def home(request: Request) -> Response:
    key = signed_in(request)
    return RedirectResponse("/login" if key is None else _home(key.role), status_code=303)


@router.get("/login")
async def login_form(request: Request) -> Response:
    return render(request, "login.html", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    token = form.get("key")
    ctx = context(request)
    try:
        key = await run_in_threadpool(ctx.authenticate, token if isinstance(token, str) else None)
    except ApiError as error:
        return render(request, "login.html", status=401, error=error.message)
    ended = request.session.get("sid")
    session_id = await run_in_threadpool(ctx.open_session, key)
    if isinstance(ended, str):  # signing in again ends the previous session of this browser
        await run_in_threadpool(ctx.end_session, ended)
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in key
    request.session["sid"] = session_id
    return RedirectResponse(_home(key.role), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    session_id = request.session.get("sid")
    if isinstance(session_id, str):  # ended on the server: a copy of the cookie no longer signs in
        await run_in_threadpool(context(request).end_session, session_id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
