"""Licences as the law writes them: number, issuing jurisdiction, exporter, consignees, destination, lines of
items with a quantity and a value in US dollars, issue and expiry dates, conditions (docs/formats.md, "Licence").

A shipment draws on a licence only when its consignee, destination, items, date and the authority that must
license it all fall inside the licence; it draws per line, in units and in dollars. :func:`coverage` says
which line each licensed item draws on, or every field that does not match. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from tiergate.catalog import Catalogue, Chip, Equipment, EquipmentCatalogue
from tiergate.decide.model import Decision, Transaction, _slug
from tiergate.errors import InputError
from tiergate.interchange import Country, _In, iso_codes, validation_error

ECCN = re.compile(r"^[0-9][A-E][0-9]{3,4}(\.[a-z0-9]+)*$")
"""An export control classification number (US ECCN, or an allied list entry such as 3B1001.f.4)."""
JURISDICTION = re.compile(r"^[A-Z]{2}$")
KINDS = ("item", "family", "eccn")
"""How a line names what it covers, from the most to the least specific."""


class _ConsigneeIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=500)]
    country: Country


class _LineIn(_In):
    item: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[int, Field(gt=0, le=10_000_000_000, strict=True)]
    value_usd: Annotated[float, Field(gt=0, le=1e13, allow_inf_nan=False)]


class LicenceIn(_In):
    """A licence as issued (the interchange form)."""

    id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s:]+$")]
    jurisdiction: Annotated[str, Field(min_length=2, max_length=2)]
    exporter: Annotated[str, Field(min_length=1, max_length=500)]
    consignees: list[_ConsigneeIn] = Field(min_length=1, max_length=100)
    destination: Country
    lines: list[_LineIn] = Field(min_length=1, max_length=1000)
    issued: dt.date
    expires: dt.date
    conditions: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _dates(self) -> LicenceIn:
        if self.expires < self.issued:
            raise ValueError(f"expires {self.expires} is before issued {self.issued}")
        return self


@dataclass(frozen=True, slots=True)
class LicensedParty:
    name: str
    country: str


@dataclass(frozen=True, slots=True)
class LicenceLine:
    item: str
    """A catalogue id (chip or equipment), a family (the start of catalogue ids, e.g. ``nvidia-h100``) or an ECCN."""
    kind: str
    """``item``, ``family`` or ``eccn``."""
    quantity: int
    value_usd: float


@dataclass(frozen=True, slots=True)
class Licence:
    id: str
    jurisdiction: str
    exporter: str
    consignees: tuple[LicensedParty, ...]
    destination: str
    lines: tuple[LicenceLine, ...]
    issued: dt.date
    expires: dt.date
    conditions: tuple[str, ...] = ()
    complete: bool = True
    """False for a licence carried over from a ledger that kept only a quantity, a value and a note: it covers
    nothing until its terms are recorded (``tiergate ledger licence add FILE``)."""
    note: str | None = None
    """What such a carried-over licence was recorded with."""

    def to_dict(self) -> dict[str, Any]:
        """The licence in its interchange form (with ``complete``, and ``note`` for one carried over)."""
        out: dict[str, Any] = {
            "id": self.id,
            "jurisdiction": self.jurisdiction or None,
            "exporter": self.exporter or None,
            "consignees": [{"name": c.name, "country": c.country} for c in self.consignees],
            "destination": self.destination or None,
            "lines": [
                {"item": line.item, "kind": line.kind, "quantity": line.quantity, "value_usd": dollars(line.value_usd)}
                for line in self.lines
            ],
            "issued": self.issued.isoformat() if self.complete else None,
            "expires": self.expires.isoformat() if self.complete else None,
            "conditions": list(self.conditions),
            "complete": self.complete,
        }
        if self.note is not None:
            out["note"] = self.note
        return out

    def terms(self) -> dict[str, Any]:
        """What is stored (and hashed into the audit log) for a complete licence."""
        out = self.to_dict()
        out.pop("complete")
        out.pop("note", None)
        return out


def dollars(value: float) -> float | int:
    """An amount of US dollars as written: whole dollars as an integer."""
    return int(value) if float(value).is_integer() else value


def line_account(licence_id: str, line: int, measure: str) -> str:
    """The ledger account of a licence line (1-based): ``licence:ID:N:quantity`` or ``licence:ID:N:value``."""
    return f"licence:{licence_id}:{line}:{measure}"


def _line_kind(item: str, catalogue: Catalogue, equipment: EquipmentCatalogue) -> tuple[str, str]:
    """What a line's ``item`` names, as (kind, the id it is kept as); an unknown one is an error."""
    if ECCN.match(item):
        return "eccn", item
    ids = [c.id for c in catalogue if c.id] + [e.id for e in equipment if e.id]
    ids += [s.id for s in equipment.hbm_stacks if s.id]
    if item in ids:
        return "item", item
    lowered = item.lower()
    if any(i.startswith(lowered + "-") for i in ids):
        return "family", lowered
    chip = catalogue.get(item)
    if chip is not None and chip.id:
        return "item", chip.id
    tool = equipment.get(item)
    if tool is not None and tool.id:
        return "item", tool.id
    near = catalogue.suggest(item)
    hint = f"did you mean {', '.join(near)}?" if near else "a catalogue id, a family such as nvidia-h100, or an ECCN"
    raise ValueError(f"{item!r} is not a catalogue id, a family of catalogue ids or an ECCN ({hint})")


