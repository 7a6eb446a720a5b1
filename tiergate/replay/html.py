"""The replay report as one self-contained HTML file: Plotly charts with plotly.js inlined and the world map's
shapes embedded (world-atlas, Natural Earth 1:110m, vendored under ``tiergate/web/map``), so that nothing is
fetched when the file is opened, offline included.

Charts: the transitions as a Sankey diagram (from outcome to outcome, width = transactions); TPP moved by
destination on a map; TPP and value moved per month; the ten most affected consignees; licence applications
added and removed per month. Tables: totals, transitions, allowances that bound, unreplayable transactions,
provenance. Every dollar figure says how much of it is an estimate from the catalogue's indicative prices.
"""

from __future__ import annotations

import html
from typing import Any

from tiergate.classify.metrics import fmt


def _label(outcome: str, authorization: str | None, policy: str | None) -> str:
    text = outcome.replace("_", " ")
    if outcome == "authorized" and authorization:
        text += f" ({authorization})"
    if outcome == "license_required" and policy:
        text += f" ({policy.replace('_', ' ')})"
    return text


def _money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.0f}"


def _sankey(report: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    nodes: list[str] = []
    index: dict[str, int] = {}

    def node(label: str) -> int:
        if label not in index:
            index[label] = len(nodes)
            nodes.append(label)
        return index[label]

    sources, targets, values, hovers = [], [], [], []
    for t in report["transitions"]:
        a = node(f"{report['from']}: {_label(t['from'], t['from_authorization'], t['from_review_policy'])}")
        b = node(f"{report['to']}: {_label(t['to'], t['to_authorization'], t['to_review_policy'])}")
        sources.append(a)
        targets.append(b)
        values.append(t["count"])
        hovers.append(
            f"{t['count']:,} transaction(s); {fmt(t['tpp'] or 0)} TPP; {_money(t['value_usd'])} "
            f"(of which estimated {_money(t['value_usd_estimated'])})"
        )
    fig = go.Figure(
        go.Sankey(
            node={"label": nodes, "pad": 18, "thickness": 16},
            link={
                "source": sources,
                "target": targets,
                "value": values,
                "customdata": hovers,
                "hovertemplate": "%{customdata}<extra></extra>",
            },
        )
    )
    fig.update_layout(title=f"Transitions: {report['from']} -> {report['to']} (width: transactions)", height=520)
    return fig


def _map(report: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    from tiergate.web.worldmap import country_polygons

    shapes = country_polygons()
    rows = [d for d in report["by_destination"] if d["destination"] in shapes]
    features = [
        {
            "type": "Feature",
            "id": code,
            "properties": {},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [[[list(p) for p in ring] for ring in polygon] for polygon in polygons],
            },
        }
        for code, polygons in sorted(shapes.items())
    ]
    fig = go.Figure(
        go.Choropleth(
            geojson={"type": "FeatureCollection", "features": features},
            locations=[d["destination"] for d in rows],
            z=[d["tpp_moved"] or 0 for d in rows],
            customdata=[
                [d["changed"], _money(d["value_usd_moved"]), _money(d["value_usd_moved_estimated"])] for d in rows
            ],
            hovertemplate="%{location}: %{z:,.0f} TPP moved; %{customdata[0]} changed; %{customdata[1]} "
            "(estimated %{customdata[2]})<extra></extra>",
            colorscale="Reds",
            colorbar={"title": "TPP moved"},
        )
    )
    fig.update_geos(visible=False, fitbounds="geojson", projection_type="equirectangular")
    fig.update_layout(title="TPP moved by destination (hover: value moved)", height=520, margin={"l": 0, "r": 0})
    return fig


def _months(report: dict[str, Any]) -> tuple[Any, Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    months = [m["month"] for m in report["by_month"]]
    moved = make_subplots(specs=[[{"secondary_y": True}]])
    moved.add_trace(go.Bar(x=months, y=[m["tpp_moved"] for m in report["by_month"]], name="TPP moved"))
    moved.add_trace(
        go.Scatter(
            x=months,
            y=[m["value_usd_moved"] for m in report["by_month"]],
            name="value moved (USD)",
            mode="lines+markers",
        ),
        secondary_y=True,
    )
    moved.add_trace(
        go.Scatter(
            x=months,
            y=[m["value_usd_moved_estimated"] for m in report["by_month"]],
            name="of which estimated (USD)",
            mode="lines",
            line={"dash": "dot"},
        ),
        secondary_y=True,
    )
    moved.update_layout(title="TPP and value moved per month", height=420)
    moved.update_yaxes(title_text="TPP", secondary_y=False)
    moved.update_yaxes(title_text="USD", secondary_y=True)
    applications = go.Figure()
    applications.add_trace(
        go.Bar(x=months, y=[m["licence_applications_added"] for m in report["by_month"]], name="added")
    )
    applications.add_trace(
        go.Bar(x=months, y=[-m["licence_applications_removed"] for m in report["by_month"]], name="removed")
    )
    applications.update_layout(
        title="Licence applications added (and removed) per month", barmode="relative", height=380
    )
    return moved, applications


def _consignees(report: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    top = report["by_consignee"][:10][::-1]
    fig = go.Figure(
        go.Bar(
            x=[c["tpp_moved"] for c in top],
            y=[c["name"] for c in top],
            orientation="h",
            customdata=[[c["changed"], _money(c["value_usd_moved"])] for c in top],
            hovertemplate="%{y}: %{x:,.0f} TPP moved; %{customdata[0]} changed; %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(title="The ten most affected consignees (TPP moved)", height=420, margin={"l": 260})
    return fig


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body or '<tr><td colspan=99>none</td></tr>'}</table>"


def render_html(report: dict[str, Any]) -> str:
    """The report as a standalone HTML page."""
    from tiergate.web.worldmap import MAP_FILE

    # plotly.js reads a geo subplot's base map from window.PlotlyGeoAssets before it would fetch it from its CDN:
    # the vendored world-atlas topology is given there, so the file opens offline.
    assets = (
        f"<script>window.PlotlyGeoAssets={{topojson:{{world_110m:{MAP_FILE.read_text(encoding='utf-8')}}}}};</script>"
    )
    sankey = assets + _sankey(report).to_html(full_html=False, include_plotlyjs=True)
    parts = [_map(report), *_months(report), _consignees(report)]
    charts = "".join(fig.to_html(full_html=False, include_plotlyjs=False) for fig in parts)
    totals = report["totals"]
    moved = totals["moved"]
    history = report["history"]
    summary = (
        f"{report['total']:,} transaction(s) replayed ({history['records']:,} read; "
        f"{report['unreplayable_count']:,} could not be replayed) from {history['first_date']} to "
        f"{history['last_date']}; <strong>{report['changed']:,} changed</strong>, moving {fmt(moved['tpp'] or 0)} TPP "
        f"({moved['h100e'] if moved['h100e'] is not None else '–'} H100-equivalents) "
        f"worth {_money(moved['value_usd'])} "
        f"(of which {_money(moved['value_usd_estimated'])} estimated from catalogue prices; range "
        f"{_money(moved['value_usd_low'])} to {_money(moved['value_usd_high'])}; {moved['value_unpriced']} "
        f"unpriced). Licence applications added: {totals['licence_applications_added']:,} (removed: "
        f"{totals['licence_applications_removed']:,}); consignees first needing a licence: "
        f"{totals['consignees_first_licence_requirement']:,}."
    )
    transitions = _table(
        ["from", "to", "transactions", "share", "TPP", "value USD", "of which estimated", "unpriced"],
        [
            [
                _label(t["from"], t["from_authorization"], t["from_review_policy"]),
                _label(t["to"], t["to_authorization"], t["to_review_policy"]),
                f"{t['count']:,}",
                f"{100 * (t['share'] or 0):.2f} %",
                fmt(t["tpp"] or 0),
                _money(t["value_usd"]),
                _money(t["value_usd_estimated"]),
                t["value_unpriced"],
            ]
            for t in report["transitions"]
        ],
    )
    binds = _table(
        ["side", "allocation", "rule", "transactions refused for want of room", "first date", "quarter"],
        [
            [side, b["allocation"], b["rule"], f"{b['transactions']:,}", b["first_date"], b["first_quarter"]]
            for side in ("from", "to")
            for b in report["binds"][side]
        ],
    )
    unreplayable = _table(
        ["id", "where", "why"], [[u["id"] or "", u["where"], u["why"]] for u in report["unreplayable"][:200]]
    )
    provenance = report["provenance"]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report["notes"])
    title = f"Replay {report['from']} -> {report['to']}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:13px}}th{{background:#eee}}
code{{font-size:12px}}</style>
</head><body>
<h1>Tiergate replay: {html.escape(report["from"])} &rarr; {html.escape(report["to"])}</h1>
<p id="summary">{summary}</p>
<p>History: <code>{html.escape(str(history["source"]))}</code>
(SHA-256 <code>{html.escape(str(history["sha256"]))}</code>).
Packs: from {html.escape(", ".join(report["packs"]["from"]))}; to {html.escape(", ".join(report["packs"]["to"]))}.</p>
{sankey}
<h2>Transitions</h2>{transitions}
{charts}
<h2>Allowances that bound</h2>{binds}
<h2>Transactions that could not be replayed ({report["unreplayable_count"]:,})</h2>{unreplayable}
<h2>Notes</h2><ul>{notes}</ul>
<h2>Provenance</h2>
<p>{html.escape(provenance["engine"])}; Merkle root <code>{provenance["merkle_root"]}</code> over
{provenance["merkle_leaves"]} leaves of {provenance["merkle_leaf_rows"]} transactions; report SHA-256
<code>{provenance["report_sha256"]}</code>. Advisory: a replay changes no ledger and no decision of record.</p>
</body></html>
"""
