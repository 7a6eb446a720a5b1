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
