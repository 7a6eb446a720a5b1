"""Regimes, packs and rules as plain data: what ``tiergate packs list|show`` prints as JSON and the HTTP API
serves (one builder for both)."""

from __future__ import annotations

from typing import Any

from tiergate.errors import InputError
from tiergate.rules.book import Rulebook


def regimes_and_packs(book: Rulebook, *, folders: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Regimes (dates and pack stacks) and packs (revision, citation, dates, status; with ``folders``, where
    each was loaded from)."""
    regimes: list[dict[str, Any]] = [
        {
            "name": r.name,
            "title": r.title,
            "effective_from": str(r.effective_from or ""),
            "effective_until": str(r.effective_until or ""),
            "packs": list(r.packs),
        }
        for r in book.regimes.values()
    ]
    packs: list[dict[str, Any]] = []
    for p in book.packs.values():
        row: dict[str, Any] = {
            "id": p.manifest.id,
            "revision": p.manifest.revision,
            "title": p.manifest.title,
            "citation": p.manifest.citation,
            "effective_from": str(p.manifest.effective_from),
            "compliance_from": str(p.manifest.compliance_from or ""),
            "effective_until": str(p.manifest.effective_until or ""),
            "status": p.manifest.status,
        }
        if folders:
            row["folder"] = str(p.folder)
        packs.append(row)
    return {"regimes": regimes, "packs": packs}


def rules_of(book: Rulebook, name: str) -> dict[str, Any]:
    """The merged rules of a regime (ids, summaries, citations, status, parameters, country groups), or one
    pack's manifest and rules; an :class:`InputError` for a name that is neither."""
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
    raise InputError(
        f"no regime or pack named {name[:100]!r}",
        hint=f"regimes: {', '.join(book.regimes)}; packs: {', '.join(book.packs)}",
    )
