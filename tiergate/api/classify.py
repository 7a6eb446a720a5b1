"""``/v1/classify``: ECCN, TPP and performance density of chips, systems or model weights, with the
arithmetic (``tiergate.interchange.parse_item`` + ``tiergate.classify.classify``, as ``tiergate classify``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from tiergate import interchange
from tiergate.api.auth import context, viewer
from tiergate.api.bodies import json_body
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.limits import within_budget
from tiergate.api.schemas import json_body as body_doc
from tiergate.api.schemas import ok, ref
from tiergate.classify import classify

router = APIRouter(prefix="/v1/classify", tags=["classify"], dependencies=[Depends(viewer)])
MAX_ITEMS = 10_000
INLINE_ITEMS = 8
"""A list of up to this many items is classified on the event loop (well under a millisecond); a longer one in
the thread pool."""


def classify_items(
    ctx: ApiContext, data: Any, regime: str | None = None, as_of: dt.date | None = None
) -> dict[str, Any] | list[dict[str, Any]]:
    """One item object → one classification; a list of items → a list, in order."""
    ruleset, _ = ctx.book.select(regime, as_of or ctx.today())
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ApiError(422, "no items to classify", where="body")
    if len(items) > MAX_ITEMS:
        raise ApiError(413, f"{len(items):,} items; at most {MAX_ITEMS:,} in one request")
    out = []
    for index, record in within_budget(enumerate(items)):
        where = f"body[{index}]" if isinstance(data, list) else "body"
        item, quantity = interchange.parse_item(record, ctx.book.catalogue, where=where)
        result = interchange.classification_to_dict(classify(item, ruleset), ruleset.regime)
        result["quantity"] = quantity
        out.append(result)
    return out if isinstance(data, list) else out[0]


@router.post(
    "",
    summary="Classify items",
    description='An item object of the transaction format (`{"chip": ..., "quantity": n}`, a system or model '
    "weights), or a list of them. Without `regime` or `as_of`, the regime in force today.",
    responses={
        **ok({"oneOf": [ref("Classification"), {"type": "array", "items": ref("Classification")}]}, "Classifications."),
        **responses(415),
    },
    openapi_extra=body_doc(
        {"oneOf": [ref("ItemIn"), {"type": "array", "items": ref("ItemIn")}]}, description="Item(s) to classify."
    ),
)
async def classify_route(
    request: Request,
    regime: Annotated[str | None, Query(max_length=100, description="Classify under this regime.")] = None,
    as_of: Annotated[dt.date | None, Query(description="Under the regime in force on this date.")] = None,
) -> Any:
    data = await json_body(request)
    ctx = context(request)
    if regime is not None and regime not in ctx.book.regimes:
        known = ", ".join(ctx.book.regimes)
        raise ApiError(422, f"unknown regime {regime[:100]!r}", where="query.regime", hint=f"regimes: {known}")
    if isinstance(data, list) and len(data) > INLINE_ITEMS:  # off the event loop: other requests go on meanwhile
        return await run_in_threadpool(classify_items, ctx, data, regime, as_of)
    return classify_items(ctx, data, regime, as_of)
