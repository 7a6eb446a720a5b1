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
from tiergate.decide.model import Decision, Transaction
from tiergate.errors import TiergateError
from tiergate.interchange import decision_to_dict, parse_transaction, screening_fields
from tiergate.ledger.ship import (
    ShipWindow,
    live_decision,
    recorded_shipment,
    refuse_before_drawing,
    ship,
    shipment_to_dict,
)
from tiergate.screen.licensing import allied_listings, apply_screening, not_screened, shipping_block
from tiergate.screen.model import Hit
from tiergate.screen.model import Query as NameQuery
from tiergate.screen.service import party_id

router = APIRouter(prefix="/v1/ship", tags=["ship"])


def ship_transaction(
    ctx: ApiContext,
    key: ApiKey,
    data: Any,
    *,
    licence: str | None,
    regime: str | None,
    where: str = "body",
    backfill: bool = False,
) -> dict[str, Any]:
    """Ship one transaction as ``key``'s owner; the shipment in its interchange form. A real shipment: under the
    regime in force on its date, dated within the window (older only with ``backfill``, for an admin's key)."""
    if backfill and not key.allows("admin"):
        raise ApiError(403, f"the {key.role} role cannot backfill a shipment", hint="it needs the admin role")
    today = ctx.today()
    txn = parse_transaction(data, ctx.book.catalogue, where=where, default_date=today)
    window = ShipWindow.from_env()
    try:
        checked, _ = recorded_shipment(txn, ctx.book, regime, today, window, backfill)
    except TiergateError as error:
        field = f"{where}.date" if error.where == "date" else error.where
        raise ApiError(422, error.message, where=field, hint=error.hint) from None
    hits, version = consignee_screening(ctx, checked, where)
    refused = screening_refusal(ctx, key, checked, hits, version, licence=licence, regime=None)
    if refused is not None:
        return refused

    # A retry after the database was busy is safe: a shipment is idempotent (a repeat changes nothing).
    def screening(decision: Decision) -> Decision:  # before anything is drawn: an EL consignee needs a licence
        return apply_screening(decision, hits, party=txn.consignee.name, lists=version)

    shipment = ctx.read(
        ship,
        txn,
        ctx.book,
        ctx.ledger_for(key),
        licence_id=licence,
        regime=regime,
        today=today,
        window=window,
        backfill=backfill,
        listings=allied_listings(hits),
        screening=screening if version is not None else lambda d: not_screened(d, ctx.unscreened_reason()),
    )
    screened = (
        shipment.decision
        if shipment.decision.screening is not None
        else apply_screening(shipment.decision, hits, party=txn.consignee.name, lists=version)
        if version is not None
        else not_screened(shipment.decision, ctx.unscreened_reason())
    )
    assert screened.screening is not None
    return {**shipment_to_dict(shipment), "screening": screening_fields(screened.screening)}


def consignee_screening(ctx: ApiContext, txn: Transaction, where: str) -> tuple[list[Hit], str | None]:
    """The consignee's hits and the lists' data version (None: not screened, the server screens nothing)."""
    lists = ctx.screening()
    if lists is None:
        return [], None
    consignee = txn.consignee
    query = NameQuery(consignee.name, None, consignee.country)
    party = party_id(consignee.name, consignee.country, consignee.id)
    return lists.consignee_hits(query, party=party, where=f"{where}: consignee.name"), lists.data_version()


def screening_refusal(
    ctx: ApiContext,
    key: ApiKey,
    txn: Transaction,
    hits: list[Hit],
    version: str | None,
    *,
    licence: str | None,
    regime: str | None,
) -> dict[str, Any] | None:
    """As ``tiergate ship --lists``: a shipment to a consignee with an open or confirmed hit on the SDN list or
    the Denied Persons List, or on the Entity List without a licence, is refused before the ledger is drawn. The
    refusal (the live decision adjusted by the hits, and why) is the answer, and is in the audit log."""
    if ctx.lists is None:  # the operator turned screening off: the shipment's record says 'parties not screened'
        return None
    block = (
        f"parties not screened: {ctx.unscreened_reason()}"
        if version is None
        else shipping_block(hits, licence is not None)
    )
    if block is None:
        return None
    decision, _ = ctx.read(live_decision, txn, ctx.book, ctx.ledger, regime=regime)
    screened = (
        apply_screening(decision, hits, party=txn.consignee.name, lists=version)
        if version is not None
        else not_screened(decision, ctx.unscreened_reason())
    )
    refusal = ctx.read(refuse_before_drawing, txn, ctx.ledger_for(key), screened, block)
    if refusal.duplicate:  # committed before under this id: that is the answer
        return shipment_to_dict(refusal)
    return {**decision_to_dict(screened), "committed": False, "reason": block, "reservations": []}


@router.post(
    "",
    summary="Ship one transaction against the ledger",
    description="Decides with the ledger's live balances; when the transaction is authorised (or licensed under "
    "`license`), reserves and commits every allocation it draws in one database transaction. A refusal "
    "(not authorised, allocation exceeded) is an answer, not an error: `committed` is false and `reason` "
    "says why; it is in the audit log too. The shipment is decided under the regime in force on its date, which "
    "must lie from 30 days before today to today (`backfill` for older ones). A repeat of a shipment (same id, "
    "else same content), even a concurrent one, draws nothing and answers as the first did with `duplicate` true; "
    "the same id with other content is a 409.",
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
    regime: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Only the regime in force on the shipment's date is accepted; a scenario is refused (422).",
        ),
    ] = None,
    backfill: Annotated[
        bool,
        Query(
            description="Record a shipment dated before the window (30 days by default); admin keys only, and the "
            "backfill is in the audit log."
        ),
    ] = False,
) -> Response:
    if license is not None and licence is not None and license != licence:
        raise ApiError(422, "give license or licence, not two different licences", where="query.licence")
    licence = license or licence
    data = await json_body(request)
    if not isinstance(data, dict):
        raise ApiError(422, f"expected a transaction object, got {type(data).__name__}", where="body")
    shipped = await run_in_threadpool(
        ship_transaction, context(request), key, data, licence=licence, regime=regime, backfill=backfill
    )
    shipped["reason"] = for_http(shipped.get("reason"))  # the ledger's reasons name command-line flags
    return Response(orjson.dumps(shipped), media_type="application/json")
