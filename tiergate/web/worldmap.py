"""A world map as server-side SVG: country shapes from world-atlas (Natural Earth 1:110m, TopoJSON,
vendored under ``map/`` with its ISC licence), decoded here and drawn in an equirectangular projection."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

from tiergate.geo import decode_arcs, ring_points

MAP_FILE = Path(__file__).resolve().parent / "map" / "countries-110m.json"
WIDTH = 960.0
HEIGHT = 480.0


@dataclass(frozen=True, slots=True)
class CountryShape:
    code: str
    """ISO 3166-1 alpha-2 code."""
    name: str
    path: str
    """SVG path data."""


def _project(lon: float, lat: float) -> tuple[float, float]:
    return (lon + 180.0) * WIDTH / 360.0, (90.0 - lat) * HEIGHT / 180.0


Ring = list[tuple[float, float]]


def _unwrapped(ring: Ring) -> Ring:
    """The ring with its longitudes made continuous: a step of more than 180° is a crossing of the antimeridian,
    and the points after it are shifted by 360° (so Chukotka continues east of 180° rather than jumping west)."""
    out = [ring[0]]
    shift = 0.0
    for lon, lat in ring[1:]:
        step = lon + shift - out[-1][0]
        if step > 180.0:
            shift -= 360.0
        elif step < -180.0:
            shift += 360.0
        out.append((lon + shift, lat))
    return out


def _clip(ring: Ring, west: float, east: float) -> Ring:
    """Sutherland-Hodgman: the part of the ring between the meridians ``west`` and ``east``."""
    for edge, sign in ((west, 1.0), (east, -1.0)):  # inside: sign * (lon - edge) >= 0
        clipped: Ring = []
        for index, (lon, lat) in enumerate(ring):
            prev_lon, prev_lat = ring[index - 1]
            inside, was_inside = sign * (lon - edge) >= 0, sign * (prev_lon - edge) >= 0
            if inside != was_inside:
                t = (edge - prev_lon) / (lon - prev_lon)
                clipped.append((edge, prev_lat + t * (lat - prev_lat)))
            if inside:
                clipped.append((lon, lat))
        ring = clipped
    return ring


def antimeridian_pieces(ring: Ring) -> list[Ring]:
    """The ring cut at the antimeridian into closed rings within -180..180° (the ring itself when it does not
    cross it). A ring around a pole (Antarctica) is closed along the pole and cut at 0° as well, so no piece
    spans more than 180° of longitude."""
    if len(ring) < 3 or all(abs(a[0] - b[0]) <= 180.0 for a, b in pairwise(ring)):
        return [ring]
    line = _unwrapped(ring)
    width = 360.0
    if abs(line[-1][0] - line[0][0]) > 180.0:  # it goes round a pole: close it along the pole
        pole = -90.0 if sum(lat for _, lat in line) < 0 else 90.0
        line = [*line, (line[-1][0], pole), (line[0][0], pole)]
        width = 180.0
    west = min(lon for lon, _ in line)
    east = max(lon for lon, _ in line)
    pieces = []
    band = math.floor((west + 180.0) / width) * width - 180.0
    while band < east:
        shift = -360.0 * math.floor((band + 180.0) / 360.0)
        piece = _clip(line, band, band + width)
        if len(piece) >= 3:
            pieces.append([(lon + shift, lat) for lon, lat in piece])
        band += width
    return pieces


def _ring_path(points: Ring) -> str:
    parts = []
    for index, (lon, lat) in enumerate(points):
        x, y = _project(lon, lat)
        parts.append(f"{'M' if index == 0 else 'L'}{x:.1f},{y:.1f}")
    return "".join(parts) + "Z"


def _polygons(arcs: list[list[tuple[float, float]]], geometry: dict[str, Any]) -> list[list[Ring]]:
    """The geometry's polygons (rings of (longitude, latitude)), those crossing the antimeridian cut there."""
    polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    out: list[list[Ring]] = []
    for polygon in polygons:
        rings = [ring_points(arcs, ring) for ring in polygon]
        pieces = antimeridian_pieces(rings[0])
        if len(pieces) == 1 and pieces[0] is rings[0]:
            out.append(rings)
        else:  # (no crossing ring of the 1:110m map has holes)
            out.extend([piece] for piece in pieces)
    return out


@lru_cache(maxsize=1)
def country_shapes() -> tuple[CountryShape, ...]:
    """Every country of the map that has an ISO code, with its SVG path."""
    import pycountry

    topology = orjson.loads(MAP_FILE.read_bytes())
    arcs = decode_arcs(topology)
    shapes = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        numeric = geometry.get("id")
        country = pycountry.countries.get(numeric=numeric) if numeric else None
        if country is None:
            continue
        path = "".join(_ring_path(ring) for polygon in _polygons(arcs, geometry) for ring in polygon)
        shapes.append(CountryShape(country.alpha_2, geometry["properties"].get("name", country.name), path))
    return tuple(shapes)


@lru_cache(maxsize=1)
def country_polygons() -> dict[str, list[list[list[tuple[float, float]]]]]:
    """Every country of the map with an ISO code, as polygons of rings of (longitude, latitude) points (the
    shapes of a GeoJSON MultiPolygon), for charts that draw the map themselves (the replay report)."""
    import pycountry

    topology = orjson.loads(MAP_FILE.read_bytes())
    arcs = decode_arcs(topology)
    out: dict[str, list[list[list[tuple[float, float]]]]] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        numeric = geometry.get("id")
        country = pycountry.countries.get(numeric=numeric) if numeric else None
        if country is None:
            continue
        out[country.alpha_2] = _polygons(arcs, geometry)
    return out
