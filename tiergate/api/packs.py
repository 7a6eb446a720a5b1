"""``/v1/packs``: regimes and packs, the rules of one, and the diff between two regimes
(the JSON of ``tiergate packs list|show|diff --format json``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from tiergate.api.auth import context, viewer
from tiergate.api.errors import ApiError, responses
from tiergate.api.schemas import ok
from tiergate.errors import InputError
from tiergate.rules import Rulebook
from tiergate.rules.describe import regimes_and_packs, rules_of
from tiergate.rules.diff import diff_rulesets, render_diff

router = APIRouter(prefix="/v1/packs", tags=["packs"], dependencies=[Depends(viewer)])


def packs_overview(book: Rulebook) -> dict[str, Any]:
    """Regimes and packs (without the server's folders)."""
    return regimes_and_packs(book)


def regime_rules(book: Rulebook, name: str) -> dict[str, Any]:
    """The merged rules of a regime, or a pack's manifest and rules (404 for neither)."""
    try:
        return rules_of(book, name)
    except InputError as error:
        raise ApiError(404, error.message, where="path.name", hint=error.hint) from None


def regimes_diff(book: Rulebook, a: str, b: str, as_of: dt.date | None = None) -> dict[str, Any]:
    for which, name in (("from", a), ("to", b)):
        if name not in book.regimes:
            raise ApiError(
                404,
                f"no regime named {name[:100]!r}",
                where=f"query.{which}",
                hint=f"regimes: {', '.join(book.regimes)}",
            )
    diff = diff_rulesets(book.full(a), book.full(b), as_of)
    return {**diff, "lines": list(render_diff(diff))}


@router.get("", summary="Regimes and packs", responses={**ok({"type": "object"}, "Regimes and packs."), **responses()})
def list_packs(request: Request) -> dict[str, Any]:
    return packs_overview(context(request).book)


@router.get(
    "/diff",
    summary="What changed between two regimes",
    description="Thresholds, country groups, exceptions, review policies and caps; `lines` is the text rendering.",
    responses={**ok({"type": "object"}, "The diff."), **responses(404)},
)
def diff_packs(
    request: Request,
    a: Annotated[str, Query(alias="from", min_length=1, max_length=100, description="Regime to compare from.")],
    b: Annotated[str, Query(alias="to", min_length=1, max_length=100, description="Regime to compare to.")],
    as_of: Annotated[dt.date | None, Query(description="Evaluate dated group memberships on this date.")] = None,
) -> dict[str, Any]:
    return regimes_diff(context(request).book, a, b, as_of)


@router.get(
    "/{name}",
    summary="The rules of a regime or a pack",
    responses={**ok({"type": "object"}, "A regime's merged rules, or a pack's manifest and rules."), **responses(404)},
)
def show_pack(
    request: Request, name: Annotated[str, Path(min_length=1, max_length=100, description="Regime or pack id.")]
) -> dict[str, Any]:
    return regime_rules(context(request).book, name)
