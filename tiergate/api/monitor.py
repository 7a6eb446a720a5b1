"""``/v1/monitor/alerts``: compute-monitoring alerts (``tiergate.monitor.run_scan``, the alerts exactly as
``tiergate monitor scan --format json`` prints them) over the server's usage records and customers (by default a
generated sample with the planted cases), or over uploaded files."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from tiergate.api.auth import context, officer, viewer
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey
from tiergate.api.monitoring import scan_to_dict
from tiergate.api.schemas import multipart_body, ok, ref
from tiergate.api.screen import uploaded

router = APIRouter(prefix="/v1/monitor", tags=["monitor"])

Regime = Annotated[
    str | None, Query(min_length=1, max_length=100, description="Evaluate under this regime (a scenario).")
]
AsOf = Annotated[
    str | None,
    Query(
        min_length=1, max_length=40, description="Scan date (YYYY-MM-DD or ISO 8601); default: the latest usage time."
    ),
]


def moment(text: str | None) -> dt.datetime | None:
    """``as_of`` as the CLI's ``--as-of`` reads it (a date is its midnight UTC)."""
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422, f"as_of: {text[:50]!r} is not a date or time (YYYY-MM-DD or ISO 8601)", where="query.as_of"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_regime(request: Request, regime: str | None) -> None:
    book = context(request).book
    if regime is not None and regime not in book.regimes:
        raise ApiError(
            422, f"unknown regime {regime[:100]!r}", where="query.regime", hint=f"regimes: {', '.join(book.regimes)}"
        )


def server_scan(request: Request, regime: str | None, as_of: dt.datetime | None) -> dict[str, Any]:
    ctx = context(request)
    result, source = ctx.monitoring.scan(ctx.book, regime, as_of)
    return scan_to_dict(result, source)


@router.get(
    "/alerts",
    summary="Monitoring alerts of the server's data",
    description="Scans the usage records and customers the server is configured with (by default a generated "
    "sample with planted cases): threshold crossings of jobs and beneficial owners, projected crossings, "
    "clusters, caps, prohibited use, KYC gaps. `alerts` is the list `tiergate monitor scan --format json` prints.",
    responses={**ok(ref("MonitorScan"), "The scan."), **responses()},
)
async def get_alerts(
    request: Request, key: Annotated[ApiKey, Depends(viewer)], regime: Regime = None, as_of: AsOf = None
) -> dict[str, Any]:
    check_regime(request, regime)
    return await run_in_threadpool(server_scan, request, regime, moment(as_of))


_UPLOAD = multipart_body(
    {
        "usage": {"type": "string", "format": "binary", "description": "Usage records (.parquet, .csv)."},
        "customers": {"type": "string", "format": "binary", "description": "Customers (.csv, .parquet)."},
    },
    ["usage", "customers"],
)


@router.post(
    "/alerts",
    summary="Monitoring alerts of uploaded files",
    description="Scans uploaded usage records and customers (multipart `usage` and `customers`, each .csv or "
    ".parquet); nothing is kept. Bad rows are counted and listed with the uploaded file's name, row and column.",
    responses={**ok(ref("MonitorScan"), "The scan."), **responses(415)},
    openapi_extra=_UPLOAD,
)
async def post_alerts(
    request: Request, key: Annotated[ApiKey, Depends(officer)], regime: Regime = None, as_of: AsOf = None
) -> dict[str, Any]:
    check_regime(request, regime)
    when = moment(as_of)
    files = await uploaded(request, ("usage", "customers"), max_files=2)
    ctx = context(request)
    return await run_in_threadpool(
        ctx.monitoring.scan_upload, ctx.book, files["usage"][0], files["customers"][0], regime, when
    )
