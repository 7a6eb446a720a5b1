"""The monitoring report: one self-contained HTML file (Plotly charts with plotly.js inlined, so nothing is
fetched when it is opened): the alerts first, by severity, then cumulative compute by owner over time against the
threshold lines (each labelled with its name, value and standing), compute by datacenter country and by customer
headquarters, and the bad-input summary."""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from typing import Any

from tiergate.classify.metrics import fmt
from tiergate.monitor.model import ALERT_SEVERITY, SEVERITIES, ScanResult


def _owner_chart(result: ScanResult) -> Any:
    import plotly.graph_objects as go

    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in result.owner_days:
        series[str(r["owner_id"])].append((int(r["day"]), float(r["flop"] or 0.0)))
    fig = go.Figure()
    for owner, points in sorted(series.items()):
        points.sort()
        total = 0.0
        xs, ys = [], []
        for day, flop in points:
            total += flop
            xs.append(dt.datetime.fromtimestamp(day * 86400, tz=dt.UTC).date().isoformat())
            ys.append(total)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=owner))
    for t in result.thresholds:
        if t["measure"] == "training_flop":
            fig.add_hline(
                y=t["value"],
                line_dash="dash",
                annotation_text=f"{t['label']}: {fmt(t['value'])} FLOP ({t['binding']})",
                annotation_position="top left",
            )
    fig.update_layout(
        title="Cumulative compute of the largest beneficial owners (estimated FLOP, by day of segment start)",
        yaxis_type="log",
        yaxis_title="FLOP",
        xaxis_title="day",
        height=520,
    )
    return fig


def _country_chart(result: ScanResult) -> Any:
    import plotly.graph_objects as go

    by_dc: dict[str, float] = defaultdict(float)
    by_hq: dict[str, float] = defaultdict(float)
    for r in result.countries:
        by_dc[str(r["datacenter_country"] or "?")] += float(r["flop"] or 0.0)
        by_hq[str(r["hq"] or "unknown")] += float(r["flop"] or 0.0)
    fig = go.Figure()
    for name, data in (("by datacenter country", by_dc), ("by customer headquarters", by_hq)):
        keys = sorted(data, key=lambda k: -data[k])[:25]
        fig.add_trace(go.Bar(x=keys, y=[data[k] for k in keys], name=name))
    fig.update_layout(title="Compute by country (estimated FLOP)", barmode="group", yaxis_type="log", height=460)
    return fig


def render_html(result: ScanResult) -> str:
    owner_html = _owner_chart(result).to_html(full_html=False, include_plotlyjs=True)
    country_html = _country_chart(result).to_html(full_html=False, include_plotlyjs=False)
    rows = []
    ordered = sorted(result.alerts, key=lambda a: SEVERITIES.index(ALERT_SEVERITY.get(a.kind, "medium")))
    for a in ordered:
        severity = ALERT_SEVERITY.get(a.kind, "medium")
        rows.append(
            f'<tr class="{severity}"><td>{severity}</td>'
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    a.kind,
                    a.subject_type,
                    a.subject_id,
                    fmt(a.flop) if a.flop is not None else "",
                    fmt(a.threshold) if a.threshold is not None else "",
                    a.projected_crossing or "",
                )
            )
            + f"<td><ul>{''.join(f'<li>{html.escape(r)}</li>' for r in a.reasons)}</ul></td></tr>"
        )
    problems = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(result.problem_counts.items())
    )
    thresholds = "".join(
        f"<li>{html.escape(t['label'])}: {fmt(t['value'])} ({html.escape(t['binding'])})</li>"
        for t in result.thresholds
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Tiergate compute monitoring report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:13px}}th{{background:#eee}}
tr.high td:first-child{{color:#b3261e;font-weight:600}}tr.medium td:first-child{{color:#b26b00;font-weight:600}}</style>
</head><body>
<h1>Compute monitoring report</h1>
<p>Scan date {result.as_of:%Y-%m-%d %H:%M} UTC; regime {html.escape(result.regime)}; engine {result.engine};
{result.records} records, {result.records_used} used; {len(result.alerts)} alert(s).</p>
<h2 id="alerts">{len(result.alerts)} alert(s), by severity</h2>
<table><tr><th>severity</th><th>kind</th><th>subject type</th><th>subject</th><th>FLOP</th><th>threshold</th>
<th>projected crossing</th><th>reasons</th></tr>{"".join(rows) or '<tr><td colspan="8">none</td></tr>'}</table>
<h2>Thresholds (from the rule packs)</h2><ul>{thresholds}</ul>
{owner_html}
{country_html}
<h2>Bad input</h2><table><tr><th>problem</th><th>rows</th></tr>{problems or "<tr><td>none</td><td>0</td></tr>"}</table>
</body></html>
"""
