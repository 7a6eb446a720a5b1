"""The public interchange formats: transactions in, decisions and classifications out.

Parsing checks every field (unknown fields, types, positive quantities, ISO country codes, catalogue
chip ids) and reports the first problem as ``<where>: <field path>: <what>``, where ``where`` names the
file and line or record. Rendering turns the core's dataclasses into the JSON shapes of
docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from tiergate.catalog import EQUIPMENT_CATEGORIES, Catalogue, Chip, Die, Equipment, EquipmentCatalogue, load_equipment
from tiergate.classify.model import Classification, Item, ModelWeights, System
from tiergate.decide.model import (
    Consignee,
    Decision,
    JurisdictionDecision,
    LineItem,
    Origin,
    ScreeningRecord,
    Transaction,
)
from tiergate.errors import InputError, UnknownChipError, UnknownCountryError, UnknownEquipmentError
from tiergate.rules.source import render_path


@lru_cache(maxsize=1)
def iso_codes() -> frozenset[str]:
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)


_COMMON_MISTAKES = {"UK": "GB", "EL": "GR", "EN": "GB"}


def nearest_countries(text: str, limit: int = 3) -> list[str]:
    """ISO codes a mistyped country may have meant: a common mistake (UK for GB), a country named in full
    ("Japan"), or codes one letter away."""
    import pycountry

    wanted = text.strip().upper()
    if wanted in _COMMON_MISTAKES:
        return [_COMMON_MISTAKES[wanted]]
    if len(wanted) > 2:
        try:
            return [c.alpha_2 for c in pycountry.countries.search_fuzzy(text.strip())][:limit]
        except LookupError:
            return []
    if len(wanted) != 2:
        return []
    close = sorted(
        (c for c in iso_codes() if sum(a != b for a, b in zip(c, wanted, strict=True)) == 1),
        key=lambda c: (c[0] != wanted[0], c),  # a typo in the second letter is the likelier one
    )
    return close[: limit + 1]


def _country(value: object) -> object:
    if isinstance(value, str):
        code = value.strip().upper()
        near = nearest_countries(value) if code not in iso_codes() else []
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        if len(code) != 2 or not code.isalpha():
            raise ValueError(
                f"{value!r} is not an ISO 3166-1 alpha-2 country code (two letters, e.g. IN, DE, HK){hint}"
            )
        if code not in iso_codes():
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code{hint}")
        return code
    return value


Country = Annotated[str, BeforeValidator(_country)]
Precision = Literal["fp64", "tf32", "fp32", "fp16", "bf16", "fp8", "int8", "fp4", "int4"]
Rate = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
"""Dense tera-operations per second; 1e9 TOPS is far beyond any chip and keeps every product finite."""
Area = Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DieIn(_In):
    area_mm2: Area | None = None
    dense_tops: dict[Precision, Rate]
    logic: bool = True
    non_planar: bool = True


class ChipSpecIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["accelerator", "hbm"] = "accelerator"
    datacenter: bool | None = None
    memory_bandwidth_gbps: Rate | None = None
    dies: list[DieIn] | None = Field(default=None, min_length=1, max_length=64)
    dense_tops: dict[Precision, Rate] | None = None
    die_area_mm2: Area | None = None
    package_area_mm2: Area | None = None
    designer_country: Country | None = None
    vendor: str | None = None
    affixed_to_logic: bool = False

    @model_validator(mode="after")
    def _shape(self) -> ChipSpecIn:
        if self.kind == "hbm":
            if self.memory_bandwidth_gbps is None or self.package_area_mm2 is None:
                raise ValueError("an HBM spec gives memory_bandwidth_gbps and package_area_mm2")
            if self.dies or self.dense_tops:
                raise ValueError("an HBM spec has no dies or dense_tops")
            return self
        if (self.dies is None) == (self.dense_tops is None):
            raise ValueError("give either dies (a list of {area_mm2, dense_tops}) or package-level dense_tops")
        if self.dies is not None and self.die_area_mm2 is not None:
            raise ValueError("die_area_mm2 goes with package-level dense_tops; with dies give each die's area_mm2")
        return self

    def to_chip(self) -> Chip:
        if self.dies is not None:
            dies = tuple(Die(d.area_mm2, tuple(sorted(d.dense_tops.items())), d.logic, d.non_planar) for d in self.dies)
        elif self.dense_tops is not None:
            dies = (Die(self.die_area_mm2, tuple(sorted(self.dense_tops.items()))),)
        else:
            dies = ()
        return Chip(
            id=None,
            name=self.name,
            dies=dies,
            datacenter=self.datacenter,
            memory_bandwidth_gbps=self.memory_bandwidth_gbps,
            package_area_mm2=self.package_area_mm2,
            kind="hbm" if self.kind == "hbm" else "accelerator",
            vendor=self.vendor,
            designer_country=self.designer_country,
            affixed_to_logic=self.affixed_to_logic,
        )


ChipRef = Annotated[str, Field(min_length=1, max_length=200)] | ChipSpecIn


class SystemIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    chip: ChipRef
    chips_per_system: Annotated[int, Field(gt=0, le=1_000_000, strict=True)]


class WeightsIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    training_ops: Annotated[float, Field(gt=0, le=1e40, allow_inf_nan=False)]
    open_weights: bool
    fine_tuning_ops: Annotated[float, Field(ge=0, le=1e40, allow_inf_nan=False)] = 0.0


Category = Literal[EQUIPMENT_CATEGORIES]  # type: ignore[valid-type]
Parameter = Annotated[float, Field(ge=-1e9, le=1e9, allow_inf_nan=False)] | bool


class EquipmentSpecIn(_In):
    """A tool not in the equipment catalogue: its category, US ECCN and the parameters the packs test."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    category: Category
    us_eccn: Annotated[str, Field(pattern=r"^([0-9][A-E][0-9]{3}(\.[a-z0-9]+)*|EAR99)$")] | None = None
    made_in: Country | None = None
    vendor: Annotated[str, Field(max_length=200)] | None = None
    parameters: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)], Parameter] = Field(
        default_factory=dict, max_length=50
    )

    def to_equipment(self) -> Equipment:
        return Equipment(
            id=None,
            name=self.name,
            category=self.category,
            made_in=self.made_in,
            us_eccn=self.us_eccn,
            parameters=tuple(sorted(self.parameters.items())),
            vendor=self.vendor,
        )


