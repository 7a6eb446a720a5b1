"""How a threshold would have moved: a parameter of a regime evaluated at dates from ``--from`` to ``--to``,
with the catalogue's date-dependent quantities (``frontier_tpp``) taken as of each date, and the catalogue
chips that crossed it between one date and the next (``tiergate packs timeline``).

A parameter measured in TPP is compared with each chip's TPP, one in GB/s with its memory bandwidth; a chip
is "at or above" the threshold when its figure is at least the threshold (with the engine's tolerance). A chip
counts only from its release date. Pure: the rulebook is passed in.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from tiergate.catalog import Chip
from tiergate.classify.metrics import tpp
from tiergate.errors import InputError, TiergateError
from tiergate.rules.book import Rulebook
from tiergate.rules.compile import frontier_chip
from tiergate.rules.ruleset import Ruleset, compare

STEPS = {"month": 1, "quarter": 3, "year": 12}


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def step_dates(start: dt.date, end: dt.date, every: str) -> list[dt.date]:
    if every not in STEPS:
        raise InputError(f"--every {every!r}: use month, quarter or year", where="--every")
    if end < start:
        raise InputError(f"--to {end} is before --from {start}", where="--to")
    dates, k = [], 0
    while True:
        day = add_months(start, STEPS[every] * k)
        if day > end:
            break
        dates.append(day)
        k += 1
        if k > 2400:
            raise InputError("more than 2,400 dates", where="--every", hint="use a longer step or a shorter span")
    return dates


@dataclass(frozen=True, slots=True)
class Crossing:
    chip: str
    name: str
    figure: float
    change: str
    """``released at or above``, ``released below``, ``now below`` or ``now at or above``."""


def _unit_of(book: Rulebook, ruleset: Ruleset, name: str) -> str:
    unit = ""
    for label in ruleset.pack_labels:
        pack = book.packs.get(label.rsplit("@r", 1)[0])
        if pack is None:
            continue
        for param in pack.rules.parameters:
            if param.name == name:
                unit = param.unit
    if name in ("frontier_tpp", "h100_tpp"):
        unit = "TPP"
    return unit


def _figure(chip: Chip, unit: str, ruleset: Ruleset) -> float | None:
    if unit == "TPP":
        return tpp(chip, ruleset.bit_lengths).value
    if unit in ("GB/s", "GBps"):
        return chip.memory_bandwidth_gbps
    return None


def threshold_timeline(
    book: Rulebook, name: str, start: dt.date, end: dt.date, every: str = "quarter", regime: str | None = None
) -> dict[str, Any]:
    """The value of parameter ``name`` at each date and the chips that crossed it (see the module doc)."""
    dates = step_dates(start, end, every)
    rows: list[dict[str, Any]] = []
    previous: dict[str, bool] = {}
    unit = ""
    known = False
    for day in dates:
        try:
            ruleset, selection = book.select(regime, day)
        except TiergateError as error:
            rows.append({"date": day.isoformat(), "value": None, "regime": None, "note": error.message})
            continue
        if name not in ruleset.parameters:
            choices = sorted(ruleset.parameters)
            raise InputError(
                f"unknown parameter {name!r} of regime {ruleset.regime}",
                where="PARAM",
                hint=f"known: {', '.join(choices)}",
            )
        known = True
        unit = _unit_of(book, ruleset, name)
        frontier = frontier_chip(book.catalogue, ruleset.bit_lengths, day)
        value = ruleset.parameters[name]
        if name == "frontier_tpp":  # the quantity itself, as of the date (whether or not a threshold reads it)
            if frontier is None:
                rows.append({"date": day.isoformat(), "value": None, "regime": ruleset.regime,
                             "note": "no catalogue chip released yet"})  # fmt: skip
                previous = {}
                continue
            value = frontier[0]
        crossings: list[Crossing] = []
        at_or_above = 0
        current: dict[str, bool] = {}
        for chip in book.catalogue:
            if chip.id is None or (chip.released is not None and chip.released > day):
                continue
            figure = _figure(chip, unit, ruleset)
            if figure is None:
                continue
            above = compare(figure, ">=", value)
            current[chip.id] = above
            at_or_above += above
            was = previous.get(chip.id)
            if was is None and rows:
                crossings.append(
                    Crossing(chip.id, chip.name, figure, "released " + ("at or above" if above else "below"))
                )
            elif was is not None and was != above:
                crossings.append(Crossing(chip.id, chip.name, figure, "now at or above" if above else "now below"))
        previous = current
        rows.append(
            {
                "date": day.isoformat(),
                "regime": ruleset.regime,
                "value": value,
                "frontier_tpp": frontier[0] if frontier else None,
                "frontier_chip": frontier[1] if frontier else None,
                "chips_compared": len(current),
                "chips_at_or_above": at_or_above,
                "crossings": [
                    {"chip": c.chip, "name": c.name, "figure": c.figure, "change": c.change} for c in crossings
                ],
                "dated": bool(selection.quantities),
            }
        )
    if not known:
        raise InputError(
            f"no regime is in force between {start} and {end}", where="--from", hint="name one with --regime"
        )
    return {
        "parameter": name,
        "unit": unit,
        "regime": regime,
        "every": every,
        "compared_with": {"TPP": "chip TPP", "GB/s": "chip memory bandwidth", "GBps": "chip memory bandwidth"}.get(
            unit, "nothing (the parameter is not in TPP or GB/s)"
        ),
        "dates": rows,
    }


def render_timeline(data: dict[str, Any]) -> list[str]:
    unit = f" {data['unit']}" if data["unit"] else ""
    lines = [
        f"{data['parameter']} ({data['unit'] or 'no unit'}) every {data['every']}"
        f"{' under ' + data['regime'] if data['regime'] else ' under the regime in force'}; compared with "
        f"{data['compared_with']}:"
    ]
    for row in data["dates"]:
        if row["value"] is None:
            lines.append(f"  {row['date']}  -  ({row['note']})")
            continue
        frontier = (
            f"frontier {row['frontier_chip']} {row['frontier_tpp']:,.0f} TPP"
            if row["frontier_chip"]
            else "no chip released yet"
        )
        head = (
            f"  {row['date']}  {row['value']:>14,.6g}{unit}  [{row['regime']}]  {frontier}; "
            f"{row['chips_at_or_above']} of {row['chips_compared']} chips at or above"
        )
        lines.append(head)
        for c in row["crossings"]:
            lines.append(f"      {c['change']}: {c['name']} ({c['chip']}, {c['figure']:,.6g})")
    return lines
