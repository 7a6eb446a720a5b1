"""Where a chip can be, proven by the speed of light.

A reply from a chip's host reaches a landmark no sooner than light could carry it there and back, so a
round trip of ``t`` ms puts the host within ``v * t / 2`` of the landmark, with ``v`` = c (299.792458 km
per ms: a proof) or 2/3 c (light in fibre: "likely"). The host lies in the intersection of those disks
(caps on the sphere), one per landmark, taken at the landmark's *smallest* round trip: queueing and
detours only add delay, never remove it. Hence the asymmetry every verdict respects: delay proves that a
host is *near* a landmark, never that it is *far* from one, so slowness is never evidence of a violation.

Regions are tested against territories exactly where that is cheap (a point in every cap) and otherwise by
splitting longitude/latitude cells until each lies wholly inside or outside a cap, or is smaller than a
tolerance, in which case the answer is "maybe" and a verdict that needs certainty is not given.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tiergate.geo import (
    EARTH_RADIUS_KM,
    HALF_CIRCUMFERENCE_KM,
    Territory,
    great_circle_km,
    shape_of,
)

C_KM_PER_MS = 299.792458
"""The speed of light in vacuum, km per millisecond."""
FIBRE_FACTOR = 2.0 / 3.0
"""Light in optical fibre travels at about 2/3 c (refractive index about 1.47)."""
MAP_MARGIN_KM = 10.0
"""How far a proof's region is widened before a territory is said to lie outside it, for the map's own
precision (Natural Earth 1:50m borders and coasts are simplified by a few km)."""
TOLERANCE_KM = 2.0
"""Cells smaller than this that neither a cap nor a territory decides are left as "maybe"."""
CELL_DEGREES = 2.0


class Verdict(enum.StrEnum):
    ruled_out = "ruled_out"
    consistent = "consistent"
    consistent_unsigned = "consistent_unsigned"
    inconclusive = "inconclusive"
    rejected = "rejected"


class Touch(enum.StrEnum):
    yes = "yes"
    no = "no"
    maybe = "maybe"


@dataclass(frozen=True, slots=True)
class Sample:
    """One round trip between a landmark and the chip's host."""

    landmark: str
    lat: float
    lon: float
    rtt_ms: float
    where: str
    """The sample's place in its input (file and row), for messages."""
    signed: bool | None = None
    """True when the reply was signed with the key bound to the chip; None when no signature was given."""


@dataclass(frozen=True, slots=True)
class Landmark:
    name: str
    lat: float
    lon: float
    min_rtt_ms: float
    samples: int
    signed: bool
    """Whether the fastest reply was signed by the chip's key."""
    where: str
    """The row of the fastest sample."""

    def radius_km(self, speed_km_per_ms: float) -> float:
        return speed_km_per_ms * self.min_rtt_ms / 2.0


@dataclass(frozen=True, slots=True)
class Cap:
    """The disk on the sphere within ``radius_km`` of a landmark."""

    lat: float
    lon: float
    radius_km: float

    def contains(self, lat: float, lon: float) -> bool:
        return great_circle_km(self.lat, self.lon, lat, lon) <= self.radius_km

    def whole_earth(self) -> bool:
        return self.radius_km >= HALF_CIRCUMFERENCE_KM


@dataclass(frozen=True, slots=True)
class Claim:
    """Where the owner says the chip is: a country (ISO alpha-2) or a point."""

    text: str
    country: str | None = None
    point: tuple[float, float] | None = None
    """(lat, lon)."""
    territories: tuple[Territory, ...] = ()

    @property
    def label(self) -> str:
        if self.point is not None:
            return f"the point {self.point[0]:.4f}, {self.point[1]:.4f}"
        return f"{self.territories[0].name if self.territories else self.country} ({self.country})"