EquipmentRef = Annotated[str, Field(min_length=1, max_length=200)] | EquipmentSpecIn


class ItemIn(_In):
    chip: ChipRef | None = None
    system: SystemIn | None = None
    model_weights: WeightsIn | None = None
    equipment: EquipmentRef | None = None
    quantity: Annotated[int, Field(gt=0, le=10_000_000_000, strict=True)]
    origin: Country | None = None
    """Where the item was made (ISO 3166-1 alpha-2)."""
    us_content_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None
    """US-origin controlled content by value, in percent (de minimis)."""
    made_with_us_technology: bool | None = None
    """A direct product of US technology or software (or of a plant that is): the US direct-product rules."""

    @model_validator(mode="after")
    def _one_kind(self) -> ItemIn:
        if sum(x is not None for x in (self.chip, self.system, self.model_weights, self.equipment)) != 1:
            raise ValueError("an item is exactly one of chip, system, model_weights or equipment")
        return self

    def origin_facts(self) -> Origin | None:
        if self.origin is None and self.us_content_pct is None and self.made_with_us_technology is None:
            return None
        return Origin(self.origin, self.us_content_pct, self.made_with_us_technology)


class ConsigneeIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=500)]
    country: Country | None = None
    headquarters: Country
    parent_headquarters: Country | None = None
    veu: Literal["UVEU", "NVEU"] | None = None
    id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class TransactionIn(_In):
    id: Annotated[str, Field(max_length=200)] | int | None = None
    date: dt.date | None = None
    regime: str | None = None
    export_from: Country = "US"
    destination: Country
    items: list[ItemIn] = Field(min_length=1, max_length=10_000)
    consignee: ConsigneeIn
    end_use: Annotated[str, Field(max_length=100)] | None = None
    value_usd: Annotated[float, Field(gt=0, le=1e13, allow_inf_nan=False)] | None = None


def _chip(ref: str | ChipSpecIn, catalogue: Catalogue, where: str, field: str) -> Chip:
    if isinstance(ref, str):
        found = catalogue.get(ref)
        if found is not None:
            return found
        stack = load_equipment().stack(ref)  # HBM stacks of the equipment catalogue are chips too
        if stack is not None:
            return stack
        suggestions = catalogue.suggest(ref)
        if not suggestions:
            suggestions = [s for s in load_equipment().suggest(ref) if load_equipment().stack(s) is not None]
        raise UnknownChipError(ref, suggestions, where=f"{where}: {field}")
    return ref.to_chip()


