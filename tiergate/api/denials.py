"""``/v1/denials``: the shared denial notices held in the store (the ledger database), as ``tiergate denials``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from tiergate.api.auth import context, officer, viewer
from tiergate.api.bodies import json_body
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey
from tiergate.api.schemas import json_body as body_doc
from tiergate.api.schemas import ok, ref
from tiergate.denials.model import denial_to_dict, jurisdiction_aliases, parse_denial
from tiergate.denials.store import DenialStore
from tiergate.errors import TiergateError

router = APIRouter(prefix="/v1/denials", tags=["denials"])
MAX_NOTICES = 1000


@router.get(
    "",
    summary="Denial notices held",
    description="Every denial notice held, oldest first; a decision for an essentially identical transaction "
    "(same item class, end user and destination) within three years carries a consultation notice.",
    responses={**ok({"type": "array", "items": ref("DenialNotice")}, "The notices."), **responses()},
)
def get_denials(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    limit: Annotated[int, Query(ge=1, le=100_000, description="At most this many (the latest).")] = 1000,
) -> list[dict[str, Any]]:
    return [denial_to_dict(d) for d in context(request).denials()[-limit:]]


@router.post(
    "",
    summary="Keep denial notices",
    description="One notice or a list of them (the `tiergate denials import` format), kept in one transaction: "
    "all or none. A notice with an id already held is a 409.",
    status_code=201,
    response_model=None,
    responses={
        201: {"description": "Kept.", "content": {"application/json": {"schema": {"type": "object"}}}},
        **responses(409, 415),
    },
    openapi_extra=body_doc(
        {"anyOf": [ref("DenialNotice"), {"type": "array", "items": ref("DenialNotice"), "maxItems": MAX_NOTICES}]},
        description="A denial notice or a list of them.",
    ),
)
async def post_denials(request: Request, key: Annotated[ApiKey, Depends(officer)]) -> dict[str, Any]:
    data = await json_body(request)
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_NOTICES:
        raise ApiError(422, f"give 1 to {MAX_NOTICES} notices", where="body")
    ctx = context(request)
    aliases = jurisdiction_aliases([(j.code, j.aliases) for j in ctx.book.jurisdictions.values()])
    try:
        notices = [
            parse_denial(x, where=f"body[{i}]" if isinstance(data, list) else "body", jurisdictions=aliases)
            for i, x in enumerate(items)
        ]
    except TiergateError as error:
        raise ApiError(422, error.message, where=error.where, hint=error.hint) from None
    store = DenialStore(ctx.settings.db, engine=ctx.ledger.engine)
    try:
        count = await run_in_threadpool(store.add, notices)
    except TiergateError as error:
        raise ApiError(409, error.message, hint=error.hint) from None
    ctx.forget_denials()
    return {"kept": count, "ids": [n.id for n in notices]}
