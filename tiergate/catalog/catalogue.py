"""Lookup of chips by id or alias, and loading of the packaged catalogue file."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from tiergate.catalog.model import PRECISIONS, Chip, Die, PriceRange
from tiergate.errors import CatalogueError, UnknownChipError

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _key(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


class Catalogue:
    """An immutable set of chips, found by id, alias or full name (case and punctuation ignored)."""

    def __init__(self, chips: list[Chip], source: str = "") -> None:
        self.source = source
        self._chips: dict[str, Chip] = {}
        self._index: dict[str, str] = {}
        for chip in chips:
            assert chip.id is not None
            if chip.id in self._chips:
                raise CatalogueError(f"duplicate chip id {chip.id!r}", where=source)
            self._chips[chip.id] = chip
        for chip in chips:
            assert chip.id is not None
            for name in (chip.id, chip.name, *chip.aliases):
                key = _key(name)
                owner = self._index.get(key)
                if owner is not None and owner != chip.id:
                    raise CatalogueError(f"alias {name!r} of {chip.id!r} already names {owner!r}", where=source)
                self._index[key] = chip.id

    def __iter__(self) -> Iterator[Chip]:
        return iter(self._chips.values())

    def __len__(self) -> int:
        return len(self._chips)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._index

    def get(self, name: str) -> Chip | None:
        chip_id = self._index.get(_key(name))
        return self._chips[chip_id] if chip_id is not None else None

    def resolve(self, name: str, *, where: str | None = None) -> Chip:
        """The chip with this id, alias or name; else :class:`UnknownChipError` with the nearest ids."""
        chip = self.get(name)
        if chip is None:
            raise UnknownChipError(name, self.suggest(name), where=where)
        return chip

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """The catalogue ids whose id, name or aliases are nearest to ``name``."""
        choices = {key: chip_id for key, chip_id in self._index.items()}
        found = process.extract(_key(name), list(choices), scorer=fuzz.WRatio, limit=limit * 4)
        ids: list[str] = []
        for key, score, _ in found:
            chip_id = choices[key]
            if score >= 50 and chip_id not in ids:
                ids.append(chip_id)
        return ids[:limit]


def _num(entry: Mapping[str, Any], field: str, where: str) -> float | None:
    value = entry.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise CatalogueError(f"{field} must be a non-negative number, got {value!r}", where=where)
    return float(value)


def _price(entry: Mapping[str, Any], where: str) -> PriceRange | None:
    """The ``price_usd`` range of an entry: low <= high, both positive, with basis, source and date."""
    value = entry.get("price_usd")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CatalogueError("price_usd must be a mapping {low, high, basis, source, as_of}", where=where)
    unknown = sorted(set(value) - {"low", "high", "basis", "source", "as_of"})
    if unknown:
        raise CatalogueError(
            f"price_usd.{unknown[0]}: unknown field", where=where, hint="use low, high, basis, source, as_of"
        )
    bounds = []
    for name in ("low", "high"):
        number = value.get(name)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not number > 0 or number == float("inf"):
            raise CatalogueError(
                f"price_usd.{name} must be a positive number of US dollars, got {number!r}", where=where
            )
        bounds.append(float(number))
    if bounds[0] > bounds[1]:
        raise CatalogueError(f"price_usd: low {bounds[0]:g} is above high {bounds[1]:g}", where=where)
    texts = []
    for name in ("basis", "source", "as_of"):
        text = value.get(name)
        if isinstance(text, dt.date):  # YAML reads an unquoted as_of as a date
            text = text.isoformat()
        if not isinstance(text, str) or not text.strip():
            raise CatalogueError(
                f"price_usd.{name} must be given",
                where=where,
                hint="every price range says what it prices, where from and when",
            )
        texts.append(text.strip())
    return PriceRange(bounds[0], bounds[1], texts[0], texts[1], texts[2])


def _released(entry: Mapping[str, Any], where: str) -> dt.date | None:
    value = entry.get("released")
    if value is None:
        if entry.get("released_source"):
            raise CatalogueError("released_source is given without released", where=where)
        return None
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise CatalogueError(f"released: {value!r} is not a date (YYYY-MM-DD)", where=where) from None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise CatalogueError(f"released: {value!r} is not a date (YYYY-MM-DD)", where=where)
    if not entry.get("released_source"):
        raise CatalogueError("released needs released_source (where the date comes from)", where=where)
    return value


def chip_from_entry(entry: Mapping[str, Any], where: str) -> Chip:
    """Build a catalogue chip from one entry of ``accelerators.yaml``."""
    try:
        chip_id = str(entry["id"])
        name = str(entry["name"])
    except KeyError as missing:
        raise CatalogueError(f"entry lacks field {missing}", where=where) from None
    here = f"{where} ({chip_id})"
    dense = entry.get("dense_tops") or {}
    if not isinstance(dense, dict):
        raise CatalogueError("dense_tops must be a mapping of precision to TOPS", where=here)
    rates: list[tuple[str, float]] = []
    for precision, _rate in dense.items():
        if precision not in PRECISIONS:
            raise CatalogueError(
                f"dense_tops.{precision}: unknown precision", where=here, hint=f"use one of {', '.join(PRECISIONS)}"
            )
        value = _num(dense, precision, here)
        assert value is not None
        rates.append((precision, value))
    dies = entry.get("dies")
    if dies is not None and (not isinstance(dies, int) or dies < 1):
        raise CatalogueError(f"dies must be a positive whole number, got {dies!r}", where=here)
    datacenter = entry.get("datacenter")
    if datacenter is not None and not isinstance(datacenter, bool):
        raise CatalogueError("datacenter must be true, false or null", where=here)
    package = Die(area_mm2=_num(entry, "die_area_mm2", here), dense_tops=tuple(rates))
    return Chip(
        id=chip_id,
        name=name,
        dies=(package,),
        datacenter=datacenter,
        memory_bandwidth_gbps=_num(entry, "memory_bandwidth_gbps", here),
        vendor=entry.get("vendor"),
        designer_country=entry.get("designer_country"),
        die_count=dies,
        year=entry.get("year"),
        memory_gb=_num(entry, "memory_gb", here),
        tdp_w=_num(entry, "tdp_w", here),
        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        reference_tpp=_num(entry, "reference_tpp", here),
        reported_tpp=_num(entry, "reported_tpp", here),
        reported_tpp_source=entry.get("reported_tpp_source"),
        recalled=tuple(str(r) for r in entry.get("recalled") or ()),
        sources=tuple(str(s) for s in entry.get("sources") or ()),
        notes=str(entry.get("notes") or ""),
        price_usd=_price(entry, here),
        released=_released(entry, here),
        released_source=str(entry["released_source"]) if entry.get("released_source") else None,
    )


def parse_catalogue(text: str, source: str) -> Catalogue:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CatalogueError(f"not valid YAML: {error}", where=source) from None
    if not isinstance(data, dict) or not isinstance(data.get("accelerators"), list):
        raise CatalogueError("expected a mapping with a list `accelerators`", where=source)
    chips = [chip_from_entry(entry, f"{source}: accelerators[{i}]") for i, entry in enumerate(data["accelerators"])]
    return Catalogue(chips, source=source)


@lru_cache(maxsize=4)
def _load(path: str | None) -> Catalogue:
    if path is None:
        ref = resources.files("tiergate.catalog").joinpath("accelerators.yaml")
        return parse_catalogue(ref.read_text(encoding="utf-8"), "tiergate/catalog/accelerators.yaml")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogueError(f"cannot read catalogue: {error.strerror}", where=str(file)) from None
    return parse_catalogue(text, str(file))


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The packaged catalogue, or the one in ``path``."""
    return _load(None if path is None else str(path))
