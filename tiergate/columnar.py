"""Columnar batch determination over Parquet: the same decisions as ``decide``, a million rows at a time.

Rows of one *decision context* (chip, destination, origin, consignee location / headquarters / parent /
VEU, end use, and the date's epoch: the span of days in which the regime, its packs, every country
group and the calendar year are constant) get the same determination except for the quantity, and
the quantity only matters where an allocation cap is compared with ``TPP x quantity``. So each
context is decided once per quantity bracket between those caps, by the pure core (``decide``),
and the result is applied to all its rows with Arrow kernels; only the per-row figures (quantity,
TPP totals, allocation accounts) are computed per row.

Equivalence with row-by-row ``decide`` is a tested invariant (tests/test_columnar.py). Rows that
the vectorised checks cannot vouch for (multi-item ``items`` rows, unusual values) go through the
row-by-row path, which also produces the exact error for a bad row.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiergate.classify import classify
from tiergate.decide import allocation_account, parties_of
from tiergate.decide.model import AllocationDraw, Consignee, Decision, ItemDecision, LineItem, Transaction
from tiergate.decide.route import route
from tiergate.errors import TiergateError
from tiergate.interchange import decision_fields, iso_codes, jurisdiction_fields
from tiergate.rules.allied import AlliedRules
from tiergate.rules.book import Rulebook
from tiergate.rules.ruleset import GroupTest, Ruleset, compare

TEXT = pa.dictionary(pa.int32(), pa.string())
"""Repeated texts (rule ids, citations, outcomes) are dictionary-encoded, in memory and in Parquet."""
ITEM_TYPE = pa.struct(
    [
        ("index", pa.int32()),
        ("kind", TEXT),
        ("name", TEXT),
        ("chip", TEXT),
        ("eccn", TEXT),
        ("paragraph", TEXT),
        ("tpp", pa.float64()),
        ("performance_density", pa.float64()),
        ("quantity", pa.int64()),
        ("tpp_total", pa.float64()),
        ("outcome", TEXT),
        ("authorization", TEXT),
        ("review_policy", TEXT),
        ("provisional", pa.bool_()),
        ("rules", pa.list_(TEXT)),
    ]
)
ALLOCATION_TYPE = pa.struct(
    [
        ("allocation", TEXT),
        ("account", pa.string()),
        ("rule", TEXT),
        ("tpp", pa.float64()),
        ("cap", pa.float64()),
        ("remaining", pa.float64()),
    ]
)


JURISDICTION_ITEM_TYPE = pa.struct(
    [
        ("index", pa.int32()),
        ("outcome", pa.string()),
        ("authorization", pa.string()),
        ("review_policy", pa.string()),
        ("entry", pa.string()),
        ("hook", pa.string()),
        ("indeterminate", pa.bool_()),
        ("rules", pa.list_(pa.string())),
    ]
)
JURISDICTION_TYPE = pa.struct(
    [
        ("jurisdiction", pa.string()),
        ("law", pa.string()),
        ("packs", pa.list_(pa.string())),
        ("reached", pa.bool_()),
        ("hook", pa.string()),
        ("outcome", pa.string()),
        ("authorization", pa.string()),
        ("review_policy", pa.string()),
        ("indeterminate", pa.bool_()),
        ("authority", pa.string()),
        ("items", pa.list_(JURISDICTION_ITEM_TYPE)),
        ("rules", pa.list_(pa.string())),
        ("citations", pa.list_(pa.string())),
        ("notices", pa.list_(pa.string())),
    ]
)
"""One law's own answer (a decision's ``jurisdictions``; empty for a decision that engages US law alone)."""


def decision_schema(explain: bool) -> pa.Schema:
    """The Parquet schema of decisions (the interchange decision, typed)."""
    return pa.schema(
        [
            ("id", pa.string()),
            ("regime", TEXT),
            ("packs", pa.list_(TEXT)),
            ("date", pa.date32()),
            ("outcome", TEXT),
            ("authorization", TEXT),
            ("review_policy", TEXT),
            ("items", pa.list_(ITEM_TYPE)),
            ("tpp_total", pa.float64()),
            ("allocations", pa.list_(ALLOCATION_TYPE)),
            ("rules", pa.list_(TEXT)),
            ("citations", pa.list_(TEXT)),
            ("conditions", pa.list_(TEXT)),
            ("recalled", pa.list_(TEXT)),
            ("provisional", pa.bool_()),
            *([("explanation", pa.list_(pa.string()))] if explain else []),
            ("jurisdictions", pa.list_(JURISDICTION_TYPE)),
        ]
    )


def rows_to_table(decisions: Sequence[Decision], explain: bool) -> pa.Table:
    """Decisions as a table of :func:`decision_schema`."""
    rows = [decision_fields(d, explain=explain) for d in decisions]
    return pa.Table.from_pylist(rows, schema=decision_schema(explain))


def _visible_refs(rules: Ruleset) -> tuple[frozenset[str], frozenset[str]]:
    """The groups and codes a ruleset's party tests name (for destination and consignee), and those
    its origin (export_from) tests name. Codes with their own cap (doubled_for) count as named."""

    def refs(test: GroupTest | None) -> frozenset[str]:
        return test.refs() if test is not None else frozenset()

    party: set[str] = set()
    origin: set[str] = set()
    for req in rules.requirements:
        party |= refs(req.destinations) | refs(req.headquarters)
        origin |= refs(req.export_from)
    for prohibition in rules.prohibitions:
        party |= refs(prohibition.destinations)
    for exc in rules.exceptions:
        party |= refs(exc.destinations)
        if exc.consignee is not None:
            for test in (exc.consignee.located_in, exc.consignee.headquartered_in, exc.consignee.headquartered_in_any):
                party |= refs(test)
    for policy in rules.review_policies:
        party |= refs(policy.destinations) | refs(policy.headquarters)
        origin |= refs(policy.export_from)
    for allocation in rules.allocations.values():
        if allocation.drawn_by_licence is not None:
            party |= refs(allocation.drawn_by_licence[1])
        if allocation.shares is not None:
            party |= {allocation.shares.tier1_group, allocation.shares.tier2_group}
        party |= allocation.doubled_for
    for notice in rules.notices:
        party |= refs(notice.destinations)
    party |= set(rules.treated_as)
    return frozenset(party), frozenset(origin)


def _allied_refs(rules: AlliedRules) -> frozenset[str]:
    """The groups and codes an allied law's tests name that can matter to a flat chip row: the destinations of
    the controls that can catch a chip, of the general authorisations that cover them, and of the advisories.
    (Catch-all rules need screening hits and the US reach rules origin facts: such rows go row by row.)"""
    relevant = [c for c in rules.controls if any(s.kinds is None or "chip" in s.kinds for s in c.items)]
    ids = {c.id for c in relevant}
    tests = [
        *(c.destinations for c in relevant),
        *(g.destinations for g in rules.general_authorisations if g.covers is None or g.covers & ids),
        *(a.destinations for a in rules.advisories),
    ]
    found: set[str] = set()
    for test in tests:
        if test is not None:
            found |= test.refs()
    return frozenset(found)


def _allied_signature(
    book: Rulebook, origin: str, day: dt.date
) -> tuple[tuple[int, ...], Callable[[str], frozenset[str]]]:
    """For rows exported from ``origin``: the identity of the laws it engages on ``day`` (and of the US reach
    stack, whose packs the decision names), and a code's memberships of the groups those laws test, with
    whether it lies inside each law's territory and whether it is the United States (an import there)."""
    stacks = [(code, book.allied(code, day)) for code in book.territory_laws.get(origin, ())]
    ids = (*(id(stack) for _, stack in stacks), id(book.allied("US", day)))  # (the laws, not the country)
    live = [(code, stack, _allied_refs(stack)) for code, stack in stacks if stack is not None]
    territories = [(code, book.jurisdictions[code].territory) for code, _ in stacks]

    def members(country: str) -> frozenset[str]:
        found = {
            f"{code}|{group}" for code, stack, refs in live for group in stack.groups.memberships(country, day) & refs
        }
        found |= {f"{code}|inside" for code, territory in territories if country in territory}
        if country == "US":
            found.add("US")
        return frozenset(found)

    return ids, members


