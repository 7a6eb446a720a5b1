"""``/v1/decide``: licence determination for one transaction or a batch, by the same functions as
``tiergate decide`` (``tiergate.batch.decide_stream`` over ``tiergate.interchange`` parsing); while the server's
list store holds lists, each consignee is screened and hits adjust the decision, as ``tiergate decide --lists``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tiergate.api.auth import authorize, context, officer
from tiergate.api.bodies import check_batch, json_body, records_body
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey
from tiergate.api.limits import encode_rows, within_budget
from tiergate.api.schemas import json_body as body_doc
from tiergate.api.schemas import ok, ref
from tiergate.api.screening import ServerLists
from tiergate.batch import Record, decide_stream
from tiergate.decide.model import Decision
from tiergate.interchange import decision_to_dict, parse_transaction
from tiergate.ledger.ship import live_balances
from tiergate.screen.licensing import ConsigneeScreening, unscreened
from tiergate.screen.model import Hit
from tiergate.screen.model import Query as NameQuery

router = APIRouter(prefix="/v1/decide", tags=["decide"])
INLINE_BYTES = 1_024
"""A transaction up to this size is decided on the event loop (about 0.1 ms: a thread costs more than that);
a larger one, one decided against the ledger or one whose consignee is screened, in the thread pool, so that
it does not hold up other requests (a 30 kB transaction of 700 items takes about 10 ms)."""

Regime = Annotated[
    str | None, Query(max_length=100, description="Decide under this regime (a scenario), whatever the date.")
]
AsOf = Annotated[dt.date | None, Query(description="Decide as of this date (replaces each transaction's date).")]
Explain = Annotated[bool, Query(description="Include the explanation (the reasoning, rule by rule).")]
Live = Annotated[
    bool, Query(description="Decide against the ledger's live balances (read only), as `tiergate decide --db`.")
]


def ledger_balances(
    ctx: ApiContext, records: Sequence[tuple[Any, str]], regime: str | None, as_of: dt.date | None
) -> dict[str, float]:
    """The live remaining TPP of every allocation account the transactions could draw."""
    balances: dict[str, float] = {}
    for data, where in within_budget(records):
        txn = parse_transaction(data, ctx.book.catalogue, where=where, default_date=as_of or ctx.today())
        if as_of is not None:
            txn = replace(txn, date=as_of)
        ruleset, _ = ctx.book.select(regime or txn.regime, txn.date)
        balances.update(ctx.read(live_balances, txn, ruleset, ctx.ledger))
    return balances


def decide_records(
    ctx: ApiContext,
    records: Sequence[tuple[Any, str]],
    *,
    regime: str | None = None,
    as_of: dt.date | None = None,
    explain: bool = True,
    live: bool = False,
) -> list[dict[str, Any]]:
    """The decisions (interchange dicts) of the records, in order; the first bad record is a 422 naming it."""
    return list(iter_decisions(ctx, records, regime=regime, as_of=as_of, explain=explain, live=live))


def iter_decisions(
    ctx: ApiContext,
    records: Sequence[tuple[Any, str]],
    *,
    regime: str | None = None,
    as_of: dt.date | None = None,
    explain: bool = True,
    live: bool = False,
) -> Iterator[dict[str, Any]]:
    """The decisions of the records, one at a time, within the request's budget (see ``tiergate.api.limits``)."""
    check_batch(records, ctx.settings.max_batch_records, "transactions")
    check_regime(ctx, regime)
    balances = ledger_balances(ctx, records, regime, as_of) if live else None
    items: Iterable[Record] = within_budget([Record(data, where) for data, where in records])
    lists = ctx.screening()
    screening = ConsigneeScreening(items, ConsigneeScreener(lists), lists.data_version()) if lists is not None else None
    decided: Iterable[Decision] = decide_stream(
        screening.records() if screening is not None else items,
        ctx.book,
        regime=regime,
        as_of=as_of,
        today=ctx.today(),
        balances=balances,
        explain=explain,
        denials=ctx.denials(),
        listings_of=screening.listings_of if screening is not None else None,
    )
    # as `tiergate decide`: hits make a decision more restrictive, never less; unscreened, the record says so
    decided = screening.adjust(decided) if screening is not None else unscreened(decided, ctx.unscreened_reason())
    return (decision_to_dict(d, explain=explain) for d in decided)


def check_regime(ctx: ApiContext, regime: str | None) -> None:
    """A 422 naming ``query.regime`` for a regime the server does not know (before any record is read)."""
    if regime is not None and regime not in ctx.book.regimes:
        known = ", ".join(ctx.book.regimes)
        raise ApiError(422, f"unknown regime {regime[:100]!r}", where="query.regime", hint=f"regimes: {known}")


