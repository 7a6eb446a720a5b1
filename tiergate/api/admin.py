"""``/v1/keys``: API keys, for admins (create, list, revoke); each change is in the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tiergate.api.auth import admin, context
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey, create_key, list_keys, revoke_key
from tiergate.api.schemas import ok, ref

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: Annotated[str, Field(min_length=1, max_length=100, description="Who holds the key (name or e-mail).")]
    role: Literal["viewer", "officer", "approver", "admin"]
    expires_at: dt.datetime | None = Field(default=None, description="When the key stops working (ISO 8601).")


@router.get("", summary="API keys", responses={**ok({"type": "array", "items": ref("ApiKey")}, "Keys."), **responses()})
def get_keys(request: Request, key: Annotated[ApiKey, Depends(admin)]) -> list[dict[str, Any]]:
    ctx = context(request)
    now = ctx.now()
    return [k.to_dict(now) for k in list_keys(ctx.ledger)]


@router.post(
    "",
    summary="Create an API key",
    description="The answer holds `token`, the key itself, shown this once (only its hash is kept).",
    status_code=201,
    responses={
        201: {"description": "The new key.", "content": {"application/json": {"schema": ref("ApiKey")}}},
        **responses(),
    },
)
async def post_key(request: Request, body: NewKey, key: Annotated[ApiKey, Depends(admin)]) -> dict[str, Any]:
    ctx = context(request)
    expires = body.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    token, record = await run_in_threadpool(
        lambda: create_key(ctx.ledger, body.owner, body.role, who=key.actor, expires_at=expires)
    )
    return {**record.to_dict(ctx.now()), "token": token}


@router.delete(
    "/{key_id}",
    summary="Revoke an API key",
    responses={**ok(ref("ApiKey"), "The revoked key."), **responses(404)},
)
def delete_key(
    request: Request,
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The key's id.")],
    key: Annotated[ApiKey, Depends(admin)],
) -> dict[str, Any]:
    ctx = context(request)
    if not any(k.id == key_id for k in list_keys(ctx.ledger)):
        raise ApiError(404, f"no API key with id {key_id!r}", where="path.key_id")
    revoked = revoke_key(ctx.ledger, key_id, who=key.actor)
    ctx.forget_keys()
    return revoked.to_dict(ctx.now())
