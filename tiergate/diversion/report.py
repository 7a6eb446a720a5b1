"""Cases as people read them: a table row, a standalone HTML page, and the network of linked parties as SVG."""

from __future__ import annotations

import html
import math
from typing import Any

VIA_COLOUR = {
    "address": "#b03a2e",
    "payer": "#1f618d",
    "forwarder": "#7d6608",
    "serial": "#6c3483",
    "email_domain": "#117864",
    "end_user": "#515a5a",
}


def network_svg(case: dict[str, Any], size: int = 360) -> str:
    """The case's parties on a circle, a line per link coloured by what links them (address, payer, forwarder,
    serial, e-mail domain, end user), each party labelled with its id. Text is escaped."""
    parties: list[str] = list(case.get("parties") or [])[:40]
    links = [lk for lk in case.get("links") or [] if lk.get("a") in parties and lk.get("b") in parties]
    centre = size / 2
    radius = size / 2 - 60 if len(parties) > 1 else 0
    where: dict[str, tuple[float, float]] = {}
    for i, party in enumerate(parties):
        angle = 2 * math.pi * i / max(len(parties), 1) - math.pi / 2
        where[party] = (centre + radius * math.cos(angle), centre + radius * math.sin(angle))
    out = [
        f'<svg class="network" role="img" aria-label="network of linked parties" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for link in links:
        (x1, y1), (x2, y2) = where[link["a"]], where[link["b"]]
        colour = VIA_COLOUR.get(str(link.get("via")), "#888888")
        title = html.escape(f"{link.get('via')}: {link.get('value')}")
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" stroke-width="2">'
            f"<title>{title}</title></line>"
        )
    for party, (x, y) in where.items():
        label = html.escape(party)
        out.append(
            f'<g class="party"><circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="#ffffff" stroke="#222222"/>'
            f'<text x="{x:.1f}" y="{y + 22:.1f}" text-anchor="middle" font-size="11">{label}</text></g>'
        )
    vias = sorted({str(lk.get("via")) for lk in links})
    for i, via in enumerate(vias):
        out.append(
            f'<text x="6" y="{14 + 13 * i}" font-size="10" fill="{VIA_COLOUR.get(via, "#888888")}">'
            f"{html.escape(via)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def html_page(cases: list[dict[str, Any]], title: str = "Diversion cases") -> str:
    """A standalone HTML page of cases (for ``--format html``)."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
        ".block,.high{color:#a00}.medium{color:#a60}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{len(cases)} case(s), ordered by priority.</p>",
    ]
    for case in cases:
        level = html.escape(str(case["level"]))
        parts.append(
            f'<section><h2 class="{level}">{html.escape(str(case["case"]))}: {level}, score {case["score"]}, '
            f"${case['value_at_risk_usd']:,.0f} at risk</h2>"
        )
        parts.append(f"<p>Parties: {html.escape(', '.join(case['parties']))}</p>")
        parts.append("<table><tr><th>flag</th><th>points</th><th>why</th><th>shipments</th><th>citation</th></tr>")
        for flag in case["flags"]:
            parts.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(v))}</td>"
                    for v in (flag["code"], flag["points"], flag["why"], ", ".join(flag["shipments"]), flag["citation"])
                )
                + "</tr>"
            )
        parts.append("</table>")
        for note in case.get("notes", []):
            parts.append(
                f"<p class=note>{html.escape(str(note.get('shipment')))}: {html.escape(str(note['note']))}</p>"
            )
        if len(case["parties"]) > 1:
            parts.append(network_svg(case))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
