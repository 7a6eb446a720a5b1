"""The Decide page: a transaction form (or a bundled sample) → outcome, authorisation, explanation and rule
citations, decided against the ledger's live balances; a Ship button; a batch upload. It calls the API's
functions (``tiergate.api.decide.decide_records``, ``tiergate.api.ship.ship_transaction``)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from tiergate.api.decide import decide_records
from tiergate.api.errors import ApiError, for_http
from tiergate.api.ship import ship_transaction
from tiergate.batch import read_records
from tiergate.errors import TiergateError
from tiergate.screen.licensing import LIST_RULES
from tiergate.web.app import NavEntry, check_csrf, context, page_key, render

router = APIRouter()
NAV = NavEntry("Decide", "/decide", "officer")
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "transactions.jsonl"
UPLOAD_SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".csv", ".parquet")
FIELDS = (
    "id",
    "date",
    "regime",
    "export_from",
    "destination",
    "chip",
    "equipment",
    "origin",
    "quantity",
    "consignee_name",
    "consignee_country",
    "headquarters",
    "parent_headquarters",
    "veu",
    "end_use",
    "value_usd",
)


def samples() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in SAMPLES.read_bytes().splitlines() if line.strip()]


def form_from_transaction(txn: dict[str, Any]) -> dict[str, str]:
    """The form's fields for a one-chip transaction (other items keep the JSON box)."""
    item = txn["items"][0] if txn.get("items") else {}
    consignee = txn.get("consignee") or {}
    chip = str(item["chip"]) if isinstance(item.get("chip"), str) else ""
    equipment = str(item["equipment"]) if isinstance(item.get("equipment"), str) else ""
    return {
        "id": str(txn.get("id") or ""),
        "date": str(txn.get("date") or ""),
        "regime": str(txn.get("regime") or ""),
        "export_from": str(txn.get("export_from") or ""),
        "destination": str(txn.get("destination") or ""),
        "chip": chip,
        "equipment": equipment,
        "origin": str(item.get("origin") or ""),
        "quantity": str(item.get("quantity") or ""),
        "consignee_name": str(consignee.get("name") or ""),
        "consignee_country": str(consignee.get("country") or ""),
        "headquarters": str(consignee.get("headquarters") or ""),
        "parent_headquarters": str(consignee.get("parent_headquarters") or ""),
        "veu": str(consignee.get("veu") or ""),
        "end_use": str(txn.get("end_use") or ""),
        "value_usd": str(txn.get("value_usd") or ""),
    }


def transaction_from_form(values: dict[str, str], advanced: str) -> dict[str, Any]:
    """The interchange transaction of the form (or the JSON box, when filled: it wins)."""
    if advanced.strip():
        try:
            data = orjson.loads(advanced)
        except orjson.JSONDecodeError as error:
            raise ApiError(400, f"not valid JSON: {error.msg}", where="transaction JSON") from None
        if not isinstance(data, dict):
            raise ApiError(422, "expected a transaction object", where="transaction JSON")
        return data
    quantity_text = values.get("quantity", "").strip()
    try:
        quantity: Any = int(quantity_text)
    except ValueError:
        quantity = quantity_text  # the interchange parser names the field and the problem
    item: dict[str, Any] = (
        {"equipment": values["equipment"].strip()}
        if values.get("equipment", "").strip() and not values.get("chip", "").strip()
        else {"chip": values.get("chip", "")}
    )
    item["quantity"] = quantity
    if values.get("origin", "").strip():
        item["origin"] = values["origin"].strip()
    txn: dict[str, Any] = {
        "destination": values.get("destination", ""),
        "items": [item],
        "consignee": {"name": values.get("consignee_name", ""), "headquarters": values.get("headquarters", "")},
    }
    for name in ("id", "date", "end_use", "export_from"):
        if values.get(name, "").strip():
            txn[name] = values[name].strip()
    value_text = values.get("value_usd", "").strip().replace(",", "")
    if value_text:  # what a licence line's dollars are drawn by
        try:
            txn["value_usd"] = float(value_text)
        except ValueError:
            txn["value_usd"] = value_text  # the interchange parser names the field and the problem
    for form_name, name in (
        ("consignee_country", "country"),
        ("parent_headquarters", "parent_headquarters"),
        ("veu", "veu"),
    ):
        if values.get(form_name, "").strip():
            txn["consignee"][name] = values[form_name].strip()
    return txn


LINK_LIMIT = 4000
"""A batch row links to its decision's page when its transaction's JSON is at most this long (a query string)."""
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_USD = re.compile(r"\d{1,13}(\.\d{1,2})?")
_SCREENING_RULES = {rule: code for code, (rule, _) in LIST_RULES.items()}