class ConsigneeScreener:
    """The server's lists, screening each consignee (an unscreenable consignee name is a 422 naming it)."""

    def __init__(self, lists: ServerLists) -> None:
        self.lists = lists

    def screen(self, query: NameQuery, *, party: str | None = None, limit: int | None = None) -> list[Hit]:
        """``limit`` is the server's own (every hit of a consignee weighs)."""
        return self.lists.consignee_hits(query, party=party, where="consignee.name")


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "f", "n"})


def _flag(request: Request, name: str, default: bool) -> bool:
    text = request.query_params.get(name)
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ApiError(422, f"{name}: {text[:50]!r} is not a boolean (true or false)", where=f"query.{name}")


def decide_options(request: Request) -> tuple[str | None, dt.date | None, bool, bool]:
    """``regime``, ``as_of``, ``explain`` and ``live`` of the query, checked as the OpenAPI document declares them
    (read by hand on this hot route: FastAPI's parameter machinery costs as much as deciding)."""
    regime = request.query_params.get("regime")
    if regime is not None and len(regime) > 100:
        raise ApiError(422, "regime: at most 100 characters", where="query.regime")
    as_of_text = request.query_params.get("as_of")
    as_of = None
    if as_of_text is not None:
        try:
            as_of = dt.date.fromisoformat(as_of_text)
        except ValueError:
            raise ApiError(422, f"as_of: {as_of_text[:50]!r} is not a date (YYYY-MM-DD)", where="query.as_of") from None
    return regime, as_of, _flag(request, "explain", True), _flag(request, "live", False)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_DECIDE_PARAMETERS = [
    _query(
        "regime",
        {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}]},
        "Decide under this regime (a scenario), whatever the date.",
    ),
    _query(
        "as_of",
        {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        "Decide as of this date (replaces the transaction's date).",
    ),
    _query("explain", {"type": "boolean", "default": True}, "Include the explanation (the reasoning, rule by rule)."),
    _query(
        "live",
        {"type": "boolean", "default": False},
        "Decide against the ledger's live balances (read only), as `tiergate decide --db`.",
    ),
]


@router.post(
    "",
    summary="Decide one transaction",
    response_class=Response,
    responses={**ok(ref("Decision"), "The decision."), **responses(415)},
    openapi_extra={
        **body_doc(ref("TransactionIn"), description="A transaction (docs/ARCHITECTURE.md)."),
        "parameters": _DECIDE_PARAMETERS,
        "security": [{"HTTPBearer": []}],
    },
)
async def decide_one(request: Request) -> Response:
    await authorize(request, "officer", "decide or ship")
    regime, as_of, explain, live = decide_options(request)
    data = await json_body(request)
    if not isinstance(data, dict):
        raise ApiError(422, f"expected a transaction object, got {type(data).__name__}", where="body")
    ctx = context(request)
    records = [(data, "body")]
    if live or len(await request.body()) > INLINE_BYTES or ctx.screening() is not None:
        decided = await run_in_threadpool(
            decide_records, ctx, records, regime=regime, as_of=as_of, explain=explain, live=live
        )
    else:
        decided = decide_records(ctx, records, regime=regime, as_of=as_of, explain=explain)
    return _json(decided[0])


@router.post(
    "/batch",
    summary="Decide a batch of transactions",
    description="A JSON array of transactions, or JSON lines (`application/x-ndjson`). The decisions come back "
    "in input order, as a JSON array (or JSON lines when the request was JSON lines). The first bad "
    "transaction fails the whole batch with its position in `where`; nothing is partly answered.",
    response_class=Response,
    responses={**ok({"type": "array", "items": ref("Decision")}, "The decisions, in input order."), **responses(415)},
    openapi_extra=body_doc(
        {"type": "array", "items": ref("TransactionIn"), "minItems": 1},
        description="Transactions.",
        ndjson=True,
    ),
)
async def decide_batch(
    request: Request,
    key: Annotated[ApiKey, Depends(officer)],
    regime: Regime = None,
    as_of: AsOf = None,
    explain: Explain = True,
    live: Live = False,
) -> Response:
    ctx = context(request)
    check_regime(ctx, regime)
    records = await records_body(request, most=ctx.settings.max_batch_records, what="transactions")
    if not records:
        raise ApiError(422, "the batch is empty", where="body")
    lines = request.headers.get("content-type", "").startswith(("application/x-ndjson", "application/jsonl"))

    def answer() -> bytes:
        decided = iter_decisions(ctx, records, regime=regime, as_of=as_of, explain=explain, live=live)
        return encode_rows(decided, ctx.settings.max_response_bytes, lines=lines, what="transactions")

    body = await run_in_threadpool(answer)
    return Response(body, media_type="application/x-ndjson" if lines else "application/json")
