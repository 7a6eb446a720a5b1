"""The world's countries as polygons, and distances on the Earth.

Country shapes come from world-atlas 2.0.2 (Natural Earth 4.1.0 as TopoJSON, ISC licence; the data is
Natural Earth's, in the public domain), vendored in ``data/``: ``countries-50m.json`` (1:50 million, which
has Singapore, Hong Kong and Macau) here, and the 1:110 million map that the dashboard draws in
``tiergate/web/map``. Ids are ISO 3166-1 numeric codes; the few shapes without one are named below.

Rings that cross the antimeridian are cut there, so that every polygon lies in longitudes -180..180 and
planar tests in longitude/latitude are right; Antarctica's ring around the pole is closed along it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson

EARTH_RADIUS_KM = 6371.0088
"""The mean radius of the Earth (IUGG), used by every great-circle distance here."""
HALF_CIRCUMFERENCE_KM = math.pi * EARTH_RADIUS_KM

DATA = Path(__file__).resolve().parent / "data"
WORLD_50M = DATA / "countries-50m.json"

_UNCODED = {
    # Natural Earth shapes without an ISO numeric id, and the territory ISO 3166 counts them in.
    "Somaliland": ("SO", "Somaliland (Somalia)"),
    "N. Cyprus": ("CY", "Northern Cyprus (Cyprus)"),
    "Indian Ocean Ter.": ("AU", "Christmas Island and Cocos Islands (Australia)"),
    "Kosovo": ("XK", "Kosovo"),
    "Siachen Glacier": (None, "Siachen Glacier (disputed)"),
}

Point = tuple[float, float]
"""(longitude, latitude) in degrees."""


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The distance along the Earth's surface between two points (haversine, mean radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def circle_points(lat: float, lon: float, radius_km: float, steps: int = 180) -> list[Point]:
    """Points of the circle of ``radius_km`` around a point, as (lon, lat), longitudes in -180..180."""
    angle = min(radius_km, HALF_CIRCUMFERENCE_KM) / EARTH_RADIUS_KM
    p, lam = math.radians(lat), math.radians(lon)
    out: list[Point] = []
    for step in range(steps + 1):
        bearing = 2 * math.pi * step / steps
        q = math.asin(math.sin(p) * math.cos(angle) + math.cos(p) * math.sin(angle) * math.cos(bearing))
        mu = lam + math.atan2(
            math.sin(bearing) * math.sin(angle) * math.cos(p), math.cos(angle) - math.sin(p) * math.sin(q)
        )
        out.append(((math.degrees(mu) + 540.0) % 360.0 - 180.0, math.degrees(q)))
    return out


def decode_arcs(topology: dict[str, object]) -> list[list[Point]]:
    """The arcs of a quantised TopoJSON topology, as (lon, lat) points."""
    transform = topology["transform"]
    assert isinstance(transform, dict)
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs = topology["arcs"]
    assert isinstance(arcs, list)
    decoded = []
    for arc in arcs:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def ring_points(arcs: Sequence[Sequence[Point]], indexes: Iterable[int]) -> list[Point]:
    """The points of a TopoJSON ring: its arcs joined, a negative index meaning the arc reversed."""
    points: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else list(arcs[~index])[::-1]
        points.extend(arc[1:] if points else arc)
    return points


@dataclass(frozen=True, slots=True)
class Territory:
    """One country (or territory) of the map: its ISO alpha-2 code, name and shape."""

    code: str | None
    name: str
    polygons: tuple[tuple[Point, ...], ...]
    """Outer rings and holes, each in longitudes -180..180 (cut at the antimeridian)."""
    holes: tuple[int, ...]
    """Indexes into ``polygons`` of the rings that are holes."""
    bounds: tuple[float, float, float, float]
    """(min lon, min lat, max lon, max lat)."""


def _unwrap(points: Sequence[Point]) -> list[Point]:
    """A ring with continuous longitudes (a crossing of the antimeridian becomes lon > 180 or < -180)."""
    out: list[Point] = [points[0]]
    shift = 0.0
    for (lon0, _), (lon1, lat1) in itertools.pairwise(points):
        if lon1 - lon0 > 180:
            shift -= 360.0
        elif lon0 - lon1 > 180:
            shift += 360.0
        out.append((lon1 + shift, lat1))
    return out


def _cut_at_antimeridian(points: Sequence[Point]) -> list[list[Point]]:
    """A ring as one or more rings inside longitudes -180..180, using shapely for the clipping."""
    import shapely

    ring = _unwrap(points)
    if all(-180.0 <= lon <= 180.0 for lon, _ in ring):
        return [list(points)]
    drift = ring[-1][0] - ring[0][0]
    if abs(drift) > 180:  # a ring around a pole (Antarctica): close it along the pole
        pole = -90.0 if sum(lat for _, lat in ring) < 0 else 90.0
        ring = [*ring, (ring[-1][0], pole), (ring[0][0], pole)]
    shape = shapely.make_valid(shapely.Polygon(ring))
    pieces: list[list[Point]] = []
    for offset in (-360.0, 0.0, 360.0):
        window = shapely.box(-180.0 + offset, -90.0, 180.0 + offset, 90.0)
        part = shape.intersection(window)
        for polygon in getattr(part, "geoms", [part]):
            if isinstance(polygon, shapely.Polygon) and not polygon.is_empty:
                pieces.append([(lon - offset, lat) for lon, lat in polygon.exterior.coords])
    return pieces


@lru_cache(maxsize=2)
def world(path: Path = WORLD_50M) -> tuple[Territory, ...]:
    """Every territory of the map, with its ISO alpha-2 code where it has one."""
    import pycountry

    topology = orjson.loads(path.read_bytes())
    arcs = decode_arcs(topology)
    found: list[Territory] = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry.get("properties", {}).get("name", "")
        numeric = geometry.get("id")
        country = pycountry.countries.get(numeric=numeric) if numeric else None
        if country is not None:
            code: str | None = country.alpha_2
            label = getattr(country, "common_name", None) or country.name
        elif name in _UNCODED:
            code, label = _UNCODED[name]
        else:
            continue
        rings: list[tuple[Point, ...]] = []
        holes: list[int] = []
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            for position, ring in enumerate(polygon):
                for piece in _cut_at_antimeridian(ring_points(arcs, ring)):
                    if position:
                        holes.append(len(rings))
                    rings.append(tuple(piece))
        lons = [lon for ring in rings for lon, _ in ring]
        lats = [lat for ring in rings for _, lat in ring]
        found.append(Territory(code, label, tuple(rings), tuple(holes), (min(lons), min(lats), max(lons), max(lats))))
    return tuple(found)


def territories_of(code: str, path: Path = WORLD_50M) -> list[Territory]:
    """The map's shapes for one ISO alpha-2 code (a country and, e.g., the parts Natural Earth draws apart)."""
    return [t for t in world(path) if t.code == code]


_SHAPES: dict[tuple[str | None, str], object] = {}


def shape_of(territory: Territory) -> object:
    """The territory as one prepared shapely geometry (outer rings minus holes), built once."""
    import shapely

    key = (territory.code, territory.name)
    found = _SHAPES.get(key)
    if found is None:
        outers = [shapely.Polygon(r) for i, r in enumerate(territory.polygons) if i not in territory.holes]
        holes = [shapely.make_valid(shapely.Polygon(territory.polygons[i])) for i in territory.holes]
        geometry = shapely.union_all([shapely.make_valid(p) for p in outers])
        if holes:
            geometry = shapely.make_valid(geometry.difference(shapely.union_all(holes)))
        shapely.prepare(geometry)
        found = _SHAPES[key] = geometry
    return found
