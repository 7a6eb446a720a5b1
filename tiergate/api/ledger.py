"""``/v1/ledger``: allocation balances (now or as of a date), the movement history and the licences."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from tiergate.api.auth import context, officer, viewer
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey
from tiergate.api.schemas import ok, ref
from tiergate.catalog import load_equipment
from tiergate.ledger.licence import LicenceIn, parse_licence
from tiergate.ledger.ship import balances_rows, licence_view

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


def balances(ctx: ApiContext, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    moment = None if as_of is None else dt.datetime.combine(as_of, dt.time.max, tzinfo=dt.UTC)
    return ctx.read(balances_rows, ctx.ledger, moment)


def history(ctx: ApiContext, account: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """The latest ``limit`` movements (of one account, or all), oldest first."""
    moves = ctx.read(ctx.ledger.history, account)
    return [m.to_dict() for m in moves[-limit:]]


@router.get(
    "/balances",
    summary="Allocation balances",
    description="Every allocation account: cap, used, reserved and remaining TPP (now, or at the end of `as_of`).",
    responses={**ok({"type": "array", "items": ref("Balance")}, "The accounts."), **responses()},
)
def get_balances(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    as_of: Annotated[dt.date | None, Query(description="Balances at the end of this date.")] = None,
) -> list[dict[str, Any]]:
    return balances(context(request), as_of)


@router.get(
    "/history",
    summary="Ledger movements",
    description="Reserves, commits and releases, oldest first (the latest `limit`).",
    responses={**ok({"type": "array", "items": ref("Movement")}, "The movements."), **responses()},
)
def get_history(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    account: Annotated[str | None, Query(max_length=300, description="Only this allocation account.")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="At most this many (the latest).")] = 1000,
) -> list[dict[str, Any]]:
    return history(context(request), account, limit)


@router.post(
    "/licences",
    summary="Record an issued licence",
    description="The licence as issued (docs/formats.md, Licence): number, issuing jurisdiction, exporter, "
    "consignees and their countries, destination, lines (a catalogue id, a family or an ECCN, with a quantity and "
    "a value in USD), issue and expiry dates, conditions. A shipment (`POST /v1/ship?license=ID`) draws on it only "
    "when the licence covers its consignee, destination, items and date, per line. Recording the terms of a "
    "licence carried over from an older ledger completes it. Entered in the audit log under the key's owner.",
    status_code=201,
    responses={
        201: {
            "description": "Recorded, with each line's balance.",
            "content": {"application/json": {"schema": ref("Licence")}},
        },
        **responses(409),
    },
)
def post_licence(request: Request, body: LicenceIn, key: Annotated[ApiKey, Depends(officer)]) -> dict[str, Any]:
    ctx = context(request)
    licence = parse_licence(body.model_dump(mode="json"), ctx.book.catalogue, load_equipment(), where="body")
    ledger = ctx.ledger_for(key)
    ledger.add_licence(licence)
    return ctx.read(licence_view, ledger, licence)


@router.get(
    "/licences",
    summary="Recorded licences",
    description="Every licence recorded, with the units and dollars each line has left.",
    responses={**ok({"type": "array", "items": ref("Licence")}, "The licences."), **responses()},
)
def get_licences(request: Request, key: Annotated[ApiKey, Depends(viewer)]) -> list[dict[str, Any]]:
    ctx = context(request)
    return [ctx.read(licence_view, ctx.ledger, licence) for licence in ctx.read(ctx.ledger.licences)]


@router.get(
    "/licences/{licence_id}",
    summary="One licence",
    description="A licence's terms, with the units and dollars each line has left.",
    responses={**ok(ref("Licence"), "The licence."), **responses(404)},
)
def get_licence(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    licence_id: Annotated[str, Path(min_length=1, max_length=200)],
) -> dict[str, Any]:
    ctx = context(request)
    licence = ctx.read(ctx.ledger.licence, licence_id)
    if licence is None:
        raise ApiError(404, f"licence {licence_id!r} is not recorded", where="path")
    return ctx.read(licence_view, ctx.ledger, licence)