def field_errors(values: dict[str, str], advanced: str) -> dict[str, str]:
    """Every problem of the form's fields at once, by field name (none when the JSON box is used: the interchange
    parser names its fields)."""
    if advanced.strip():
        return {}
    errors: dict[str, str] = {}
    for name, what in (("destination", "destination"), ("headquarters", "headquarters")):
        text = values.get(name, "").strip()
        if not text:
            errors[name] = f"the {what} is required (a two-letter country code)"
        elif not _COUNTRY.fullmatch(text):
            errors[name] = f"{text[:20]!r} is not a two-letter country code"
    for name in ("export_from", "origin", "consignee_country", "parent_headquarters"):
        text = values.get(name, "").strip()
        if text and not _COUNTRY.fullmatch(text):
            errors[name] = f"{text[:20]!r} is not a two-letter country code"
    quantity = values.get("quantity", "").strip()
    if not quantity:
        errors["quantity"] = "the quantity is required"
    elif not quantity.isdigit() or int(quantity) < 1:
        errors["quantity"] = f"{quantity[:20]!r} is not a whole number of at least 1"
    if not values.get("consignee_name", "").strip():
        errors["consignee_name"] = "the consignee's name is required"
    if not values.get("chip", "").strip() and not values.get("equipment", "").strip():
        errors["chip"] = "name a chip or a piece of equipment"
    date = values.get("date", "").strip()
    if date and not _DATE.fullmatch(date):
        errors["date"] = f"{date[:20]!r} is not a date (YYYY-MM-DD)"
    value = values.get("value_usd", "").strip().replace(",", "")
    if value and not _USD.fullmatch(value):
        errors["value_usd"] = f"{value[:20]!r} is not an amount of US dollars"
    return errors


def field_of(where: str | None) -> str | None:
    """The form field an error's ``where`` (an interchange field path) names, if any."""
    path = (where or "").lower()
    for needle, name in (
        ("consignee.name", "consignee_name"),
        ("consignee.country", "consignee_country"),
        ("parent_headquarters", "parent_headquarters"),
        ("headquarters", "headquarters"),
        ("veu", "veu"),
        ("quantity", "quantity"),
        ("equipment", "equipment"),
        ("chip", "chip"),
        ("origin", "origin"),
        ("export_from", "export_from"),
        ("destination", "destination"),
        ("end_use", "end_use"),
        ("value_usd", "value_usd"),
        ("date", "date"),
        ("regime", "regime"),
    ):
        if needle in path:
            return name
    return None


def cause_of(decision: dict[str, Any], shipment: dict[str, Any] | None = None) -> str | None:
    """What changed the decision from what the rules alone answer, to show beside its outcome: a screening hit
    (the list and entry) or the licence it ships under; None when neither did."""
    listed = [_SCREENING_RULES[r] for r in decision.get("rules") or [] if r in _SCREENING_RULES]
    if listed:
        screening = decision.get("screening") if isinstance(decision.get("screening"), dict) else {}
        for hit in (screening or {}).get("hits") or []:  # the decision's screening record names the hit
            if isinstance(hit, dict) and {"EL", "SDN", "DPL"} & set(hit.get("lists") or [hit.get("list")]):
                return f"screening: {hit.get('list')} entry {hit.get('entry')} {hit.get('name')!r}"
        for line in decision.get("explanation") or []:
            if isinstance(line, str) and line.startswith("Screening: consignee matches "):
                return "screening: " + line.removeprefix("Screening: consignee matches ").split(" (score", 1)[0]
        return "screening: the consignee is on the " + ", ".join(dict.fromkeys(listed)) + " list"
    reason = (shipment or {}).get("reason")
    if (shipment or {}).get("committed") and isinstance(reason, str) and reason.startswith("shipped under licence "):
        return reason.removeprefix("shipped under ")
    return None


