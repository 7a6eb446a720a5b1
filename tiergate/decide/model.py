"""Transactions (input of ``decide``) and decisions (its output), as plain frozen dataclasses.

The JSON shapes are the interchange formats of docs/ARCHITECTURE.md; ``tiergate.interchange``
parses and renders them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

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
class LineItem:
    item: Item
    quantity: int


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
