"""The Replay page: upload a history, pick two regimes (or a regime and a proposal loaded with the server's
packs), and read what would change: the transitions, TPP moved by destination on a map (server-side SVG, like
the allocation map), TPP moved and licence applications added per month, the most affected consignees, the
allowances that bound and the rows that could not be replayed. The same report downloads as JSON or as the
offline HTML report (Plotly inlined). It calls the API's functions (``tiergate.api.replay``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from tiergate.api.errors import ApiError, page_message
from tiergate.api.replay import answer, check_regimes, replay_upload
from tiergate.errors import TiergateError
from tiergate.web.app import NavEntry, check_csrf, context, page_key, render
from tiergate.web.worldmap import HEIGHT, WIDTH, country_shapes

router = APIRouter()
NAV = NavEntry("Replay", "/replay", "officer")
SHADES = 5
CHART_W, CHART_H, CHART_PAD = 900, 220, 40


def map_shapes(report: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Each country shape with a shade of the TPP moved to it (5 steps up to the largest), and the legend."""
    moved = {d["destination"]: d for d in report["by_destination"]}
    top = max((d["tpp_moved"] or 0 for d in report["by_destination"]), default=0)
    shapes = []
    for s in country_shapes():
        row = moved.get(s.code)
        value = (row["tpp_moved"] or 0) if row else 0
        shade = (
            "none"
            if not row
            else ("r0" if not value else f"r{min(SHADES, 1 + int(SHADES * value / top)) if top else 0}")
        )
        shapes.append({"code": s.code, "name": s.name, "path": s.path, "cls": shade, "row": row})
    legend = [("none", "no transaction"), ("r0", "no TPP moved")]
    legend += [(f"r{k}", f"up to {k * 100 // SHADES} % of the most") for k in range(1, SHADES + 1)]
    return shapes, legend


def month_bars(report: dict[str, Any], field: str) -> dict[str, Any] | None:
    """Bars of one figure per month (server-side SVG), with the tallest bar's value."""
    months = report["by_month"]
    values = [float(m[field] or 0) for m in months]
    top = max(values, default=0.0)
    if not months or top <= 0:
        return None
    width = (CHART_W - 2 * CHART_PAD) / len(months)
    bars = []
    for k, (m, v) in enumerate(zip(months, values, strict=True)):
        height = (CHART_H - 2 * CHART_PAD) * v / top
        bars.append(
            {
                "x": round(CHART_PAD + k * width + 1, 2),
                "y": round(CHART_H - CHART_PAD - height, 2),
                "w": round(max(1.0, width - 2), 2),
                "h": round(height, 2),
                "month": m["month"],
                "value": v,
                "label": m["month"] if len(months) <= 12 or k % math.ceil(len(months) / 12) == 0 else "",
            }
        )
    return {"bars": bars, "top": top, "width": CHART_W, "height": CHART_H, "pad": CHART_PAD}


def _page(request: Request, status: int = 200, **values: Any) -> Response:
    page_key(request, NAV.role)
    ctx = context(request)
    report = values.get("report")
    shapes, legend = map_shapes(report) if report else ([], [])
    return render(
        request,
        "replay.html",
        status=status,
        regimes=list(ctx.book.regimes),
        report=report,
        shapes=shapes,
        legend=legend,
        width=WIDTH,
        height=HEIGHT,
        tpp_chart=month_bars(report, "tpp_moved") if report else None,
        licence_chart=month_bars(report, "licence_applications_added") if report else None,
        error=values.get("error"),
        regime_from=values.get("regime_from") or "",
        regime_to=values.get("regime_to") or "",
        effective_dates=values.get("effective_dates", False),
    )


@router.get("/replay")
async def replay_page(request: Request) -> Response:
    return _page(request)


def _message(error: ApiError | TiergateError) -> str:
    return page_message(error)


@router.post("/replay")
async def replay_run(request: Request) -> Response:
    page_key(request, NAV.role)
    async with request.form(max_files=1, max_fields=10) as form:
        check_csrf(request, form)
        regime_from = str(form.get("from") or "")[:100]
        regime_to = str(form.get("to") or "")[:100]
        effective_dates = form.get("effective_dates") == "on"
        wanted = str(form.get("format") or "page")
        upload = form.get("history")
        named = isinstance(upload, UploadFile) and bool(upload.filename)
        content = await upload.read() if isinstance(upload, UploadFile) and named else b""
        name = Path(upload.filename).name if isinstance(upload, UploadFile) and upload.filename else ""
    keep: dict[str, Any] = {"regime_from": regime_from, "regime_to": regime_to, "effective_dates": effective_dates}
    if not named:
        return _page(request, 422, error="choose a history file to upload", **keep)
    ctx = context(request)
    try:
        check_regimes(ctx, regime_from, regime_to, "form")
        report = await run_in_threadpool(replay_upload, ctx, name, content, regime_from, regime_to, effective_dates)
    except (ApiError, TiergateError) as error:
        return _page(request, 422, error=_message(error), **keep)
    if wanted in ("json", "html"):
        return answer(report, wanted)
    return _page(request, report=report, **keep)
