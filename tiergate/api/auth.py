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
        ctx = context(request)
        token = credentials.credentials if credentials is not None else None
        key = ctx.cached_key(token)
        if key is None:
            key = await run_in_threadpool(ctx.authenticate, token)
        if not key.allows(role):
            raise ApiError(403, f"the {key.role} role cannot {action}", hint=f"it needs the {role} role or above")
        request.state.api_key = key
        return key

    return dependency


viewer = require("viewer", "read")
officer = require("officer", "decide or ship")
admin = require("admin", "manage API keys")