@dataclass(frozen=True, slots=True)
class _Context:
    """A decision context, as the first row that has it."""

    group: int
    regime: str | None
    day: int
    chip: str
    export_from: str
    destination: str
    located: str
    headquarters: str
    parent: str | None
    veu: str | None
    end_use: str | None


def _templates_of(book: Rulebook, job: _Context) -> tuple[list[int], list[Decision]]:
    """The quantity breakpoints of a context and one decision per bracket between them."""
    ruleset, _ = book.select(job.regime, _day(job.day))
    chip = book.catalogue.resolve(job.chip)
    from tiergate.alliance import determine_all

    txn = Transaction(
        id=None,
        date=_day(job.day),
        export_from=job.export_from,
        destination=job.destination,
        items=(LineItem(chip, 1),),
        consignee=Consignee(
            name="_",
            country=job.located,
            headquarters=job.headquarters,
            parent_headquarters=job.parent,
            veu=job.veu,
            id="_",
        ),
        end_use=job.end_use,
    )
    points = _breakpoints(txn, ruleset)
    decisions = [
        determine_all(replace(txn, items=(LineItem(chip, q),)), book, ruleset, explain=False)
        for q in [1, *(p + 1 for p in points)]
    ]
    return points, decisions


_WORKER_BOOK: Rulebook | None = None
PARALLEL_MIN_CONTEXTS = 4000
"""Below this many contexts the templates are decided in this process (a worker costs a second to start)."""


def _start_worker(folders: tuple[str, ...], include_packaged: bool) -> None:
    global _WORKER_BOOK
    from tiergate.rules import load_rulebook

    _WORKER_BOOK = load_rulebook([Path(f) for f in folders], include_packaged=include_packaged)


def _worker_templates(jobs: list[_Context]) -> list[tuple[list[int], list[Decision]]]:
    assert _WORKER_BOOK is not None
    with _collector_paused():
        return [_templates_of(_WORKER_BOOK, job) for job in jobs]


def _context_templates(book: Rulebook, jobs: list[_Context], workers: int) -> list[tuple[list[int], list[Decision]]]:
    """Templates of every context, in order; spread over worker processes for large batches."""
    sources = getattr(book, "sources", None)
    if workers <= 1 or len(jobs) < PARALLEL_MIN_CONTEXTS or sources is None:
        return [_templates_of(book, job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    folders, include_packaged = sources
    size = math.ceil(len(jobs) / (workers * 4))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(tuple(str(f) for f in folders), include_packaged),
    ) as pool:
        return [result for chunk in pool.map(_worker_templates, chunks) for result in chunk]


def _breakpoints(txn: Transaction, rules: Ruleset) -> list[int]:
    """Quantities at which a cap comparison of this context flips: the largest quantity that still fits."""
    line = txn.items[0]
    cls = classify(line.item, rules)
    if cls.tpp is None or cls.tpp <= 0:
        return []
    rt = route(cls, parties_of(txn, rules), rules)
    caps: set[float] = set()
    allocations = list(rt.licence_allocations)
    for option in rt.options:
        if option.limit is not None:
            allocations.append(rules.allocations[option.limit])
        rule_name = option.provenance.rule_id.split("/", 1)[1]
        allocations.extend(a for a in rules.allocations.values() if rule_name in a.drawn_by_exceptions)
    for allocation in allocations:
        cap = allocation.cap_for(txn.destination, txn.date.year)
        if cap is not None:
            caps.add(cap)
    points = set()
    for cap in caps:
        q = max(0, math.floor(cap / cls.tpp))
        while compare(cls.tpp * (q + 1), "<=", cap):
            q += 1
        while q > 0 and not compare(cls.tpp * q, "<=", cap):
            q -= 1
        points.add(q)
    return sorted(points)


def _encoded(typ: pa.DataType) -> pa.DataType:
    """Strings (and lists of strings) as dictionary-encoded texts."""
    if pa.types.is_string(typ):
        return TEXT
    if pa.types.is_list(typ) and pa.types.is_string(typ.value_type):
        return pa.list_(TEXT)
    return typ


def _encoded_array(values: list[Any], typ: pa.DataType) -> pa.Array:
    """``pa.array(values, _encoded(typ))``, built through one string table (fast for many repeats)."""
    if not (pa.types.is_string(typ) or (pa.types.is_list(typ) and pa.types.is_string(typ.value_type))):
        return pa.array(values, type=typ)
    table: dict[str, int] = {}
    if pa.types.is_string(typ):
        codes = [None if v is None else table.setdefault(v, len(table)) for v in values]
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(list(table), pa.string()))
    flat = [table.setdefault(v, len(table)) for items in values for v in (items or ())]
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum([len(items or ()) for items in values], out=offsets[1:])
    inner = pa.DictionaryArray.from_arrays(pa.array(flat, pa.int32()), pa.array(list(table), pa.string()))
    mask = pa.array([items is None for items in values])
    return pa.ListArray.from_arrays(pa.array(offsets), inner, mask=mask)


