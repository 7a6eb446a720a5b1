"""A compiled regime: the merged rules of a pack stack, ready for pure evaluation.

Nothing here reads files or the clock. :func:`tiergate.rules.compile.compile_ruleset` builds a
:class:`Ruleset` from loaded packs; ``classify`` and ``decide`` only read it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

EPSILON = 1e-9
"""Relative tolerance of threshold comparisons: values within one part in 10^9 of a threshold count
as equal to it, so binary floating-point noise (1776 / 300 = 5.919999...) cannot move an item across
a legal boundary."""


def compare(left: float, op: str, right: float) -> bool:
    """``left op right`` with the tolerance of :data:`EPSILON`."""
    slack = EPSILON * max(1.0, abs(right))
    if op == ">=":
        return left >= right - slack
    if op == ">":
        return left > right + slack
    if op == "<=":
        return left <= right + slack
    if op == "<":
        return left < right - slack
    if op == "==":
        return abs(left - right) <= slack
    if op == "!=":
        return abs(left - right) > slack
    raise ValueError(f"unknown comparison {op!r}")


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a rule comes from: its stable id (``pack/entry``), summary, citation and status."""

    rule_id: str
    summary: str
    citation: str
    status: str
    source: str | None = None

    @property
    def recalled(self) -> bool:
        return self.status == "recalled"


@dataclass(frozen=True, slots=True)
class PackRef:
    id: str
    revision: int
    title: str
    citation: str
    effective_from: dt.date
    compliance_from: dt.date | None
    effective_until: dt.date | None
    status: str

    @property
    def label(self) -> str:
        return f"{self.id}@r{self.revision}"


@dataclass(frozen=True, slots=True)
class Member:
    code: str
    start: dt.date | None = None
    until: dt.date | None = None

    def on(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.until is None or day <= self.until)


@dataclass(frozen=True, slots=True)
class Group:
    """A country group: listed members, a union of groups, or everyone; minus other groups."""

    id: str
    title: str
    members: tuple[Member, ...] | None
    union: tuple[str, ...] | None
    everyone: bool
    minus: tuple[str, ...]
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class GroupTest:
    """In any of ``any_of`` (everywhere when ``None``) and in none of ``none_of``."""

    any_of: frozenset[str] | None
    none_of: frozenset[str]
    text: str

    def passes(self, memberships: frozenset[str]) -> bool:
        if self.any_of is not None and memberships.isdisjoint(self.any_of):
            return False
        return memberships.isdisjoint(self.none_of)

    def refs(self) -> frozenset[str]:
        return (self.any_of or frozenset()) | self.none_of


@dataclass(frozen=True, slots=True)
class Condition:
    metric: str
    op: str
    value: float | bool | frozenset[str]
    text: str
    """The condition as the pack wrote it, with the threshold's value: ``tpp >= 4800``."""


@dataclass(frozen=True, slots=True)
class ItemSelector:
    eccns: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    datacenter: bool | None = None
    chips: frozenset[str] | None = None
    designer_countries: frozenset[str] | None = None
    chip_tpp_below: float | None = None
    memory_bandwidth_below_gbps: float | None = None
    affixed_to_logic: bool | None = None


@dataclass(frozen=True, slots=True)
class ClassificationRule:
    provenance: Provenance
    applies_to: str
    effect: str
    eccn: str | None
    paragraph: str
    excludes: frozenset[str]
    when: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Requirement:
    provenance: Provenance
    items: tuple[ItemSelector, ...]
    destinations: GroupTest | None
    headquarters: GroupTest | None
    worldwide: bool
    transfers: frozenset[str] | None
    export_from: GroupTest | None


@dataclass(frozen=True, slots=True)
class Prohibition:
    provenance: Provenance
    items: tuple[ItemSelector, ...]
    destinations: GroupTest | None
    unless_end_use: frozenset[str]


