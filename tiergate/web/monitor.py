"""The Monitoring page: the alerts of a scan of the server's usage data (or of uploaded files, for officers), the
beneficial owners near a training-compute threshold, and a chart (server-side SVG, like the allocation bars) of
their cumulative compute over time on a log scale with the thresholds and each projected crossing.
It calls the API's functions (``tiergate.api.monitoring``).

Officers triage the alerts as they do screening hits: each alert (known by its kind, subject and threshold, so the
same alert of a later scan keeps its state) is open until it is dismissed with a reason or escalated, and may be
assigned to someone. Every step is an entry of the hash-chained audit log (``alert-dismissed``, ``alert-escalated``,
``alert-reopened``, ``alert-assigned``), and the latest step of each alert is its state."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, for_http
from tiergate.api.keys import ApiKey
from tiergate.api.monitor import moment
from tiergate.api.monitoring import scan_to_dict
from tiergate.errors import TiergateError
from tiergate.monitor.model import ALERT_SEVERITY, SEVERITIES
from tiergate.web.app import NavEntry, check_csrf, context, page_key, render

router = APIRouter()
NAV = NavEntry("Monitoring", "/monitoring", "viewer")
NEAR = 0.01
"""An owner is near a threshold from this share of it (1 %: two orders of magnitude below) upwards."""
WIDTH, HEIGHT = 900, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 40
DAY = 86400.0
TRIAGE = {"dismissed": "alert-dismissed", "escalated": "alert-escalated", "reopened": "alert-reopened"}
ASSIGN = "alert-assigned"


def alert_key(alert: dict[str, Any]) -> str:
    """The alert's identity across scans: kind, subject and threshold."""
    threshold = alert.get("threshold")
    return f"{alert['kind']}:{alert['subject_type']}:{alert['subject_id']}:{'' if threshold is None else threshold}"


def alert_states(ctx: ApiContext) -> dict[str, dict[str, Any]]:
    """Each triaged alert's state (status, reason, by, at, assignee) from the audit log, latest step last."""
    states: dict[str, dict[str, Any]] = {}
    steps = ctx.read(lambda: list(ctx.ledger.audit_entries(actions={ASSIGN, *TRIAGE.values()})))
    for entry in steps:
        action = entry["action"]
        try:
            payload = orjson.loads(entry["payload"]) if isinstance(entry["payload"], str) else entry["payload"]
        except orjson.JSONDecodeError:
            continue
        if not isinstance(payload, dict):
            continue
        state = states.setdefault(entry["subject"], {"status": "open", "assignee": None})
        if action == ASSIGN:
            state["assignee"] = payload.get("assignee") or None
            continue
        status = action.removeprefix("alert-")
        state.update(
            status="open" if status == "reopened" else status,
            reason=payload.get("reason"),
            by=entry["actor"],
            at=str(entry["at"])[:19],
            reopened=status == "reopened",
        )
    return states


