"""Who is calling: the API key of the ``Authorization: Bearer`` header, and the role a route needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError
from tiergate.api.keys import ApiKey

bearer = HTTPBearer(auto_error=False, description="An API key: `tiergate keys create --owner NAME --role ROLE`.")


def context(request: Request) -> ApiContext:
    found = request.app.state.tiergate
    assert isinstance(found, ApiContext)
    return found


def require(role: str, action: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency admitting keys whose role includes ``role`` (401 without a valid key, 403 below it)."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),  # noqa: B008
    ) -> ApiKey:
        return await authorize(request, role, action, credentials.credentials if credentials is not None else None)

    return dependency


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, read as ``HTTPBearer`` reads it."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authorize(request: Request, role: str, action: str, token: str | None = None) -> ApiKey:
    """The request's active key if its role includes ``role``; else 401 (no valid key) or 403."""
    ctx = context(request)
    if token is None:
        token = bearer_token(request)
    key = ctx.cached_key(token)
    if key is None:
        key = await run_in_threadpool(ctx.authenticate, token)
    if not key.allows(role):
        raise ApiError(403, f"the {key.role} role cannot {action}", hint=f"it needs the {role} role or above")
    request.state.api_key = key
    return key


viewer = require("viewer", "read")
officer = require("officer", "decide or ship")
admin = require("admin", "manage API keys")
