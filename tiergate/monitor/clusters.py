"""The cluster registry: Epoch AI's GPU clusters, with installed TPP and H100-equivalents per country and
per tier (or country group) under a regime.

TPP per cluster = quantity x the catalogue TPP of its primary (and secondary) chip, when the chip maps to
the catalogue (``epoch.resolve_epoch``); otherwise Epoch's own H100-equivalents x the H100's TPP, marked as
such. H100-equivalents = TPP / TPP(H100 SXM).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tiergate.catalog import Catalogue
from tiergate.classify.metrics import tpp
from tiergate.errors import InputError
from tiergate.monitor.epoch import resolve_epoch
from tiergate.rules import Ruleset

_COUNTRY_NAMES = {
    "Russia": "RU",
    "Taiwan": "TW",
    "Korea (Republic of)": "KR",
    "United Kingdom of Great Britain and Northern Ireland": "GB",
    "United States of America": "US",
    "Philippines (the)": "PH",
    "Hong Kong": "HK",
    "Vietnam": "VN",
    "Czechia": "CZ",
    "Iran": "IR",
}
STATUSES = ("existing", "planned", "decommissioned", "all")


@dataclass(slots=True)
class Row:
    name: str
    country: str | None
    tier: str
    chips: float
    tpp: float
    h100e: float
    epoch_h100e: float | None
    basis: str
    status: str


@dataclass(slots=True)
class Registry:
    regime: str
    day: dt.date
    rows: list[Row]
    by_country: list[dict[str, Any]]
    by_tier: list[dict[str, Any]]
    unmapped: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    source: str = ""


def country_code(name: str) -> str | None:
    name = name.strip()
    if not name:
        return None
    if name in _COUNTRY_NAMES:
        return _COUNTRY_NAMES[name]
    import pycountry

    try:
        return str(pycountry.countries.lookup(name).alpha_2)
    except LookupError:
        return None


def tier_of(code: str | None, ruleset: Ruleset, day: dt.date) -> str:
    """The regime's tier of a country (tier1/tier2/tier3 when the regime has tiers; else the country group
    that decides licensing: d5-macau, D:1/D:4, or other)."""
    if code is None:
        return "unknown"
    groups = ruleset.memberships(code, day)
    for tier in ("tier1", "tier3", "tier2"):
        if tier in ruleset.groups and tier in groups:
            return tier
    if "d5-macau" in groups:
        return "d5-macau"
    if "D:1" in groups or "D:4" in groups:
        return "D:1/D:4"
    return "other"


def _float(value: str) -> float | None:
    try:
        return float(value) if value.strip() else None
    except ValueError:
        return None


def bundled_clusters() -> str:
    return str(resources.files("tiergate.monitor").joinpath("data/epoch_gpu_clusters.csv"))


def load_registry(
    ruleset: Ruleset,
    catalogue: Catalogue,
    day: dt.date,
    path: Path | None = None,
    *,
    status: str = "existing",
    include_duplicates: bool = False,
) -> Registry:
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}", hint=f"use one of {', '.join(STATUSES)}")
    source = str(path) if path is not None else bundled_clusters()
    try:
        handle = open(source, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", where=source) from None
    with handle:
        reader = csv.DictReader(handle)
        needed = ("Name", "Status", "Country", "Chip type (primary)", "Chip quantity (primary)", "H100 equivalents")
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}",
                where=f"{source}:1",
                hint="expected Epoch AI's GPU clusters CSV",
            )
        records = list(reader)
    h100 = catalogue.get("nvidia-h100-sxm")
    h100_tpp = tpp(h100, ruleset.bit_lengths).value if h100 is not None else None
    if not h100_tpp:
        raise InputError("the catalogue has no H100 SXM TPP to express H100-equivalents")
    rows: list[Row] = []
    unmapped: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for record in records:
        row_status = record["Status"].strip().lower()
        if status != "all" and row_status != status:
            skipped[f"status {row_status}"] += 1
            continue
        if not include_duplicates and record.get("Possible Duplicate", "").strip().lower() == "true":
            skipped["possible duplicate"] += 1
            continue
        total = 0.0
        chips = 0.0
        parts: list[str] = []
        mapped_all = True
        for type_col, qty_col in (
            ("Chip type (primary)", "Chip quantity (primary)"),
            ("Chip type (secondary)", "Chip quantity (secondary)"),
        ):
            name = (record.get(type_col) or "").strip()
            qty = _float(record.get(qty_col) or "")
            if not name:
                continue
            chip = resolve_epoch(name.split(",")[0], catalogue)
            value = tpp(chip, ruleset.bit_lengths).value if chip is not None else None
            if chip is None or value is None or qty is None:
                mapped_all = False
                unmapped[name] += 1
                continue
            total += qty * value
            chips += qty
            parts.append(f"{qty:g} x {chip.id}")
        epoch_h100e = _float(record.get("H100 equivalents") or "")
        if parts and mapped_all:
            basis = "catalogue TPP: " + " + ".join(parts)
        elif epoch_h100e is not None:
            total = epoch_h100e * h100_tpp
            basis = "Epoch H100-equivalents x TPP(H100)" + (
                " (chip not in the catalogue)" if parts or not mapped_all else ""
            )
        else:
            skipped["no chips or H100-equivalents"] += 1
            continue
        code = country_code(record["Country"])
        rows.append(
            Row(
                record["Name"],
                code,
                tier_of(code, ruleset, day),
                chips,
                total,
                total / h100_tpp,
                epoch_h100e,
                basis,
                row_status,
            )
        )
    by_country: dict[str, dict[str, Any]] = {}
    by_tier: dict[str, dict[str, Any]] = {}
    for r in rows:
        for key, bucket, extra in ((r.country or "unknown", by_country, {"tier": r.tier}), (r.tier, by_tier, {})):
            entry = bucket.setdefault(
                key, {"key": key, **extra, "clusters": 0, "tpp": 0.0, "h100e": 0.0, "epoch_h100e": 0.0}
            )
            entry["clusters"] += 1
            entry["tpp"] += r.tpp
            entry["h100e"] += r.h100e
            entry["epoch_h100e"] += r.epoch_h100e or 0.0
    return Registry(
        regime=ruleset.regime,
        day=day,
        rows=rows,
        by_country=sorted(by_country.values(), key=lambda e: -e["tpp"]),
        by_tier=sorted(by_tier.values(), key=lambda e: -e["tpp"]),
        unmapped=dict(unmapped.most_common()),
        skipped=dict(skipped),
        source=source,
    )