def triaged(alerts: list[dict[str, Any]], states: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts with their key, severity and state; open ones first, then by severity (the scan's order kept
    within)."""
    out = []
    for index, alert in enumerate(alerts):
        key = alert_key(alert)
        state = states.get(key, {"status": "open", "assignee": None})
        out.append(
            {**alert, "key": key, "severity": ALERT_SEVERITY.get(alert["kind"], "medium"), "state": state, "n": index}
        )
    return sorted(out, key=lambda a: (a["state"]["status"] != "open", SEVERITIES.index(a["severity"]), a["n"]))


def triage(ctx: ApiContext, key: ApiKey, alert: str, action: str, reason: str, assignee: str) -> None:
    """Record one step of an alert's triage in the audit log (a 422 naming the field when one is missing)."""
    if not alert.strip():
        raise ApiError(422, "which alert? (the form lost it)", where="alert")
    writer = ctx.ledger_for(key)
    if action == "assigned":
        payload: dict[str, Any] = {"assignee": assignee.strip()}
        name = ASSIGN
    elif action in TRIAGE:
        if not reason.strip():
            raise ApiError(422, "say why (a reason is required)", where="reason")
        payload, name = {"reason": reason.strip()}, TRIAGE[action]
    else:
        raise ApiError(422, f"unknown step {action[:40]!r}: dismissed, escalated, reopened or assigned", where="action")
    ctx.read(writer.run, lambda conn: writer.append_audit(conn, name, alert[:500], payload))


@dataclass
class Chart:
    """A log-scale time chart: each owner's cumulative FLOP, the thresholds, the projected crossings."""

    width: int = WIDTH
    height: int = HEIGHT
    series: list[dict[str, Any]] = field(default_factory=list)
    thresholds: list[dict[str, Any]] = field(default_factory=list)
    projections: list[dict[str, Any]] = field(default_factory=list)
    x_ticks: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    now_x: float = 0.0
    plot: dict[str, float] = field(default_factory=dict)


def _parse_when(text: str) -> dt.datetime | None:
    try:
        found = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


def near_owners(scan: dict[str, Any], owners: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Owners whose compute is at least :data:`NEAR` of the lowest training threshold, largest first, with their
    share of each training threshold and their alerts."""
    training = [t for t in scan["thresholds"] if t["measure"] == "training_flop"]
    if not training:
        return []
    lowest = min(t["value"] for t in training)
    alerts: dict[str, list[str]] = defaultdict(list)
    for a in scan["alerts"]:
        text = " ".join(a["reasons"])
        for owner in owners:
            if a["subject_id"] == owner["owner_id"] or f"owner {owner['owner_id']}" in text:
                alerts[owner["owner_id"]].append(a["kind"])
    out = []
    for o in sorted(owners, key=lambda r: -(r["flop"] or 0.0)):
        flop = float(o["flop"] or 0.0)
        if flop < NEAR * lowest:
            continue
        out.append(
            {
                "owner_id": o["owner_id"],
                "flop": flop,
                "flop_hi": float(o.get("flop_hi") or flop),
                "customers": o.get("customers"),
                "shares": [
                    {"label": t["label"], "value": t["value"], "pct": 100.0 * flop / t["value"]} for t in training
                ],
                "alerts": sorted(set(alerts.get(o["owner_id"], []))),
            }
        )
    return out


def crossing_chart(scan: dict[str, Any], owner_days: list[dict[str, Any]], near: list[dict[str, Any]]) -> Chart | None:
    """The chart of the near owners' cumulative compute (by day of segment start) and the projected crossings,
    or None when there is nothing to draw."""
    as_of = _parse_when(scan["as_of"])
    training = [t for t in scan["thresholds"] if t["measure"] == "training_flop"]
    wanted = {o["owner_id"] for o in near}
    days: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in owner_days:
        if str(r["owner_id"]) in wanted:
            days[str(r["owner_id"])].append((int(r["day"]), float(r["flop"] or 0.0)))
    projections = [
        a for a in scan["alerts"] if a["kind"] == "projected_crossing" and a["projected_crossing"] and a["flop"]
    ]
    if as_of is None or not training or (not days and not projections):
        return None
    now = as_of.timestamp()
    start = min((d * DAY for points in days.values() for d, _ in points), default=now - 30 * DAY)
    end = now + 2 * DAY
    for a in projections:
        when = _parse_when(a["projected_crossing"])
        if when is not None:
            end = max(end, when.timestamp() + 2 * DAY)
    values = [t["value"] for t in training] + [float(a["flop"]) for a in projections]
    y_top = math.ceil(math.log10(max(values)) + 0.3)
    y_bottom = math.floor(math.log10(min(t["value"] for t in training))) - 3
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(seconds: float) -> float:
        return round(LEFT + plot_w * (seconds - start) / max(end - start, 1.0), 2)

    def y(flop: float) -> float:
        level = math.log10(flop) if flop > 0 else y_bottom
        level = min(max(level, y_bottom), y_top)
        return round(TOP + plot_h * (y_top - level) / (y_top - y_bottom), 2)

    chart = Chart(now_x=x(now), plot={"left": LEFT, "top": TOP, "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM})
    for index, (owner, points) in enumerate(sorted(days.items())):
        points.sort()
        total = 0.0
        coords = []
        for day, flop in points:
            total += flop
            coords.append(f"{x(day * DAY + DAY)},{y(total)}")
        chart.series.append(
            {"owner": owner, "points": " ".join(coords), "cls": f"s{index % 8}", "total": total, "last": coords[-1]}
        )
    for t in training:
        chart.thresholds.append({"y": y(t["value"]), "label": t["label"], "binding": t["binding"], "value": t["value"]})
    for a in projections:
        when = _parse_when(a["projected_crossing"])
        if when is None:
            continue
        chart.projections.append(
            {
                "x1": x(now),
                "y1": y(float(a["flop"])),
                "x2": x(when.timestamp()),
                "y2": y(float(a["threshold"])),
                "job": a["subject_id"],
                "when": a["projected_crossing"],
                "flop": a["flop"],
                "threshold": a["threshold"],
            }
        )
    span_days = (end - start) / DAY
    step = max(1, math.ceil(span_days / 8))
    first = dt.datetime.fromtimestamp(start, tz=dt.UTC).date()
    for k in range(0, int(span_days) + 1, step):
        tick = first + dt.timedelta(days=k)
        seconds = dt.datetime.combine(tick, dt.time(), tzinfo=dt.UTC).timestamp()
        if start <= seconds <= end:
            chart.x_ticks.append({"x": x(seconds), "label": tick.isoformat()})
    for level in range(y_bottom, y_top + 1):
        chart.y_ticks.append({"y": y(10.0**level), "label": f"1e{level}"})
    return chart


def _page(
    request: Request,
    scan: dict[str, Any],
    owners: list[dict[str, Any]],
    owner_days: list[dict[str, Any]],
    status: int = 200,
    **values: Any,
) -> Response:
    key = page_key(request, NAV.role)
    ctx = context(request)
    near = near_owners(scan, owners) if scan else []
    if scan:
        scan = {**scan, "alerts": triaged(scan["alerts"], alert_states(ctx))}
    return render(
        request,
        "monitor.html",
        status=status,
        scan=scan,
        near=near,
        chart=crossing_chart(scan, owner_days, near) if scan else None,
        regimes=list(ctx.book.regimes),
        can_upload=key.allows("officer"),
        can_triage=key.allows("officer"),
        severities=SEVERITIES,
        error=values.get("error"),
        regime=values.get("regime") or "",
        as_of=values.get("as_of") or "",
    )


def _message(error: ApiError | TiergateError) -> str:
    text = f"{error.where}: {error.message}" if error.where else error.message
    return for_http(f"{text} ({error.hint})" if error.hint else text) or ""


def _checked(request: Request, regime: str, as_of: str) -> tuple[str | None, dt.datetime | None]:
    book = context(request).book
    chosen = regime.strip() or None
    if chosen is not None and chosen not in book.regimes:
        raise ApiError(422, f"unknown regime {chosen[:100]!r}", where="regime")
    return chosen, moment(as_of.strip() or None)


@router.get("/monitoring")
async def monitoring_page(request: Request) -> Response:
    page_key(request, NAV.role)
    regime = str(request.query_params.get("regime") or "")[:100]
    as_of = str(request.query_params.get("as_of") or "")[:40]
    ctx = context(request)
    try:
        chosen, when = _checked(request, regime, as_of)
        result, source = await run_in_threadpool(ctx.monitoring.scan, ctx.book, chosen, when)
    except (ApiError, TiergateError) as error:
        return _page(request, {}, [], [], 422, error=_message(error), regime=regime, as_of=as_of)
    return _page(request, scan_to_dict(result, source), result.owners, result.owner_days, regime=regime, as_of=as_of)


@router.post("/monitoring")
async def monitoring_upload(request: Request) -> Response:
    page_key(request, "officer")
    async with request.form(max_files=2, max_fields=10) as form:
        check_csrf(request, form)
        regime = str(form.get("regime") or "")[:100]
        as_of = str(form.get("as_of") or "")[:40]
        files: dict[str, tuple[str, bytes]] = {}
        for name in ("usage", "customers"):
            upload = form.get(name)
            if isinstance(upload, UploadFile) and upload.filename:
                files[name] = (Path(upload.filename).name, await upload.read())
    if len(files) < 2:
        return _page(request, {}, [], [], 422, error="choose a usage file and a customers file to upload")
    ctx = context(request)
    try:
        chosen, when = _checked(request, regime, as_of)
        scan = await run_in_threadpool(
            ctx.monitoring.scan_upload, ctx.book, files["usage"], files["customers"], chosen, when, True
        )
    except (ApiError, TiergateError) as error:
        return _page(request, {}, [], [], 422, error=_message(error), regime=regime, as_of=as_of)
    return _page(request, scan, scan.pop("owners", []), scan.pop("owner_days", []), regime=regime, as_of=as_of)


@router.post("/monitoring/alert")
async def monitoring_triage(request: Request) -> Response:
    """Dismiss (with a reason), escalate, re-open or assign an alert; back to the scan it was read in."""
    key = page_key(request, "officer")
    form = await request.form()
    check_csrf(request, form)
    fields = {name: str(form.get(name) or "")[:2000] for name in ("alert", "action", "reason", "assignee")}
    regime = str(form.get("regime") or "")[:100]
    as_of = str(form.get("as_of") or "")[:40]
    try:
        await run_in_threadpool(
            triage, context(request), key, fields["alert"], fields["action"], fields["reason"], fields["assignee"]
        )
    except ApiError as error:
        return _page(request, {}, [], [], 422, error=_message(error), regime=regime, as_of=as_of)
    query = urlencode({k: v for k, v in (("regime", regime), ("as_of", as_of)) if v})
    return RedirectResponse(f"/monitoring{'?' + query if query else ''}#alerts", status_code=303)
