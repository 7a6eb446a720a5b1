"""``/v1/chips``: the accelerator catalogue, with each chip's TPP and ECCN under a regime."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from tiergate import interchange
from tiergate.api.auth import context, viewer
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.schemas import ok, ref
from tiergate.catalog import Chip
from tiergate.classify import classify
from tiergate.errors import UnknownChipError
from tiergate.rules import Ruleset

router = APIRouter(prefix="/v1/chips", tags=["chips"], dependencies=[Depends(viewer)])

Regime = Annotated[str | None, Query(max_length=100, description="Classify under this regime.")]
AsOf = Annotated[dt.date | None, Query(description="Classify under the regime in force on this date.")]


def chip_row(chip: Chip, ruleset: Ruleset) -> dict[str, Any]:
    """A catalogue chip with its TPP, performance density and ECCN (a row of ``tiergate chips list --format json``)."""
    c = classify(chip, ruleset)
    return {
        **interchange.chip_to_dict(chip),
        "tpp": c.tpp,
        "performance_density": c.performance_density,
        "eccn": c.eccn,
    }


def chip_rows(ctx: ApiContext, regime: str | None = None, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    ruleset, _ = ctx.book.select(regime, as_of or ctx.today())
    return [chip_row(chip, ruleset) for chip in ctx.book.catalogue]


@router.get(
    "",
    summary="The accelerator catalogue",
    responses={**ok({"type": "array", "items": ref("Chip")}, "Every chip."), **responses()},
)
def list_chips(request: Request, regime: Regime = None, as_of: AsOf = None) -> list[dict[str, Any]]:
    return chip_rows(context(request), regime, as_of)


@router.get(
    "/{chip}",
    summary="One accelerator and its classification",
    responses={**ok(ref("Chip"), "The chip, with `classification`."), **responses(404)},
)
def show_chip(
    request: Request,
    chip: Annotated[str, Path(min_length=1, max_length=200, description="Catalogue id or alias.")],
    regime: Regime = None,
    as_of: AsOf = None,
) -> dict[str, Any]:
    ctx = context(request)
    try:
        found = ctx.book.catalogue.resolve(chip, where="chip")
    except UnknownChipError as error:
        raise ApiError(404, error.message, where="path.chip", hint=error.hint) from None
    ruleset, _ = ctx.book.select(regime, as_of or ctx.today())
    classification = interchange.classification_to_dict(classify(found, ruleset), ruleset.regime)
    return {**chip_row(found, ruleset), "classification": classification}