def batch_rows(records: list[tuple[Any, str]], decided: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch's decisions with the consignee and destination of each record and a link to its decision's
    page (the transaction decided again, alone, with its explanation)."""
    rows = []
    for (data, _), decision in zip(records, decided, strict=True):
        txn = data if isinstance(data, dict) else {}
        found = txn.get("consignee")
        consignee: dict[str, Any] = found if isinstance(found, dict) else {}
        text = orjson.dumps(txn).decode() if txn else ""
        rows.append(
            {
                **decision,
                "consignee": str(consignee.get("name") or ""),
                "destination": str(txn.get("destination") or ""),
                "link": f"/decide?transaction={quote(text, safe='')}" if text and len(text) <= LINK_LIMIT else None,
                "cause": cause_of(decision),
            }
        )
    return rows


def _page(request: Request, status: int = 200, **values: Any) -> Response:
    ctx = context(request)
    defaults: dict[str, Any] = {
        "form": {name: "" for name in FIELDS},
        "advanced": "",
        "decision": None,
        "shipment": None,
        "transaction_json": "",
        "batch": None,
        "batch_name": "",
        "error": None,
        "errors": {},
        "cause": None,
        "chips": [(chip.id, chip.name) for chip in ctx.book.catalogue],
        "tools": [(tool.id, tool.name) for tool in ctx.book.equipment],
        "regimes": list(ctx.book.regimes),
        "samples": [s["id"] for s in samples()],
        "today": ctx.today().isoformat(),
    }
    defaults.update(values)
    if defaults["decision"] is not None and defaults["cause"] is None:
        defaults["cause"] = cause_of(defaults["decision"], defaults["shipment"])
    return render(request, "decide.html", status=status, **defaults)


@router.get("/decide")
async def decide_page(request: Request, sample: str | None = None, transaction: str | None = None) -> Response:
    page_key(request, NAV.role)
    form = {name: "" for name in FIELDS}
    if transaction is not None:  # a batch row's decision: the transaction decided alone, with its explanation
        return await _decide(request, form, transaction[:100_000])
    if sample is not None:
        found = next((s for s in samples() if s["id"] == sample), None)
        if found is None:
            raise ApiError(404, f"no sample named {sample[:100]!r}")
        form = form_from_transaction(found)
    return _page(request, form=form)


@router.post("/decide")
async def decide_form(request: Request) -> Response:
    page_key(request, NAV.role)
    form = await request.form()
    check_csrf(request, form)
    values = {name: str(form.get(name) or "")[:500] for name in FIELDS}
    return await _decide(request, values, str(form.get("advanced") or ""))


async def _decide(request: Request, values: dict[str, str], advanced: str) -> Response:
    """The decision of the form's values (or of the JSON box), or the page with every field's error at once."""
    regime = values["regime"].strip() or None
    errors = field_errors(values, advanced)
    if errors:
        count = f"{len(errors)} field(s) need attention" if len(errors) > 1 else "a field needs attention"
        return _page(request, 422, form=values, advanced=advanced, error=f"{count}: see below", errors=errors)
    try:
        txn = transaction_from_form(values, advanced)
        decided = await run_in_threadpool(
            decide_records, context(request), [(txn, "form")], regime=regime, explain=True, live=True
        )
    except (ApiError, TiergateError) as error:
        head, _, rest = error.message.partition(": ")  # the parser names the field first: "destination: ..."
        field = None if advanced.strip() else field_of(error.where) or (field_of(head) if rest else None)
        errors = {field: for_http(rest if rest and field_of(head) else error.message) or ""} if field else {}
        return _page(request, 422, form=values, advanced=advanced, error=_message(error), errors=errors)
    return _page(
        request,
        form=values,
        advanced=advanced,
        decision=decided[0],
        transaction_json=orjson.dumps(txn).decode(),
    )


@router.post("/decide/ship")
async def ship_form(request: Request) -> Response:
    key = page_key(request, NAV.role)
    form = await request.form()
    check_csrf(request, form)
    text = str(form.get("transaction") or "")
    licence = str(form.get("licence") or "").strip() or None
    regime = str(form.get("regime") or "").strip() or None
    try:
        data = orjson.loads(text)
        if not isinstance(data, dict):
            raise ApiError(422, "expected a transaction object", where="transaction")
        shipment = await run_in_threadpool(
            ship_transaction, context(request), key, data, licence=licence, regime=regime, where="form"
        )
    except orjson.JSONDecodeError:
        return _page(request, 400, error="the transaction to ship is not valid JSON")
    except (ApiError, TiergateError) as error:
        return _page(request, 422, error=_message(error))
    form_values = form_from_transaction(data) if data.get("items") else {name: "" for name in FIELDS}
    shipment["reason"] = for_http(shipment.get("reason"))
    return _page(
        request, form=form_values, decision=shipment, shipment=shipment, transaction_json=orjson.dumps(data).decode()
    )


def _decide_upload(request: Request, name: str, content: bytes, regime: str | None) -> list[dict[str, Any]]:
    """The uploaded file's decisions as batch rows (see :func:`batch_rows`)."""
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ApiError(415, f"{name[:100]!r}: upload JSON, JSON lines, YAML, CSV or Parquet", where="file")
    with tempfile.TemporaryDirectory(prefix="tiergate-upload-") as folder:
        path = Path(folder) / f"batch{suffix}"
        path.write_bytes(content)
        try:
            limits = context(request).settings.upload_limits(rows=context(request).settings.max_batch_records)
            records = [(r.data, r.where.replace(str(path), name[:100])) for r in read_records(path, limits)]
        except TiergateError as error:
            where = (error.where or "").replace(str(path), name[:100])
            raise ApiError(422, error.message, where=where or name[:100], hint=error.hint) from None
    decided = decide_records(context(request), records, regime=regime, explain=False, live=True)
    return batch_rows(records, decided)


@router.post("/decide/batch")
async def batch_form(request: Request) -> Response:
    page_key(request, NAV.role)
    async with request.form(max_files=1, max_fields=10) as form:  # closes the spooled upload
        check_csrf(request, form)
        upload = form.get("file")
        regime = str(form.get("regime") or "").strip() or None
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _page(request, 422, error="choose a file of transactions to upload")
        content = await upload.read()
        name = Path(upload.filename).name
    try:
        decided = await run_in_threadpool(_decide_upload, request, name, content, regime)
    except (ApiError, TiergateError) as error:
        return _page(request, 422, error=_message(error), batch_name=name)
    return _page(request, batch=decided, batch_name=name)


def _message(error: ApiError | TiergateError) -> str:
    if isinstance(error, ApiError):
        text = f"{error.where}: {error.message}" if error.where else error.message
        return for_http(f"{text} ({error.hint})" if error.hint else text) or ""
    return for_http(str(error)) or ""
