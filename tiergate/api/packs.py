"""``/v1/packs``: regimes and packs, the rules of one, and the diff between two regimes
(the JSON of ``tiergate packs list|show|diff --format json``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from tiergate.api.auth import context, viewer
from tiergate.api.errors import ApiError, responses
from tiergate.api.schemas import ok
from tiergate.rules import Rulebook
from tiergate.rules.diff import diff_rulesets, render_diff

router = APIRouter(prefix="/v1/packs", tags=["packs"], dependencies=[Depends(viewer)])


def packs_overview(book: Rulebook) -> dict[str, Any]:
    """Regimes (dates and pack stacks) and packs (revision, citation, dates, status)."""
    regimes = [
        {
            "name": r.name,
            "title": r.title,
            "effective_from": str(r.effective_from or ""),
            "effective_until": str(r.effective_until or ""),
            "packs": list(r.packs),
        }
        for r in book.regimes.values()
    ]
    packs = [
        {
            "id": p.manifest.id,
            "revision": p.manifest.revision,
            "title": p.manifest.title,
            "citation": p.manifest.citation,
            "effective_from": str(p.manifest.effective_from),
            "compliance_from": str(p.manifest.compliance_from or ""),
            "effective_until": str(p.manifest.effective_until or ""),
            "status": p.manifest.status,
        }
        for p in book.packs.values()
    ]
    return {"regimes": regimes, "packs": packs}


def regime_rules(book: Rulebook, name: str) -> dict[str, Any]:
    """The merged rules of a regime, or a pack's manifest and rules (404 for neither)."""
    if name in book.regimes:
        ruleset = book.full(name)
        entries = [
            *(("classification", r.provenance, r.paragraph) for r in ruleset.classification),
            *(("requirement", r.provenance, "") for r in ruleset.requirements),
            *(("prohibition", r.provenance, "") for r in ruleset.prohibitions),
            *(("exception", r.provenance, r.symbol) for r in ruleset.exceptions),
            *(("review_policy", r.provenance, r.policy) for r in ruleset.review_policies),
            *(("allocation", r.provenance, r.label) for r in ruleset.allocations.values()),
            *(("notice", r.provenance, "") for r in ruleset.notices),
        ]
        return {
            "regime": name,
            "packs": [p.label for p in ruleset.packs],
            "parameters": dict(ruleset.parameters),
            "country_groups": {
                g.id: {
                    "title": g.title,
                    "members": sorted(m.code for m in g.members) if g.members is not None else None,
                    "union": list(g.union) if g.union else None,
                    "everyone": g.everyone,
                    "minus": list(g.minus),
                    "status": g.provenance.status,
                }
                for g in ruleset.groups.values()
            },
            "rules": [
                {
                    "kind": k,
                    "id": p.rule_id,
                    "label": label,
                    "summary": p.summary,
                    "citation": p.citation,
                    "status": p.status,
                }
                for k, p, label in entries
            ],
        }
    if name in book.packs:
        pack = book.packs[name]
        return {
            "manifest": pack.manifest.model_dump(mode="json", by_alias=True),
            "rules": pack.rules.model_dump(mode="json", by_alias=True, exclude_defaults=True),
        }
    raise ApiError(
        404,
        f"no regime or pack named {name[:100]!r}",
        where="path: name",
        hint=f"regimes: {', '.join(book.regimes)}; packs: {', '.join(book.packs)}",
    )


def regimes_diff(book: Rulebook, a: str, b: str, as_of: dt.date | None = None) -> dict[str, Any]:
    for which, name in (("from", a), ("to", b)):
        if name not in book.regimes:
            raise ApiError(
                404,
                f"no regime named {name[:100]!r}",
                where=f"query: {which}",
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
