"""``/v1/ship``: decide with live balances and, when authorised, draw every allocation atomically
(``tiergate.ledger.ship.ship``, as ``tiergate ship``); entered in the audit log under the key's owner. While the
server's list store holds lists, the consignee is screened first, as ``tiergate ship --lists``."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.auth import context, officer
from tiergate.api.bodies import json_body
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, for_http, responses
from tiergate.api.keys import ApiKey
from tiergate.api.schemas import json_body as body_doc
from tiergate.api.schemas import ok, ref
from tiergate.decide.model import Transaction
from tiergate.interchange import decision_to_dict, parse_transaction
from tiergate.ledger.ship import live_decision, ship, shipment_to_dict, transaction_hash
from tiergate.screen.licensing import apply_screening, shipping_block
from tiergate.screen.model import Query as NameQuery
from tiergate.screen.service import party_id

router = APIRouter(prefix="/v1/ship", tags=["ship"])


def ship_transaction(
    ctx: ApiContext, key: ApiKey, data: Any, *, licence: str | None, regime: str | None, where: str = "body"
) -> dict[str, Any]:
    """Ship one transaction as ``key``'s owner; the shipment in its interchange form."""
    txn = parse_transaction(data, ctx.book.catalogue, where=where, default_date=ctx.today())
    refused = screening_refusal(ctx, key, txn, licence=licence, regime=regime, where=where)
    if refused is not None:
        return refused
    # A retry after the database was busy is safe: a shipment is idempotent (a repeat changes nothing).
    shipment = ctx.read(ship, txn, ctx.book, ctx.ledger_for(key), licence_id=licence, regime=regime)
    return shipment_to_dict(shipment)


def screening_refusal(
    ctx: ApiContext, key: ApiKey, txn: Transaction, *, licence: str | None, regime: str | None, where: str
) -> dict[str, Any] | None:
    """As ``tiergate ship --lists``: a shipment to a consignee with an open or confirmed hit on the SDN list or
    the Denied Persons List, or on the Entity List without a licence, is refused before the ledger is drawn. The
    refusal (the live decision adjusted by the hits, and why) is the answer, and is in the audit log."""
    lists = ctx.screening()
    if lists is None:
        return None
    consignee = txn.consignee
    query = NameQuery(consignee.name, None, consignee.country)
    party = party_id(consignee.name, consignee.country, consignee.id)
    hits = lists.consignee_hits(query, party=party, where=f"{where}: consignee.name")
    block = shipping_block(hits, licence is not None)
    if block is None:
        return None
    decision, _ = ctx.read(live_decision, txn, ctx.book, ctx.ledger, regime=regime)
    screened = apply_screening(decision, hits)
    digest = transaction_hash(txn)
    writer = ctx.ledger_for(key)
    payload = {"outcome": screened.outcome, "reason": block, "rules": list(screened.rules)}
    packs = ",".join(screened.packs)
    ctx.read(
        writer.run,
        lambda conn: writer.append_audit(
            conn, "ship-refused", txn.id or digest[:16], payload, pack_revision=packs, input_hash=digest
        ),
    )
    return {**decision_to_dict(screened), "committed": False, "reason": block, "reservations": []}


@router.post(
    "",
    summary="Ship one transaction against the ledger",
    description="Decides with the ledger's live balances; when the transaction is authorised (or licensed under "
    "`license`), reserves and commits every allocation it draws in one database transaction. A refusal "
    "(not authorised, allocation exceeded) is an answer, not an error: `committed` is false and `reason` "
    "says why; it is in the audit log too. A retry of the same transaction changes nothing.",
    response_class=Response,
    responses={**ok(ref("Shipment"), "The shipment: the decision, committed or not, and why."), **responses(409, 415)},
    openapi_extra=body_doc(ref("TransactionIn"), description="A transaction (docs/ARCHITECTURE.md)."),
)
async def ship_one(
    request: Request,
    key: Annotated[ApiKey, Depends(officer)],
    license: Annotated[
        str | None, Query(min_length=1, max_length=200, description="A recorded licence to ship under.")
    ] = None,
    licence: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="The same as `license` (the other spelling).", deprecated=True),
    ] = None,
    regime: Annotated[str | None, Query(max_length=100, description="Decide under this regime.")] = None,
) -> Response:
    if license is not None and licence is not None and license != licence:
        raise ApiError(422, "give license or licence, not two different licences", where="query.licence")
    licence = license or licence
    data = await json_body(request)
    if not isinstance(data, dict):
        raise ApiError(422, f"expected a transaction object, got {type(data).__name__}", where="body")
    shipped = await run_in_threadpool(ship_transaction, context(request), key, data, licence=licence, regime=regime)
    shipped["reason"] = for_http(shipped.get("reason"))  # the ledger's reasons name command-line flags
    return Response(orjson.dumps(shipped), media_type="application/json")
