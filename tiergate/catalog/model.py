"""The accelerator data model: a chip as a package of dies with dense throughput."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

PRECISIONS: tuple[str, ...] = ("fp64", "tf32", "fp32", "fp16", "bf16", "fp8", "int8", "fp4", "int4")
"""Keys of ``dense_tops``: dense (not sparse) peak tera-operations per second."""


@dataclass(frozen=True, slots=True)
class Die:
    """One die of a package. ``logic`` and ``non_planar`` decide whether its area is
    part of the "applicable die area" of the performance-density test."""

    area_mm2: float | None
    dense_tops: tuple[tuple[str, float], ...]
    logic: bool = True
    non_planar: bool = True


@dataclass(frozen=True, slots=True)
class PriceRange:
    """An indicative price range in US dollars for one unit of a catalogue chip, with where it comes from.

    ``basis`` says what was priced (for example "per accelerator, in servers" or "list price");
    ``source`` names the public page the figures come from; ``as_of`` is the date of that figure.
    Prices are for impact estimates only, never for a legal determination."""

    low: float
    high: float
    basis: str
    source: str
    as_of: str


@dataclass(frozen=True, slots=True)
class Chip:
    """An accelerator (or an HBM stack when ``kind == "hbm"``), from the catalogue or a spec.

    Throughput is kept per die; a catalogue entry with N identical dies is one die
    record carrying the package totals and ``die_count`` N, so that the package
    arithmetic reproduces the published per-package figures exactly.
    """

    id: str | None
    name: str
    dies: tuple[Die, ...]
    datacenter: bool | None
    memory_bandwidth_gbps: float | None = None
    package_area_mm2: float | None = None
    kind: str = "accelerator"
    vendor: str | None = None
    designer_country: str | None = None
    die_count: int | None = None
    year: int | None = None
    memory_gb: float | None = None
    tdp_w: float | None = None
    aliases: tuple[str, ...] = ()
    reference_tpp: float | None = None
    reported_tpp: float | None = None
    reported_tpp_source: str | None = None
    recalled: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    notes: str = ""
    affixed_to_logic: bool = False
    price_usd: PriceRange | None = None
    """An indicative price range with its source; ``None`` where no public source was found."""
    released: dt.date | None = None
    """The date the chip was released (from ``released_source``); thresholds over the catalogue's frontier
    (``frontier_tpp``) count the chip from this date. ``None``: counted at every date."""
    released_source: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.id else self.name


EQUIPMENT_CATEGORIES: tuple[str, ...] = (
    "lithography.euv",
    "lithography.immersion_duv",
    "lithography.dry_duv",
    "coater_developer.euv",
    "deposition.ald",
    "deposition.epitaxy",
    "deposition.cvd",
    "deposition.low_k",
    "etch.dry",
    "cleaning.wet",
    "annealing",
    "inspection.wafer_defect",
    "inspection.euv_mask",
    "inspection.sem",
    "metrology.overlay",
    "euv_pellicle",
    "pellicle_production",
    "mask_reticle",
    "quantum_computer",
    "cryocooler",
    "additive_manufacturing",
    "other",
)
"""Kinds of semiconductor-manufacturing equipment (and the other items the allied packs name) that the
packs select by. ``other`` is a tool of no category the packs name."""


@dataclass(frozen=True, slots=True)
class Equipment:
    """A semiconductor-manufacturing tool (or another non-chip item of the allied lists), from the equipment
    catalogue or a spec: its category, where it is made, its US ECCN as published or recalled, and the
    parameters that the packs test (e.g. ``wavelength_nm``, ``numerical_aperture``, ``dco_overlay_nm``)."""

    id: str | None
    name: str
    category: str
    made_in: str | None = None
    """Where the tool is made (ISO 3166-1 alpha-2): its origin when the transaction does not say."""
    us_eccn: str | None = None
    """The tool's ECCN on the US Commerce Control List, when known (``None``: not established)."""
    parameters: tuple[tuple[str, float | bool], ...] = ()
    vendor: str | None = None
    year: int | None = None
    aliases: tuple[str, ...] = ()
    recalled: tuple[str, ...] = ()
    """Fields whose value is recalled (unverified): confirm before relying on an answer that turns on them."""
    sources: tuple[str, ...] = ()
    notes: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.id else self.name

    def parameter(self, name: str) -> float | bool | None:
        for key, value in self.parameters:
            if key == name:
                return value
        return None