def _equipment(ref: str | EquipmentSpecIn, equipment: EquipmentCatalogue, where: str, field: str) -> Item:
    if isinstance(ref, str):
        found = equipment.get(ref)
        if found is not None:
            return found
        if equipment.stack(ref) is not None:
            raise InputError(
                f'{ref!r} is an HBM stack, a chip: give it as {{"chip": {ref!r}}}', where=f"{where}: {field}"
            )
        raise UnknownEquipmentError(ref, equipment.suggest(ref, tools_only=True), where=f"{where}: {field}")
    return ref.to_equipment()


def _item(item: ItemIn, catalogue: Catalogue, where: str, index: int) -> Item:
    if item.equipment is not None:
        return _equipment(item.equipment, load_equipment(), where, f"items[{index}].equipment")
    if item.chip is not None:
        return _chip(item.chip, catalogue, where, f"items[{index}].chip")
    if item.system is not None:
        chip = _chip(item.system.chip, catalogue, where, f"items[{index}].system.chip")
        return System(item.system.name, chip, item.system.chips_per_system)
    assert item.model_weights is not None
    w = item.model_weights
    return ModelWeights(w.name, w.training_ops + w.fine_tuning_ops, w.open_weights)


def known_fields(model: type[BaseModel], path: Sequence[int | str]) -> list[str]:
    """The field names the model accepts in the object at ``path`` (a field path from the model's top; indexes
    step into lists), read from its JSON Schema so that unions (a chip id or a chip spec) give every branch's."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})

    def alternatives(node: Any) -> list[dict[str, Any]]:
        """The node with its references resolved and its unions spread out."""
        if not isinstance(node, dict):
            return []
        if "$ref" in node:
            return alternatives(defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {}))
        found = [node]
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(key, []):
                found.extend(alternatives(branch))
        return found

    nodes = alternatives(schema)
    for step in path:
        following: list[dict[str, Any]] = []
        for node in nodes:
            if isinstance(step, int):
                following.extend(alternatives(node.get("items")))
            else:
                following.extend(alternatives(node.get("properties", {}).get(step)))
        nodes = following
    names: list[str] = []
    for node in nodes:
        names.extend(name for name in node.get("properties", {}) if name not in names)
    return names


def nearest_field(name: str, known: Sequence[str]) -> str | None:
    """The known field ``name`` most likely meant: one it abbreviates (``qty`` in ``quantity``: its letters in
    order, the first the same), else the closest spelling (``destinaton``); None when nothing is close."""
    lowered = name.lower()

    def abbreviates(field: str) -> bool:
        letters = iter(field.lower())
        return bool(lowered) and field[:1].lower() == lowered[:1] and all(c in letters for c in lowered)

    candidates = [field for field in known if abbreviates(field)]
    if candidates:
        return min(candidates, key=len)
    import difflib

    close = difflib.get_close_matches(lowered, [field.lower() for field in known], n=1, cutoff=0.6)
    found = next((field for field in known if close and field.lower() == close[0]), None)
    if found is None and len(lowered) >= 4:  # two letters swapped or mistyped (``lisence``)
        near = [(_edits(lowered, field.lower()), field) for field in known]
        best = min(near, default=(3, ""))
        found = best[1] if best[0] <= 2 else None
    return found


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]


def unknown_field_hint(model: type[BaseModel], loc: Sequence[int | str]) -> str | None:
    """``did you mean X?`` for an unknown field at ``loc`` of ``model`` (else the fields known there)."""
    if not loc or not isinstance(loc[-1], str):
        return None
    known = known_fields(model, loc[:-1])
    if not known:
        return None
    nearest = nearest_field(loc[-1], known)
    if nearest is not None:
        return f"did you mean {nearest!r}?"
    return "known fields here: " + ", ".join(known)


def validation_error(error: ValidationError, where: str, model: type[BaseModel] | None = None) -> InputError:
    problems = error.errors(include_url=False)
    # In a union (chip id or chip spec), the branch that got furthest names the real problem.
    first = max(problems, key=lambda e: (len(e["loc"]), e["type"] == "extra_forbidden"))
    loc = [
        step
        for step in first["loc"]
        if isinstance(step, int)
        or step not in {"str", "ChipSpecIn", "function-after[_shape(), ChipSpecIn]", "EquipmentSpecIn", "float", "bool"}
    ]
    loc = [
        step
        for step in loc
        if not (isinstance(step, str) and (step.startswith("function-") or step.startswith("constrained-")))
    ]
    field = render_path(loc) or "(record)"
    message = first["msg"].removeprefix("Value error, ")
    hint = None
    if first["type"] == "extra_forbidden":
        message = "unknown field"
        hint = unknown_field_hint(model, loc) if model is not None else None
    elif first["type"] == "missing":
        message = "required field is missing"
    cls = UnknownCountryError if "country code" in message else InputError
    return cls(f"{field}: {message}", where=where, hint=hint)


def parse_transaction(
    data: Any, catalogue: Catalogue, *, where: str = "transaction", default_date: dt.date | None = None
) -> Transaction:
    """A core transaction from its JSON form; raises :class:`InputError` naming ``where`` and the field."""
    if not isinstance(data, Mapping):
        raise InputError(f"expected a transaction object, got {type(data).__name__}", where=where)
    try:
        txn = TransactionIn.model_validate(data)
    except ValidationError as error:
        raise validation_error(error, where, TransactionIn) from None
    day = txn.date or default_date
    if day is None:
        raise InputError("date: required field is missing (or pass --as-of)", where=where)
    items = tuple(
        LineItem(_item(item, catalogue, where, i), item.quantity, item.origin_facts())
        for i, item in enumerate(txn.items)
    )
    c = txn.consignee
    consignee = Consignee(
        name=c.name,
        country=c.country or txn.destination,
        headquarters=c.headquarters,
        parent_headquarters=c.parent_headquarters,
        veu=c.veu,
        id=c.id,
    )
    return Transaction(
        id=None if txn.id is None else str(txn.id),
        date=day,
        export_from=txn.export_from,
        destination=txn.destination,
        items=items,
        consignee=consignee,
        end_use=txn.end_use,
        regime=txn.regime,
        value_usd=txn.value_usd,
    )


def _chip_to_ref(chip: Chip) -> str | dict[str, Any]:
    if chip.id is not None:
        return chip.id
    spec: dict[str, Any] = {"name": chip.name}
    if chip.kind == "hbm":
        spec.update(
            kind="hbm", memory_bandwidth_gbps=chip.memory_bandwidth_gbps, package_area_mm2=chip.package_area_mm2
        )
    else:
        spec["dies"] = [
            {
                **({"area_mm2": d.area_mm2} if d.area_mm2 is not None else {}),
                "dense_tops": dict(d.dense_tops),
                **({} if d.logic else {"logic": False}),
                **({} if d.non_planar else {"non_planar": False}),
            }
            for d in chip.dies
        ]
        for name in ("memory_bandwidth_gbps", "package_area_mm2"):
            if getattr(chip, name) is not None:
                spec[name] = getattr(chip, name)
    for name in ("datacenter", "designer_country", "vendor"):
        if getattr(chip, name) is not None:
            spec[name] = getattr(chip, name)
    if chip.affixed_to_logic:
        spec["affixed_to_logic"] = True
    return spec


def _equipment_to_ref(tool: Equipment) -> str | dict[str, Any]:
    if tool.id is not None:
        return tool.id
    spec: dict[str, Any] = {"name": tool.name, "category": tool.category, "parameters": dict(tool.parameters)}
    for name in ("us_eccn", "made_in", "vendor"):
        if getattr(tool, name) is not None:
            spec[name] = getattr(tool, name)
    return spec


def transaction_to_dict(txn: Transaction) -> dict[str, Any]:
    """A parsed transaction in the interchange form (docs/ARCHITECTURE.md), so that it can be parsed again to the
    same transaction: what the ledger keeps of a shipment for a later replay."""
    items: list[dict[str, Any]] = []
    for line in txn.items:
        item = line.item
        if isinstance(item, Chip):
            items.append({"chip": _chip_to_ref(item), "quantity": line.quantity})
        elif isinstance(item, System):
            system = {"name": item.name, "chip": _chip_to_ref(item.chip), "chips_per_system": item.chips_per_system}
            items.append({"system": system, "quantity": line.quantity})
        elif isinstance(item, Equipment):
            items.append({"equipment": _equipment_to_ref(item), "quantity": line.quantity})
        else:
            weights = {"name": item.name, "training_ops": item.training_ops, "open_weights": item.open_weights}
            items.append({"model_weights": weights, "quantity": line.quantity})
        if line.origin is not None:
            for name, value in (
                ("origin", line.origin.country),
                ("us_content_pct", line.origin.us_content_pct),
                ("made_with_us_technology", line.origin.made_with_us_technology),
            ):
                if value is not None:
                    items[-1][name] = value
    c = txn.consignee
    consignee: dict[str, Any] = {"name": c.name, "country": c.country, "headquarters": c.headquarters}
    for name in ("parent_headquarters", "veu", "id"):
        if getattr(c, name) is not None:
            consignee[name] = getattr(c, name)
    out: dict[str, Any] = {
        "id": txn.id,
        "date": txn.date.isoformat(),
        "export_from": txn.export_from,
        "destination": txn.destination,
        "items": items,
        "consignee": consignee,
    }
    for name in ("regime", "end_use", "value_usd"):
        if getattr(txn, name) is not None:
            out[name] = getattr(txn, name)
    if txn.id is None:
        del out["id"]
    return out


def canonical_transaction(txn: Transaction) -> str:
    """A deterministic JSON text of a parsed transaction (its hash identifies the input in the audit log)."""
    import dataclasses
    import json

    data = dataclasses.asdict(txn)
    for line in data["items"]:  # a line without origin facts hashes as it did before they existed
        if line.get("origin") is None:
            line.pop("origin", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _number(value: float | None, digits: int = 6) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    rounded = round(value, digits)
    return int(rounded) if rounded == int(rounded) and abs(rounded) < 2**53 else rounded


def decision_fields(decision: Decision, *, explain: bool = True) -> dict[str, Any]:
    """The decision's fields as plain values at full precision (the Parquet row; the JSON before rounding)."""
    out: dict[str, Any] = {
        "id": decision.id,
        "regime": decision.regime,
        "packs": list(decision.packs),
        "date": decision.date,
        "outcome": decision.outcome,
        "authorization": decision.authorization,
        "review_policy": decision.review_policy,
        "items": [
            {
                "index": it.index,
                "kind": it.kind,
                "name": it.name,
                "chip": it.chip,
                "eccn": it.eccn,
                "paragraph": it.paragraph,
                "tpp": it.tpp,
                "performance_density": it.performance_density,
                "quantity": it.quantity,
                "tpp_total": it.tpp_total,
                "outcome": it.outcome,
                "authorization": it.authorization,
                "review_policy": it.review_policy,
                "provisional": it.provisional,
                "rules": list(it.rules),
            }
            for it in decision.items
        ],
        "tpp_total": decision.tpp_total,
        "allocations": [
            {
                "allocation": a.allocation,
                "account": a.account,
                "rule": a.rule,
                "tpp": a.tpp,
                "cap": a.cap,
                "remaining": a.remaining,
            }
            for a in decision.allocations
        ],
        "rules": list(decision.rules),
        "citations": list(decision.citations),
        "conditions": list(decision.conditions),
        "recalled": list(decision.recalled),
        "provisional": decision.provisional,
        "jurisdictions": [jurisdiction_fields(j) for j in decision.jurisdictions],
    }
    if explain:
        out["explanation"] = list(decision.explanation)
    return out