@dataclass(slots=True)
class LocationReport:
    claim: Claim
    verdict: Verdict
    landmarks: list[Landmark]
    reasons: list[str]
    as_of: str
    touched: dict[str, list[str]] = field(default_factory=dict)
    """Per speed ("c", "fibre"): the territories the region reaches (or may reach), as 'CC' codes."""
    tier3_touched: dict[str, list[str]] = field(default_factory=dict)
    claim_inside: dict[str, str] = field(default_factory=dict)
    """Per speed: yes, no or maybe."""
    signed: bool = False
    margin_km: float = MAP_MARGIN_KM

    def to_dict(self) -> dict[str, object]:
        return {
            "claim": self.claim.text,
            "claim_kind": "point" if self.claim.point is not None else "country",
            "verdict": self.verdict.value,
            "signed": self.signed,
            "as_of": self.as_of,
            "landmarks": [
                {
                    "landmark": lm.name,
                    "lat": lm.lat,
                    "lon": lm.lon,
                    "min_rtt_ms": lm.min_rtt_ms,
                    "samples": lm.samples,
                    "signed": lm.signed,
                    "radius_km": {
                        "c": round(lm.radius_km(C_KM_PER_MS), 3),
                        "fibre": round(lm.radius_km(C_KM_PER_MS * FIBRE_FACTOR), 3),
                    },
                }
                for lm in self.landmarks
            ],
            "claim_inside": self.claim_inside,
            "region_touches": self.touched,
            "tier3_touched": self.tier3_touched,
            "map_margin_km": self.margin_km,
            "reasons": self.reasons,
        }


def landmarks_of(samples: Iterable[Sample]) -> list[Landmark]:
    """One landmark per name, at its smallest round trip. A landmark given at two places is an error."""
    from tiergate.errors import InputError

    best: dict[str, Sample] = {}
    counts: dict[str, int] = {}
    for sample in samples:
        seen = best.get(sample.landmark)
        if seen is not None and (abs(seen.lat - sample.lat) > 1e-6 or abs(seen.lon - sample.lon) > 1e-6):
            raise InputError(
                f"landmark {sample.landmark!r} is at {sample.lat}, {sample.lon} here but at {seen.lat}, {seen.lon} "
                f"in {seen.where}",
                where=sample.where,
                hint="one landmark, one place: give the other a name of its own",
            )
        counts[sample.landmark] = counts.get(sample.landmark, 0) + 1
        if seen is None or sample.rtt_ms < seen.rtt_ms:
            best[sample.landmark] = sample
    return [
        Landmark(s.landmark, s.lat, s.lon, s.rtt_ms, counts[name], s.signed is True, s.where)
        for name, s in best.items()
    ]


def caps_of(landmarks: Sequence[Landmark], speed_km_per_ms: float, margin_km: float = 0.0) -> list[Cap]:
    return [Cap(lm.lat, lm.lon, lm.radius_km(speed_km_per_ms) + margin_km) for lm in landmarks]


def in_region(lat: float, lon: float, caps: Sequence[Cap]) -> bool:
    return all(cap.contains(lat, lon) for cap in caps)


# ---------------------------------------------------------------- cells


Cell = tuple[float, float, float, float]
"""(west, south, east, north) in degrees, east > west, within -180..180."""


def _cap_boxes(cap: Cap) -> list[Cell]:
    """Longitude/latitude boxes covering a cap (two where it crosses the antimeridian)."""
    if cap.whole_earth():
        return [(-180.0, -90.0, 180.0, 90.0)]
    delta = math.degrees(cap.radius_km / EARTH_RADIUS_KM)
    south, north = cap.lat - delta, cap.lat + delta
    if south <= -90.0 or north >= 90.0:
        return [(-180.0, max(south, -90.0), 180.0, min(north, 90.0))]
    ratio = math.sin(cap.radius_km / EARTH_RADIUS_KM) / math.cos(math.radians(cap.lat))
    if ratio >= 1.0:
        return [(-180.0, south, 180.0, north)]
    half = math.degrees(math.asin(ratio))
    west, east = cap.lon - half, cap.lon + half
    if west < -180.0:
        return [(-180.0, south, east, north), (west + 360.0, south, 180.0, north)]
    if east > 180.0:
        return [(west, south, 180.0, north), (-180.0, south, east - 360.0, north)]
    return [(west, south, east, north)]


def _overlap(a: Cell, b: Cell) -> Cell | None:
    west, south, east, north = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    if west > east or south > north:
        return None
    return (west, south, east, north)


def _search_boxes(caps: Sequence[Cap], bounds: Cell) -> list[Cell]:
    """Boxes that hold every point of ``bounds`` inside every cap: the tightest cap's boxes, clipped."""
    tightest = min(caps, key=lambda cap: cap.radius_km)
    boxes = [b for b in (_overlap(box, bounds) for box in _cap_boxes(tightest)) if b is not None]
    for cap in caps:
        if cap is tightest or cap.whole_earth():
            continue
        clipped = []
        for box in boxes:
            for other in _cap_boxes(cap):
                found = _overlap(box, other)
                if found is not None:
                    clipped.append(found)
        boxes = clipped
    out: list[Cell] = []
    for west, south, east, north in boxes:
        nx = max(1, math.ceil((east - west) / CELL_DEGREES))
        ny = max(1, math.ceil((north - south) / CELL_DEGREES))
        for i in range(nx):
            for j in range(ny):
                out.append(
                    (
                        west + (east - west) * i / nx,
                        south + (north - south) * j / ny,
                        west + (east - west) * (i + 1) / nx,
                        south + (north - south) * (j + 1) / ny,
                    )
                )
    return out


