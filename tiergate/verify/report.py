"""The location verdict drawn: the landmarks' disks at the speed of light (solid) and at fibre speed
(dashed) over the countries they reach, Tier 3 territory shaded, as server-side SVG (no script, no CDN).
``page`` wraps it in a standalone HTML file for ``tiergate verify locate --format html``."""

from __future__ import annotations

import html
import math

from tiergate.geo import circle_points, world
from tiergate.verify.location import C_KM_PER_MS, FIBRE_FACTOR, LocationReport

WIDTH = 720.0
HEIGHT = 420.0
_KM_PER_DEGREE = 111.2


def _window(report: LocationReport) -> tuple[float, float, float, float]:
    """(west, south, east, north) around the tightest disk and the claim, padded."""
    marks = report.landmarks
    tight = min(marks, key=lambda lm: lm.radius_km(C_KM_PER_MS))
    reach = tight.radius_km(C_KM_PER_MS) / _KM_PER_DEGREE
    lats = [tight.lat - reach, tight.lat + reach]
    lon_reach = reach / max(0.2, math.cos(math.radians(tight.lat)))
    lons = [tight.lon - lon_reach, tight.lon + lon_reach]
    claim = report.claim
    if claim.point is not None:
        lats.append(claim.point[0])
        lons.append(claim.point[1])
    for territory in claim.territories:
        west, south, east, north = territory.bounds
        if east - west < 180:
            lons += [west, east]
            lats += [south, north]
    west, east = max(-180.0, min(lons)), min(180.0, max(lons))
    south, north = max(-90.0, min(lats)), min(90.0, max(lats))
    pad_x, pad_y = max(0.5, (east - west) * 0.08), max(0.5, (north - south) * 0.08)
    west, east = max(-180.0, west - pad_x), min(180.0, east + pad_x)
    south, north = max(-90.0, south - pad_y), min(90.0, north + pad_y)
    # keep the drawing's aspect: widen the narrower side
    scale = max((east - west) / WIDTH, (north - south) / HEIGHT)
    cx, cy = (west + east) / 2, (south + north) / 2
    return cx - scale * WIDTH / 2, cy - scale * HEIGHT / 2, cx + scale * WIDTH / 2, cy + scale * HEIGHT / 2