def screening_fields(record: ScreeningRecord) -> dict[str, Any]:
    """A decision's ``screening``: screened or not (and why not), the lists' version, the hits that count, and
    whether they changed the outcome (``outcome_before``)."""
    return {
        "screened": record.screened,
        "note": record.note,
        "reason": record.reason,
        "lists": record.lists,
        "changed_outcome": record.changed,
        "outcome_before": record.outcome_before,
        "hits": [dict(h) for h in record.hits],
    }


def jurisdiction_fields(j: JurisdictionDecision) -> dict[str, Any]:
    """One element of a decision's ``jurisdictions``: one law's own answer."""
    return {
        "jurisdiction": j.jurisdiction,
        "law": j.law,
        "packs": list(j.packs),
        "reached": j.reached,
        "hook": j.hook,
        "outcome": j.outcome,
        "authorization": j.authorization,
        "review_policy": j.review_policy,
        "indeterminate": j.indeterminate,
        "authority": j.authority,
        "items": [
            {
                "index": it.index,
                "outcome": it.outcome,
                "authorization": it.authorization,
                "review_policy": it.review_policy,
                "entry": it.entry,
                "hook": it.hook,
                "indeterminate": it.indeterminate,
                "rules": list(it.rules),
            }
            for it in j.items
        ],
        "rules": list(j.rules),
        "citations": list(j.citations),
        "notices": list(j.notices),
    }


