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

    # Consignees of the vouched rows, by everything their accounts and the rules read (made when first needed).
    arrays = first.arrays
    blank = pa.scalar("", pa.string())
    composite = pc.binary_join_element_wise(
        *(pc.fill_null(arrays[k], blank) for k in ("located", "headquarters", "parent", "veu", "name", "consignee_id")),
        "\x1f",
    )
    encoded = pc.dictionary_encode(composite)
    consignee_code = np.asarray(pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    composites: list[str] = encoded.dictionary.to_pylist()
    people: list[Consignee | None] = [None] * len(composites)

    def person(code: int) -> Consignee:
        found = people[code]
        if found is None:
            located, hq, parent, veu, name, cid = composites[code].split("\x1f")
            found = people[code] = Consignee(
                name=name.strip(),
                country=located,
                headquarters=hq,
                parent_headquarters=parent or None,
                veu=veu or None,
                id=cid or None,
            )
        return found

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
                ("g", g), ctx, person(int(consignee_code[row])), destinations[row], dates[int(day[row])], int(qty[row])
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
    days_list = day.tolist()
    qty_list = qty.tolist()
    codes = consignee_code.tolist()
    by_row_list = by_row.tolist()
    ordered = order.tolist()
    decided0: list[tuple[int, int, float]] = []
    decided1: list[tuple[int, int]] = []
    for done, i in enumerate(ordered, start=1):
        if by_row_list[i]:
            row_txn = parsed.get(i)
            if row_txn is None:
                continue
            try:
                a, tpp = side0.decide_row(row_txn)
                b, _ = side1.decide_row(row_txn)
            except TiergateError as error:
                unreplayable.append((i, _unreplayable(row_txn.id, f"{source}: row {i + 1}", error)))
                replayable[i] = False
                continue
            decided0.append((i, a, tpp))
            decided1.append((i, b))
            continue
        when = dates[days_list[i]]
        code = codes[i]
        who = people[code] or person(code)
        if need0[i]:
            found0 = ctx0[g0[i]]
            assert found0 is not None
            a, tpp = side0.decide_single(("g", g0[i]), found0, who, destinations[i], when, qty_list[i])
            decided0.append((i, a, tpp))
        if need1[i]:
            found1 = ctx1[g1[i]]
            assert found1 is not None
            b, _ = side1.decide_single(("g", g1[i]), found1, who, destinations[i], when, qty_list[i])
            decided1.append((i, b))
        if progress is not None and done % 100_000 == 0:
            progress(done)
    if decided0:
        rows0, templates0, tpps0 = zip(*decided0, strict=True)
        template[0][list(rows0)] = templates0
        tpp_from[list(rows0)] = tpps0
    if decided1:
        rows1, templates1 = zip(*decided1, strict=True)
        template[1][list(rows1)] = templates1

    # What the report needs, for the replayed rows in input order (column-wise; the rows parsed one by one
    # are patched in).
    keep = np.flatnonzero(replayable)
    take = pa.array(keep)
    # The consignee's account key, as Consignee.key: its id, else "<country>:<slug of the name>".
    names = pc.dictionary_encode(pc.fill_null(arrays["name"], blank))
    # (each distinct name's slug taken from Consignee.key itself, with an empty country: ":<slug>")
    slugs = pa.array([Consignee(name=v, country="", headquarters="").key[1:] for v in names.dictionary.to_pylist()])
    slug = pc.take(slugs, pc.fill_null(names.indices, 0))
    ids = pc.fill_null(arrays["consignee_id"], blank)
    located = pc.fill_null(arrays["located"], blank)
    keys = pc.if_else(pc.equal(ids, ""), pc.binary_join_element_wise(located, slug, ":"), ids)
    chip_ids = [(c.id or "") if isinstance(c, Chip) else "" for c in first.chips]
    chip_codes = np.asarray(first.chip_of_row, dtype=np.int64)
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
    ids_kept: list[Any] = first.ids.take(take).to_pylist()
    patches = {int(np.searchsorted(keep, i)): txn for i, txn in parsed.items() if replayable[i]}
    for at, txn in patches.items():
        ids_kept[at] = txn.id
        i = int(keep[at])
        declared[i], low[i], high[i] = value_of(txn)
    destination_codes = _coded(pc.take(arrays["destination"], take), {a: t.destination for a, t in patches.items()})
    consignees = _coded(pc.take(keys, take), {a: t.consignee.key for a, t in patches.items()})
    chips = (
        Coded(chip_codes[keep], chip_ids) if not patches else Coded.of([chip_ids[c] for c in chip_codes[keep].tolist()])
    )
    if patches:
        chips = _patched(chips, {a: chip_label(t) for a, t in patches.items()})
    # Each consignee's name and country as its first replayed transaction gives them.
    first_of = np.full(len(consignees.labels), -1, dtype=np.int64)
    first_of[consignees.codes[::-1]] = np.arange(len(keep))[::-1]
    name_list = first.columns["name"]
    labels = []
    for position in first_of.tolist():
        patched = patches.get(position)
        if patched is not None:
            labels.append(consignee_label(patched.consignee))
        else:
            row = int(keep[position])
            labels.append(f"{str(name_list[row]).strip()} ({first.columns['located'][row]})")
    facts = RowFacts(
        ids=[None if v is None else str(v) for v in ids_kept],
        days=day[keep],
        destinations=destination_codes,
        consignees=consignees,
        consignee_names=labels,
        chips=chips,
        tpp=tpp_from[keep],
        value_declared=declared[keep],
        value_low=low[keep],
        value_high=high[keep],
    )
    unreplayable.sort(key=lambda pair: pair[0])
    result = _result(sides, facts, [u for _, u in unreplayable], n, source, history_digest, listings, effective_dates)
    result.templates = {"from": template[0][keep], "to": template[1][keep]}
    return result


def _coded(values: pa.Array, patches: dict[int, str]) -> Coded:
    """A text column as codes (Arrow's dictionary encoding), with the values at some positions replaced."""
    encoded = pc.dictionary_encode(pc.fill_null(values, pa.scalar("", pa.string())))
    coded = Coded(
        np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64), encoded.dictionary.to_pylist()
    )
    return _patched(coded, patches) if patches else coded


def _patched(coded: Coded, patches: dict[int, str]) -> Coded:
    codes = coded.codes.copy()
    labels = list(coded.labels)
    index = {label: k for k, label in enumerate(labels)}
    for position, value in patches.items():
        code = index.get(value)
        if code is None:
            code = index[value] = len(labels)
            labels.append(value)
        codes[position] = code
    return Coded(codes, labels)


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
