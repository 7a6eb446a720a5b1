"""F11, the mirror-gap prior (diversion digest §2 "aggregate signals" and §5 F11): a transshipment hub whose imports
of accelerators and GPU servers (HS 854231, 847150, 847180) in a month are up more than 300 % on the same month a
year before, or whose imports over the twelve months to that month, at $50,000 per H100-equivalent, come to more
than twice the H100-equivalents of the data centres documented there (Epoch AI's GPU clusters, any status, as the
digest counts Malaysia's 38,979), raises F4 by half on the shipments routed through it that month.

The imports of a country and month come from an optional file (``--imports``: national or mirror statistics, one
row per country and month) and, for the country-months the file does not give, from the scanned shipments
themselves (their declared value, per hub on the route after the origin). The prior is not evidence: it only
weighs a hub on the route more.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiergate.diversion.model import H100_VALUE_USD, Problem

MIRROR_HS = ("854231", "847150", "847180")
"""The HS-6 codes of the digest's mirror figures (processors, ADP processing units, ADP units n.e.c.)."""
YEAR_ON_YEAR = 4.0
"""A month's imports more than 4x the same month a year before (up more than 300 %)."""
CAPACITY_TIMES = 2.0
"""Twelve months' imports (in H100e) more than twice the documented H100e."""
MIN_IMPORTS_USD = 50_000_000.0
"""Imports under this (a month for the year-on-year test, twelve months for the capacity test) are too small to
say anything about a country (1,000 H100e)."""
IMPORT_COLUMNS = ("country", "month", "value_usd", "documented_h100e")


@dataclass
class Imports:
    """Hub imports by (country, month index) and documented H100e by country, with where each figure came from."""

    value: dict[tuple[str, int], float] = field(default_factory=dict)
    documented: dict[str, float] = field(default_factory=dict)
    from_file: set[tuple[str, int]] = field(default_factory=set)


def month_index(day: dt.date) -> int:
    """Months since year 0 (January 2025 is 2025 * 12)."""
    return day.year * 12 + day.month - 1


def month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@functools.cache
def documented_h100e() -> dict[str, float]:
    """H100-equivalents of every Epoch AI GPU cluster (existing or planned) by country."""
    import pycountry

    from tiergate.diversion.sites import EPOCH_FILE

    out: dict[str, float] = {}
    with EPOCH_FILE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                code = pycountry.countries.lookup((row.get("Country") or "").strip()).alpha_2
                h100e = float((row.get("H100 equivalents") or "0").strip() or "0")
            except (LookupError, ValueError):
                continue
            out[code] = out.get(code, 0.0) + h100e
    return out


def read_imports(path: Path) -> tuple[Imports, list[Problem]]:
    """The imports file: CSV or JSON lines with ``country`` (ISO alpha-2), ``month`` (YYYY-MM), ``value_usd`` (the
    country's imports of HS 854231/847150/847180 that month) and optionally ``documented_h100e`` (the country's
    documented data-centre H100-equivalents, in place of Epoch AI's). A row that does not parse is a problem named by
    file, line and column, and is left out."""
    from tiergate.diversion.reading import _parse, _records

    imports = Imports()
    problems: list[Problem] = []
    file = str(path)
    for line, raw in _records(Path(path), IMPORT_COLUMNS, ("country", "month", "value_usd")):
        if isinstance(raw, str):
            problems.append(Problem(file, line, "(line)", raw))
            continue
        try:
            country = _column(raw, "country", _parse)
            month = _column(raw, "month", _month)
            value = _column(raw, "value_usd", _parse)
            documented = _column(raw, "documented_h100e", _number)
            if country is None or month is None:
                raise _Bad("country" if country is None else "month", "missing: a row needs a country and a month")
        except _Bad as bad:
            problems.append(Problem(file, line, bad.args[0], bad.args[1]))
            continue
        key = (country, month_index(month))
        if value is not None:
            imports.value[key] = value
            imports.from_file.add(key)
        if documented is not None:
            imports.documented[country] = documented
    return imports, problems


class _Bad(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(column, message)


def _column(raw: dict[str, Any], column: str, parse: Any) -> Any:
    """The parsed value of ``column``, or raises :class:`_Bad` naming the column and what was expected."""
    from tiergate.diversion.reading import _text

    try:
        return parse(column, raw.get(column))
    except ValueError as error:
        raise _Bad(column, f"{_text(raw.get(column))!r} is not {error}") from None


def _month(column: str, value: Any) -> dt.date | None:
    from tiergate.diversion.reading import _text

    text = _text(value)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:7] + "-01") if len(text) in (7, 10) else dt.date.fromisoformat("")
    except ValueError:
        raise ValueError("a month (YYYY-MM)") from None


