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
    choose = select or book.select
    n = table.num_rows

    # Vouching: a row is decided column-wise only when every check below holds; any other row goes
    # to the row-by-row parser, which decides it or raises the exact error. The checks mirror
    # tiergate.interchange.TransactionIn (and flat_to_transaction) so that both paths agree.
    ok = pa.array(np.ones(n, dtype=bool))

    def vouch(condition: pa.Array) -> None:
        nonlocal ok
        ok = pc.and_(ok, pc.fill_null(condition, False))

    def text(name: str, *, integers: bool = False) -> pa.Array:
        """A text column with "" as null; values of another type are not vouched for."""
        if name not in table.column_names:
            return pa.nulls(n, pa.string())
        array = table.column(name).combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_null(array.type):
            return pa.nulls(n, pa.string())
        if pa.types.is_large_string(array.type):
            array = pc.cast(array, pa.string())
        if not pa.types.is_string(array.type):
            if integers and pa.types.is_integer(array.type):
                return pc.cast(array, pa.string())
            vouch(pc.is_null(array))
            return pa.nulls(n, pa.string())
        return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)

    def trimmed(name: str, values: pa.Array) -> None:
        """The row parser strips texts: only already-stripped values are vouched for."""
        vouch(pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_trim_whitespace(values), values)))

    def at_most(values: pa.Array, length: int, *, required: bool = False) -> None:
        fits = pc.less_equal(pc.utf8_length(values), length)
        vouch(fits if required else pc.or_kleene(pc.is_null(values), fits))

    iso_set = iso_codes()
    iso = pa.array(sorted(iso_set))

    def country(name: str, required: bool, default: pa.Array | None = None) -> pa.Array:
        values = pc.utf8_upper(pc.utf8_trim_whitespace(text(name)))
        if default is not None:
            values = pc.coalesce(values, default)
        valid = pc.is_in(values, value_set=iso)  # null is never "in" (is_in gives false, not null)
        vouch(valid if required else pc.or_kleene(pc.is_null(values), valid))
        return values

    destination = country("destination", True)
    export_from = country("export_from", False, pa.array(["US"] * n))
    located = country("consignee_country", False, destination)
    headquarters = country("consignee_headquarters", True)
    parent = country("consignee_parent_headquarters", False)
    name = text("consignee_name")
    vouch(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(name)), 0))
    at_most(name, 500, required=True)
    ids = text("id", integers=True)
    consignee_id = text("consignee_id")
    veu = text("consignee_veu")
    end_use = text("end_use")
    row_regime = text("regime")
    chip_text = text("chip")
    for field, values in (
        ("id", ids),
        ("consignee_id", consignee_id),
        ("consignee_veu", veu),
        ("end_use", end_use),
        ("regime", row_regime),
        ("chip", chip_text),
    ):
        trimmed(field, values)
    at_most(ids, 200)
    at_most(consignee_id, 200)
    at_most(end_use, 100)
    at_most(chip_text, 200, required=True)
    vouch(pc.or_kleene(pc.is_null(veu), pc.is_in(veu, value_set=pa.array(["UVEU", "NVEU"]))))
    for column in ("items", "equipment", "origin", "us_content_pct", "made_with_us_technology"):
        if column in table.column_names:  # multi-item rows, tools and origin facts go row by row
            vouch(pc.is_null(table.column(column).combine_chunks()))
    if "value_usd" in table.column_names:  # checked as the row parser checks it: a number in (0, 1e13]
        value_raw = table.column("value_usd").combine_chunks()
        if pa.types.is_integer(value_raw.type) or pa.types.is_floating(value_raw.type):
            as_float = pc.cast(value_raw, pa.float64())
            vouch(
                pc.or_kleene(
                    pc.is_null(as_float),
                    pc.and_(pc.greater(as_float, 0.0), pc.less_equal(as_float, 1e13)),
                )
            )
        elif not pa.types.is_null(value_raw.type):
            vouch(pc.is_null(value_raw))
    if regime is not None:
        row_regime = pa.array([regime] * n, pa.string())
    vouch(pc.or_kleene(pc.is_null(row_regime), pc.is_in(row_regime, value_set=pa.array(list(book.regimes)))))

    quantity_raw = table.column("quantity").combine_chunks() if "quantity" in table.column_names else pa.nulls(n)
    if pa.types.is_integer(quantity_raw.type):
        in_range = pc.and_(pc.greater(quantity_raw, 0), pc.less_equal(quantity_raw, 10_000_000_000))
        vouch(in_range)
        quantity = pc.cast(pc.if_else(pc.fill_null(in_range, False), quantity_raw, 1), pa.int64())
    else:
        quantity = pa.array(np.ones(n, dtype=np.int64))
        vouch(pa.array(np.zeros(n, dtype=bool)))

    chip_dict = pc.dictionary_encode(chip_text)
    chip_ids = [book.catalogue.get(v) if v is not None else None for v in chip_dict.dictionary.to_pylist()]
    known_chip = pa.array([c is not None for c in chip_ids], pa.bool_())
    vouch(pc.take(known_chip, chip_dict.indices))
    chip_index = pc.fill_null(chip_dict.indices, 0)  # rows without a chip are not vouched for

    # Dates: checked even with --as-of (the row parser checks them), then replaced by it.
    date_raw = table.column("date").combine_chunks() if "date" in table.column_names else pa.nulls(n)
    lowest, highest = (dt.date(1, 1, 1) - _EPOCH).days, (dt.date(9999, 12, 31) - _EPOCH).days
    if pa.types.is_date32(date_raw.type):
        numbers = pc.cast(date_raw, pa.int32())
        vouch(
            pc.or_kleene(
                pc.is_null(numbers), pc.and_(pc.greater_equal(numbers, lowest), pc.less_equal(numbers, highest))
            )
        )
        parsed = pc.if_else(pc.fill_null(ok, False), date_raw, pa.scalar(None, pa.date32()))
    else:
        strings = text("date")
        good = pc.match_substring_regex(strings, r"^\d{4}-\d{2}-\d{2}$")
        safe = pc.if_else(pc.fill_null(good, False), strings, pa.scalar(None, pa.string()))
        try:
            parsed = pc.cast(pc.strptime(safe, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
        except pa.ArrowInvalid:
            parsed = pa.nulls(n, pa.date32())
        # strptime rolls impossible days over (2025-02-30 -> 2025-03-02): the day must be the one written.
        written_day = pc.cast(pc.utf8_slice_codeunits(safe, 8, 10), pa.int64())
        vouch(pc.or_kleene(pc.is_null(strings), pc.equal(pc.day(parsed), written_day)))
    if as_of is not None:
        days = pa.array([as_of] * n, pa.date32())
    else:
        days = pc.fill_null(
            pc.if_else(pc.fill_null(ok, False), parsed, pa.scalar(today, pa.date32())), pa.scalar(today, pa.date32())
        )

    # Epochs: spans of days with the same regime, packs and group memberships.
    day_numbers = np.asarray(pc.cast(days, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)
    bound_numbers = _epoch_bounds(book)
    epoch = np.searchsorted(bound_numbers, day_numbers, side="right")

    # A context keeps only what the rules can see: for each party, its memberships of the groups
    # (and codes) the regime's tests name; the end uses the packs name; the transfer kind; and whether
    # the consignee is located in the destination. Rows of one context differ only in quantity,
    # consignee identity and date within the epoch, which the per-row columns below carry.
    regime_codes = pc.dictionary_encode(pc.fill_null(row_regime, pa.scalar("", pa.string())))
    regime_index = np.asarray(regime_codes.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    selection_key = regime_index * (len(bound_numbers) + 2) + epoch
    selections_found, selection_of_row = np.unique(selection_key, return_inverse=True)
    selection_rulesets: list[tuple[Ruleset, frozenset[str], frozenset[str]] | None] = []
    regime_names = regime_codes.dictionary.to_pylist()
    first_of_selection = np.full(len(selections_found), -1, dtype=np.int64)
    ok_np = np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    good_rows = np.flatnonzero(ok_np)
    first_of_selection[selection_of_row[good_rows][::-1]] = good_rows[::-1]
    for sel, row in enumerate(first_of_selection.tolist()):
        if row < 0:
            selection_rulesets.append(None)
            continue
        day = _day(int(day_numbers[row]))
        regime_name = regime_names[int(regime_index[row])] or None
        try:
            ruleset, _ = choose(regime_name, day)
        except TiergateError:  # e.g. no regime in force: these rows go row by row, which says where
            ok_np[selection_of_row == sel] = False
            selection_rulesets.append(None)
            continue
        party_refs, origin_refs = _visible_refs(ruleset)
        selection_rulesets.append((ruleset, party_refs, origin_refs))

    good_rows = np.flatnonzero(ok_np)

    code_values: dict[str, int] = {}

    def code_index(values: pa.Array) -> np.ndarray:
        encoded = pc.dictionary_encode(pc.fill_null(values, pa.scalar("", pa.string())))
        mapping = np.array(
            [code_values.setdefault(v, len(code_values)) for v in encoded.dictionary.to_pylist()], dtype=np.int64
        )
        return mapping[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]

    dest_code, origin_code = code_index(destination), code_index(export_from)
    located_code, hq_code, parent_code = code_index(located), code_index(headquarters), code_index(parent)
    codes = list(code_values)
    signatures: dict[frozenset[str], int] = {}
    party_sig = np.zeros((len(selections_found), len(codes)), dtype=np.int64)
    origin_sig = np.zeros((len(selections_found), len(codes)), dtype=np.int64)
    # Rows exported from a country whose own law Tiergate encodes are decided by every law they engage:
    # their contexts also keep which of those laws are in force and the memberships those laws test.
    territory = frozenset(book.territory_laws)
    allied_origins = [code for code in codes if code in territory]
    allied_slot = {code: i for i, code in enumerate(allied_origins)}
    allied_sig = np.zeros((len(selections_found), max(1, len(allied_origins)), len(codes)), dtype=np.int64)
    allied_law = np.zeros((len(selections_found), max(1, len(allied_origins))), dtype=np.int64)
    allied_ids: dict[tuple[tuple[str, ...], tuple[int, ...]], int] = {}
    for sel, entry in enumerate(selection_rulesets):
        if entry is None:
            continue
        ruleset, party_refs, origin_refs = entry
        day = _day(int(day_numbers[first_of_selection[sel]]))
        for k, code in enumerate(codes):
            if not code or code not in iso_set:
                continue
            members = ruleset.memberships(code, day)
            party_sig[sel, k] = signatures.setdefault(members & party_refs, len(signatures)) + 1
            origin_sig[sel, k] = (
                signatures.setdefault(frozenset({"origin"}) | (members & origin_refs), len(signatures)) + 1
            )
        for origin, slot in allied_slot.items():
            stacks, allied_members = _allied_signature(book, origin, day)
            laws = book.territory_laws.get(origin, ())
            allied_law[sel, slot] = allied_ids.setdefault((laws, stacks), len(allied_ids)) + 1
            for k, code in enumerate(codes):
                if code and code in iso_set:
                    allied_sig[sel, slot, k] = signatures.setdefault(allied_members(code), len(signatures)) + 1
    # Rows of different epochs share a context when the ruleset is the same one (group memberships
    # are in the signatures); the calendar year counts only where a cap depends on it.
    ruleset_ids: dict[int, int] = {}
    ruleset_of_selection = np.zeros(len(selections_found), dtype=np.int64)
    yearly = np.zeros(len(selections_found), dtype=bool)
    for sel, entry in enumerate(selection_rulesets):
        if entry is not None:
            ruleset_of_selection[sel] = ruleset_ids.setdefault(id(entry[0]), len(ruleset_ids))
            yearly[sel] = by_year and any(a.cap_tpp_by_year is not None for a in entry[0].allocations.values())
    years = np.asarray(pc.year(days).to_numpy(zero_copy_only=False), dtype=np.int64)
    year_key = np.where(yearly[selection_of_row], years - years.min() + 1 if n else 0, 0)
    us = code_values.get("US", -1)
    transfer = np.where(origin_code == dest_code, 0, np.where(origin_code == us, 1, 2))
    domestic = (origin_code == us) & (dest_code == us)
    seen_end_uses = sorted(_visible_end_uses(book))
    end_use_key = (
        np.asarray(
            pc.fill_null(pc.index_in(end_use, value_set=pa.array(seen_end_uses, pa.string())), -1).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.int64,
        )
        + 1
    )
    veu_key = (
        np.asarray(
            pc.fill_null(pc.index_in(veu, value_set=pa.array(["UVEU", "NVEU"])), -1).to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
        + 1
    )
    chip_of_row = np.asarray(chip_index.to_numpy(zero_copy_only=False), dtype=np.int64)
    slot_of_code = np.array([allied_slot.get(c, -1) for c in codes] or [-1], dtype=np.int64)
    row_slot = slot_of_code[origin_code] if len(codes) else np.full(n, -1, dtype=np.int64)
    allied_row = row_slot >= 0
    safe_slot = np.maximum(row_slot, 0)

    def allied(values: np.ndarray) -> np.ndarray:
        return np.where(allied_row, values, 0)

    columns = [
        ruleset_of_selection[selection_of_row],
        year_key,
        np.asarray(chip_of_row, dtype=np.int64),
        party_sig[selection_of_row, dest_code],
        origin_sig[selection_of_row, origin_code],
        transfer,
        domestic.astype(np.int64),
        party_sig[selection_of_row, located_code],
        (located_code == dest_code).astype(np.int64),
        party_sig[selection_of_row, hq_code],
        party_sig[selection_of_row, parent_code],
        veu_key,
        end_use_key,
        allied(allied_law[selection_of_row, safe_slot]),
        allied(allied_sig[selection_of_row, safe_slot, dest_code]),
        allied(allied_sig[selection_of_row, safe_slot, located_code]),
        allied(allied_sig[selection_of_row, safe_slot, hq_code]),
        allied(allied_sig[selection_of_row, safe_slot, parent_code]),
    ]
    context = np.zeros(n, dtype=np.int64)
    for column in columns:
        radix = int(column.max()) + 1 if n else 1
        if n and (int(context.max()) + 1) * radix >= 2**62:  # renumber before the key could overflow
            context = np.unique(context, return_inverse=True)[1].astype(np.int64)
        context = context * radix + column
    contexts, group = np.unique(context, return_inverse=True)
    qty = np.asarray(quantity.to_numpy(zero_copy_only=False), dtype=np.int64)
    first_row = np.full(len(contexts), -1, dtype=np.int64)
    first_row[group[good_rows][::-1]] = good_rows[::-1]

    col_py = {
        "destination": destination.to_pylist(),
        "export_from": export_from.to_pylist(),
        "located": located.to_pylist(),
        "headquarters": headquarters.to_pylist(),
        "parent": parent.to_pylist(),
        "veu": veu.to_pylist(),
        "end_use": end_use.to_pylist(),
    }
    jobs: list[_Context] = []
    for g, row in enumerate(first_row.tolist()):
        if row < 0:
            continue
        chip = chip_ids[int(chip_of_row[row])]
        assert chip is not None and chip.id is not None
        jobs.append(
            _Context(
                g,
                regime_names[int(regime_index[row])] or None,
                int(day_numbers[row]),
                chip.id,
                col_py["export_from"][row],
                col_py["destination"][row],
                col_py["located"][row],
                col_py["headquarters"][row],
                col_py["parent"][row],
                col_py["veu"][row],
                col_py["end_use"][row],
            )
        )
    col_py["name"] = name.to_pylist()
    col_py["consignee_id"] = consignee_id.to_pylist()
    arrays = {
        "destination": destination,
        "export_from": export_from,
        "located": located,
        "headquarters": headquarters,
        "parent": parent,
        "veu": veu,
        "end_use": end_use,
        "name": name,
        "consignee_id": consignee_id,
    }
    return Grouping(
        n,
        ok_np,
        group,
        first_row,
        jobs,
        qty,
        quantity,
        days,
        day_numbers,
        selection_of_row,
        selection_rulesets,
        col_py,
        arrays,
        ids,
        chip_ids,
        chip_of_row,
    )


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
    n = table.num_rows
    schema = decision_schema(False)
    if n == 0:
        return schema.empty_table()
    grouping = group_contexts(table, book, regime=regime, as_of=as_of, today=today)
    ok_np, group, first_row, jobs, qty = grouping.ok, grouping.group, grouping.first_row, grouping.jobs, grouping.qty
    quantity, days, day_numbers = grouping.quantity, grouping.days, grouping.day_numbers
    selection_of_row, selection_rulesets = grouping.selection_of_row, grouping.selection_rulesets
    col_py, ids = grouping.columns, grouping.ids
    # Rows not vouched for are decided one by one now, in file order: the first bad one raises.
    bad = np.flatnonzero(~ok_np).tolist()
    fallback_rows: dict[int, Decision] = dict(zip(bad, row_fallback(bad), strict=True)) if bad else {}
    results = _context_templates(book, jobs, workers)
    templates: list[Decision] = []
    base = np.zeros(len(first_row), dtype=np.int64)
    points_by_group: list[list[int]] = [[] for _ in range(len(first_row))]
    for job, (points, decisions) in zip(jobs, results, strict=True):
        points_by_group[job.group] = points
        base[job.group] = len(templates)
        templates.extend(decisions)

    # Bracket of each row's quantity between its context's breakpoints.
    width = max((len(p) for p in points_by_group), default=0)
    bracket = np.zeros(n, dtype=np.int64)
    if width:
        table_points = np.full((len(points_by_group), width), np.iinfo(np.int64).max, dtype=np.int64)
        for g, points in enumerate(points_by_group):
            table_points[g, : len(points)] = points
        bracket = (qty[:, None] > table_points[group]).sum(axis=1)
    template_of_row = base[group] + bracket
    template_of_row[~ok_np] = 0

    row_template = pa.array(template_of_row)

    def template_column(getter: Callable[[Decision], Any], typ: pa.DataType) -> pa.Array:
        return pc.take(_encoded_array([getter(t) for t in templates] or [None], typ), row_template)

    def item(d: Decision) -> ItemDecision:
        return d.items[0]

    tpp_unit = np.array([item(t).tpp if item(t).tpp is not None else np.nan for t in templates] or [np.nan])
    tpp_total = tpp_unit[template_of_row] * qty
    tpp_total_arr = pa.array(tpp_total, mask=np.isnan(tpp_total))

    items_struct = pa.StructArray.from_arrays(
        [
            pa.array(np.zeros(n, dtype=np.int32)),
            template_column(lambda d: item(d).kind, pa.string()),
            template_column(lambda d: item(d).name, pa.string()),
            template_column(lambda d: item(d).chip, pa.string()),
            template_column(lambda d: item(d).eccn, pa.string()),
            template_column(lambda d: item(d).paragraph, pa.string()),
            template_column(lambda d: item(d).tpp, pa.float64()),
            template_column(lambda d: item(d).performance_density, pa.float64()),
            quantity,
            tpp_total_arr,
            template_column(lambda d: item(d).outcome, pa.string()),
            template_column(lambda d: item(d).authorization, pa.string()),
            template_column(lambda d: item(d).review_policy, pa.string()),
            template_column(lambda d: item(d).provisional, pa.bool_()),
            template_column(lambda d: list(item(d).rules), pa.list_(pa.string())),
        ],
        fields=list(ITEM_TYPE),
    )
    items_column = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), items_struct)

    # Allocations: per row, the template's draws with the row's own account and TPP.
    counts = np.array([len(t.allocations) for t in templates] or [0], dtype=np.int64)
    per_row = counts[template_of_row]
    per_row[~ok_np] = 0
    offsets = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int32)
    total = int(offsets[-1])
    alloc_rows = np.repeat(np.arange(n), per_row)
    within = np.arange(total) - np.repeat(offsets[:-1], per_row)
    alloc_start = np.concatenate([[0], np.cumsum(counts)])[:-1]
    flat = alloc_start[template_of_row[alloc_rows]] + within
    draws = [draw for t in templates for draw in t.allocations]

    def draw_column(getter: Callable[[AllocationDraw], Any], typ: pa.DataType) -> pa.Array:
        values = _encoded_array([getter(d) for d in draws] or [None], typ)
        return pc.take(values, pa.array(flat, type=pa.int64())) if total else pa.array([], type=_encoded(typ))

    names = col_py["name"]
    ids_py = col_py["consignee_id"]
    rule_of_draw = draw_column(lambda d: d.rule, pa.string()).to_pylist()
    consignees: dict[tuple[str, str, str, str | None], Consignee] = {}
    accounts: list[str] = []
    for k, row in enumerate(alloc_rows.tolist()):
        entry = selection_rulesets[int(selection_of_row[row])]
        assert entry is not None
        allocation = entry[0].allocations[rule_of_draw[k].split("/", 1)[1]]
        who = (col_py["located"][row], col_py["headquarters"][row], names[row], ids_py[row])
        consignee = consignees.get(who)
        if consignee is None:
            consignee = consignees[who] = Consignee(name=who[2].strip(), country=who[0], headquarters=who[1], id=who[3])
        accounts.append(
            allocation_account(allocation, consignee, col_py["destination"][row], _day(int(day_numbers[row])))
        )
    draw_tpp = tpp_unit[template_of_row[alloc_rows]] * qty[alloc_rows] if total else np.array([], dtype=float)
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
    allocations_column = pa.ListArray.from_arrays(pa.array(offsets), alloc_struct)

    result = pa.table(
        {
            "id": ids,
            "regime": template_column(lambda d: d.regime, pa.string()),
            "packs": template_column(lambda d: list(d.packs), pa.list_(pa.string())),
            "date": days,
            "outcome": template_column(lambda d: d.outcome, pa.string()),
            "authorization": template_column(lambda d: d.authorization, pa.string()),
            "review_policy": template_column(lambda d: d.review_policy, pa.string()),
            "items": items_column,
            "tpp_total": pa.array(np.nan_to_num(tpp_total, nan=0.0), pa.float64()),
            "allocations": allocations_column,
            "rules": template_column(lambda d: list(d.rules), pa.list_(pa.string())),
            "citations": template_column(lambda d: list(d.citations), pa.list_(pa.string())),
            "conditions": template_column(lambda d: list(d.conditions), pa.list_(pa.string())),
            "recalled": template_column(lambda d: list(d.recalled), pa.list_(pa.string())),
            "provisional": template_column(lambda d: d.provisional, pa.bool_()),
            "jurisdictions": pc.take(
                pa.array(
                    [[jurisdiction_fields(j) for j in t.jurisdictions] for t in templates] or [[]],
                    pa.list_(JURISDICTION_TYPE),
                ),
                row_template,
            ),
        },
        schema=schema,
    )
    if fallback_rows:
        indices = sorted(fallback_rows)
        patch = rows_to_table([fallback_rows[i] for i in indices], False)
        keep = np.ones(n, dtype=bool)
        keep[indices] = False
        order = np.concatenate([np.flatnonzero(keep), np.array(indices, dtype=np.int64)])
        merged = pa.concat_tables([result.filter(pa.array(keep)), patch])
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        result = merged.take(pa.array(inverse))
    return result