def parse_licence(data: Any, catalogue: Catalogue, equipment: EquipmentCatalogue, *, where: str = "licence") -> Licence:
    """A licence from its interchange form; raises :class:`InputError` naming ``where`` and the field."""
    if not isinstance(data, Mapping):
        raise InputError(f"expected a licence object, got {type(data).__name__}", where=where)
    try:
        raw = LicenceIn.model_validate(data)
    except ValidationError as error:
        raise validation_error(error, where, LicenceIn) from None
    code = raw.jurisdiction.upper()
    if not JURISDICTION.match(code) or (code != "EU" and code not in iso_codes()):
        raise InputError(
            f"jurisdiction: {raw.jurisdiction!r} is not the ISO code of a country (or EU) that issues licences",
            where=where,
        )
    lines: list[LicenceLine] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(raw.lines):
        try:
            kind, item = _line_kind(line.item, catalogue, equipment)
        except ValueError as error:
            raise InputError(f"lines[{n}].item: {error}", where=where) from None
        if item in seen:
            raise InputError(f"lines[{n}].item: {item!r} is already line {seen[item]}", where=where)
        seen[item] = n
        lines.append(LicenceLine(item, kind, line.quantity, line.value_usd))
    return Licence(
        id=raw.id,
        jurisdiction=raw.jurisdiction.upper(),
        exporter=raw.exporter,
        consignees=tuple(LicensedParty(c.name, c.country) for c in raw.consignees),
        destination=raw.destination,
        lines=tuple(lines),
        issued=raw.issued,
        expires=raw.expires,
        conditions=tuple(raw.conditions),
    )


# ---------------------------------------------------------------------- does it cover the shipment?


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A field of the shipment that the licence does not cover."""

    field: str
    """The shipment's field: ``consignee.name``, ``consignee.country``, ``destination``, ``items[i]``, ``date``,
    ``jurisdiction``, ``value_usd`` or ``licence``."""
    rule: str
    """``licence/<what the licence says>``: the term of the licence that refuses it."""
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True, slots=True)
class LineDraw:
    line: int
    """1-based, as the account names it."""
    item: str
    units: int
    value_usd: float | None
    indexes: tuple[int, ...]
    """The transaction's items drawn on this line."""


def _item_id(item: object) -> str | None:
    """The catalogue id a line of kind ``item`` or ``family`` can name: a chip's or a tool's, never a system's."""
    if isinstance(item, (Chip, Equipment)):
        return item.id
    return None


def _covers(line: LicenceLine, item_id: str | None, eccns: set[str]) -> bool:
    if line.kind == "item":
        return item_id is not None and item_id == line.item
    if line.kind == "family":
        return item_id is not None and item_id.lower().startswith(line.item + "-")
    return any(e == line.item or e.startswith(line.item + ".") for e in eccns)


def _specificity(line: LicenceLine) -> tuple[int, int]:
    return KINDS.index(line.kind), -len(line.item)