def _number(column: str, value: Any) -> float | None:
    from tiergate.diversion.reading import _text

    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise ValueError("a number") from None
    if number != number or number < 0 or number == float("inf"):
        raise ValueError("a finite number, not negative")
    return number


def hub_imports(ships: Any, as_of: str) -> Any:
    """Ibis: the declared value of compute shipments (HS 854231/847150/847180) on or before ``as_of`` by month
    index and route (a small table; the hubs are read off the routes in Python)."""
    import ibis

    s = ships.filter(
        ships.date.notnull()
        & (ships.date <= ibis.date(as_of))
        & ships.value_usd.notnull()
        & ships.route.notnull()
        & ships.hs_code.substr(0, 6).isin(MIRROR_HS)
    )
    month = s.date.year().cast("int64") * 12 + s.date.month().cast("int64") - 1
    return s.group_by(month=month, route=s.route).aggregate(value=s.value_usd.sum())


def add_shipments(imports: Imports, rows: list[dict[str, Any]], hubs: tuple[str, ...]) -> None:
    """Add the scanned shipments' hub imports for the country-months the file does not give."""
    found: dict[tuple[str, int], float] = {}
    for r in rows:
        for code in set(str(r["route"]).split(">")[1:]):
            if code in hubs:
                key = (code, int(r["month"]))
                found[key] = found.get(key, 0.0) + float(r["value"])
    for key, value in found.items():
        if key not in imports.from_file:
            imports.value[key] = value


@dataclass(frozen=True, slots=True)
class Gap:
    country: str
    month: int
    why: str


def gaps(imports: Imports, hubs: tuple[str, ...]) -> tuple[dict[tuple[str, int], Gap], list[str]]:
    """The hub country-months with a mirror gap, and the hub country-months whose year-on-year change could not be
    assessed (no imports a year before)."""
    out: dict[tuple[str, int], Gap] = {}
    no_prior: list[str] = []
    months = [m for (_, m) in imports.value]
    if not months:
        return out, no_prior
    first, last = min(months), max(months)
    documented = {**documented_h100e(), **imports.documented}
    for country in sorted({c for (c, _) in imports.value if c in hubs}):
        for month in range(first, last + 1):
            value = imports.value.get((country, month), 0.0)
            prior = imports.value.get((country, month - 12))
            whys = []
            if value >= MIN_IMPORTS_USD:
                if prior is None:
                    no_prior.append(f"{country} {month_text(month)}")
                elif value > YEAR_ON_YEAR * prior:
                    up = f"{(value / prior - 1) * 100:,.0f} %" if prior > 0 else "from nothing"
                    whys.append(
                        f"{country}'s imports of HS {'/'.join(MIRROR_HS)} in {month_text(month)} were "
                        f"${value / 1e6:,.1f}M, up {up} on {month_text(month - 12)} (${prior / 1e6:,.1f}M)"
                    )
            year = sum(imports.value.get((country, m), 0.0) for m in range(month - 11, month + 1))
            h100e = year / H100_VALUE_USD
            known = documented.get(country, 0.0)
            if value > 0 and year >= MIN_IMPORTS_USD and h100e > CAPACITY_TIMES * known:
                whys.append(
                    f"{country}'s imports in the 12 months to {month_text(month)} (${year / 1e6:,.1f}M, about "
                    f"{h100e:,.0f} H100e at ${H100_VALUE_USD:,.0f}) are over twice the {known:,.0f} H100e of its "
                    "documented data centres"
                )
            if whys:
                out[(country, month)] = Gap(country, month, "; ".join(whys))
    return out, no_prior


def prior(r: dict[str, Any], found: dict[tuple[str, int], Gap], hubs: tuple[str, ...]) -> int:
    """F11's points for a shipment read back: half its F4 (rounded up) when a hub on its route, or its end-use
    country, had a mirror gap in the shipment's month; else 0."""
    day = r.get("date")
    if not r.get("f4") or not found or not isinstance(day, dt.date):
        return 0
    month = month_index(day)
    places = set(str(r.get("route") or "").split(">")[1:]) | {str(r.get("eu_country") or "")}
    if any((code, month) in found for code in places if code in hubs):
        return (int(r["f4"]) + 1) // 2
    return 0