def _cell_circle(cell: Cell) -> tuple[float, float, float]:
    """A circle (lat, lon, radius km) holding the whole cell: its centre and its farthest corner (for a
    longitude/latitude box the farthest point from the centre is a corner)."""
    west, south, east, north = cell
    lat, lon = (south + north) / 2.0, (west + east) / 2.0
    radius = max(great_circle_km(lat, lon, y, x) for x in (west, east) for y in (south, north))
    return lat, lon, radius * 1.000001 + 1e-6


def _split(cell: Cell) -> list[Cell]:
    west, south, east, north = cell
    mx, my = (west + east) / 2.0, (south + north) / 2.0
    return [(west, south, mx, my), (mx, south, east, my), (west, my, mx, north), (mx, my, east, north)]


def touches(territory: Territory | None, caps: Sequence[Cap], tolerance_km: float = TOLERANCE_KM) -> Touch:
    """Whether the region (every cap at once) reaches the territory (or, for None, any point of the Earth).

    ``yes`` is proven by a cell inside every cap that meets the territory (or a point in both); ``no`` by
    every cell being outside a cap or the territory; else ``maybe``."""
    import shapely

    shape = shape_of(territory) if territory is not None else None
    bounds = territory.bounds if territory is not None else (-180.0, -90.0, 180.0, 90.0)
    stack = _search_boxes(caps, bounds)
    undecided = False
    while stack:
        cell = stack.pop()
        lat, lon, rho = _cell_circle(cell)
        inside_all = True
        outside = False
        for cap in caps:
            d = great_circle_km(cap.lat, cap.lon, lat, lon)
            if d - rho > cap.radius_km:
                outside = True
                break
            if d + rho > cap.radius_km:
                inside_all = False
        if outside:
            continue
        if shape is not None:
            box = shapely.box(*cell)
            if not shape.intersects(box):  # type: ignore[attr-defined]
                continue
            if inside_all:
                return Touch.yes
            if shape.contains(shapely.Point(lon, lat)) and in_region(lat, lon, caps):  # type: ignore[attr-defined]
                return Touch.yes
        elif inside_all or in_region(lat, lon, caps):
            return Touch.yes
        if rho < tolerance_km:
            undecided = True
            continue
        stack.extend(_split(cell))
    return Touch.maybe if undecided else Touch.no


def _claim_inside(claim: Claim, caps: Sequence[Cap]) -> Touch:
    if claim.point is not None:
        return Touch.yes if in_region(claim.point[0], claim.point[1], caps) else Touch.no
    found = [touches(t, caps) for t in claim.territories]
    if Touch.yes in found:
        return Touch.yes
    return Touch.maybe if Touch.maybe in found else Touch.no


def _reached(territories: Sequence[Territory], caps: Sequence[Cap]) -> list[str]:
    """The codes of the territories the region reaches or may reach ('CC?' for may), in map order."""
    out: list[str] = []
    for territory in territories:
        if territory.code is None:
            continue
        found = touches(territory, caps)
        label = territory.code if found is Touch.yes else f"{territory.code}?" if found is Touch.maybe else None
        if label is not None and label not in out and territory.code not in out:
            out.append(label)
    return out


