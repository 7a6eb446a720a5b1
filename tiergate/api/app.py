"""The FastAPI application: one router module per capability under ``tiergate.api``, the dashboard's pages
from ``tiergate.web``, one error shape, a request body limit and security headers on every response."""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiergate import __version__
from tiergate.api import limits
from tiergate.api.context import ApiContext
from tiergate.api.docs import REDOC_PATH, install_docs
from tiergate.api.errors import ApiError, from_tiergate
from tiergate.api.limits import ClientGone, RequestBudget
from tiergate.api.schemas import components, finish_document
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
    "tiergate.api.diversion",
)
"""Each module defines ``router`` (an ``APIRouter`` under ``/v1/<capability>``)."""

BATCH_PATHS = frozenset(
    {
        "/v1/decide/batch",
        "/decide/batch",
        "/v1/screen/batch",
        "/v1/screen/lists",
        "/v1/monitor/alerts",
        "/v1/diversion/scan",
        "/diversion/scan",
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


class BodyTooSlow(ApiError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408, f"the request body did not arrive within {seconds:g} s", hint="send it faster, or in smaller parts"
        )


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
    """Outermost ASGI layer of every HTTP request:

    - refuses a body over the limit (before reading it when Content-Length says so), or one that does not arrive
      within ``body_timeout_seconds`` (408), and a query parameter the ``/v1`` operation does not declare (422);
    - gives the request its :class:`~tiergate.api.limits.RequestBudget` (``request_timeout_seconds``), and marks
      it when the client closes the connection, so that the work in progress stops between two records;
    - adds the security headers, and turns anything that escaped the handlers into the 500 error shape."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        context: ApiContext | None = None,
        queries: DeclaredQueries | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.context = context
        self.queries = queries

    async def _authenticate(self, scope: Scope) -> None:
        """Every ``/v1`` route needs a key: check it before anything of the request is read or validated, so
        that a caller without a key learns nothing from the errors of the body or the query (routes check the
        role, with the key cached by this check)."""
        if self.context is None:
            return
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, rest = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and rest.strip():
                    token = rest.strip()
        if self.context.cached_key(token) is None:
            await run_in_threadpool(self.context.authenticate, token)

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
                    await _send_error(
                        send, ApiError(400, "Content-Length is not a number", where="header.content-length")
                    )
                    return
                if declared > limit:
                    await _send_error(send, BodyTooLarge(limit))
                    return
        path = scope["path"]
        if path == "/v1" or path.startswith("/v1/"):
            try:
                await self._authenticate(scope)
            except ApiError as error:
                await _send_error(send, error)
                return
            query = scope.get("query_string", b"")
            unknown = self.queries.unknown(scope["method"], path, query) if query and self.queries else None
            if unknown is not None:
                await _send_error(send, unknown)
                return
        budget = RequestBudget(self.settings.request_timeout_seconds)
        token = limits.enter(budget)
        inbox: asyncio.Queue[Message | ApiError] = asyncio.Queue()
        pump = asyncio.create_task(self._pump(receive, inbox, budget, limit))
        started = False

        async def guarded_receive() -> Message:
            item = await inbox.get()
            if isinstance(item, ApiError) or item["type"] == "http.disconnect":
                inbox.put_nowait(item)  # every later call gets the same answer
            if isinstance(item, ApiError):
                raise item
            return item

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *_headers_for(scope)]
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except ClientGone:
            log.info("client left before the answer: %s %s", scope.get("method"), scope.get("path"))
        except ApiError as error:  # the body's limits, raised where the body was read outside the handlers
            if not started:
                await _send_error(send, error)
        except Exception:  # logged here with an incident id; the client gets the id, never a trace
            incident = uuid.uuid4().hex[:12]
            log.exception("internal error %s on %s %s", incident, scope.get("method"), scope.get("path"))
            if not started:
                await _send_error(send, ApiError(500, f"internal error (incident {incident})"))
        finally:
            pump.cancel()
            limits.leave(token)

    async def _pump(
        self, receive: Receive, inbox: asyncio.Queue[Message | ApiError], budget: RequestBudget, limit: int
    ) -> None:
        """Read the request's messages for the app: the body (within its size and time limits), then whatever
        comes next, which is the client's disconnection (that marks the budget, to stop the work)."""
        loop = asyncio.get_running_loop()
        seconds = self.settings.body_timeout_seconds
        deadline = loop.time() + seconds
        received = 0
        more = True
        while True:
            if more:
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    inbox.put_nowait(BodyTooSlow(seconds))
                    return
            else:
                message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    inbox.put_nowait(BodyTooLarge(limit))
                    return
                more = bool(message.get("more_body", False))
            elif message["type"] == "http.disconnect":
                budget.gone.set()
                inbox.put_nowait(message)
                return
            inbox.put_nowait(message)


_REDOC_HEADERS = [
    (
        name,
        value.replace(b"style-src 'self'", b"style-src 'self' 'unsafe-inline'")
        if name == b"content-security-policy"
        else value,
    )
    for name, value in _SECURITY_HEADERS
]


def _headers_for(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The security headers; the ReDoc page styles itself with ``<style>`` elements (scripts stay 'self')."""
    return _REDOC_HEADERS if scope.get("path") == REDOC_PATH else _SECURITY_HEADERS


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
                *([(b"www-authenticate", b"Bearer")] if error.status == 401 else []),
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


def _validation_message(request: Request, error: RequestValidationError) -> ApiError:
    problems = list(error.errors())
    problems.sort(key=lambda p: p.get("type") != "extra_forbidden")  # an unknown field first: often the typo
    first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
    loc = [step for step in first.get("loc", ()) if isinstance(step, (str, int))]
    part = str(loc[0]) if loc else "body"
    field = render_path(loc[1:]) if len(loc) > 1 else ""
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    hint = None
    if first.get("type") == "json_invalid":
        return ApiError(400, f"not valid JSON: {message}", where="body")
    if first.get("type") == "missing":
        message = "required field is missing"
    elif first.get("type") == "extra_forbidden":
        message = "unknown field"
        hint = _body_field_hint(request, loc[1:]) if part == "body" else None
    where = f"{part}.{field}" if field and not field.startswith("[") else f"{part}{field}"
    return ApiError(422, f"{field}: {message}" if field else message, where=where, hint=hint)


def _body_field_hint(request: Request, loc: list[str | int]) -> str | None:
    """``did you mean X?`` for an unknown field of a route's body model."""
    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    from tiergate.interchange import unknown_field_hint

    route = request.scope.get("route")
    body = route.body_field if isinstance(route, APIRoute) else None
    info = getattr(body, "field_info", None)
    model = getattr(info, "annotation", None) or getattr(body, "type_", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    return unknown_field_hint(model, loc)


class DeclaredQueries:
    """The query parameters each ``/v1`` operation declares in the OpenAPI document, to refuse one it does not
    (422, ``where`` = ``query.NAME``, with the nearest declared one) instead of ignoring it: an option is never
    silently dropped. Read from the document (built once, on the first request with a query) so that what is
    refused is exactly what is not documented."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._routes: list[tuple[re.Pattern[str], str, frozenset[str], list[str]]] | None = None

    @property
    def routes(self) -> list[tuple[re.Pattern[str], str, frozenset[str], list[str]]]:
        """Each operation: its path pattern, method, query parameters, and those to suggest (not deprecated)."""
        if self._routes is None:
            found = []
            for path, operations in self.app.openapi().get("paths", {}).items():
                if not path.startswith("/v1"):
                    continue
                pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
                for method, operation in operations.items():
                    query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
                    names = frozenset(p["name"] for p in query)
                    suggested = sorted(p["name"] for p in query if not p.get("deprecated"))
                    found.append((pattern, method.upper(), names, suggested))
            self._routes = found
        return self._routes

    def unknown(self, method: str, path: str, query: bytes) -> ApiError | None:
        """The error for the first undeclared parameter of ``query``, or None."""
        from urllib.parse import parse_qsl

        from tiergate.interchange import nearest_field

        for regex, declared_method, known, suggested in self.routes:
            if method == declared_method and regex.match(path):
                for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                    if name not in known:
                        near = nearest_field(name, suggested)
                        hint = f"did you mean {near!r}?" if near else None
                        if hint is None:
                            hint = "known here: " + ", ".join(suggested) if known else "this operation takes none"
                        shown = name[:50]
                        return ApiError(422, f"unknown query parameter {shown!r}", where=f"query.{shown}", hint=hint)
                return None
        return None


def install_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return _error_response(request, error)

    async def tiergate_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, TiergateError)
        return _error_response(request, from_tiergate(error))

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return _error_response(request, _validation_message(request, error))

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

    queries = DeclaredQueries(app)
    install_docs(app)

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
            app.openapi_schema = finish_document(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(Guard, settings=settings, context=context, queries=queries)
    return app
