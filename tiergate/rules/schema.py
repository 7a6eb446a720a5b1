"""The schema of rule packs: what a pack file may say, checked when it loads.

A pack is a folder with ``manifest.yaml`` (identity, citation, dates, revision) and
``rules.yaml`` (the sections below). A *regime* is an ordered stack of packs
(``packs/regimes.yaml``); later packs amend earlier ones entry by entry (same ``id``
replaces, ``remove`` deletes). Every entry carries a plain-language ``summary``, a
``citation`` and a ``status`` (verified / recalled / derived), which decisions repeat.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Status = Literal["verified", "recalled", "derived"]
Eccn = Literal["3A090.a", "3A090.b", "3A090.c", "4A090.a", "4A090.b", "4E091", "not_controlled"]
Policy = Literal["presumption_of_approval", "case_by_case", "presumption_of_denial"]
Transfer = Literal["export", "reexport", "in_country"]
ItemKind = Literal["chip", "hbm", "system", "model_weights"]
Symbol = Literal["LPP", "AIA", "ACA", "NAC", "ACM", "HBM", "UVEU", "NVEU"]
Metric = Literal[
    "tpp",
    "performance_density",
    "memory_bandwidth_density",
    "datacenter",
    "chip_eccn",
    "training_ops",
    "open_weights",
]
Precision = Literal["fp64", "tf32", "fp32", "fp16", "bf16", "fp8", "int8", "fp4", "int4"]

EntryId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]
PackId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=80)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
GroupRef = Annotated[str, Field(min_length=1, max_length=40)]
"""A country group id (``D:5``, ``tier1``) or an ISO 3166-1 alpha-2 code (``MO``)."""
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A finite number as written in the file: never ``true``/``false``, ``.nan``, ``.inf`` or a quoted text."""
Integer = Annotated[int, Field(strict=True)]
"""A whole number as written in the file (never ``true``/``false`` or ``1.0``)."""
Threshold = Number | str
"""A finite number, or an expression over parameters and catalogue quantities (see ``rules.expr``) whose value
must be a finite number too (checked when the stack is compiled)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Manifest(Strict):
    id: PackId
    jurisdiction: Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")]
    title: str
    citation: str
    effective_from: dt.date
    compliance_from: dt.date | None = None
    effective_until: dt.date | None = None
    supersedes: PackId | None = None
    revision: Annotated[int, Field(ge=1, strict=True)]
    status: Literal["verified", "recalled", "derived", "mixed"] = "verified"
    scope: Literal["advanced-computing", "alliance"] = "advanced-computing"
    """``advanced-computing``: a US pack stacked by the regimes of ``regimes.yaml``; ``alliance``: a pack of
    one jurisdiction's law for the combined decision (see ``jurisdictions.yaml``), stacked by date."""
    summary: str = ""
    sources: list[str] = []
    notes: list[str] = []

    @model_validator(mode="after")
    def _dates_in_order(self) -> Manifest:
        if self.effective_until is not None and self.effective_until < self.effective_from:
            raise ValueError("effective_until is before effective_from")
        if self.compliance_from is not None and self.compliance_from < self.effective_from:
            raise ValueError("compliance_from is before effective_from")
        return self


class Cited(Strict):
    summary: str
    citation: str
    status: Status = "verified"
    source: str | None = None


class Membership(Strict):
    code: CountryCode
    from_: dt.date | None = Field(default=None, alias="from")
    until: dt.date | None = None
    note: str | None = None


class CountryGroup(Cited):
    """A set of countries: listed ``members`` (each may carry from/until dates), a ``union``
    of other groups minus some, or ``everyone``; or an amendment (``add``/``remove``)
    of the group of the same id in an earlier pack of the stack."""

    id: GroupRef
    title: str = ""
    members: list[CountryCode | Membership] | None = None
    union: list[GroupRef] | None = None
    everyone: bool = False
    minus: list[GroupRef] = []
    add: list[CountryCode | Membership] = []
    remove: list[CountryCode] = []

    @field_validator("id")
    @classmethod
    def _not_a_country_code(cls, value: str) -> str:
        if len(value) == 2 and value.isalpha() and value.isupper():
            raise ValueError("a group id must not look like a country code")
        return value

    @model_validator(mode="after")
    def _one_definition(self) -> CountryGroup:
        modes = [self.members is not None, self.union is not None, self.everyone]
        if sum(modes) > 1:
            raise ValueError("give one of members, union or everyone")
        if sum(modes) == 0 and not (self.add or self.remove):
            raise ValueError("give members, union or everyone, or amend with add/remove")
        if sum(modes) == 1 and (self.add or self.remove):
            raise ValueError("add/remove amend an earlier definition; do not combine them with a new one")
        return self

    @property
    def is_amendment(self) -> bool:
        return self.members is None and self.union is None and not self.everyone


