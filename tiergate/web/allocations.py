"""The Allocations page: used, reserved and remaining TPP against each cap, per country and per consignee,
as bars (server-side SVG), and a world map coloured by the tier (country group) each country is in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tiergate.api.context import ApiContext
from tiergate.api.ledger import balances
from tiergate.rules import Ruleset
from tiergate.web.app import NavEntry, context, page_key, render
from tiergate.web.worldmap import HEIGHT, WIDTH, country_shapes

router = APIRouter()
NAV = NavEntry("Allocations", "/allocations", "viewer")

SECTIONS = (("country", "Per country"), ("consignee", "Per consignee"), ("licence", "Licences"))


def section_of(kind: str) -> str:
    """Which section an account belongs in, by its allocation label (``country:tier2``, ``lpp:consignee``,
    ``uveu:location``, ``nveu:...``, ``licence:quantity``)."""
    head = kind.split(":", 1)[0]
    return head if head in ("country", "licence") else "consignee"


TIER_GROUPS = (("tier1", "Tier 1"), ("tier2", "Tier 2"), ("tier3", "Tier 3"))
CONTROL_GROUPS = (("D:5", "D:5 (arms-embargoed)"), ("D:4", "D:4"), ("D:1", "D:1"))


@dataclass(frozen=True, slots=True)
class Bar:
    account: str
    kind: str
    rule: str
    cap: float | None
    used: float
    reserved: float
    remaining: float | None
    used_pct: float
    reserved_pct: float


def bar(row: dict[str, Any]) -> Bar:
    cap = row["cap"]
    used, reserved = row["used"], row["reserved"]
    scale = cap if cap else max(used + reserved, 1e-9)
    used_pct = max(0.0, min(100.0, 100.0 * used / scale))
    reserved_pct = max(0.0, min(100.0 - used_pct, 100.0 * reserved / scale))
    return Bar(
        row["allocation"], row["kind"], row["rule"], cap, used, reserved, row["remaining"], used_pct, reserved_pct
    )


def sections(rows: list[dict[str, Any]]) -> list[tuple[str, str, list[Bar]]]:
    return [
        (section_id, title, [bar(r) for r in rows if section_of(r["kind"]) == section_id])
        for section_id, title in SECTIONS
    ]


def map_regime(ctx: ApiContext, wanted: str | None) -> tuple[Ruleset, str]:
    """The ruleset whose groups colour the map: the one asked for, else today's if it has tiers, else the
    latest regime that has them (with a note saying so)."""
    if wanted and wanted in ctx.book.regimes:
        return ctx.book.full(wanted), ""
    today, _ = ctx.book.select(None, ctx.today())
    if "tier1" in today.groups:
        return today, ""
    tiered = [name for name in ctx.book.regimes if "tier1" in ctx.book.full(name).groups]
    if not tiered:
        return today, ""
    chosen = tiered[-1]
    return ctx.book.full(chosen), f"The regime in force today ({today.regime}) has no tiers; the map shows {chosen}."


NO_COUNTRY = {"AQ": "no country (Antarctic Treaty area): not a destination the rules name"}
"""Areas of the map that are no country's territory: never coloured as a tier."""
TERRITORIES = {"GL": "DK", "FK": "GB", "NC": "FR", "TF": "FR", "PR": "US"}
"""Territories drawn apart on the map, and the state they belong to (ISO 3166-1 gives them codes of their own)."""


def country_colours(ruleset: Ruleset, ctx: ApiContext) -> tuple[list[tuple[str, str]], dict[str, tuple[str, str]]]:
    """The legend (class, label) and each country's (class, label) under the ruleset's tiers, or, for a regime
    without tiers, its country groups D:5 / D:4 / D:1. A group defined as "everyone else" (Tier 2) does not
    colour Antarctica (no country), nor a territory whose state is in another group than its own code: those are
    drawn as "other", with a note saying both."""
    day = ctx.today()
    groups = TIER_GROUPS if "tier1" in ruleset.groups else CONTROL_GROUPS
    legend = [(f"g{index}", label) for index, (_, label) in enumerate(groups)] + [
        ("none", "none of these"),
        ("other", "no country, or a territory whose state is in another group: see its note"),
    ]

    def group_of(code: str) -> tuple[str, str]:
        member = ruleset.memberships(code, day)
        return next(((f"g{i}", label) for i, (gid, label) in enumerate(groups) if gid in member), ("none", "—"))

    colours: dict[str, tuple[str, str]] = {}
    for shape in country_shapes():
        colours[shape.code] = group_of(shape.code)
        if shape.code in NO_COUNTRY:
            colours[shape.code] = ("other", NO_COUNTRY[shape.code])
        elif shape.code in TERRITORIES:
            state = TERRITORIES[shape.code]
            own, of_state = colours[shape.code], group_of(state)
            if own[0] != of_state[0]:
                colours[shape.code] = (
                    "other",
                    f"a territory of {state} ({of_state[1]}); decided under its own code {shape.code}: {own[1]}",
                )
    return legend, colours


USE_BINS = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)
"""The classes of the allocation-use map: r0 for under 20 % of the cap drawn ... r5 for 100 % (exhausted)."""


def use_colours(with_allocation: dict[str, dict[str, Any]]) -> tuple[list[tuple[str, str]], dict[str, tuple[str, str]]]:
    """The legend and each country's (class, label) by the share of its country allocation used and reserved."""
    legend = [("none", "no country allocation account")] + [
        (f"r{index}", f"{low:.0f}–{high:.0f} % drawn" if index < 5 else "exhausted")
        for index, (low, high) in enumerate(zip(USE_BINS, (*USE_BINS[1:], 100.0), strict=True))
    ]
    colours: dict[str, tuple[str, str]] = {}
    for shape in country_shapes():
        row = with_allocation.get(shape.code)
        if row is None:
            colours[shape.code] = ("none", "no country allocation account")
            continue
        drawn = bar(row).used_pct + bar(row).reserved_pct
        index = 5 if drawn >= 100.0 else max(i for i, low in enumerate(USE_BINS[:5]) if drawn >= low)
        colours[shape.code] = (f"r{index}", f"{drawn:.1f} % of its country allocation drawn")
    return legend, colours


@router.get("/allocations")
async def allocations_page(request: Request, regime: str | None = None, view: str | None = None) -> Response:
    page_key(request, NAV.role)
    ctx = context(request)
    rows = balances(ctx)
    ruleset, note = map_regime(ctx, regime)
    country_rows = [r for r in rows if section_of(r["kind"]) == "country"]
    with_allocation = {r["allocation"].split(":")[1]: r for r in country_rows if len(r["allocation"].split(":")) > 2}
    use = view == "use"
    legend, colours = use_colours(with_allocation) if use else country_colours(ruleset, ctx)
    shapes = [
        {
            "code": s.code,
            "name": s.name,
            "path": s.path,
            "cls": colours[s.code][0],
            "label": colours[s.code][1],
            "allocation": with_allocation.get(s.code),
        }
        for s in country_shapes()
    ]
    return render(
        request,
        "allocations.html",
        sections=sections(rows),
        shapes=shapes,
        legend=legend,
        map_regime=ruleset.regime,
        note=note,
        regimes=list(ctx.book.regimes),
        view="use" if use else "tiers",
        width=WIDTH,
        height=HEIGHT,
    )
