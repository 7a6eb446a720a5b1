"""The Packs page: regimes and packs, and a side-by-side diff of two regimes (``tiergate.rules.diff``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tiergate.api.packs import packs_overview, regimes_diff
from tiergate.classify.metrics import fmt
from tiergate.rules import Rulebook
from tiergate.web.app import NavEntry, context, page_key, render

router = APIRouter()
NAV = NavEntry("Packs", "/packs", "viewer")


def side_by_side(book: Rulebook, diff: dict[str, Any]) -> list[dict[str, str]]:
    """Rows of (what, left, right): each change with the "from" regime's side and the "to" regime's side."""
    left_rules = {p.rule_id: p for p in _provenances(book, diff["from"])}
    rows: list[dict[str, str]] = []
    for p in diff["parameters"]:
        rows.append({"section": "parameter", "what": p["name"], "left": _text(p["from"]), "right": _text(p["to"])})
    for g in diff["country_groups"]:
        if g["change"] == "members":
            rows.append(
                {
                    "section": "country group",
                    "what": g["group"],
                    "left": "− " + ", ".join(g["removed"]) if g["removed"] else "",
                    "right": "+ " + ", ".join(g["added"]) if g["added"] else "; ".join(g["dated"]),
                }
            )
        elif g["change"] == "definition":
            rows.append({"section": "country group", "what": g["group"], "left": g["from"], "right": g["to"]})
        else:
            side = "right" if g["change"] == "added" else "left"
            rows.append(
                {
                    "section": "country group",
                    "what": g["group"],
                    "left": "",
                    "right": "",
                    side: f"{g['change']}: {g['definition']}",
                }
            )
    for c in diff["caps"]:
        rows.append({"section": "cap", "what": c["allocation"], "left": _text(c["from"]), "right": _text(c["to"])})
    for r in diff["rules"]:
        old = left_rules.get(r.get("was") or r["id"])
        left = "" if r["change"] == "added" else f"{r.get('was') or r['id']}: {old.summary if old else r['summary']}"
        right = "" if r["change"] == "removed" else f"{r['id']}: {r['summary']}"
        rows.append({"section": f"{r['kind']} ({r['change']})", "what": r["id"], "left": left, "right": right})
    return rows


def _provenances(book: Rulebook, regime: str) -> list[Any]:
    ruleset = book.full(regime)
    entries: list[Any] = [
        *ruleset.classification,
        *ruleset.requirements,
        *ruleset.prohibitions,
        *ruleset.exceptions,
        *ruleset.review_policies,
        *ruleset.allocations.values(),
        *ruleset.notices,
    ]
    return [e.provenance for e in entries]


def _text(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt(float(value))
    return str(value)


@router.get("/packs")
async def packs_page(request: Request) -> Response:
    page_key(request, NAV.role)
    book = context(request).book
    names = list(book.regimes)
    left = request.query_params.get("from") or (names[-2] if len(names) > 1 else names[0])
    right = request.query_params.get("to") or names[-1]
    diff = regimes_diff(book, left, right)
    return render(
        request,
        "packs.html",
        overview=packs_overview(book),
        regimes=names,
        left=left,
        right=right,
        rows=side_by_side(book, diff),
    )
