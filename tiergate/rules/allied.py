"""A compiled stack of one jurisdiction's alliance packs: its control entries, general authorisations,
catch-all rules, US reach hooks and advisories, merged and resolved, for pure evaluation.

Nothing here reads files or the clock. :func:`tiergate.rules.compile_allied.compile_allied` builds an
:class:`AlliedRules`; ``tiergate.decide.combined`` only reads it. Country groups and their dated
memberships live in an ordinary :class:`~tiergate.rules.ruleset.Ruleset` (``groups``), which also holds
the memo of pure results.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tiergate.rules.ruleset import GroupTest, Provenance, Ruleset


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """A jurisdiction whose law Tiergate encodes: where it reaches and who licenses."""

    code: str
    title: str
    territory: frozenset[str]
    authority: str
    citation: str
    member_of: str | None
    aliases: tuple[str, ...]
    before_first_pack: str
    """``not_engaged`` (the law did not exist before its first pack) or ``not_encoded`` (a review)."""
    first_pack: dt.date | None
    summary: str = ""


@dataclass(frozen=True, slots=True)
class ParamTest:
    param: str
    op: str
    value: float | bool
    text: str


@dataclass(frozen=True, slots=True)
class AlliedSelector:
    kinds: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    equipment: frozenset[str] | None = None
    us_eccns: tuple[str, ...] | None = None
    except_us_eccns: tuple[str, ...] = ()
    catalogued: bool | None = None
    when: tuple[ParamTest, ...] = ()


@dataclass(frozen=True, slots=True)
class Control:
    provenance: Provenance
    id: str
    entry: str
    items: tuple[AlliedSelector, ...]
    destinations: GroupTest | None
    end_use: frozenset[str] | None
    result: str
    """``licence``, ``review`` (the scope could not be read) or ``prohibited``."""
    review_policy: str | None
    gap: str | None


@dataclass(frozen=True, slots=True)
class GeneralAuthorisation:
    provenance: Provenance
    id: str
    symbol: str
    covers: frozenset[str] | None
    excludes: frozenset[str]
    destinations: GroupTest
    conditions: tuple[str, ...]
    gap: str | None


@dataclass(frozen=True, slots=True)
class CatchAll:
    provenance: Provenance
    id: str
    list_code: str
    items: tuple[AlliedSelector, ...] | None
    destinations: GroupTest | None
    result: str
    review_policy: str | None
    unless: str | None


@dataclass(frozen=True, slots=True)
class ReachHook:
    provenance: Provenance
    id: str
    hook: str
    """``origin``, ``foreign_direct_product``, ``no_de_minimis`` or ``de_minimis``."""
    label: str
    items: tuple[AlliedSelector, ...] | None
    destinations: GroupTest | None
    headquarters: GroupTest | None
    worldwide: bool
    end_use: frozenset[str] | None
    excluded_if_exported_from: GroupTest | None
    excluded_if_exporter_controls: bool
    threshold_pct: float | None
    lower_thresholds: tuple[tuple[GroupTest, float], ...]
    notice: str | None
    gap: str | None


@dataclass(frozen=True, slots=True)
class Advisory:
    provenance: Provenance
    id: str
    items: tuple[AlliedSelector, ...] | None
    destinations: GroupTest | None
    text: str


@dataclass(frozen=True, slots=True)
class AlliedRules:
    """One jurisdiction's law as in force on a date: the merged stack of its alliance packs."""

    jurisdiction: Jurisdiction
    groups: Ruleset
    """Country groups (and the memo); its ``packs`` are the packs of the stack."""
    controls: tuple[Control, ...]
    general_authorisations: tuple[GeneralAuthorisation, ...]
    catch_all: tuple[CatchAll, ...]
    reach: tuple[ReachHook, ...]
    advisories: tuple[Advisory, ...]
    uses_us_groups: bool
    """Group tests may name the US packs' groups (``D:5``, ``A:5``): a US stack's."""

    @property
    def code(self) -> str:
        return self.jurisdiction.code

    @property
    def pack_labels(self) -> tuple[str, ...]:
        return self.groups.pack_labels

    def citation_of(self, rule_id: str) -> str | None:
        provenances: list[Provenance] = [
            *(c.provenance for c in self.controls),
            *(g.provenance for g in self.general_authorisations),
            *(c.provenance for c in self.catch_all),
            *(r.provenance for r in self.reach),
            *(a.provenance for a in self.advisories),
        ]
        return next((p.citation for p in provenances if p.rule_id == rule_id), None)