_FIGURES = ("tpp", "performance_density", "tpp_total", "cap", "remaining")


def decision_to_dict(decision: Decision, *, explain: bool = True) -> dict[str, Any]:
    """The interchange JSON of a decision: figures rounded to 6 decimals (whole numbers as integers)."""
    out = decision_fields(decision, explain=explain)
    if not out["jurisdictions"]:  # a US-only decision keeps the shape it always had
        del out["jurisdictions"]
    out["date"] = decision.date.isoformat()
    out["tpp_total"] = _number(decision.tpp_total)
    if decision.screening is not None:
        out["screening"] = screening_fields(decision.screening)
    for part in (*out["items"], *out["allocations"]):
        for name in _FIGURES:
            if name in part:
                part[name] = _number(part[name])
    return out


def classification_to_dict(c: Classification, regime: str) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "chip": c.chip_id,
        "regime": regime,
        "eccn": c.eccn,
        "paragraph": c.paragraph,
        "tpp": _number(c.tpp),
        "performance_density": _number(c.performance_density),
        "memory_bandwidth_density": _number(c.memory_bandwidth_density),
        "chip_tpp": _number(c.chip_tpp),
        "chips_per_system": c.chips_per_system,
        "training_ops": c.training_ops,
        "datacenter": c.datacenter,
        "provisional": c.provisional,
        "rules": list(c.rules),
        "recalled": list(c.recalled),
        "explanation": list(c.explanation),
    }