def _visible_end_uses(book: Rulebook) -> set[str]:
    """End uses named anywhere in the packs (other end uses are alike to the rules)."""
    end_uses: set[str] = set()
    for pack in book.packs.values():
        for exc in pack.rules.exceptions:
            end_uses.update(exc.end_use or ())
        for prohibition in pack.rules.prohibitions:
            end_uses.update(prohibition.unless_end_use)
    return end_uses


_EPOCH = dt.date(1970, 1, 1)


def _day(number: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=number)


def _epoch_bounds(book: Rulebook) -> np.ndarray:
    """Day numbers where the regime, a pack, a dated group membership or (for thresholds over the catalogue's
    frontier) a catalogue quantity changes."""
    bounds: set[dt.date] = set(book.release_dates())
    for regime in book.regimes.values():
        for d in (regime.effective_from, regime.effective_until and regime.effective_until + dt.timedelta(days=1)):
            if d:
                bounds.add(d)
    for pack in book.packs.values():
        bounds.add(pack.manifest.effective_from)
        if pack.manifest.effective_until is not None:
            bounds.add(pack.manifest.effective_until + dt.timedelta(days=1))
        for group in pack.rules.country_groups:
            for member in [*(group.members or []), *group.add]:
                if not isinstance(member, str):
                    for d in (member.from_, member.until and member.until + dt.timedelta(days=1)):
                        if d:
                            bounds.add(d)
    return np.array(sorted((b - _EPOCH).days for b in bounds), dtype=np.int64)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The batch allocates many long-lived objects and no cycles; pausing the cyclic garbage
    collector for its duration saves a quarter of the run time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def decide_table(
    table: pa.Table,
    book: Rulebook,
    *,
    regime: str | None,
    as_of: dt.date | None,
    today: dt.date,
    row_fallback: Callable[[list[int]], list[Decision]],
    workers: int = 1,
) -> pa.Table:
    """Decisions for a table of flat transaction rows (see ``tiergate.batch.FLAT_COLUMNS``).

    ``row_fallback(indices)`` decides the given rows one by one (raising the exact error for a bad
    row); it is used for rows the vectorised checks do not vouch for. ``workers`` > 1 spreads the
    deciding of distinct contexts over that many processes when there are many.
    """
    with _collector_paused():
        return _decide_table(
            table, book, regime=regime, as_of=as_of, today=today, row_fallback=row_fallback, workers=workers
        )


@dataclass
class Grouping:
    """A table's rows grouped into decision contexts (see the module doc): which rows are vouched for, each
    row's context, date and quantity, and one job (the first row's context) per context. The replay
    (``tiergate.replay``) groups a history this way too."""

    n: int
    ok: np.ndarray
    """Rows the vectorised checks vouch for; the others go through the row-by-row parser."""
    group: np.ndarray
    first_row: np.ndarray
    jobs: list[_Context]
    qty: np.ndarray
    quantity: pa.Array
    days: pa.Array
    day_numbers: np.ndarray
    selection_of_row: np.ndarray
    selection_rulesets: list[tuple[Ruleset, frozenset[str], frozenset[str]] | None]
    columns: dict[str, list[Any]]
    """Per-row Python values: destination, export_from, located, headquarters, parent, veu, end_use, name,
    consignee_id."""
    arrays: dict[str, pa.Array]
    """The same as Arrow arrays (null where absent)."""
    ids: pa.Array
    chips: list[Any]
    """Per context id of the chip (``Chip`` objects of the catalogue), by the row's chip code."""
    chip_of_row: np.ndarray


