"""The replay of a Parquet history, column-wise: the batch path's vouching and decision contexts
(``tiergate.columnar.group_contexts``), one context per side, and the side's memoised determination
(``Side.decide_single``) only where it must be sequential.

Rows of a context whose route draws no allocation get the context's one determination, assigned to all of
them at once. Rows of a context that could draw an allocation, and rows the vectorised checks do not vouch
for (parsed and decided one by one, or named as unreplayable), go through one loop in date order (input
order within a date), so that every draw is seen by the transactions after it. The result is the same as
``replay_rows`` over the same records (a tested invariant).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiergate.batch import flat_to_transaction
from tiergate.catalog import Chip
from tiergate.columnar import _collector_paused, group_contexts
from tiergate.decide import parties_of
from tiergate.decide.model import Consignee, LineItem, Transaction
from tiergate.errors import TiergateError
from tiergate.interchange import parse_transaction
from tiergate.replay.engine import (
    EPOCH,
    Coded,
    Listing,
    Listings,
    ReplayResult,
    RowFacts,
    Side,
    _Context,
    _unreplayable,
    check_regimes,
    chip_label,
    consignee_label,
    day_number,
    value_of,
)
from tiergate.rules.book import Rulebook


def replay_table(
    book: Rulebook,
    table: pa.Table,
    *,
    regime_from: str,
    regime_to: str,
    effective_dates: bool = False,
    listings: Sequence[Listing] = (),
    today: dt.date,
    source: str = "history",
    history_digest: str = "",
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay a table of flat transaction rows (``tiergate.batch.FLAT_COLUMNS``)."""
    check_regimes(book, regime_from, regime_to)
    with _collector_paused():
        return _replay_table(
            book,
            table,
            regime_from=regime_from,
            regime_to=regime_to,
            effective_dates=effective_dates,
            listings=listings,
            today=today,
            source=source,
            history_digest=history_digest,
            progress=progress,
        )