def chip_to_dict(chip: Chip) -> dict[str, Any]:
    die = chip.dies[0] if chip.dies else None
    return {
        "id": chip.id,
        "name": chip.name,
        "vendor": chip.vendor,
        "year": chip.year,
        "aliases": list(chip.aliases),
        "datacenter": chip.datacenter,
        "designer_country": chip.designer_country,
        "dense_tops": dict(die.dense_tops) if die else {},
        "dies": chip.die_count,
        "die_area_mm2": die.area_mm2 if die else None,
        "memory_gb": chip.memory_gb,
        "memory_bandwidth_gbps": chip.memory_bandwidth_gbps,
        "tdp_w": chip.tdp_w,
        "reference_tpp": chip.reference_tpp,
        "reported_tpp": chip.reported_tpp,
        "reported_tpp_source": chip.reported_tpp_source,
        "recalled": list(chip.recalled),
        "sources": list(chip.sources),
        "notes": chip.notes,
    }


def equipment_to_dict(tool: Equipment) -> dict[str, Any]:
    return {
        "id": tool.id,
        "name": tool.name,
        "vendor": tool.vendor,
        "category": tool.category,
        "made_in": tool.made_in,
        "us_eccn": tool.us_eccn,
        "parameters": dict(tool.parameters),
        "aliases": list(tool.aliases),
        "recalled": list(tool.recalled),
        "sources": list(tool.sources),
        "notes": tool.notes,
    }


def parse_item(data: Any, catalogue: Catalogue, *, where: str = "item") -> tuple[Item, int]:
    """One item object of the transaction format (``{"chip": ..., "quantity": n}`` etc.)."""
    if not isinstance(data, Mapping):
        raise InputError(f"expected an item object, got {type(data).__name__}", where=where)
    body = dict(data)
    body.setdefault("quantity", 1)
    try:
        item = ItemIn.model_validate(body)
    except ValidationError as error:
        raise validation_error(error, where, ItemIn) from None
    return _item(item, catalogue, where, 0), item.quantity


FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a CSV cell as a formula (OWASP, "CSV injection")."""


def spreadsheet_cell(value: Any) -> Any:
    """A value for a CSV cell: a text that a spreadsheet would run as a formula (a party name, a consignee or
    an actor given as ``=HYPERLINK(...)``) is prefixed with an apostrophe, so it is shown as text. Numbers and
    other texts are unchanged. The JSON and JSON lines exports stay byte-exact (the audit hashes are over them)."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def spreadsheet_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Every cell of a CSV row through ``spreadsheet_cell``."""
    return {key: spreadsheet_cell(value) for key, value in row.items()}
