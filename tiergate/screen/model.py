"""The screening entity model: list entries (from every list format), hits and their explanations.

One :class:`ListEntry` per restricted party, whatever the file it came from (OFAC legacy CSV, the
trade.gov Consolidated Screening List, the UN XML, the NSF restricted-entities JSON, FollowTheMoney
JSON lines). ``content_hash`` covers what an analyst judged (names, countries, identifiers,
programmes, addresses, licence text): a cleared hit is re-opened when it changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

import orjson

from tiergate.errors import TiergateError

SCHEMAS = ("Person", "Organization", "Company", "LegalEntity", "Vessel", "Airplane")
"""Entity types (FollowTheMoney's names). ``LegalEntity`` is a party whose list does not say whether it is a
person or an organisation."""
ORG_SCHEMAS = frozenset({"Organization", "Company", "PublicBody"})
DEFAULT_THRESHOLD = 0.70
"""The score at and above which a hit is a match (yente's default too); configurable per screening."""


class ListFileError(TiergateError):
    """A list file that cannot be loaded as given; nothing of it was loaded."""


class ListStoreError(TiergateError):
    """A list store that cannot be used or changed as asked; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: str
    """E.g. ``Passport``, ``Registration Number``, ``IMO``, ``INN``, ``OGRN``."""
    value: str
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Owner:
    """A parent of a list entry (from FtM ``Ownership`` records), by the owner's entry id."""

    entry_id: str
    percent: float | None


@dataclass(frozen=True, slots=True)
class ListEntry:
    dataset: str
    """The load unit (one file or file family) the entry came from, e.g. ``ofac-sdn``, ``csl``, ``un-sc``."""
    entry_id: str
    """Unique within the dataset (the list's own number where it has one)."""
    list_code: str
    """The restricted-party list: ``SDN``, ``EL`` (BIS Entity List), ``DPL``, ``MEU``, ``UVL``, ``UN``, ..."""
    schema: str
    name: str
    aliases: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    weak_aliases: tuple[str, ...] = ()
    """Aliases the list itself calls weak (the UN's "low quality", FtM ``weakAlias``): a hit on one counts less."""
    birth_dates: tuple[str, ...] = ()
    """A person's dates of birth as the list gives them: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
    addresses: tuple[str, ...] = ()
    identifiers: tuple[Identifier, ...] = ()
    programs: tuple[str, ...] = ()
    listed_on: str | None = None
    license_requirement: str | None = None
    license_policy: str | None = None
    remarks: str | None = None
    owners: tuple[Owner, ...] = ()
    source_file: str = ""
    """The list file's name (not its path: where a server keeps its files is no client's business)."""
    source_line: int = 0
    dataset_sha256: str | None = None
    """The SHA-256 of the dataset's files, in order, as loaded (the version the entry was read from)."""
    dataset_date: str | None = None
    """The data date the dataset's file states (else the file's date)."""

    @property
    def key(self) -> str:
        return f"{self.dataset}:{self.entry_id}"

    @property
    def source(self) -> str:
        """``FILE:LINE``: the list file's name (never a path, even for an entry stored with one) and the line."""
        return f"{PurePath(self.source_file).name}:{self.source_line}"

    @property
    def names(self) -> tuple[str, ...]:
        """The name, the aliases, then the weak aliases (a name's place in this tuple is its slot)."""
        return (self.name, *self.aliases, *self.weak_aliases)

    def is_weak(self, slot: int) -> bool:
        return slot > len(self.aliases)

    def judged(self) -> dict[str, Any]:
        """The fields a hit's review rests on (not where the entry sits in its file)."""
        data = asdict(self)
        for where in ("source_file", "source_line", "dataset_sha256", "dataset_date"):
            data.pop(where)
        return data

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(orjson.dumps(self.judged(), option=orjson.OPT_SORT_KEYS)).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ListEntry:
        return ListEntry(
            dataset=data["dataset"],
            entry_id=data["entry_id"],
            list_code=data["list_code"],
            schema=data["schema"],
            name=data["name"],
            aliases=tuple(data.get("aliases") or ()),
            countries=tuple(data.get("countries") or ()),
            weak_aliases=tuple(data.get("weak_aliases") or ()),
            birth_dates=tuple(data.get("birth_dates") or ()),
            addresses=tuple(data.get("addresses") or ()),
            identifiers=tuple(Identifier(**i) for i in data.get("identifiers") or ()),
            programs=tuple(data.get("programs") or ()),
            listed_on=data.get("listed_on"),
            license_requirement=data.get("license_requirement"),
            license_policy=data.get("license_policy"),
            remarks=data.get("remarks"),
            owners=tuple(Owner(**o) for o in data.get("owners") or ()),
            source_file=data.get("source_file", ""),
            source_line=data.get("source_line", 0),
            dataset_sha256=data.get("dataset_sha256"),
            dataset_date=data.get("dataset_date"),
        )


@dataclass(frozen=True, slots=True)
class Dataset:
    """The entries of one load unit, as parsed from its files."""

    dataset: str
    format: str
    title: str
    files: tuple[str, ...]
    """The files' paths as read (kept in the store's load record, for operators; entries name only the file)."""
    sha256: str
    """Of the files' bytes, in order."""
    file_date: str | None
    """The list's own data date (``ingest.read_lists``: stated in the file, in its name, documented, or its latest
    listing date); None when unknown. Never the day the file was read."""
    entries: tuple[ListEntry, ...]


@dataclass(frozen=True, slots=True)
class Feature:
    """One piece of evidence in a score: its name, its contribution and what it rests on."""

    name: str
    score: float
    detail: str


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    schema: str | None = None
    country: str | None = None
    identifiers: tuple[str, ...] = ()
    birth_date: str | None = None
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (a person's)."""


@dataclass(slots=True)
class Hit:
    entry: ListEntry
    score: float
    matched_name: str
    """The name or alias of the entry that scored best."""
    match: bool
    features: list[Feature] = field(default_factory=list)
    status: str = "open"
    """``open`` (to review), ``cleared`` (an analyst's false positive) or ``confirmed`` (an analyst's true match)."""
    decision: dict[str, Any] | None = None
    members: list[Hit] = field(default_factory=list, repr=False)
    """The grouped hits, one per list entry (this one first); empty for a hit not grouped."""
    memberships: list[dict[str, Any]] = field(default_factory=list)
    """The same party's entries on every list it is on (this hit's entry first), each ``{entry, list, dataset,
    entry_hash, status, decision}``: one party, one hit. Empty for a hit not grouped."""

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "entry": e.key,
            "dataset": e.dataset,
            "list": e.list_code,
            "schema": e.schema,
            "name": e.name,
            "matched_name": self.matched_name,
            "countries": list(e.countries),
            "programs": list(e.programs),
            "listed_on": e.listed_on,
            "license_requirement": e.license_requirement,
            "license_policy": e.license_policy,
            "source": e.source,
            "dataset_sha256": e.dataset_sha256,
            "dataset_date": e.dataset_date,
            "entry_hash": e.content_hash,
            "score": round(self.score, 4),
            "match": self.match,
            "status": self.status,
            "decision": self.decision,
            "explanation": {f.name: {"score": round(f.score, 4), "detail": f.detail} for f in self.features},
            "lists": [m["list"] for m in self.memberships] if self.memberships else [e.list_code],
            "memberships": [dict(m) for m in self.memberships],
        }


@dataclass(frozen=True, slots=True)
class Decision:
    party: str
    entry: str
    entry_hash: str
    verdict: str
    reason: str
    author: str
    decided_at: str
    withdrawn: str | None = None
    """For a re-opening: the verdict it withdrew."""
    bound_to: str | None = None
    """The party form the decision was made for (its normalised name, country and identifiers); None for a
    decision recorded before decisions were bound (it holds only for a party id made from the name)."""

    def to_dict(self) -> dict[str, Any]:
        found = {
            "party": self.party,
            "entry": self.entry,
            "entry_hash": self.entry_hash,
            "verdict": self.verdict,
            "reason": self.reason,
            "author": self.author,
            "decided_at": self.decided_at,
        }
        if self.withdrawn is not None:
            found["withdrawn"] = self.withdrawn
        if self.bound_to is not None:
            found["bound_to"] = self.bound_to
        return found


def each_entry(hits: Sequence[Hit]) -> list[Hit]:
    """The hits one per list entry: a grouped hit's members (each with its own status and decision), else the hit."""
    return [member for hit in hits for member in (hit.members or [hit])]