def _replay_table(
    book: Rulebook,
    table: pa.Table,
    *,
    regime_from: str,
    regime_to: str,
    effective_dates: bool,
    listings: Sequence[Listing],
    today: dt.date,
    source: str,
    history_digest: str,
    progress: Callable[[int], None] | None,
) -> ReplayResult:
    n = table.num_rows
    sides = (
        Side(book, regime_from, effective_dates, "from"),
        Side(book, regime_to, effective_dates, "to", listings=Listings(listings) if listings else None),
    )
    if n == 0:
        return _result(sides, None, [], n, source, history_digest, listings, effective_dates)
    groupings = []
    for side in sides:

        def choose(name: str | None, day: dt.date, side: Side = side) -> tuple[Any, Any]:
            assert name is not None
            return book.select_in_force(name, day) if side.effective_dates else book.select(name, day)

        groupings.append(
            group_contexts(table, book, regime=side.regime, as_of=None, today=today, select=choose, by_year=False)
        )
    first, second = groupings

    # A row without its date is not replayed (the batch path would decide it as of today): the row parser,
    # given no default date, names it.
    dated = (
        np.asarray(pc.is_valid(table.column("date").combine_chunks()).to_numpy(zero_copy_only=False), dtype=bool)
        if "date" in table.column_names
        else np.zeros(n, dtype=bool)
    )
    by_row = ~(first.ok & second.ok & dated)
    day = first.day_numbers.astype(np.int64).copy()
    replayable = np.ones(n, dtype=bool)
    unreplayable: list[tuple[int, dict[str, Any]]] = []
    parsed: dict[int, Transaction] = {}
    slow = np.flatnonzero(by_row)
    if len(slow):
        for i, row in zip(slow.tolist(), table.take(pa.array(slow)).to_pylist(), strict=True):
            where = f"{source}: row {i + 1}"
            try:
                txn = parse_transaction(flat_to_transaction(row, where), book.catalogue, where=where)
            except TiergateError as error:
                unreplayable.append((i, _unreplayable(row.get("id"), where, error)))
                replayable[i] = False
                continue
            parsed[i] = txn
            day[i] = day_number(txn.date)

    # Each side's contexts (one per group of rows with one determination).
    contexts: list[list[_Context | None]] = []
    for side, grouping in zip(sides, groupings, strict=True):
        found: list[_Context | None] = [None] * len(grouping.first_row)
        cols = grouping.columns
        for job in grouping.jobs:
            row = int(grouping.first_row[job.group])
            entry = grouping.selection_rulesets[int(grouping.selection_of_row[row])]
            assert entry is not None
            ruleset = entry[0]
            chip = grouping.chips[int(grouping.chip_of_row[row])]
            assert isinstance(chip, Chip)
            probe = Transaction(
                id=None,
                date=EPOCH + dt.timedelta(days=int(grouping.day_numbers[row])),
                export_from=cols["export_from"][row],
                destination=cols["destination"][row],
                items=(LineItem(chip, 1),),
                consignee=Consignee(
                    name="_",
                    country=cols["located"][row],
                    headquarters=cols["headquarters"][row],
                    parent_headquarters=cols["parent"][row],
                    veu=cols["veu"][row],
                ),
                end_use=cols["end_use"][row],
            )
            found[job.group] = side.context(("g", job.group), ruleset, chip, parties_of(probe, ruleset), probe.date)
        contexts.append(found)

    # Consignees of the vouched rows, by everything their accounts and the rules read.
    arrays = first.arrays
    blank = pa.scalar("", pa.string())
    composite = pc.binary_join_element_wise(
        *(pc.fill_null(arrays[k], blank) for k in ("located", "headquarters", "parent", "veu", "name", "consignee_id")),
        "\x1f",
    )
    encoded = pc.dictionary_encode(composite)
    consignee_code = np.asarray(pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    people: list[Consignee] = []
    for text in encoded.dictionary.to_pylist():
        located, hq, parent, veu, name, cid = text.split("\x1f")
        people.append(
            Consignee(
                name=name.strip(),
                country=located,
                headquarters=hq,
                parent_headquarters=parent or None,
                veu=veu or None,
                id=cid or None,
            )
        )

    # Per side: the template and TPP of each row.
    template = [np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)]
    tpp_from = np.zeros(n, dtype=np.float64)
    sequential = by_row.copy()
    dates = {int(d): EPOCH + dt.timedelta(days=int(d)) for d in np.unique(day)}
    qty = first.qty
    destinations = first.columns["destination"]
    for k, (side, grouping) in enumerate(zip(sides, groupings, strict=True)):
        plan = np.zeros(len(contexts[k]), dtype=bool)
        fixed = np.full(len(contexts[k]), -1, dtype=np.int64)
        unit = np.zeros(len(contexts[k]), dtype=np.float64)
        for g, ctx in enumerate(contexts[k]):
            if ctx is None:
                continue
            unit[g] = ctx.cls.tpp if ctx.cls.tpp is not None else 0.0
            if ctx.plan or side.listings:
                plan[g] = True
                continue
            row = int(grouping.first_row[g])
            fixed[g], _ = side.decide_single(
                ("g", g), ctx, people[consignee_code[row]], destinations[row], dates[int(day[row])], int(qty[row])
            )
        vouched = ~by_row
        rows_fixed = vouched & ~plan[grouping.group]
        template[k][rows_fixed] = fixed[grouping.group[rows_fixed]]
        if k == 0:
            tpp_from[vouched] = unit[grouping.group[vouched]] * qty[vouched]
        sequential |= vouched & plan[grouping.group]

    # The rows that must be decided in date order.
    candidates = np.flatnonzero(sequential & replayable)
    order = candidates[np.argsort(day[candidates], kind="stable")]
    groups = (first.group, second.group)
    need = [np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)]
    for k in range(2):
        need[k][order] = template[k][order] < 0
    need0, need1 = need[0].tolist(), need[1].tolist()
    g0, g1 = groups[0].tolist(), groups[1].tolist()
    ctx0, ctx1 = contexts
    side0, side1 = sides
    tpl0, tpl1 = template
    days_list = day.tolist()
    qty_list = qty.tolist()
    codes = consignee_code.tolist()
    for done, i in enumerate(order.tolist(), start=1):
        row_txn = parsed.get(i)
        if row_txn is not None:
            try:
                a, tpp = side0.decide_row(row_txn)
                b, _ = side1.decide_row(row_txn)
            except TiergateError as error:
                unreplayable.append((i, _unreplayable(row_txn.id, f"{source}: row {i + 1}", error)))
                replayable[i] = False
                continue
            tpl0[i], tpl1[i], tpp_from[i] = a, b, tpp
            continue
        when = dates[days_list[i]]
        person = people[codes[i]]
        if need0[i]:
            g = g0[i]
            found0 = ctx0[g]
            assert found0 is not None
            tpl0[i], tpp_from[i] = side0.decide_single(("g", g), found0, person, destinations[i], when, qty_list[i])
        if need1[i]:
            g = g1[i]
            found1 = ctx1[g]
            assert found1 is not None
            tpl1[i], _ = side1.decide_single(("g", g), found1, person, destinations[i], when, qty_list[i])
        if progress is not None and done % 100_000 == 0:
            progress(done)

    # What the report needs, for the replayed rows in input order.
    keep = np.flatnonzero(replayable)
    ids_all: list[Any] = first.ids.to_pylist()
    chip_ids = [c.id if isinstance(c, Chip) else None for c in first.chips]
    chip_codes = np.asarray(first.chip_of_row, dtype=np.int64)
    person_keys = [p.key for p in people]
    labels: dict[str, str] = {}
    for p in people:
        labels.setdefault(p.key, consignee_label(p))
    low_unit = np.array(
        [c.price_usd.low if isinstance(c, Chip) and c.price_usd else np.nan for c in first.chips] or [np.nan]
    )
    high_unit = np.array(
        [c.price_usd.high if isinstance(c, Chip) and c.price_usd else np.nan for c in first.chips] or [np.nan]
    )
    declared = np.full(n, np.nan)
    if "value_usd" in table.column_names:
        raw = table.column("value_usd").combine_chunks()
        if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type):
            declared = np.asarray(
                pc.fill_null(pc.cast(raw, pa.float64()), np.nan).to_numpy(zero_copy_only=False), dtype=np.float64
            ).copy()
    low = low_unit[chip_codes] * qty
    high = high_unit[chip_codes] * qty
    destination_values: list[str] = list(destinations)
    consignee_values = [person_keys[c] for c in codes]
    chip_values = [chip_ids[c] or "" for c in chip_codes.tolist()]
    for i, txn in parsed.items():
        ids_all[i] = txn.id
        destination_values[i] = txn.destination
        consignee_values[i] = txn.consignee.key
        labels.setdefault(txn.consignee.key, consignee_label(txn.consignee))
        chip_values[i] = chip_label(txn)
        declared[i], low[i], high[i] = value_of(txn)
    keep_list = keep.tolist()
    consignees = Coded.of([consignee_values[i] for i in keep_list])
    facts = RowFacts(
        ids=[None if ids_all[i] is None else str(ids_all[i]) for i in keep_list],
        days=day[keep],
        destinations=Coded.of([destination_values[i] for i in keep_list]),
        consignees=consignees,
        consignee_names=[labels[key] for key in consignees.labels],
        chips=Coded.of([chip_values[i] for i in keep_list]),
        tpp=tpp_from[keep],
        value_declared=declared[keep],
        value_low=low[keep],
        value_high=high[keep],
    )
    unreplayable.sort(key=lambda pair: pair[0])
    result = _result(sides, facts, [u for _, u in unreplayable], n, source, history_digest, listings, effective_dates)
    result.templates = {"from": template[0][keep], "to": template[1][keep]}
    return result


def _result(
    sides: tuple[Side, Side],
    facts: RowFacts | None,
    unreplayable: list[dict[str, Any]],
    read: int,
    source: str,
    digest: str,
    listings: Sequence[Listing],
    effective_dates: bool,
) -> ReplayResult:
    if facts is None:
        empty = np.zeros(0, dtype=np.int64)
        facts = RowFacts(
            [], empty, Coded(empty, []), Coded(empty, []), [], Coded(empty, []), *(np.zeros(0) for _ in range(4))
        )
    return ReplayResult(
        sides[0].regime,
        sides[1].regime,
        effective_dates,
        sides,
        facts,
        {"from": np.zeros(0, dtype=np.int64), "to": np.zeros(0, dtype=np.int64)},
        unreplayable,
        read,
        digest,
        source,
        tuple(listings),
        path="columns",
    )