class _Vouching:
    """The vectorised checks of a table's rows: a row is decided column-wise only when every check holds; any
    other row goes to the row-by-row parser, which decides it or raises the exact error. The checks mirror
    tiergate.interchange.TransactionIn (and flat_to_transaction) so that both paths agree."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.n = table.num_rows
        self.ok = pa.array(np.ones(self.n, dtype=bool))
        self.iso = pa.array(sorted(iso_codes()))

    def vouch(self, condition: pa.Array) -> None:
        self.ok = pc.and_(self.ok, pc.fill_null(condition, False))

    def column(self, name: str) -> pa.Array:
        """A column as one array, all nulls when the table has none."""
        return self.table.column(name).combine_chunks() if name in self.table.column_names else pa.nulls(self.n)

    def text(self, name: str, *, integers: bool = False) -> pa.Array:
        """A text column with "" as null; values of another type are not vouched for."""
        n = self.n
        if name not in self.table.column_names:
            return pa.nulls(n, pa.string())
        array = self.table.column(name).combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_null(array.type):
            return pa.nulls(n, pa.string())
        if pa.types.is_large_string(array.type):
            array = pc.cast(array, pa.string())
        if not pa.types.is_string(array.type):
            if integers and pa.types.is_integer(array.type):
                return pc.cast(array, pa.string())
            self.vouch(pc.is_null(array))
            return pa.nulls(n, pa.string())
        return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)

    def trimmed(self, values: pa.Array) -> None:
        """The row parser strips texts: only already-stripped values are vouched for."""
        self.vouch(pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_trim_whitespace(values), values)))

    def at_most(self, values: pa.Array, length: int, *, required: bool = False) -> None:
        fits = pc.less_equal(pc.utf8_length(values), length)
        self.vouch(fits if required else pc.or_kleene(pc.is_null(values), fits))

    def country(self, name: str, required: bool, default: pa.Array | None = None) -> pa.Array:
        values = pc.utf8_upper(pc.utf8_trim_whitespace(self.text(name)))
        if default is not None:
            values = pc.coalesce(values, default)
        valid = pc.is_in(values, value_set=self.iso)  # null is never "in" (is_in gives false, not null)
        self.vouch(valid if required else pc.or_kleene(pc.is_null(values), valid))
        return values


@dataclass
class _Rows:
    """A table's rows as the vouched columns the contexts are made of (null where absent)."""

    n: int
    ok: pa.Array
    destination: pa.Array
    export_from: pa.Array
    located: pa.Array
    headquarters: pa.Array
    parent: pa.Array
    name: pa.Array
    ids: pa.Array
    consignee_id: pa.Array
    veu: pa.Array
    end_use: pa.Array
    regime: pa.Array
    quantity: pa.Array
    chip_ids: list[Any]
    chip_index: pa.Array
    days: pa.Array


def _vouched_rows(table: pa.Table, book: Rulebook, regime: str | None, as_of: dt.date | None, today: dt.date) -> _Rows:
    """The parties, item, quantity and date of each row, and whether the column-wise path may decide it."""
    v = _Vouching(table)
    n = v.n
    destination = v.country("destination", True)
    export_from = v.country("export_from", False, pa.array(["US"] * n))
    located = v.country("consignee_country", False, destination)
    headquarters = v.country("consignee_headquarters", True)
    parent = v.country("consignee_parent_headquarters", False)
    name = v.text("consignee_name")
    v.vouch(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(name)), 0))
    v.at_most(name, 500, required=True)
    ids = v.text("id", integers=True)
    consignee_id, veu, end_use = v.text("consignee_id"), v.text("consignee_veu"), v.text("end_use")
    row_regime, chip_text = v.text("regime"), v.text("chip")
    for values in (ids, consignee_id, veu, end_use, row_regime, chip_text):
        v.trimmed(values)
    v.at_most(ids, 200)
    v.at_most(consignee_id, 200)
    v.at_most(end_use, 100)
    v.at_most(chip_text, 200, required=True)
    v.vouch(pc.or_kleene(pc.is_null(veu), pc.is_in(veu, value_set=pa.array(["UVEU", "NVEU"]))))
    _vouch_single_chip_rows(v)
    if regime is not None:
        row_regime = pa.array([regime] * n, pa.string())
    v.vouch(pc.or_kleene(pc.is_null(row_regime), pc.is_in(row_regime, value_set=pa.array(list(book.regimes)))))
    quantity = _vouched_quantity(v)
    chip_dict = pc.dictionary_encode(chip_text)
    chip_ids = [book.catalogue.get(c) if c is not None else None for c in chip_dict.dictionary.to_pylist()]
    v.vouch(pc.take(pa.array([c is not None for c in chip_ids], pa.bool_()), chip_dict.indices))
    chip_index = pc.fill_null(chip_dict.indices, 0)  # rows without a chip are not vouched for
    days = _vouched_days(v, as_of, today)
    return _Rows(
        n,
        v.ok,
        destination,
        export_from,
        located,
        headquarters,
        parent,
        name,
        ids,
        consignee_id,
        veu,
        end_use,
        row_regime,
        quantity,
        chip_ids,
        chip_index,
        days,
    )


def _vouch_single_chip_rows(v: _Vouching) -> None:
    """Multi-item rows, tools and origin facts go row by row; a value is a number in (0, 1e13] as the row
    parser checks it."""
    for column in ("items", "equipment", "origin", "us_content_pct", "made_with_us_technology"):
        if column in v.table.column_names:
            v.vouch(pc.is_null(v.column(column)))
    if "value_usd" in v.table.column_names:
        value_raw = v.column("value_usd")
        if pa.types.is_integer(value_raw.type) or pa.types.is_floating(value_raw.type):
            as_float = pc.cast(value_raw, pa.float64())
            v.vouch(
                pc.or_kleene(
                    pc.is_null(as_float),
                    pc.and_(pc.greater(as_float, 0.0), pc.less_equal(as_float, 1e13)),
                )
            )
        elif not pa.types.is_null(value_raw.type):
            v.vouch(pc.is_null(value_raw))


def _vouched_quantity(v: _Vouching) -> pa.Array:
    """Whole units from 1 to 10^10 (1 where not vouched for)."""
    quantity_raw = v.column("quantity")
    if pa.types.is_integer(quantity_raw.type):
        in_range = pc.and_(pc.greater(quantity_raw, 0), pc.less_equal(quantity_raw, 10_000_000_000))
        v.vouch(in_range)
        return pc.cast(pc.if_else(pc.fill_null(in_range, False), quantity_raw, 1), pa.int64())
    v.vouch(pa.array(np.zeros(v.n, dtype=bool)))
    return pa.array(np.ones(v.n, dtype=np.int64))