@dataclass(frozen=True, slots=True)
class ConsigneeTest:
    located_in: GroupTest | None = None
    headquartered_in: GroupTest | None = None
    headquartered_in_any: GroupTest | None = None
    located_in_destination: bool | None = None
    veu: str | None = None


@dataclass(frozen=True, slots=True)
class LicenceException:
    provenance: Provenance
    symbol: str
    precedence: int
    items: tuple[ItemSelector, ...]
    destinations: GroupTest | None
    transfers: frozenset[str] | None
    consignee: ConsigneeTest | None
    end_use: frozenset[str] | None
    limit: str | None
    notification: str | None
    conditions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    provenance: Provenance
    priority: int
    policy: str
    items: tuple[ItemSelector, ...] | None
    destinations: GroupTest | None
    headquarters: GroupTest | None
    transfers: frozenset[str] | None
    export_from: GroupTest | None
    conditions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UveuShares:
    tier1_group: str
    tier2_group: str
    tier1_min: float
    single_tier2_max: float
    us_min_if_us_headquartered: float


@dataclass(frozen=True, slots=True)
class Allocation:
    provenance: Provenance
    id: str
    kind: str
    label: str
    cap_tpp: float | None
    cap_tpp_by_year: Mapping[int, float] | None
    period: str | None
    doubled_for: frozenset[str]
    drawn_by_exceptions: frozenset[str]
    drawn_by_licence: tuple[tuple[ItemSelector, ...], GroupTest] | None
    on_exceed: str
    shares: UveuShares | None

    def cap_for(self, country: str, year: int) -> float | None:
        """The cap of this allocation for a destination and calendar year (``None``: no TPP cap)."""
        cap: float | None
        if self.cap_tpp_by_year is not None:
            if year in self.cap_tpp_by_year:
                cap = self.cap_tpp_by_year[year]
            else:
                years = sorted(self.cap_tpp_by_year)
                cap = self.cap_tpp_by_year[years[0] if year < years[0] else years[-1]]
        else:
            cap = self.cap_tpp
        if cap is not None and country in self.doubled_for:
            cap *= 2
        return cap


@dataclass(frozen=True, slots=True)
class Notice:
    provenance: Provenance
    items: tuple[ItemSelector, ...] | None
    destinations: GroupTest | None
    text: str


@dataclass(frozen=True, slots=True)
class ComputeThreshold:
    provenance: Provenance
    id: str
    measure: str
    value: float
    comparator: str
    label: str
    jurisdiction: str
    in_force: bool
    applies_from: dt.date | None

    def binding_on(self, day: dt.date) -> bool:
        return self.in_force and (self.applies_from is None or self.applies_from <= day)


@dataclass(frozen=True, slots=True)
class UsageCap:
    provenance: Provenance
    id: str
    scope: str
    unit: str
    cap: float
    period: str
    headquarters: GroupTest


@dataclass(frozen=True, slots=True)
class ProhibitedUse:
    provenance: Provenance
    id: str
    headquarters: GroupTest


@dataclass(frozen=True, slots=True)
class Utilisation:
    provenance: Provenance
    default: float
    low: float
    high: float
    by_vendor: Mapping[str, float]
    measured_relative_error: float


@dataclass(frozen=True, slots=True)
class Monitoring:
    """The monitoring settings of a regime, merged over its packs (see ``schema.Monitoring``)."""

    thresholds: tuple[ComputeThreshold, ...]
    caps: tuple[UsageCap, ...]
    prohibited_use: tuple[ProhibitedUse, ...]
    utilisation: Utilisation
    declared_gap_ratio: float
    restricted_access: GroupTest
    projection_days: int
    window_days: tuple[int, ...]
    settings_from: tuple[str, ...]
    """The packs that set the scalar settings (utilisation, gap ratio, restricted access, windows)."""