class TreatedAs(Cited):
    code: CountryCode
    as_: CountryCode = Field(alias="as")


class Parameter(Cited):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    value: Threshold
    unit: str = ""


class Condition(Strict):
    metric: Metric
    op: Literal[">=", ">", "<=", "<", "==", "!=", "in"]
    value: Number | bool | str | list[str]

    @model_validator(mode="after")
    def _value_fits(self) -> Condition:
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("`in` takes a list")
        if self.metric in ("datacenter", "open_weights") and (
            self.op not in ("==", "!=") or not isinstance(self.value, bool)
        ):
            raise ValueError(f"{self.metric} is compared with == or != to true or false")
        if self.metric == "chip_eccn" and self.op != "in":
            raise ValueError("chip_eccn is tested with `in` and a list of ECCNs")
        if self.metric not in ("datacenter", "open_weights", "chip_eccn") and (
            self.op == "in" or isinstance(self.value, (bool, list))
        ):
            raise ValueError(f"{self.metric} is compared with a number or an expression")
        return self


class ClassificationRule(Cited):
    id: EntryId
    applies_to: ItemKind
    effect: Literal["classify", "exclude"] = "classify"
    eccn: Eccn | None = None
    paragraph: str = ""
    excludes: list[Eccn] = []
    when: list[Condition]

    @model_validator(mode="after")
    def _effect_fits(self) -> ClassificationRule:
        if self.effect == "classify" and (self.eccn is None or self.eccn == "not_controlled"):
            raise ValueError("a classify rule names the ECCN it assigns")
        if self.effect == "exclude" and not self.excludes:
            raise ValueError("an exclude rule lists the ECCNs it takes an item out of (excludes)")
        if not self.when:
            raise ValueError("when: give at least one condition")
        return self


class ItemSelector(Strict):
    """Which items a rule is about. All given fields must hold."""

    eccns: list[Eccn] | None = None
    kinds: list[ItemKind] | None = None
    datacenter: bool | None = None
    chips: list[str] | None = None
    designer_countries: list[CountryCode] | None = None
    chip_tpp_below: Threshold | None = None
    memory_bandwidth_below_gbps: Threshold | None = None
    affixed_to_logic: bool | None = None


class GroupTest(Strict):
    """Membership test: in any of ``in`` (everywhere when omitted) and in none of ``not_in``."""

    in_: list[GroupRef] | None = Field(default=None, alias="in")
    not_in: list[GroupRef] = []

    @model_validator(mode="after")
    def _not_empty(self) -> GroupTest:
        if self.in_ is not None and not self.in_:
            raise ValueError("`in` must list at least one group or country")
        return self


class Requirement(Cited):
    id: EntryId
    items: list[ItemSelector]
    destinations: GroupTest | None = None
    headquarters: GroupTest | None = None
    worldwide: bool = False
    transfers: list[Transfer] | None = None
    export_from: GroupTest | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> Requirement:
        if sum([self.destinations is not None, self.headquarters is not None, self.worldwide]) != 1:
            raise ValueError("give exactly one of destinations, headquarters or worldwide: true")
        return self


class Prohibition(Cited):
    id: EntryId
    items: list[ItemSelector]
    destinations: GroupTest | None = None
    unless_end_use: list[str] = []


class ConsigneeTest(Strict):
    located_in: GroupTest | None = None
    headquartered_in: GroupTest | None = None
    """The consignee's headquarters and its ultimate parent's (when given) both pass."""
    headquartered_in_any: GroupTest | None = None
    """The consignee's headquarters or its ultimate parent's passes."""
    located_in_destination: bool | None = None
    veu: Literal["UVEU", "NVEU"] | None = None


class LicenceException(Cited):
    id: EntryId
    symbol: Symbol
    precedence: Integer
    items: list[ItemSelector]
    destinations: GroupTest | None = None
    transfers: list[Transfer] | None = None
    consignee: ConsigneeTest | None = None
    end_use: list[str] | None = None
    limit: EntryId | None = None
    notification: str | None = None
    conditions: list[str] = []


