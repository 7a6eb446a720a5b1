"""The dashboard's machinery: the Jinja2 environment (autoescaping on), the session (a signed, HttpOnly,
SameSite=Strict cookie holding the key's id and a CSRF token, never the key), the navigation, page rendering.

Pages live one per module (``tiergate.web.<page>``, with ``router`` and ``NAV``) and one template each
(``templates/<page>.html``). Every page module is listed in ``PAGE_MODULES``; the
navigation lists every module's ``NAV`` entry that the signed-in key's role may see."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, for_http
from tiergate.api.keys import ApiKey
from tiergate.classify.metrics import fmt

HERE = Path(__file__).resolve().parent
PAGE_MODULES = (
    "tiergate.web.decide",
    "tiergate.web.allocations",
    "tiergate.web.screen",
    "tiergate.web.monitor",
    "tiergate.web.diversion",
    "tiergate.web.vault",
    "tiergate.web.verify",
    "tiergate.web.packs",
    "tiergate.web.denials",
    "tiergate.web.audit",
    "tiergate.web.replay",
)
"""Page modules, in navigation order."""


@dataclass(frozen=True, slots=True)
class NavEntry:
    label: str
    path: str
    role: str
    """The least role that may open the page."""


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt(float(value))
    return str(value)


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["number"] = _number


def context(request: Request) -> ApiContext:
    found = request.app.state.tiergate
    assert isinstance(found, ApiContext)
    return found


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, form: FormData) -> None:
    """Refuse a form post without the session's CSRF token, or sent from another origin."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if parts.netloc != request.headers.get("host", ""):
            raise ApiError(403, "the form was sent from another site", hint="reload the page and try again")
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise ApiError(403, "the form's CSRF token is missing or stale", hint="reload the page and try again")


def signed_in(request: Request) -> ApiKey | None:
    """The session's key while the session is open on the server (signing out ends it for good, whatever copy
    of the cookie is kept) and the key is active (a revoked or expired key ends the session)."""
    session_id = request.session.get("sid")
    if not isinstance(session_id, str):
        return None
    ctx = context(request)
    key = ctx.session_key(session_id)
    if key is None or key.state(ctx.now()) != "active":
        request.session.pop("sid", None)
        return None
    return key


def page_key(request: Request, role: str) -> ApiKey:
    """The signed-in key, if its role includes ``role``; else to the login page (401) or a 403 page."""
    key = signed_in(request)
    if key is None:
        raise ApiError(401, "sign in with an API key")
    if not key.allows(role):
        raise ApiError(403, f"the {key.role} role cannot open this page", hint=f"it needs the {role} role or above")
    return key


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    key = signed_in(request)
    nav: list[NavEntry] = request.app.state.nav
    html = environment.get_template(template).render(
        request_path=request.url.path,
        key=key,
        nav=[entry for entry in nav if key is not None and key.allows(entry.role)],
        csrf=csrf_token(request),
        **values,
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, error: ApiError) -> Response:
    error = ApiError(error.status, for_http(error.message) or "", where=error.where, hint=for_http(error.hint))
    if error.status == 401:
        return RedirectResponse("/login", status_code=303)
    try:
        return render(request, "error.html", status=error.status, error=error)
    except Exception:  # no session (e.g. a 404 outside the dashboard's middleware): plain page
        return HTMLResponse(
            environment.get_template("error.html").render(request_path="", key=None, nav=[], csrf="", error=error),
            status_code=error.status,
        )
