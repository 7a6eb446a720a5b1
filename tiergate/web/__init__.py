"""The dashboard: server-rendered pages (Jinja2, autoescaped) behind the same API keys (login by key, signed
session cookie, CSRF tokens on every form). One module and one template per page; ``tiergate.web.app`` is the
machinery the pages share, ``tiergate.web.session`` signs in and out, and this module puts them together."""

from __future__ import annotations

import importlib

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from tiergate.api.settings import Settings
from tiergate.web import session
from tiergate.web.app import HERE, PAGE_MODULES, NavEntry, error_page


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Mount the pages, the static files and the session on ``app``."""
    nav: list[NavEntry] = []
    app.include_router(session.router, include_in_schema=False)
    for name in PAGE_MODULES:
        module = importlib.import_module(name)
        app.include_router(module.router, include_in_schema=False)
        nav.append(module.NAV)
    app.state.nav = nav
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret,
        session_cookie="tiergate_session",
        max_age=settings.session_max_age,
        same_site="strict",
        https_only=settings.secure_cookies,
    )


__all__ = ["error_page", "install_dashboard"]