class ReviewPolicy(Cited):
    id: EntryId
    priority: Integer
    policy: Policy
    items: list[ItemSelector] | None = None
    destinations: GroupTest | None = None
    headquarters: GroupTest | None = None
    transfers: list[Transfer] | None = None
    export_from: GroupTest | None = None
    conditions: list[str] = []


class DrawnByLicence(Strict):
    items: list[ItemSelector]
    destinations: GroupTest


class DrawnBy(Strict):
    exceptions: list[EntryId] = []
    licence: DrawnByLicence | None = None

    @model_validator(mode="after")
    def _something(self) -> DrawnBy:
        if not self.exceptions and self.licence is None:
            raise ValueError("name the exceptions or the licensed exports that draw this allocation")
        return self


class UveuShares(Strict):
    tier1_group: GroupRef
    tier2_group: GroupRef
    tier1_min: Annotated[float, Field(strict=True, ge=0, le=1)]
    single_tier2_max: Annotated[float, Field(strict=True, ge=0, le=1)]
    us_min_if_us_headquartered: Annotated[float, Field(strict=True, ge=0, le=1)]


class Allocation(Cited):
    id: EntryId
    kind: Literal["consignee_year", "country_period", "nveu_country_quarter", "uveu_location"]
    label: str
    cap_tpp: Threshold | None = None
    cap_tpp_by_year: dict[int, Threshold] | None = None
    period: str | None = None
    doubled_for: list[CountryCode] = []
    drawn_by: DrawnBy
    on_exceed: Policy | Literal["unavailable"] = "unavailable"
    shares: UveuShares | None = None

    @model_validator(mode="after")
    def _cap_given(self) -> Allocation:
        if self.kind == "uveu_location":
            if self.shares is None:
                raise ValueError("a uveu_location allocation gives its shares")
        elif (self.cap_tpp is None) == (self.cap_tpp_by_year is None):
            raise ValueError("give exactly one of cap_tpp or cap_tpp_by_year")
        if self.kind == "country_period" and not self.period:
            raise ValueError("a country_period allocation names its period (e.g. 2025-2027)")
        return self


class Notice(Cited):
    """A line added to the explanation of every decision with a matching item."""

    id: EntryId
    items: list[ItemSelector] | None = None
    destinations: GroupTest | None = None
    text: str


class ComputeThreshold(Cited):
    """A compute threshold that monitoring watches: training FLOP of a run (or of the runs of one
    beneficial owner), or the peak OP/s of a co-located cluster."""

    id: EntryId
    measure: Literal["training_flop", "cluster_ops_per_second"]
    value: Threshold
    comparator: Literal[">=", ">"]
    label: str
    jurisdiction: Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")]
    in_force: bool = True
    """False for a proposed, revoked or dormant measure that is watched but binds no one."""
    applies_from: dt.date | None = None


class UsageCap(Cited):
    """A cap on the compute that foreign customers (chosen by headquarters) may use in a period."""

    id: EntryId
    scope: Literal["customer", "country"]
    unit: Literal["h100e_hours", "flop"]
    cap: Threshold
    period: Literal["calendar_year"] = "calendar_year"
    headquarters: GroupTest
    """Which customers the cap binds: their headquarters (and every parent's) pass this test."""


class ProhibitedUse(Cited):
    """Customers whose headquarters, or any parent's, is in these groups may not use the compute."""

    id: EntryId
    headquarters: GroupTest


class Utilisation(Cited):
    """Model-FLOP utilisation assumed when a record does not measure it, with the band around it."""

    default: Annotated[float, Field(strict=True, gt=0, le=1)]
    low: Annotated[float, Field(strict=True, gt=0, le=1)]
    high: Annotated[float, Field(strict=True, gt=0, le=1)]
    by_vendor: dict[str, Annotated[float, Field(strict=True, gt=0, le=1)]] = {}
    measured_relative_error: Annotated[float, Field(strict=True, ge=0, lt=1)] = 0.0
    """The band around a measured utilisation: measured x (1 -/+ this)."""

    @model_validator(mode="after")
    def _band_holds_default(self) -> Utilisation:
        if not self.low <= self.default <= self.high:
            raise ValueError("low <= default <= high must hold")
        return self


