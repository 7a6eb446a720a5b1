"""The Verification page: paste a chip's round trips and see where it can be (the landmarks' disks on a map)
and the verdict on its claimed location; check a measured GEMM rate against the declared part. It calls the
API's functions (``tiergate.api.verify.locate_body`` and ``probe_body``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.errors import ApiError, page_message
from tiergate.api.verify import LocateIn, ProbeIn, locate_report, probe_body
from tiergate.errors import TiergateError
from tiergate.verify.report import svg
from tiergate.verify.service import csv_rows
from tiergate.web.app import NavEntry, check_csrf, context, page_key, render

router = APIRouter()
NAV = NavEntry("Verification", "/verify", "viewer")
EXAMPLE = "landmark,lat,lon,rtt_ms\nSIN,1.3521,103.8198,2.0\nKUL,3.139,101.6869,4.5\nBKK,13.7563,100.5018,16\n"


def _message(error: ApiError | TiergateError) -> str:
    return page_message(error)


def _invalid(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(step) for step in first["loc"]) or "form"
    return f"{field}: {first['msg']}"


def _samples(text: str) -> list[dict[str, Any]]:
    from tiergate.verify.service import RTT_COLUMNS, SIGNED_COLUMNS

    rows = []
    for _, row in csv_rows(text, "round trips", RTT_COLUMNS, SIGNED_COLUMNS):
        rows.append({k: v for k, v in row.items() if v != ""})
    return rows


async def _page(request: Request, values: dict[str, str], status: int = 200, **extra: Any) -> Response:
    page_key(request, NAV.role)
    found = {"error": None, "location": None, "drawing": None, "probe": None, **extra}
    return render(request, "verify.html", status=status, values=values, example=EXAMPLE, **found)


def _values(source: Any) -> dict[str, str]:
    names = ("claim", "rtt", "serial", "declared", "measured")
    return {name: str(source.get(name) or "")[:200_000] for name in names}


@router.get("/verify")
async def verify_page(request: Request) -> Response:
    return await _page(request, _values(request.query_params))


@router.post("/verify/locate")
async def verify_locate(request: Request) -> Response:
    page_key(request, NAV.role)
    form = await request.form()
    check_csrf(request, form)
    values = _values(form)
    try:
        body = LocateIn.model_validate(
            {"claim": values["claim"].strip(), "samples": _samples(values["rtt"]), "serial": values["serial"] or None}
        )
        report = await run_in_threadpool(locate_report, context(request), body)
    except ValidationError as error:
        return await _page(request, values, 422, error=_invalid(error))
    except (ApiError, TiergateError) as error:
        return await _page(request, values, 422, error=_message(error))
    drawing = Markup(svg(report))  # noqa: S704 - tiergate.verify.report escapes every text it draws
    return await _page(request, values, location=report.to_dict(), drawing=drawing)


@router.post("/verify/probe")
async def verify_probe(request: Request) -> Response:
    page_key(request, NAV.role)
    form = await request.form()
    check_csrf(request, form)
    values = _values(form)
    measured: dict[str, str] = {}
    for part in values["measured"].replace(",", " ").split():
        name, _, rate = part.partition("=")
        measured[name.strip().lower()] = rate.strip()
    try:
        body = ProbeIn.model_validate({"declared": values["declared"].strip(), "measured": measured})
        result = probe_body(context(request), body)
    except ValidationError as error:
        return await _page(request, values, 422, error=_invalid(error))
    except (ApiError, TiergateError) as error:
        return await _page(request, values, 422, error=_message(error))
    return await _page(request, values, probe=result)
