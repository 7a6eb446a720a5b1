"""A world map as server-side SVG: country shapes from world-atlas (Natural Earth 1:110m, TopoJSON,
vendored under ``map/`` with its ISC licence), decoded here and drawn in an equirectangular projection."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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


def _ring_path(points: list[tuple[float, float]]) -> str:
    parts = []
    previous: float | None = None
    for lon, lat in points:
        x, y = _project(lon, lat)
        # A ring crossing the antimeridian is cut there rather than drawn across the whole map.
        command = "M" if previous is None or abs(lon - previous) > 180 else "L"
        parts.append(f"{command}{x:.1f},{y:.1f}")
        previous = lon
    return "".join(parts) + "Z"


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
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        path = "".join(_ring_path(ring_points(arcs, ring)) for polygon in polygons for ring in polygon)
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
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        out[country.alpha_2] = [[ring_points(arcs, ring) for ring in polygon] for polygon in polygons]
    return out