class Monitoring(Strict):
    """What compute monitoring of cloud customers checks. A later pack's entries replace an earlier
    pack's entries of the same id; its scalar settings replace the earlier ones when given."""

    thresholds: list[ComputeThreshold] = []
    caps: list[UsageCap] = []
    prohibited_use: list[ProhibitedUse] = []
    utilisation: Utilisation | None = None
    declared_gap_ratio: Annotated[float, Field(strict=True, gt=1)] | None = None
    """Flag a job whose declared FLOP and estimate differ by more than this factor either way."""
    restricted_access: GroupTest | None = None
    """Payment from, or logins from, a country passing this test is a KYC flag."""
    projection_days: Annotated[int, Field(ge=1, le=3660, strict=True)] | None = None
    """Project running jobs' crossings up to this many days ahead."""
    window_days: list[Annotated[int, Field(ge=1, le=3660, strict=True)]] | None = None
    """Rolling windows (days, ending at the scan date) over which owners' compute is summed."""
    remove: list[EntryId] = []
    """Threshold, cap or prohibited-use ids of earlier packs to drop."""


# ---------------------------------------------------------------- alliance packs (scope: alliance)

ItemClass = Literal["chip", "hbm", "system", "model_weights", "equipment"]
ParamName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Result = Literal["licence", "review", "prohibited"]


class ParamTest(Strict):
    """A test of one parameter of a tool (``wavelength_nm < 193``); the value is a number, true/false, or the
    name of a parameter of the pack."""

    param: ParamName
    op: Literal[">=", ">", "<=", "<", "==", "!="]
    value: float | bool | str


class AlliedSelector(Strict):
    """Which items an allied entry is about. All given fields must hold; ``us_eccns`` match by prefix at a dot
    (``3B001.c`` matches ``3B001.c.1.a``) against a tool's US ECCN or a chip's US classification."""

    kinds: list[ItemClass] | None = None
    categories: list[str] | None = None
    equipment: list[str] | None = None
    """Catalogue ids (chips or tools): the government's or the vendor's own reading of the entry."""
    us_eccns: list[Annotated[str, Field(pattern=r"^[0-9][A-E][0-9]{3}(\.[a-z0-9]+)*$")]] | None = None
    except_us_eccns: list[Annotated[str, Field(pattern=r"^[0-9][A-E][0-9]{3}(\.[a-z0-9]+)*$")]] = []
    """ECCNs (by prefix at a dot) that ``us_eccns`` does not cover: "3B001 other than the paragraphs of 734.9(k)"."""
    catalogued: bool | None = None
    """``false``: only tools given as a spec (catalogue tools are judged by the ids of ``equipment``)."""
    when: list[ParamTest] = []


class Gapped(Cited):
    gap: str | None = None
    """What the digest could not read (a threshold, a country list, a general licence's terms). Required for a
    recalled entry or a ``review`` result; shown in the explanation."""

    @model_validator(mode="after")
    def _gap_said(self) -> Gapped:
        if self.status == "recalled" and not (self.gap or "").strip():
            raise ValueError("a recalled entry says what could not be read (gap)")
        return self


class Control(Gapped):
    """A control-list entry of the jurisdiction: items it catches, to which destinations, and the result."""

    id: EntryId
    entry: Annotated[str, Field(min_length=1, max_length=120)]
    """The entry's number in the national list (``3B1001.f.4``, ``PL9013``, ``Item 17(ya)``)."""
    items: list[AlliedSelector]
    destinations: GroupTest | None = None
    end_use: list[str] | None = None
    """Only for these declared end uses (e.g. ``advanced_node_fab``)."""
    result: Result = "licence"
    review_policy: Policy | None = None

    @model_validator(mode="after")
    def _review_has_gap(self) -> Control:
        if self.result == "review" and not (self.gap or "").strip():
            raise ValueError("a review entry says what could not be read (gap)")
        if not self.items:
            raise ValueError("items: give at least one selector")
        return self


class GeneralAuthorisation(Gapped):
    """A general (open, bulk) authorisation: the controls it covers, to which destinations, on what conditions.
    One whose terms are recalled answers "review": it may cover the export, which Tiergate cannot confirm."""

    id: EntryId
    symbol: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,39}$")]
    covers: list[EntryId] | None = None
    """Control ids covered (omitted: every control of the stack)."""
    excludes: list[EntryId] = []
    destinations: GroupTest
    conditions: list[str] = []


