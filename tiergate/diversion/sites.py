"""Documented data-centre capacity from Epoch AI's GPU clusters (the copy bundled with ``tiergate.monitor``): a
party with no ``site_mw`` of its own whose name contains an operator's name, in that operator's country, is
credited with the operator's existing clusters there (their power, else H100-equivalents x 1.05 kW). Planned
clusters are not capacity. Epoch AI data are CC BY 4.0 (credit Epoch AI)."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

EPOCH_FILE = Path(__file__).resolve().parent.parent / "monitor" / "data" / "epoch_gpu_clusters.csv"
KW_PER_H100E = 1.05


@dataclass(frozen=True, slots=True)
class Site:
    owner: str
    country: str
    mw: float
    clusters: tuple[str, ...]


def _key(name: str) -> frozenset[str]:
    from tiergate.screen.normalize import UnscreenableName, name_form

    try:
        return frozenset(name_form(name).folds)
    except UnscreenableName:
        return frozenset()


@functools.cache
def documented_sites() -> tuple[tuple[frozenset[str], Site], ...]:
    import pycountry

    found: dict[tuple[str, str], list[tuple[float, str]]] = {}
    with EPOCH_FILE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if (row.get("Status") or "").strip().lower() != "existing":
                continue
            try:
                code = pycountry.countries.lookup((row.get("Country") or "").strip()).alpha_2
            except LookupError:
                continue
            mw_text, h100e_text = (
                (row.get("Power Capacity (MW)") or "").strip(),
                (row.get("H100 equivalents") or "").strip(),
            )
            try:
                mw = float(mw_text) if mw_text else float(h100e_text) * KW_PER_H100E / 1000.0 if h100e_text else 0.0
            except ValueError:
                continue
            for owner in (row.get("Owner") or "").split(","):
                if owner.strip() and mw > 0:
                    found.setdefault((owner.strip(), code), []).append((mw, row.get("Name") or ""))
    out = []
    for (owner, code), rows in sorted(found.items()):
        key = _key(owner)
        if key:
            out.append((key, Site(owner, code, sum(m for m, _ in rows), tuple(n for _, n in rows))))
    return tuple(out)


@functools.cache
def _sites_in(country: str) -> tuple[tuple[frozenset[str], Site], ...]:
    return tuple((key, site) for key, site in documented_sites() if site.country == country)


def site_of(name: str | None, country: str | None) -> Site | None:
    """The documented site of the operator whose name the party's name contains, in the party's country."""
    if not name or not country:
        return None
    sites = _sites_in(country)
    if not sites:  # most countries have no documented site: the name is not normalised at all
        return None
    key = _key(name)
    best = None
    for owner_key, site in sites:
        if owner_key <= key and (best is None or site.mw > best.mw):
            best = site
    return best
