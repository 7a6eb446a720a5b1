"""``/v1/ship``: decide with live balances and, when authorised, draw every allocation atomically
(``tiergate.ledger.ship.ship``, as ``tiergate ship``); entered in the audit log under the key's owner."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.auth import context, officer
from tiergate.api.bodies import json_body
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey
from tiergate.api.schemas import json_body as body_doc
from tiergate.api.schemas import ok, ref
from tiergate.interchange import parse_transaction
from tiergate.ledger.ship import ship, shipment_to_dict

router = APIRouter(prefix="/v1/ship", tags=["ship"])


def ship_transaction(
    ctx: ApiContext, key: ApiKey, data: Any, *, licence: str | None, regime: str | None, where: str = "body"
) -> dict[str, Any]:
    """Ship one transaction as ``key``'s owner; the shipment in its interchange form."""
    txn = parse_transaction(data, ctx.book.catalogue, where=where, default_date=ctx.today())
    # A retry after the database was busy is safe: a shipment is idempotent (a repeat changes nothing).
    shipment = ctx.read(ship, txn, ctx.book, ctx.ledger_for(key), licence_id=licence, regime=regime)
    return shipment_to_dict(shipment)


@router.post(
    "",
    summary="Ship one transaction against the ledger",
    description="Decides with the ledger's live balances; when the transaction is authorised (or licensed under "
    "`licence`), reserves and commits every allocation it draws in one database transaction. A refusal "
    "(not authorised, allocation exceeded) is an answer, not an error: `committed` is false and `reason` "
    "says why; it is in the audit log too. A retry of the same transaction changes nothing.",
    response_class=Response,
    responses={**ok(ref("Shipment"), "The shipment: the decision, committed or not, and why."), **responses(409, 415)},
    openapi_extra=body_doc(ref("TransactionIn"), description="A transaction (docs/ARCHITECTURE.md)."),
)
async def ship_one(
    request: Request,
    key: Annotated[ApiKey, Depends(officer)],
    licence: Annotated[
        str | None, Query(min_length=1, max_length=200, description="A recorded licence to ship under.")
    ] = None,
    regime: Annotated[str | None, Query(max_length=100, description="Decide under this regime.")] = None,
) -> Response:
    data = await json_body(request)
    if not isinstance(data, dict):
        raise ApiError(422, f"expected a transaction object, got {type(data).__name__}", where="body")
    shipped = await run_in_threadpool(ship_transaction, context(request), key, data, licence=licence, regime=regime)
    return Response(orjson.dumps(shipped), media_type="application/json")