class CatchAll(Cited):
    """A licence requirement (or prohibition) for any item when the consignee is on a list."""

    id: EntryId
    list_code: Annotated[str, Field(alias="list", pattern=r"^[A-Z0-9][A-Z0-9-]{1,30}$")]
    """The restricted-party list whose entries trigger it (``JP-EUL``, ``TW-SHTC``, ``EU-FSF``, ``UK-SL``)."""
    items: list[AlliedSelector] | None = None
    destinations: GroupTest | None = None
    result: Literal["licence", "prohibited"] = "licence"
    review_policy: Policy | None = None
    unless: str | None = None
    """A circumstance in which it does not apply, which Tiergate cannot check (said in the explanation)."""


class LowerThreshold(Strict):
    destinations: GroupTest
    threshold_pct: Threshold


class Reach(Gapped):
    """How US law reaches an item outside the United States (a pack of jurisdiction US only)."""

    id: EntryId
    hook: Literal["origin", "foreign_direct_product", "no_de_minimis", "de_minimis"]
    label: Annotated[str, Field(min_length=1, max_length=120)]
    items: list[AlliedSelector] | None = None
    destinations: GroupTest | None = None
    headquarters: GroupTest | None = None
    """Reaches also (or only) consignees headquartered (or with an ultimate parent) in these groups."""
    worldwide: bool = False
    end_use: list[str] | None = None
    excluded_if_exported_from: GroupTest | None = None
    excluded_if_exporter_controls: bool = False
    """Excluded when the law of the exporting country (a pack Tiergate holds) controls the item itself."""
    threshold_pct: Threshold | None = None
    lower_thresholds: list[LowerThreshold] = []
    notice: str | None = None
    """A policy conflict or caveat shown whenever the hook is considered (e.g. codified scope not enforced)."""

    @model_validator(mode="after")
    def _shape(self) -> Reach:
        if self.hook == "de_minimis" and self.threshold_pct is None:
            raise ValueError("a de_minimis hook gives threshold_pct")
        if self.hook in ("foreign_direct_product", "no_de_minimis") and not (
            self.worldwide or self.destinations is not None or self.headquarters is not None
        ):
            raise ValueError("give destinations, headquarters or worldwide: true")
        return self


class Advisory(Cited):
    """A line added to the explanation of every decision this law reaches with a matching item."""

    id: EntryId
    items: list[AlliedSelector] | None = None
    destinations: GroupTest | None = None
    text: str


class JurisdictionDef(Strict):
    """A jurisdiction whose law Tiergate encodes (``jurisdictions.yaml``): where it reaches and who licenses."""

    code: Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")]
    title: str
    territory: list[CountryCode]
    """An export from one of these countries engages this law (to a destination outside them)."""
    authority: str
    citation: str
    member_of: Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")] | None = None
    aliases: list[Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")]] = []
    before_first_pack: Literal["not_engaged", "not_encoded"] = "not_encoded"
    """Before its first pack: the law did not exist (``not_engaged``) or Tiergate holds none (a review)."""
    summary: str = ""


class JurisdictionFile(Strict):
    jurisdictions: list[JurisdictionDef]


class PackRules(Strict):
    bit_lengths: dict[Precision, Integer | None] | None = None
    country_groups: list[CountryGroup] = []
    treated_as: list[TreatedAs] = []
    parameters: list[Parameter] = []
    classification: list[ClassificationRule] = []
    requirements: list[Requirement] = []
    prohibitions: list[Prohibition] = []
    exceptions: list[LicenceException] = []
    review_policies: list[ReviewPolicy] = []
    allocations: list[Allocation] = []
    notices: list[Notice] = []
    monitoring: Monitoring | None = None
    controls: list[Control] = []
    general_authorisations: list[GeneralAuthorisation] = []
    catch_all: list[CatchAll] = []
    reach: list[Reach] = []
    advisories: list[Advisory] = []
    remove: list[str] = []

    ALLIANCE_SECTIONS: ClassVar[tuple[str, ...]] = (
        "controls",
        "general_authorisations",
        "catch_all",
        "reach",
        "advisories",
    )
    SECTIONS: ClassVar[tuple[str, ...]] = (
        "classification",
        "requirements",
        "prohibitions",
        "exceptions",
        "review_policies",
        "allocations",
        "notices",
    )


class RegimeDef(Strict):
    name: PackId
    title: str
    packs: list[PackId]
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None
    summary: str = ""

    @model_validator(mode="after")
    def _has_packs(self) -> RegimeDef:
        if not self.packs:
            raise ValueError("a regime stacks at least one pack")
        if len(set(self.packs)) != len(self.packs):
            raise ValueError("a pack appears twice in the stack")
        return self


class RegimeFile(Strict):
    regimes: list[RegimeDef]