def _vouched_days(v: _Vouching, as_of: dt.date | None, today: dt.date) -> pa.Array:
    """Each row's date: checked even with ``as_of`` (the row parser checks it), then replaced by it; today
    where absent."""
    n = v.n
    date_raw = v.column("date")
    lowest, highest = (dt.date(1, 1, 1) - _EPOCH).days, (dt.date(9999, 12, 31) - _EPOCH).days
    if pa.types.is_date32(date_raw.type):
        numbers = pc.cast(date_raw, pa.int32())
        v.vouch(
            pc.or_kleene(
                pc.is_null(numbers), pc.and_(pc.greater_equal(numbers, lowest), pc.less_equal(numbers, highest))
            )
        )
        parsed = pc.if_else(pc.fill_null(v.ok, False), date_raw, pa.scalar(None, pa.date32()))
    else:
        strings = v.text("date")
        good = pc.match_substring_regex(strings, r"^\d{4}-\d{2}-\d{2}$")
        safe = pc.if_else(pc.fill_null(good, False), strings, pa.scalar(None, pa.string()))
        try:
            parsed = pc.cast(pc.strptime(safe, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
        except pa.ArrowInvalid:
            parsed = pa.nulls(n, pa.date32())
        # strptime rolls impossible days over (2025-02-30 -> 2025-03-02): the day must be the one written.
        written_day = pc.cast(pc.utf8_slice_codeunits(safe, 8, 10), pa.int64())
        v.vouch(pc.or_kleene(pc.is_null(strings), pc.equal(pc.day(parsed), written_day)))
    if as_of is not None:
        return pa.array([as_of] * n, pa.date32())
    return pc.fill_null(
        pc.if_else(pc.fill_null(v.ok, False), parsed, pa.scalar(today, pa.date32())), pa.scalar(today, pa.date32())
    )


@dataclass
class _Selections:
    """The ruleset of each row: rows of one regime (named, or the one in force) and one epoch (a span of days with
    the same regime, packs and group memberships) share a *selection*."""

    ok: np.ndarray
    """The vouched rows, less those whose regime could not be chosen."""
    day_numbers: np.ndarray
    regime_index: np.ndarray
    regime_names: list[str]
    selection_of_row: np.ndarray
    first_of_selection: np.ndarray
    rulesets: list[tuple[Ruleset, frozenset[str], frozenset[str]] | None]
    """Per selection: the ruleset and the group references its party tests and origin tests make."""


def _select_rulesets(
    rows: _Rows, book: Rulebook, choose: Callable[[str | None, dt.date], tuple[Ruleset, Any]]
) -> _Selections:
    day_numbers = np.asarray(pc.cast(rows.days, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)
    bound_numbers = _epoch_bounds(book)
    epoch = np.searchsorted(bound_numbers, day_numbers, side="right")
    regime_codes = pc.dictionary_encode(pc.fill_null(rows.regime, pa.scalar("", pa.string())))
    regime_index = np.asarray(regime_codes.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    selections_found, selection_of_row = np.unique(regime_index * (len(bound_numbers) + 2) + epoch, return_inverse=True)
    regime_names = regime_codes.dictionary.to_pylist()
    first_of_selection = np.full(len(selections_found), -1, dtype=np.int64)
    ok_np = np.asarray(rows.ok.to_numpy(zero_copy_only=False), dtype=bool)
    good_rows = np.flatnonzero(ok_np)
    first_of_selection[selection_of_row[good_rows][::-1]] = good_rows[::-1]
    rulesets: list[tuple[Ruleset, frozenset[str], frozenset[str]] | None] = []
    for sel, row in enumerate(first_of_selection.tolist()):
        if row < 0:
            rulesets.append(None)
            continue
        try:
            ruleset, _ = choose(regime_names[int(regime_index[row])] or None, _day(int(day_numbers[row])))
        except TiergateError:  # e.g. no regime in force: these rows go row by row, which says where
            ok_np[selection_of_row == sel] = False
            rulesets.append(None)
            continue
        party_refs, origin_refs = _visible_refs(ruleset)
        rulesets.append((ruleset, party_refs, origin_refs))
    return _Selections(ok_np, day_numbers, regime_index, regime_names, selection_of_row, first_of_selection, rulesets)


@dataclass
class _Memberships:
    """What the rules can see of each country code in the rows, per selection: a number per distinct set of
    memberships of the groups its tests name (0 for no code)."""

    codes: list[str]
    destination: np.ndarray
    origin: np.ndarray
    located: np.ndarray
    headquarters: np.ndarray
    parent: np.ndarray
    """Each row's code of each party, as an index into ``codes``."""
    party: np.ndarray
    origin_signature: np.ndarray
    allied_slot: dict[str, int]
    """Countries whose own law Tiergate encodes: rows exported from them are decided by every law they engage."""
    allied_law: np.ndarray
    allied: np.ndarray


def _memberships(rows: _Rows, sel: _Selections, book: Rulebook) -> _Memberships:
    code_values: dict[str, int] = {}

    def code_index(values: pa.Array) -> np.ndarray:
        encoded = pc.dictionary_encode(pc.fill_null(values, pa.scalar("", pa.string())))
        mapping = np.array(
            [code_values.setdefault(v, len(code_values)) for v in encoded.dictionary.to_pylist()], dtype=np.int64
        )
        return mapping[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]

    dest_code, origin_code = code_index(rows.destination), code_index(rows.export_from)
    located_code, hq_code, parent_code = (
        code_index(rows.located),
        code_index(rows.headquarters),
        code_index(rows.parent),
    )
    codes = list(code_values)
    iso_set = iso_codes()
    count = len(sel.rulesets)
    signatures: dict[frozenset[str], int] = {}
    party_sig = np.zeros((count, len(codes)), dtype=np.int64)
    origin_sig = np.zeros((count, len(codes)), dtype=np.int64)
    # Rows exported from a country whose own law Tiergate encodes are decided by every law they engage:
    # their contexts also keep which of those laws are in force and the memberships those laws test.
    territory = frozenset(book.territory_laws)
    allied_slot = {code: i for i, code in enumerate(code for code in codes if code in territory)}
    allied_sig = np.zeros((count, max(1, len(allied_slot)), len(codes)), dtype=np.int64)
    allied_law = np.zeros((count, max(1, len(allied_slot))), dtype=np.int64)
    allied_ids: dict[tuple[tuple[str, ...], tuple[int, ...]], int] = {}
    for s, entry in enumerate(sel.rulesets):
        if entry is None:
            continue
        ruleset, party_refs, origin_refs = entry
        day = _day(int(sel.day_numbers[sel.first_of_selection[s]]))
        for k, code in enumerate(codes):
            if not code or code not in iso_set:
                continue
            members = ruleset.memberships(code, day)
            party_sig[s, k] = signatures.setdefault(members & party_refs, len(signatures)) + 1
            origin_sig[s, k] = (
                signatures.setdefault(frozenset({"origin"}) | (members & origin_refs), len(signatures)) + 1
            )
        for origin, slot in allied_slot.items():
            stacks, allied_members = _allied_signature(book, origin, day)
            laws = book.territory_laws.get(origin, ())
            allied_law[s, slot] = allied_ids.setdefault((laws, stacks), len(allied_ids)) + 1
            for k, code in enumerate(codes):
                if code and code in iso_set:
                    allied_sig[s, slot, k] = signatures.setdefault(allied_members(code), len(signatures)) + 1
    return _Memberships(
        codes,
        dest_code,
        origin_code,
        located_code,
        hq_code,
        parent_code,
        party_sig,
        origin_sig,
        allied_slot,
        allied_law,
        allied_sig,
    )


def _context_key(rows: _Rows, sel: _Selections, m: _Memberships, book: Rulebook, by_year: bool) -> np.ndarray:
    """A number per row, the same for rows of one decision context: what the rules can see (for each party,
    its memberships of the groups and codes the regime's tests name; the end uses the packs name; the transfer
    kind; whether the consignee is located in the destination) and the ruleset. Rows of one context differ only
    in quantity, consignee identity and date within the epoch, which the per-row columns carry."""
    n = rows.n
    # Rows of different epochs share a context when the ruleset is the same one (group memberships
    # are in the signatures); the calendar year counts only where a cap depends on it.
    ruleset_ids: dict[int, int] = {}
    ruleset_of_selection = np.zeros(len(sel.rulesets), dtype=np.int64)
    yearly = np.zeros(len(sel.rulesets), dtype=bool)
    for s, entry in enumerate(sel.rulesets):
        if entry is not None:
            ruleset_of_selection[s] = ruleset_ids.setdefault(id(entry[0]), len(ruleset_ids))
            yearly[s] = by_year and any(a.cap_tpp_by_year is not None for a in entry[0].allocations.values())
    of_row = sel.selection_of_row
    years = np.asarray(pc.year(rows.days).to_numpy(zero_copy_only=False), dtype=np.int64)
    year_key = np.where(yearly[of_row], years - years.min() + 1 if n else 0, 0)
    us = m.codes.index("US") if "US" in m.codes else -1
    dest, origin = m.destination, m.origin
    transfer = np.where(origin == dest, 0, np.where(origin == us, 1, 2))
    domestic = (origin == us) & (dest == us)
    end_use_key = _position(rows.end_use, sorted(_visible_end_uses(book)))
    veu_key = _position(rows.veu, ["UVEU", "NVEU"])
    chip_of_row = np.asarray(rows.chip_index.to_numpy(zero_copy_only=False), dtype=np.int64)
    slot_of_code = np.array([m.allied_slot.get(c, -1) for c in m.codes] or [-1], dtype=np.int64)
    row_slot = slot_of_code[origin] if len(m.codes) else np.full(n, -1, dtype=np.int64)
    allied_row = row_slot >= 0
    safe_slot = np.maximum(row_slot, 0)

    def allied(values: np.ndarray) -> np.ndarray:
        return np.where(allied_row, values, 0)

    columns = [
        ruleset_of_selection[of_row],
        year_key,
        chip_of_row,
        m.party[of_row, dest],
        m.origin_signature[of_row, origin],
        transfer,
        domestic.astype(np.int64),
        m.party[of_row, m.located],
        (m.located == dest).astype(np.int64),
        m.party[of_row, m.headquarters],
        m.party[of_row, m.parent],
        veu_key,
        end_use_key,
        allied(m.allied_law[of_row, safe_slot]),
        allied(m.allied[of_row, safe_slot, dest]),
        allied(m.allied[of_row, safe_slot, m.located]),
        allied(m.allied[of_row, safe_slot, m.headquarters]),
        allied(m.allied[of_row, safe_slot, m.parent]),
    ]
    context = np.zeros(n, dtype=np.int64)
    for column in columns:
        radix = int(column.max()) + 1 if n else 1
        if n and (int(context.max()) + 1) * radix >= 2**62:  # renumber before the key could overflow
            context = np.unique(context, return_inverse=True)[1].astype(np.int64)
        context = context * radix + column
    return context


def _position(values: pa.Array, known: list[str]) -> np.ndarray:
    """1 + the index of each value in ``known``; 0 for null or a value not there."""
    found = pc.fill_null(pc.index_in(values, value_set=pa.array(known, pa.string())), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64) + 1


def group_contexts(
    table: pa.Table,
    book: Rulebook,
    *,
    regime: str | None,
    as_of: dt.date | None,
    today: dt.date,
    select: Callable[[str | None, dt.date], tuple[Ruleset, Any]] | None = None,
    by_year: bool = True,
) -> Grouping:
    """Vouch for the rows of a table of flat transactions and group them into decision contexts. ``select``
    chooses the ruleset of a regime (or None) on a date (default ``book.select``); ``by_year=False`` leaves the
    calendar year out of the context (for a caller that takes each row's caps itself, as the replay does)."""
    rows = _vouched_rows(table, book, regime, as_of, today)
    sel = _select_rulesets(rows, book, select or book.select)
    context = _context_key(rows, sel, _memberships(rows, sel, book), book, by_year)
    contexts, group = np.unique(context, return_inverse=True)
    good_rows = np.flatnonzero(sel.ok)
    first_row = np.full(len(contexts), -1, dtype=np.int64)
    first_row[group[good_rows][::-1]] = good_rows[::-1]
    chip_of_row = np.asarray(rows.chip_index.to_numpy(zero_copy_only=False), dtype=np.int64)
    arrays = {
        "destination": rows.destination,
        "export_from": rows.export_from,
        "located": rows.located,
        "headquarters": rows.headquarters,
        "parent": rows.parent,
        "veu": rows.veu,
        "end_use": rows.end_use,
        "name": rows.name,
        "consignee_id": rows.consignee_id,
    }
    col_py = {key: values.to_pylist() for key, values in arrays.items()}
    jobs: list[_Context] = []
    for g, row in enumerate(first_row.tolist()):
        if row < 0:
            continue
        chip = rows.chip_ids[int(chip_of_row[row])]
        assert chip is not None and chip.id is not None
        jobs.append(
            _Context(
                g,
                sel.regime_names[int(sel.regime_index[row])] or None,
                int(sel.day_numbers[row]),
                chip.id,
                *(col_py[key][row] for key in _CONTEXT_PARTIES),
            )
        )
    return Grouping(
        rows.n,
        sel.ok,
        group,
        first_row,
        jobs,
        np.asarray(rows.quantity.to_numpy(zero_copy_only=False), dtype=np.int64),
        rows.quantity,
        rows.days,
        sel.day_numbers,
        sel.selection_of_row,
        sel.rulesets,
        col_py,
        arrays,
        rows.ids,
        rows.chip_ids,
        chip_of_row,
    )


_CONTEXT_PARTIES = ("export_from", "destination", "located", "headquarters", "parent", "veu", "end_use")
"""The per-row values a context's first row gives its job, in ``_Context``'s order."""


def _decide_table(
    table: pa.Table,
    book: Rulebook,
    *,
    regime: str | None,
    as_of: dt.date | None,
    today: dt.date,
    row_fallback: Callable[[list[int]], list[Decision]],
    workers: int,
) -> pa.Table:
    """Group the rows into contexts, decide each context once per quantity bracket (the templates), give every
    row its template's determination with its own figures, and put the rows decided one by one in place."""
    n = table.num_rows
    schema = decision_schema(False)
    if n == 0:
        return schema.empty_table()
    grouping = group_contexts(table, book, regime=regime, as_of=as_of, today=today)
    # Rows not vouched for are decided one by one now, in file order: the first bad one raises.
    bad = np.flatnonzero(~grouping.ok).tolist()
    fallback_rows: dict[int, Decision] = dict(zip(bad, row_fallback(bad), strict=True)) if bad else {}
    templates, template_of_row = _templates_of_rows(grouping, _context_templates(book, grouping.jobs, workers))
    rows = _TemplateRows(grouping, templates, template_of_row)
    result = pa.table(
        {
            "id": grouping.ids,
            "regime": rows.column(lambda d: d.regime, pa.string()),
            "packs": rows.column(lambda d: list(d.packs), pa.list_(pa.string())),
            "date": grouping.days,
            "outcome": rows.column(lambda d: d.outcome, pa.string()),
            "authorization": rows.column(lambda d: d.authorization, pa.string()),
            "review_policy": rows.column(lambda d: d.review_policy, pa.string()),
            "items": rows.items(),
            "tpp_total": pa.array(np.nan_to_num(rows.tpp_total, nan=0.0), pa.float64()),
            "allocations": rows.allocations(),
            "rules": rows.column(lambda d: list(d.rules), pa.list_(pa.string())),
            "citations": rows.column(lambda d: list(d.citations), pa.list_(pa.string())),
            "conditions": rows.column(lambda d: list(d.conditions), pa.list_(pa.string())),
            "recalled": rows.column(lambda d: list(d.recalled), pa.list_(pa.string())),
            "provisional": rows.column(lambda d: d.provisional, pa.bool_()),
            "jurisdictions": pc.take(
                pa.array(
                    [[jurisdiction_fields(j) for j in t.jurisdictions] for t in templates] or [[]],
                    pa.list_(JURISDICTION_TYPE),
                ),
                rows.row_template,
            ),
        },
        schema=schema,
    )
    return _with_rows_decided_alone(result, fallback_rows)


def _templates_of_rows(
    grouping: Grouping, results: list[tuple[list[int], list[Decision]]]
) -> tuple[list[Decision], np.ndarray]:
    """Every context's templates in one list, and each row's: its context's template for the bracket its
    quantity falls in between the context's breakpoints (0 for a row not vouched for)."""
    n, group, first_row = grouping.n, grouping.group, grouping.first_row
    templates: list[Decision] = []
    base = np.zeros(len(first_row), dtype=np.int64)
    points_by_group: list[list[int]] = [[] for _ in range(len(first_row))]
    for job, (points, decisions) in zip(grouping.jobs, results, strict=True):
        points_by_group[job.group] = points
        base[job.group] = len(templates)
        templates.extend(decisions)
    width = max((len(p) for p in points_by_group), default=0)
    bracket = np.zeros(n, dtype=np.int64)
    if width:
        table_points = np.full((len(points_by_group), width), np.iinfo(np.int64).max, dtype=np.int64)
        for g, points in enumerate(points_by_group):
            table_points[g, : len(points)] = points
        bracket = (grouping.qty[:, None] > table_points[group]).sum(axis=1)
    template_of_row = base[group] + bracket
    template_of_row[~grouping.ok] = 0
    return templates, template_of_row


class _TemplateRows:
    """Each row's template's determination, with the row's own figures: quantity, TPP totals, and the
    allocation accounts of its consignee, destination and date."""

    def __init__(self, grouping: Grouping, templates: list[Decision], template_of_row: np.ndarray) -> None:
        self.grouping = grouping
        self.templates = templates
        self.template_of_row = template_of_row
        self.row_template = pa.array(template_of_row)
        self.tpp_unit = np.array([_item(t).tpp if _item(t).tpp is not None else np.nan for t in templates] or [np.nan])
        self.tpp_total = self.tpp_unit[template_of_row] * grouping.qty

    def column(self, getter: Callable[[Decision], Any], typ: pa.DataType) -> pa.Array:
        """A field of each row's template."""
        return pc.take(_encoded_array([getter(t) for t in self.templates] or [None], typ), self.row_template)

    def items(self) -> pa.Array:
        """The one item of each row: the template's, with the row's quantity and TPP total."""
        n = self.grouping.n
        tpp_total = pa.array(self.tpp_total, mask=np.isnan(self.tpp_total))
        items_struct = pa.StructArray.from_arrays(
            [
                pa.array(np.zeros(n, dtype=np.int32)),
                self.column(lambda d: _item(d).kind, pa.string()),
                self.column(lambda d: _item(d).name, pa.string()),
                self.column(lambda d: _item(d).chip, pa.string()),
                self.column(lambda d: _item(d).eccn, pa.string()),
                self.column(lambda d: _item(d).paragraph, pa.string()),
                self.column(lambda d: _item(d).tpp, pa.float64()),
                self.column(lambda d: _item(d).performance_density, pa.float64()),
                self.grouping.quantity,
                tpp_total,
                self.column(lambda d: _item(d).outcome, pa.string()),
                self.column(lambda d: _item(d).authorization, pa.string()),
                self.column(lambda d: _item(d).review_policy, pa.string()),
                self.column(lambda d: _item(d).provisional, pa.bool_()),
                self.column(lambda d: list(_item(d).rules), pa.list_(pa.string())),
            ],
            fields=list(ITEM_TYPE),
        )
        return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), items_struct)

    def allocations(self) -> pa.Array:
        """Per row, the template's draws with the row's own account and TPP."""
        grouping, template_of_row = self.grouping, self.template_of_row
        counts = np.array([len(t.allocations) for t in self.templates] or [0], dtype=np.int64)
        per_row = counts[template_of_row]
        per_row[~grouping.ok] = 0
        offsets = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int32)
        total = int(offsets[-1])
        alloc_rows = np.repeat(np.arange(grouping.n), per_row)
        within = np.arange(total) - np.repeat(offsets[:-1], per_row)
        alloc_start = np.concatenate([[0], np.cumsum(counts)])[:-1]
        flat = alloc_start[template_of_row[alloc_rows]] + within
        draws = [draw for t in self.templates for draw in t.allocations]

        def draw_column(getter: Callable[[AllocationDraw], Any], typ: pa.DataType) -> pa.Array:
            values = _encoded_array([getter(d) for d in draws] or [None], typ)
            return pc.take(values, pa.array(flat, type=pa.int64())) if total else pa.array([], type=_encoded(typ))

        accounts = _accounts(grouping, alloc_rows.tolist(), draw_column(lambda d: d.rule, pa.string()).to_pylist())
        draw_tpp = self.tpp_unit[template_of_row[alloc_rows]] * grouping.qty[alloc_rows] if total else np.array([])
        alloc_struct = pa.StructArray.from_arrays(
            [
                draw_column(lambda d: d.allocation, pa.string()),
                pa.array(accounts, pa.string()),
                draw_column(lambda d: d.rule, pa.string()),
                pa.array(draw_tpp, pa.float64()),
                draw_column(lambda d: d.cap, pa.float64()),
                pa.nulls(total, pa.float64()),
            ],
            fields=list(ALLOCATION_TYPE),
        )
        return pa.ListArray.from_arrays(pa.array(offsets), alloc_struct)


def _item(d: Decision) -> ItemDecision:
    return d.items[0]


def _accounts(grouping: Grouping, alloc_rows: list[int], rule_of_draw: list[str]) -> list[str]:
    """The ledger account of each draw: its allocation for the row's consignee, destination and date."""
    col_py = grouping.columns
    consignees: dict[tuple[str, str, str, str | None], Consignee] = {}
    accounts: list[str] = []
    for k, row in enumerate(alloc_rows):
        entry = grouping.selection_rulesets[int(grouping.selection_of_row[row])]
        assert entry is not None
        allocation = entry[0].allocations[rule_of_draw[k].split("/", 1)[1]]
        who = (col_py["located"][row], col_py["headquarters"][row], col_py["name"][row], col_py["consignee_id"][row])
        consignee = consignees.get(who)
        if consignee is None:
            consignee = consignees[who] = Consignee(name=who[2].strip(), country=who[0], headquarters=who[1], id=who[3])
        day = _day(int(grouping.day_numbers[row]))
        accounts.append(allocation_account(allocation, consignee, col_py["destination"][row], day))
    return accounts


def _with_rows_decided_alone(result: pa.Table, fallback_rows: dict[int, Decision]) -> pa.Table:
    """The table with the rows decided one by one put in their places."""
    if not fallback_rows:
        return result
    n = result.num_rows
    indices = sorted(fallback_rows)
    patch = rows_to_table([fallback_rows[i] for i in indices], False)
    keep = np.ones(n, dtype=bool)
    keep[indices] = False
    order = np.concatenate([np.flatnonzero(keep), np.array(indices, dtype=np.int64)])
    merged = pa.concat_tables([result.filter(pa.array(keep)), patch])
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return merged.take(pa.array(inverse))
