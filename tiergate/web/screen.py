"""The Screening page: search a name against the loaded restricted-party lists, read each hit's score and the
features behind it, and (officers) clear a hit as a false positive, confirm it, or re-open it, with a reason.
It calls the API's functions (``tiergate.api.screen.screen_party`` and ``decide_hit``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.errors import ApiError, for_http
from tiergate.api.screen import DecisionIn, ScreenIn, decide_hit, screen_party, standing_decisions
from tiergate.errors import TiergateError
from tiergate.screen.model import DEFAULT_THRESHOLD, SCHEMAS
from tiergate.web.app import NavEntry, check_csrf, context, page_key, render

router = APIRouter()
NAV = NavEntry("Screening", "/screening", "viewer")
SEARCH_FIELDS = ("name", "country", "schema", "threshold")
RECENT_DECISIONS = 50


def _search_values(source: Any) -> dict[str, str]:
    return {name: str(source.get(name) or "")[:1200] for name in SEARCH_FIELDS}


def _query(values: dict[str, str]) -> ScreenIn:
    """The screening of the form's values (a 422 naming the field when one is wrong)."""
    data: dict[str, Any] = {"name": values["name"], "limit": 20}
    if values["country"].strip():
        data["country"] = values["country"].strip()
    if values["schema"].strip():
        data["schema"] = values["schema"].strip()
    if values["threshold"].strip():
        data["threshold"] = values["threshold"].strip()
    try:
        return ScreenIn.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(step) for step in first["loc"]) or "form"
        raise ApiError(422, f"{field}: {first['msg']}", where=field) from None


def entities(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hits grouped by the entity they name (the listed name, case and spacing aside), best score first: one
    card per entity, with the lists it is on and each list entry's hit."""
    groups: dict[str, dict[str, Any]] = {}
    for hit in hits:
        key = " ".join(str(hit["name"]).casefold().split())
        group = groups.setdefault(key, {"name": hit["name"], "hits": [], "lists": [], "countries": []})
        group["hits"].append(hit)
        if hit["list"] not in group["lists"]:
            group["lists"].append(hit["list"])
        group["countries"] = sorted({*group["countries"], *hit.get("countries", [])})
    out = list(groups.values())
    for group in out:
        group["score"] = max(h["score"] for h in group["hits"])
        group["open"] = sum(1 for h in group["hits"] if h["status"] == "open" and h["match"])
    return sorted(out, key=lambda g: -g["score"])


def _message(error: ApiError | TiergateError) -> str:
    text = f"{error.where}: {error.message}" if error.where else error.message
    return for_http(f"{text} ({error.hint})" if error.hint else text) or ""


async def _page(request: Request, values: dict[str, str], status: int = 200, **extra: Any) -> Response:
    ctx = context(request)
    key = page_key(request, NAV.role)
    lists = ctx.lists
    screening: dict[str, Any] | None = extra.pop("screening", None)
    error: str | None = extra.pop("error", None)
    if screening is None and values["name"].strip():  # the search again, also under a refused decision
        try:
            screening = await run_in_threadpool(screen_party, ctx, key, _query(values))
        except (ApiError, TiergateError) as found:
            error, status = error or _message(found), 422
    datasets = await run_in_threadpool(lists.status) if lists is not None else []
    list_warnings = ctx.settings.list_warnings(datasets)
    decisions = await run_in_threadpool(standing_decisions, ctx, None) if lists is not None else []
    return render(
        request,
        "screen.html",
        status=status,
        values=values,
        schemas=SCHEMAS,
        default_threshold=DEFAULT_THRESHOLD,
        screening=screening,
        entities=entities(screening["hits"]) if screening else [],
        error=error,
        notice=extra.pop("notice", None),
        datasets=datasets,
        sample_loaded=any("sample" in d["dataset"] for d in datasets),
        list_warnings=list_warnings,
        stale_datasets={w["dataset"] for w in list_warnings},
        screening_on=lists is not None,
        decisions=decisions[-RECENT_DECISIONS:][::-1],
        can_decide=key.allows("officer"),
    )


@router.get("/screening")
async def screening_page(request: Request) -> Response:
    page_key(request, NAV.role)
    return await _page(request, _search_values(request.query_params))


@router.post("/screening/decide")
async def screening_decide(request: Request) -> Response:
    key = page_key(request, "officer")
    form = await request.form()
    check_csrf(request, form)
    values = _search_values(form)
    fields: dict[str, Any] = {
        name: str(form.get(name) or "")[:2500] for name in ("party", "entry", "verdict", "reason")
    }
    if values["name"].strip():  # the decision is bound to the name and country screened
        fields["name"] = values["name"][:1000]
        fields["country"] = values["country"].strip() or None
    ctx = context(request)
    try:
        body = DecisionIn.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(step) for step in first["loc"]) or "form"
        message = "say why (a reason is required)" if field == "reason" else str(first["msg"])
        return await _page(request, values, 422, error=f"{field}: {message}")
    try:
        decision = await run_in_threadpool(decide_hit, ctx, key, body)
    except (ApiError, TiergateError) as error:
        return await _page(request, values, 422, error=_message(error))
    verdict = {"cleared": "Cleared as a false positive", "confirmed": "Confirmed as a match", "reopened": "Re-opened"}
    notice = f"{verdict[decision['verdict']]}: {decision['party']} / {decision['entry']} ({decision['reason']})"
    return await _page(request, values, notice=notice)
