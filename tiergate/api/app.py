"""The FastAPI application: one router module per capability under ``tiergate.api``, the dashboard's pages
from ``tiergate.web``, one error shape, a request body limit and security headers on every response."""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiergate import __version__
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, from_tiergate
from tiergate.api.schemas import components
from tiergate.api.settings import Settings
from tiergate.errors import TiergateError
from tiergate.rules import Rulebook
from tiergate.rules.source import render_path

log = logging.getLogger("tiergate.api")

ROUTER_MODULES = (
    "tiergate.api.chips",
    "tiergate.api.classify",
    "tiergate.api.decide",
    "tiergate.api.ship",
    "tiergate.api.ledger",
    "tiergate.api.packs",
    "tiergate.api.audit",
    "tiergate.api.admin",
    "tiergate.api.screen",
    "tiergate.api.monitor",
    "tiergate.api.replay",
    "tiergate.api.denials",
    "tiergate.api.equipment",
    "tiergate.api.vault",
    "tiergate.api.verify",
)
"""Each module defines ``router`` (an ``APIRouter`` under ``/v1/<capability>``)."""

BATCH_PATHS = frozenset(
    {
        "/v1/decide/batch",
        "/decide/batch",
        "/v1/screen/batch",
        "/v1/screen/lists",
        "/v1/monitor/alerts",
        "/monitoring",
        "/v1/replay",
        "/v1/replay/upload",
        "/replay",
    }
)
"""Routes that accept the larger batch body limit (batches and file uploads)."""


class JsonResponse(Response):
    """JSON rendered by orjson (fast; dates and datetimes as ISO 8601)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes", hint="send less, or in parts")


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
]


class Guard:
    """Outermost ASGI layer: refuses bodies over the limit (before reading them when Content-Length says
    so), adds security headers, and turns anything that escaped the handlers into the 500 error shape."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.settings.max_batch_bytes if scope["path"] in BATCH_PATHS else self.settings.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, ApiError(400, "Content-Length is not a number"))
                    return
                if declared > limit:
                    await _send_error(send, BodyTooLarge(limit))
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge as error:
            if not started:
                await _send_error(send, error)
        except Exception:  # logged here with an incident id; the client gets the id, never a trace
            incident = uuid.uuid4().hex[:12]
            log.exception("internal error %s on %s %s", incident, scope.get("method"), scope.get("path"))
            if not started:
                await _send_error(send, ApiError(500, f"internal error (incident {incident})"))


async def _send_error(send: Send, error: ApiError) -> None:
    body = orjson.dumps(error.body())
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *_SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return not path.startswith("/v1") and path != "/openapi.json" and "text/html" in request.headers.get("accept", "")


def _error_response(request: Request, error: ApiError) -> Response:
    if _wants_page(request):
        from tiergate.web import error_page

        return error_page(request, error)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if error.status == 503:
        headers = {"Retry-After": "1"}
    return JsonResponse(error.body(), status_code=error.status, headers=headers)


def _validation_message(error: RequestValidationError) -> ApiError:
    problems = error.errors()
    first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
    loc = [step for step in first.get("loc", ()) if isinstance(step, (str, int))]
    part = str(loc[0]) if loc else "request"
    field = render_path(loc[1:]) if len(loc) > 1 else ""
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        return ApiError(400, f"not valid JSON: {message}", where="body")
    if first.get("type") == "missing":
        message = "required field is missing"
    elif first.get("type") == "extra_forbidden":
        message = "unknown field"
    return ApiError(422, f"{field}: {message}" if field else message, where=part)


def install_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return _error_response(request, error)

    async def tiergate_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, TiergateError)
        return _error_response(request, from_tiergate(error))

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return _error_response(request, _validation_message(error))

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        messages = {404: "no such resource", 405: f"method {request.method} is not allowed here"}
        detail = error.detail if isinstance(error.detail, str) else None
        message = messages.get(error.status_code) or detail or "request refused"
        response = _error_response(request, ApiError(error.status_code, message))
        if error.headers:
            response.headers.update(error.headers)
        return response

    async def database_error(request: Request, error: Exception) -> Response:
        if isinstance(error, OperationalError) and "locked" in str(error.orig).lower():
            return _error_response(request, ApiError(503, "the ledger database is busy", hint="try again"))
        return await unexpected(request, error)

    async def unexpected(request: Request, error: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        log.error("internal error %s on %s %s", incident, request.method, request.url.path, exc_info=error)
        return _error_response(request, ApiError(500, f"internal error (incident {incident})"))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(TiergateError, tiergate_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(Exception, unexpected)


def create_app(settings: Settings | None = None, *, book: Rulebook | None = None, dashboard: bool = True) -> FastAPI:
    """The Tiergate HTTP API (``/v1/...``, OpenAPI at ``/openapi.json``) and, by default, the dashboard."""
    settings = settings or Settings()
    context = ApiContext(settings, book)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        context.close()

    app = FastAPI(
        title="Tiergate",
        version=__version__,
        summary="Export controls on advanced AI compute: classification, licence determination, allocations.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    app.state.tiergate = context
    install_handlers(app)
    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return JsonResponse({"status": "ok", "version": __version__})

    if dashboard:
        from tiergate.web import install_dashboard

        install_dashboard(app, settings)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            found = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, body in components().items():
                found.setdefault(name, body)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(Guard, settings=settings)
    return app