def coverage(licence: Licence, txn: Transaction, decision: Decision) -> tuple[list[Mismatch], list[LineDraw]]:
    """Every field of the shipment the licence does not cover (none: it covers it), and what each line draws.

    Each item that needs a licence draws on the most specific line that covers it (a catalogue id before a
    family, a family before an ECCN); units of different lines are never added together."""
    lid = licence.id
    if not licence.complete:
        return [
            Mismatch(
                "licence",
                "licence/terms",
                f"licence {lid} was carried over from a ledger that kept only its quantity and value; it covers "
                "nothing until its terms are recorded (tiergate ledger licence add FILE)",
            )
        ], []
    out: list[Mismatch] = []
    if txn.date < licence.issued:
        out.append(
            Mismatch("date", "licence/issued", f"{txn.date} is before licence {lid} was issued ({licence.issued})")
        )
    if txn.date > licence.expires:
        out.append(
            Mismatch("date", "licence/expires", f"licence {lid} expired on {licence.expires}; shipped {txn.date}")
        )
    required = required_authorities(decision)
    if len(required) == 1 and not _same_authority(licence.jurisdiction, required[0], txn.export_from):
        out.append(
            Mismatch(
                "jurisdiction",
                "licence/jurisdiction",
                f"a licence of {required[0]} is required; licence {lid} was issued by {licence.jurisdiction}",
            )
        )
    party = txn.consignee
    named = [c for c in licence.consignees if _slug(c.name) == _slug(party.name)]
    listed = "; ".join(f"{c.name} ({c.country})" for c in licence.consignees)
    if not named:
        out.append(
            Mismatch(
                "consignee.name",
                "licence/consignees",
                f"consignee {party.name!r} is not a consignee of licence {lid} ({listed})",
            )
        )
    elif not any(c.country == party.country for c in named):
        out.append(
            Mismatch(
                "consignee.country",
                "licence/consignees",
                f"consignee {party.name!r} in {party.country}: licence {lid} names it in "
                + ", ".join(sorted({c.country for c in named})),
            )
        )
    if txn.destination != licence.destination:
        out.append(
            Mismatch(
                "destination",
                "licence/destination",
                f"destination {txn.destination}: licence {lid} is for {licence.destination}",
            )
        )
    by_line: dict[int, list[int]] = {}
    ordered = sorted(range(len(licence.lines)), key=lambda n: _specificity(licence.lines[n]))
    for item in decision.items:
        if item.outcome != "license_required":
            continue
        item_id = _item_id(txn.items[item.index].item) if item.index < len(txn.items) else None
        eccns = {item.eccn} | {
            ji.entry for j in decision.jurisdictions for ji in j.items if ji.index == item.index and ji.entry
        }
        line = next((n for n in ordered if _covers(licence.lines[n], item_id, eccns)), None)
        if line is None:
            what = item_id or item.name
            out.append(
                Mismatch(
                    f"items[{item.index}]",
                    "licence/lines",
                    f"item {item.index} ({what}, {item.eccn}) is on no line of licence {lid} ("
                    + ", ".join(line.item for line in licence.lines)
                    + ")",
                )
            )
            continue
        by_line.setdefault(line, []).append(item.index)
    if not by_line and not out and decision.outcome == "license_required":
        out.append(Mismatch("items", "licence/lines", f"no item of the shipment is on a line of licence {lid}"))
    draws = [
        LineDraw(
            n + 1,
            licence.lines[n].item,
            sum(decision.items[i].quantity for i in indexes),
            None,
            tuple(indexes),
        )
        for n, indexes in sorted(by_line.items())
    ]
    if draws and not out:
        if txn.value_usd is None:
            out.append(
                Mismatch(
                    "value_usd",
                    "licence/lines",
                    f"licence {lid} limits each line's value in USD; give the transaction's value_usd",
                )
            )
        elif len(draws) > 1:
            out.append(
                Mismatch(
                    "value_usd",
                    "licence/lines",
                    f"the items draw on lines {', '.join(str(d.line) for d in draws)} of licence {lid}, and the "
                    "transaction's one value_usd cannot be split between them; ship each line's items separately",
                )
            )
        else:
            only = draws[0]
            draws = [LineDraw(only.line, only.item, only.units, float(txn.value_usd), only.indexes)]
    return out, (draws if not out else [])


SCREENING_US_LICENCE = "screen/entity-list"
"""The rule a consignee's Entity List hit adds to a decision: a licence of BIS (the US) is required, whatever the
other laws the export engages say (15 CFR 744.11)."""


def required_authorities(decision: Decision) -> list[str]:
    """The jurisdictions whose licence the shipment needs: US alone for a US-only decision; every law engaged that
    requires one; and the US whenever the consignee is on the Entity List (screening raises the outcome, not the
    US law's own answer, so it is read from the decision's rules)."""
    if not decision.jurisdictions:
        found = ["US"] if decision.outcome == "license_required" else []
    else:
        found = [j.jurisdiction for j in decision.jurisdictions if j.reached and j.outcome == "license_required"]
    if "US" not in found and any(rule.startswith(SCREENING_US_LICENCE) for rule in decision.rules):
        found.append("US")
    return found


def _same_authority(issued_by: str, required: str, export_from: str) -> bool:
    """A licence of ``issued_by`` answers ``required``: the same jurisdiction, or, for the EU's dual-use
    regulation, the Member State the goods are exported from (whose competent authority grants it)."""
    return issued_by == required or (required == "EU" and issued_by == export_from)


def describe(mismatches: Sequence[Mismatch]) -> str:
    return "; ".join(f"{m.field}: {m.message}" for m in mismatches)


__all__ = [
    "Licence",
    "LicenceIn",
    "LicenceLine",
    "LicensedParty",
    "LineDraw",
    "Mismatch",
    "coverage",
    "describe",
    "dollars",
    "line_account",
    "parse_licence",
]