def svg(report: LocationReport) -> str:
    west, south, east, north = _window(report)
    sx, sy = WIDTH / (east - west), HEIGHT / (north - south)

    def xy(lon: float, lat: float) -> str:
        return f"{(lon - west) * sx:.1f},{(north - lat) * sy:.1f}"

    def path(points: list[tuple[float, float]] | tuple[tuple[float, float], ...]) -> str:
        parts, previous = [], None
        for lon, lat in points:
            command = "M" if previous is None or abs(lon - previous) > 180 else "L"
            parts.append(f"{command}{xy(lon, lat)}")
            previous = lon
        return "".join(parts) + "Z"

    tier3 = {code.rstrip("?") for codes in report.tier3_touched.values() for code in codes}
    claimed = report.claim.country
    shapes = []
    for territory in world():
        tw, ts, te, tn = territory.bounds
        if te < west or tw > east or tn < south or ts > north:
            continue
        css = "tier3" if territory.code in tier3 else "claim" if territory.code == claimed else "land"
        d = "".join(path(ring) for ring in territory.polygons)
        label = html.escape(f"{territory.name} ({territory.code or '–'})")
        shapes.append(f'<path class="{css}" d="{d}"><title>{label}</title></path>')
    disks = []
    for lm in report.landmarks:
        for speed, css in ((C_KM_PER_MS, "disk-c"), (C_KM_PER_MS * FIBRE_FACTOR, "disk-fibre")):
            points = circle_points(lm.lat, lm.lon, lm.radius_km(speed))
            disks.append(f'<path class="{css}" d="{path(points)}"/>')
        name = html.escape(f"{lm.name}: {lm.min_rtt_ms:g} ms")
        disks.append(
            f'<circle class="landmark" cx="{(lm.lon - west) * sx:.1f}" cy="{(north - lm.lat) * sy:.1f}" r="4">'
            f"<title>{name}</title></circle>"
        )
    if report.claim.point is not None:
        lat, lon = report.claim.point
        disks.append(
            f'<circle class="claim-point" cx="{(lon - west) * sx:.1f}" cy="{(north - lat) * sy:.1f}" r="5">'
            f"<title>{html.escape(report.claim.label)}</title></circle>"
        )
    return (
        f'<svg class="verify-map" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
        f'aria-label="{html.escape("Feasible region for " + report.claim.label)}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect class="sea" width="{WIDTH:.0f}" height="{HEIGHT:.0f}"/>' + "".join(shapes) + "".join(disks) + "</svg>"
    )


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1b1f24}
.verify-map{width:100%;height:auto;border:1px solid #ccd}
.sea{fill:#eef3f8}.land{fill:#dfe3e8;stroke:#fff;stroke-width:.5}.claim{fill:#b9d7b0;stroke:#fff;stroke-width:.5}
.tier3{fill:#e8a9a1;stroke:#fff;stroke-width:.5}
.disk-c{fill:rgba(30,80,200,.08);stroke:#1e50c8;stroke-width:1.5}
.disk-fibre{fill:none;stroke:#1e50c8;stroke-width:1;stroke-dasharray:4 3}
.landmark{fill:#1e50c8}.claim-point{fill:#1b7f2a;stroke:#fff}
.verdict{font-size:1.4rem;font-weight:600}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #dde;text-align:left}
@media (prefers-color-scheme:dark){body{background:#14171b;color:#e4e7eb}.sea{fill:#1d2530}
.land{fill:#3a4350;stroke:#14171b}.claim{fill:#3f6b3a}.tier3{fill:#8a3d35}}
"""


def page(report: LocationReport) -> str:
    """A standalone HTML page: the verdict, the reasons, the landmarks and the map."""
    rows = "".join(
        f"<tr><td>{html.escape(lm.name)}</td><td>{lm.min_rtt_ms:g}</td><td>{lm.samples}</td>"
        f"<td>{lm.radius_km(C_KM_PER_MS):,.1f}</td><td>{lm.radius_km(C_KM_PER_MS * FIBRE_FACTOR):,.1f}</td>"
        f"<td>{'yes' if lm.signed else 'no'}</td></tr>"
        for lm in report.landmarks
    )
    reasons = "".join(f"<li>{html.escape(text)}</li>" for text in report.reasons)
    title = html.escape(f"Location check: {report.claim.label}")
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title><style>{STYLE}</style>"
        f"<h1>{title}</h1><p class=verdict>Verdict: {html.escape(report.verdict.value.replace('_', ' '))}</p>"
        f"{svg(report)}<p>Solid: reach at the speed of light (a proof). Dashed: reach at fibre speed, 2/3 c "
        "(likely). Red: Tier 3 territory the region reaches.</p>"
        "<table><tr><th>Landmark</th><th>min RTT ms</th><th>samples</th><th>km at c</th><th>km at 2/3 c</th>"
        f"<th>signed</th></tr>{rows}</table><h2>Why</h2><ol>{reasons}</ol></html>\n"
    )


def fleet_page(rows: list[dict[str, object]]) -> str:
    """A standalone HTML report of a fleet: one row per chip, the worst first."""
    columns = ("serial", "declared", "claim", "status", "location", "probe", "ratio", "why")
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(str(row[c]) if row[c] is not None else '–')}</td>" for c in columns)
        + "</tr>"
        for row in rows
    )
    flagged = sum(1 for row in rows if row["status"] != "verified")
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>Fleet verification</title><style>{STYLE}</style>"
        f"<h1>Fleet verification</h1><p>{flagged} of {len(rows)} chip(s) ruled out, rejected, inconsistent or "
        "unverified.</p><table><tr>" + "".join(f"<th>{c}</th>" for c in columns) + f"</tr>{body}</table></html>\n"
    )