def locate(
    claim: Claim,
    samples: Sequence[Sample],
    world: Sequence[Territory],
    tier3: frozenset[str],
    *,
    as_of: str,
    tier3_basis: str = "Tier 3 (Country Group D:5 and Macau)",
    margin_km: float = MAP_MARGIN_KM,
) -> LocationReport:
    """The verdict on a location claim from round-trip samples (see the module's docstring)."""
    from tiergate.errors import InputError

    if not samples:
        raise InputError("no round-trip samples", hint="give at least one row: landmark, lat, lon, rtt_ms")
    marks = landmarks_of(samples)
    signed = all(lm.signed for lm in marks)
    report = LocationReport(claim, Verdict.inconclusive, marks, [], as_of, signed=signed, margin_km=margin_km)
    reasons = report.reasons
    for lm in marks:
        reasons.append(
            f"{lm.name}: fastest of {lm.samples} round trip(s) {lm.min_rtt_ms:g} ms, so the host is within "
            f"{lm.radius_km(C_KM_PER_MS):,.1f} km at the speed of light (proof) and within "
            f"{lm.radius_km(C_KM_PER_MS * FIBRE_FACTOR):,.1f} km at fibre speed (likely) [{lm.where}]."
        )
    exact_c = caps_of(marks, C_KM_PER_MS)
    wide_c = caps_of(marks, C_KM_PER_MS, margin_km)
    fibre = caps_of(marks, C_KM_PER_MS * FIBRE_FACTOR)
    wide_fibre = caps_of(marks, C_KM_PER_MS * FIBRE_FACTOR, margin_km)
    candidates = [t for t in world if t.code is not None]
    report.touched = {"c": _reached(candidates, exact_c), "fibre": _reached(candidates, fibre)}
    tier3_shapes = [t for t in candidates if t.code in tier3]
    report.tier3_touched = {
        "c": [c for c in _reached(tier3_shapes, wide_c)],
        "fibre": [c for c in _reached(tier3_shapes, wide_fibre)],
    }
    # For a point the claim is tested exactly; for a country, "outside" needs the widened region to miss it.
    inside_c = _claim_inside(claim, exact_c)
    if claim.point is None and inside_c is not Touch.yes:
        inside_c = _claim_inside(claim, wide_c)
        if inside_c is Touch.yes:
            inside_c = Touch.maybe  # only within the map's margin
    report.claim_inside = {"c": inside_c.value, "fibre": _claim_inside(claim, fibre).value}

    if inside_c is Touch.no:
        if touches(None, exact_c) is Touch.no:
            reasons.append(
                "No point on Earth is within reach of every landmark at the speed of light: the measurements "
                "contradict each other (check the landmarks' coordinates), so they prove nothing."
            )
            report.verdict = Verdict.inconclusive
            return report
        far = [lm for lm in marks if _misses(lm, claim, margin_km)]
        named = "; ".join(f"{lm.name} ({lm.min_rtt_ms:g} ms reaches {lm.radius_km(C_KM_PER_MS):,.0f} km)" for lm in far)
        reasons.append(
            f"Ruled out: {claim.label} lies outside the region the speed of light allows"
            + (f": {named}" if named else " (no point of the claim is within reach of every landmark at once)")
            + "."
        )
        if not signed:
            reasons.append(
                "The replies were not signed by a key bound to the chip: this proves where the "
                "responder was, which the owner's own measurement says is not the claimed place."
            )
        report.verdict = Verdict.ruled_out
        return report
    if inside_c is Touch.maybe:
        reasons.append(
            f"Inconclusive: {claim.label} is reached only within the map's precision ({margin_km:g} km); "
            "add a landmark nearer the claim."
        )
        return report
    reasons.append(f"{claim.label} lies inside the region the speed of light allows.")
    reached = report.tier3_touched["c"]
    if reached:
        reasons.append(
            f"Inconclusive: the region also reaches {tier3_basis} territory ({', '.join(reached)}), so "
            "'not in Tier 3' is not proven. Delay can be added but never removed: a slower reply is never "
            "evidence of a violation; add a landmark nearer the claim."
        )
        return report
    reasons.append(
        f"No territory of {tier3_basis} lies within the region (widened by {margin_km:g} km for the map): "
        "the host is proven not to be in Tier 3."
    )
    if report.tier3_touched["fibre"] or report.claim_inside["fibre"] != Touch.yes.value:
        reasons.append("At fibre speed (likely, not a proof) the picture differs; see claim_inside and tier3_touched.")
    if signed:
        report.verdict = Verdict.consistent
    else:
        reasons.append(
            "The replies were not signed with a key bound to the chip's serial: a relay near a landmark could "
            "answer for a chip elsewhere, so this is at most consistent (unsigned)."
        )
        report.verdict = Verdict.consistent_unsigned
    return report


def _misses(landmark: Landmark, claim: Claim, margin_km: float) -> bool:
    if claim.point is not None:
        return not Cap(landmark.lat, landmark.lon, landmark.radius_km(C_KM_PER_MS)).contains(*claim.point)
    cap = [Cap(landmark.lat, landmark.lon, landmark.radius_km(C_KM_PER_MS) + margin_km)]
    return all(touches(t, cap) is Touch.no for t in claim.territories)