@dataclass(slots=True)
class Ruleset:
    """The rules of one regime (or of the packs of a regime in force on a date), merged and resolved."""

    regime: str
    title: str
    packs: tuple[PackRef, ...]
    bit_lengths: Mapping[str, int | None]
    groups: Mapping[str, Group]
    treated_as: Mapping[str, tuple[str, Provenance]]
    parameters: Mapping[str, float]
    classification: tuple[ClassificationRule, ...]
    requirements: tuple[Requirement, ...]
    prohibitions: tuple[Prohibition, ...]
    exceptions: tuple[LicenceException, ...]
    review_policies: tuple[ReviewPolicy, ...]
    allocations: Mapping[str, Allocation]
    notices: tuple[Notice, ...]
    monitoring: Monitoring | None = None
    """Compute-monitoring settings, when a pack of the stack gives them (with all scalar settings)."""
    quantities_used: frozenset[str] = frozenset()
    """The catalogue quantities (``frontier_tpp``, ``h100_tpp``) the stack's thresholds read."""
    quantities_as_of: dt.date | None = None
    """The date the date-dependent catalogue quantities were taken at (None: over the whole catalogue)."""
    memo: dict[object, object] = field(default_factory=dict)
    """Memoised pure results (classifications, item routes) keyed by their inputs."""
    _boundaries: list[dt.date] = field(default_factory=list)
    _labels: tuple[str, ...] = ()
    _membership_cache: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        days: set[dt.date] = set()
        for group in self.groups.values():
            for member in group.members or ():
                if member.start is not None:
                    days.add(member.start)
                if member.until is not None:
                    days.add(member.until + dt.timedelta(days=1))
        self._boundaries = sorted(days)
        self._labels = tuple(p.label for p in self.packs)

    @property
    def pack_labels(self) -> tuple[str, ...]:
        return self._labels

    def canonical_country(self, code: str) -> str:
        treated = self.treated_as.get(code)
        return treated[0] if treated else code

    def epoch(self, day: dt.date) -> int:
        """The span of days (between dated membership changes) that ``day`` falls in."""
        return bisect.bisect_right(self._boundaries, day)

    def memberships(self, code: str, day: dt.date) -> frozenset[str]:
        """Every group ``code`` belongs to on ``day``, plus the code itself and the code it is treated as."""
        epoch = bisect.bisect_right(self._boundaries, day)
        cached = self._membership_cache.get((code, epoch))
        if cached is not None:
            return cached
        canonical = self.canonical_country(code)
        found = {code, canonical}
        memo: dict[str, bool] = {}
        for group_id in self.groups:
            if self._contains(group_id, canonical, day, memo, ()):
                found.add(group_id)
        result = frozenset(found)
        self._membership_cache[(code, epoch)] = result
        return result

    def _contains(self, ref: str, code: str, day: dt.date, memo: dict[str, bool], path: tuple[str, ...]) -> bool:
        if ref not in self.groups:
            return ref == code
        if ref in memo:
            return memo[ref]
        group = self.groups[ref]
        if group.everyone:
            inside = True
        elif group.members is not None:
            inside = any(m.code == code and m.on(day) for m in group.members)
        else:
            inside = any(self._contains(r, code, day, memo, (*path, ref)) for r in group.union or ())
        if inside and group.minus:
            inside = not any(self._contains(r, code, day, memo, (*path, ref)) for r in group.minus)
        memo[ref] = inside
        return inside

    def recalled_groups(self, refs: Iterable[str]) -> list[str]:
        """The ids among ``refs`` (and the groups they are built from) whose membership is recalled."""
        out: list[str] = []
        seen: set[str] = set()
        stack = list(refs)
        while stack:
            ref = stack.pop()
            if ref in seen or ref not in self.groups:
                continue
            seen.add(ref)
            group = self.groups[ref]
            if group.provenance.recalled:
                out.append(ref)
            stack.extend(group.union or ())
            stack.extend(group.minus)
        return sorted(out)
