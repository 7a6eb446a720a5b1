"""Transactions (input of ``decide``) and decisions (its output), as plain frozen dataclasses.

The JSON shapes are the interchange formats of docs/ARCHITECTURE.md; ``tiergate.interchange``
parses and renders them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tiergate.classify.model import Item

OUTCOMES = ("no_license_required", "authorized", "license_required", "prohibited")
"""From least to most restrictive."""
POLICIES = ("presumption_of_approval", "case_by_case", "presumption_of_denial")
"""From least to most restrictive."""


@dataclass(frozen=True, slots=True)
class Consignee:
    name: str
    country: str
    """Where the ultimate consignee is located (ISO 3166-1 alpha-2)."""
    headquarters: str
    parent_headquarters: str | None = None
    """Headquarters of the ultimate parent, when there is one."""
    veu: str | None = None
    """``UVEU`` or ``NVEU`` when the consignee holds that Data Center VEU authorisation."""
    id: str | None = None

    @property
    def key(self) -> str:
        """The consignee's account key in allocations: its id, else country and normalised name."""
        return self.id or f"{self.country}:{self._slug()}"

    @property
    def entity_key(self) -> str:
        """The key of the entity wherever it is located (a UVEU's locations): its id, else headquarters and name."""
        return self.id or f"{self.headquarters}:{self._slug()}"

    def _slug(self) -> str:
        return _slug(self.name)


@lru_cache(maxsize=65_536)
def _slug(name: str) -> str:
    """A consignee name as an account key: lower case, runs of other characters as one '-' (cached: a batch
    or a replay names the same consignees many times)."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an item was made and what it holds, so that the packs of several jurisdictions can reach it."""

    country: str | None = None
    """Where the item was made (ISO 3166-1 alpha-2)."""
    us_content_pct: float | None = None
    """The share of US-origin controlled content by value, in percent (for the US de minimis rules)."""
    made_with_us_technology: bool | None = None
    """The item (or an IC in it) is a direct product of US technology or software, or of a plant that is
    (the product scope of the US foreign-direct-product rules, 15 CFR 734.9)."""


@dataclass(frozen=True, slots=True)
class LineItem:
    item: Item
    quantity: int
    origin: Origin | None = None
    """Origin facts, when the transaction gives them (``None``: none given)."""


@dataclass(frozen=True, slots=True)
class Transaction:
    id: str | None
    date: dt.date
    export_from: str
    destination: str
    items: tuple[LineItem, ...]
    consignee: Consignee
    end_use: str | None = None
    regime: str | None = None
    value_usd: float | None = None
    """The transaction's value, drawn from a licence's value when shipped under one."""

    @property
    def transfer(self) -> str:
        """``export`` (from the US), ``reexport`` (from abroad to another country) or ``in_country``."""
        if self.export_from == self.destination:
            return "in_country"
        return "export" if self.export_from == "US" else "reexport"


@dataclass(frozen=True, slots=True)
class Listing:
    """A restricted-party list entry that screening found for the ultimate consignee, as the packs see it:
    the list's code (``JP-EUL``, ``TW-SHTC``, ``EU-FSF``, ``UK-SL``...), the entry and when it was listed."""

    list_code: str
    entry: str
    name: str
    listed_on: dt.date | None = None
    confirmed: bool = False
    """An analyst confirmed the hit (an unconfirmed match holds the transaction all the same)."""


@dataclass(frozen=True, slots=True)
class DenialNotice:
    """A licence denial notified by a jurisdiction (EU Member States notify each other; Wassenaar partners
    exchange notices). An essentially identical transaction (same item class, same end user, same
    destination) within ``expires`` needs consultation, and no general authorisation is offered for it."""

    id: str
    jurisdiction: str
    """The jurisdiction (authority) that denied: ``NL``, ``DE``, ``EU``, ``JP``, ``US``..."""
    date: dt.date
    expires: dt.date
    control_keys: tuple[str, ...]
    """The item classes denied: control-list entries (``3B001.f``, ``3B1001.f.4``, ``3A090``), equipment
    categories (``lithography.immersion_duv``) or catalogue ids."""
    destination: str
    end_user: str
    end_user_id: str | None = None
    end_use: str | None = None
    reason: str = ""
    public: bool = True
    """Only public or user-supplied notices are held (a government's notices are confidential)."""


