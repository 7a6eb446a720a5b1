"""``/v1/ledger``: allocation balances (now or as of a date) and the movement history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from tiergate.api.auth import context, officer, viewer
from tiergate.api.context import ApiContext
from tiergate.api.errors import responses
from tiergate.api.keys import ApiKey
from tiergate.api.schemas import ok, ref
from tiergate.ledger.ship import balances_rows

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


class NewLicence(BaseModel):
    """An issued licence, as ``tiergate ledger licence add`` records it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    license_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            validation_alias=AliasChoices("license_id", "licence_id"),
            description="The licence number BIS issued (`licence_id` is accepted too).",
        ),
    ]
    quantity: Annotated[int, Field(gt=0, le=10_000_000_000, strict=True, description="Units it authorises.")]
    value_usd: Annotated[int | None, Field(gt=0, le=10**13, strict=True, description="US dollars it authorises.")] = (
        None
    )
    note: Annotated[str | None, Field(max_length=2000)] = None


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
    "/licenses",
    summary="Record an issued licence",
    description="Shipments under it (`POST /v1/ship?license=ID`) deplete its quantity (and value). Entered in the "
    "audit log under the key's owner.",
    status_code=201,
    responses={
        201: {"description": "Recorded.", "content": {"application/json": {"schema": {"type": "object"}}}},
        **responses(409),
    },
)
def post_licence(request: Request, body: NewLicence, key: Annotated[ApiKey, Depends(officer)]) -> dict[str, Any]:
    ctx = context(request)
    ctx.ledger_for(key).add_licence(body.license_id, body.quantity, body.value_usd, body.note)
    return body.model_dump()


router.add_api_route(  # the other spelling, where it already was
    "/licences", post_licence, methods=["POST"], status_code=201, include_in_schema=False
)