@dataclass(frozen=True, slots=True)
class JurisdictionItem:
    """One item as one jurisdiction sees it."""

    index: int
    outcome: str
    authorization: str | None
    review_policy: str | None
    entry: str | None
    """The control-list entry that caught it (``3B1001.f.4``, ``3A090.a``...), when one did."""
    hook: str | None
    """For the US: how US law reaches the item (re-export of a US-origin item, a direct-product rule...)."""
    indeterminate: bool
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JurisdictionDecision:
    """The answer of one jurisdiction's law to a transaction (one element of a decision's ``jurisdictions``)."""

    jurisdiction: str
    law: str
    packs: tuple[str, ...]
    reached: bool
    """Whether this law reaches the transaction at all."""
    hook: str | None
    """How it reaches it: the exporter's territory, or (US) the hooks that reach its items."""
    outcome: str
    authorization: str | None
    review_policy: str | None
    indeterminate: bool
    """The answer rests on a scope Tiergate could not read (a threshold, a general licence's terms, a country
    list): treated as a licence requirement until confirmed ("fail closed")."""
    authority: str | None
    items: tuple[JurisdictionItem, ...]
    rules: tuple[str, ...]
    citations: tuple[str, ...]
    notices: tuple[str, ...]
    """Consultation notices (shared denials), gaps and policy conflicts to act on."""


@dataclass(frozen=True, slots=True)
class ItemDecision:
    index: int
    kind: str
    name: str
    chip: str | None
    eccn: str
    paragraph: str | None
    tpp: float | None
    performance_density: float | None
    quantity: int
    tpp_total: float | None
    outcome: str
    authorization: str | None
    review_policy: str | None
    provisional: bool
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllocationDraw:
    allocation: str
    """The allocation kind, e.g. ``lpp:consignee`` or ``country:tier2``."""
    account: str
    """The ledger account drawn, e.g. ``lpp:IN:example-compute:2025``."""
    rule: str
    tpp: float
    cap: float | None
    remaining: float | None
    """Remaining before this transaction, when balances were given."""


@dataclass(frozen=True, slots=True)
class ScreeningRecord:
    """The screening part of a decision's outcome record: whether the parties were screened, against which lists,
    the hits that count, and whether they changed the outcome."""

    screened: bool
    note: str
    """``parties screened: no match``, ``parties screened: N hit(s) ...`` or ``parties not screened``."""
    lists: str | None = None
    """The lists' data version screened against (datasets, versions, file hashes)."""
    reason: str | None = None
    """Why the parties were not screened (``--no-screening``, no list store)."""
    hits: tuple[dict[str, Any], ...] = ()
    """The matches that count (open or confirmed), each ``{entry, list, name, matched_name, score, status,
    lists}``."""
    outcome_before: str | None = None
    """The outcome of the licence rules before screening was applied."""
    changed: bool = False
    """Whether screening changed the outcome (the hit is then shown first, on every face)."""


@dataclass(frozen=True, slots=True)
class Decision:
    id: str | None
    regime: str
    packs: tuple[str, ...]
    date: dt.date
    outcome: str
    authorization: str | None
    review_policy: str | None
    items: tuple[ItemDecision, ...]
    tpp_total: float
    allocations: tuple[AllocationDraw, ...]
    rules: tuple[str, ...]
    citations: tuple[str, ...]
    explanation: tuple[str, ...]
    conditions: tuple[str, ...]
    """Notifications, certifications and other obligations that come with the outcome."""
    recalled: tuple[str, ...]
    """Recalled (unverified) facts this decision relied on."""
    provisional: bool
    jurisdictions: tuple[JurisdictionDecision, ...] = ()
    """Each jurisdiction's own answer when the transaction engages more than US law alone (empty for a
    US-only decision); the top-level outcome is then the strictest of them."""
    screening: ScreeningRecord | None = None
    """What restricted-party screening did to this decision (set by the faces that screen: ``decide``, ``ship``,
    the API and the dashboard); None where screening was not part of the question (the pure core)."""
