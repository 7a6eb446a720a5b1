"""The monitoring analytics, written once as Ibis expressions; DuckDB and PySpark run the same code.

Per segment: FLOP = chips x seconds x the chip's dense peak at the segment's precision (catalogue)
x utilisation (measured, else the pack's default), with a low/high band. Then per job, per owner
(all time and rolling windows), per customer in the calendar year, peak concurrent OP/s per owner and
cluster, and the bad rows. Only small results leave the engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from tiergate.catalog import PRECISIONS, Catalogue
from tiergate.classify.metrics import tpp
from tiergate.monitor.model import DEFAULT_PRECISION
from tiergate.rules import Ruleset
from tiergate.rules.ruleset import Monitoring

_MAX_DOUBLE = 1.7976931348623157e308
"""The largest finite double: only +inf is above it (and NaN, in DuckDB's and Spark's ordering)."""

TERA = 1e12


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything the expressions need besides the usage table, as plain values."""

    as_of: dt.datetime
    year_start: dt.datetime
    monitoring: Monitoring
    min_training_threshold: float


def chip_tables(catalogue: Catalogue, ruleset: Ruleset, names: list[str]) -> tuple[Any, Any]:
    """(chips: the name as written in the records, catalogue id, vendor, peak OP/s, H100-equivalents per
    chip, default utilisation; rates: catalogue id, precision, dense FLOP/s) as Arrow tables. ``names`` are
    the distinct chip names of the records: catalogue ids or aliases; the others have no row (unknown)."""
    import pyarrow as pa

    monitoring = ruleset.monitoring
    assert monitoring is not None
    h100 = catalogue.get("nvidia-h100-sxm")
    h100_tpp = tpp(h100, ruleset.bit_lengths).value if h100 is not None else None
    ids, vendors, peaks, h100e, utils = [], [], [], [], []
    r_chip, r_precision, r_rate = [], [], []
    written: list[str] = []
    resolved = {name: catalogue.get(name) for name in names}
    for chip in catalogue:
        assert chip.id is not None
        rates: dict[str, float] = {}
        for die in chip.dies:
            for precision, rate in die.dense_tops:
                rates[precision] = rates.get(precision, 0.0) + rate * TERA
        chip_tpp = tpp(chip, ruleset.bit_lengths).value
        for name, found in resolved.items():
            if found is None or found.id != chip.id:
                continue
            written.append(name)
            ids.append(chip.id)
            vendors.append(chip.vendor or "")
            peaks.append(max(rates.values()) if rates else None)
            h100e.append(chip_tpp / h100_tpp if chip_tpp is not None and h100_tpp else None)
            utils.append(monitoring.utilisation.by_vendor.get(chip.vendor or "", monitoring.utilisation.default))
        for precision in PRECISIONS:
            if precision in rates:
                r_chip.append(chip.id)
                r_precision.append(precision)
                r_rate.append(rates[precision])
    chips = pa.table(
        {
            "chip_name": pa.array(written, pa.string()),
            "chip_id": pa.array(ids, pa.string()),
            "vendor": pa.array(vendors, pa.string()),
            "peak_ops": pa.array(peaks, pa.float64()),
            "h100e": pa.array(h100e, pa.float64()),
            "util_default": pa.array(utils, pa.float64()),
        }
    )
    rates_table = pa.table(
        {"rate_chip": pa.array(r_chip), "rate_precision": pa.array(r_precision), "rate": pa.array(r_rate)}
    )
    return chips, rates_table


def account_numbers(account_ids: Any) -> Any:
    """(``numbered_account``, ``account_no``): the distinct accounts of the records (an Arrow table with an
    ``account_id`` column), numbered in sort order. Jobs are grouped with the smallest number of their
    accounts (their first account, as texts sort) and mapped back after: a whole number is kept and compared
    per job far more cheaply than a text, and the per-job table is smaller (at 10^8 records it spills less)."""
    import pyarrow as pa

    ordered = account_ids.column("account_id").drop_null().unique().sort()
    return pa.table({"numbered_account": ordered, "account_no": pa.array(range(len(ordered)), pa.int64())})


def with_owner(t: ir.Table, accounts: ir.Table, key: str) -> ir.Table:
    """``t`` with the customer (``subject``), beneficial owner and headquarters of its account column ``key``;
    an account the customer table does not know is its own customer and owner (``account:<id>``)."""
    t = t.left_join(accounts, t[key] == accounts.acct_id)
    unknown = ibis.literal("account:") + t[key]
    return t.mutate(owner_id=t.owner_id.fill_null(unknown), subject=t.customer_id.fill_null(unknown)).drop("acct_id")


def segments(
    usage: ir.Table, chips: ir.Table, rates: ir.Table, inputs: Inputs, kinds: ir.Table | None = None
) -> ir.Table:
    """Every usage row with its problem (null when usable), FLOP estimate and band. ``kinds``: the distinct
    (``chip``, ``precision``) pairs of the records as written, when already known (else found here)."""
    as_of_s = inputs.as_of.timestamp()
    # The chip and rate of each (chip, precision) pair as written, found once on the few distinct pairs and
    # joined to the records on the written values (nulls match nulls): no per-record string work.
    if kinds is None:
        kinds = usage.select("chip", "precision").distinct()
    k = kinds.select("chip", "precision", precision_used=kinds.precision.lower().strip().fill_null(DEFAULT_PRECISION))
    k = k.left_join(chips, k.chip == chips.chip_name)
    k = k.left_join(rates, (k.chip_id == rates.rate_chip) & (k.precision_used == rates.rate_precision))
    k = k.select(
        k_chip=k.chip,
        k_precision=k.precision,
        precision_used=k.precision_used,
        **{c: k[c] for c in chips.columns},
        **{c: k[c] for c in rates.columns},
    )
    u = usage.mutate(
        start_s=usage.start.epoch_seconds().cast("float64"),
        end_given=usage.end.notnull(),
        end_s=usage.end.epoch_seconds().cast("float64").fill_null(as_of_s),
    )
    u = u.left_join(k, [u.chip.identical_to(k.k_chip), u.precision.identical_to(k.k_precision)])
    u = u.drop("k_chip", "k_precision")
    problem = ibis.cases(
        (u.record_id.isnull(), "record_id:missing"),
        (u.account_id.isnull(), "account_id:missing"),
        (u.job_id.isnull(), "job_id:missing"),
        (u.chip.isnull(), "chip:missing"),
        (u.chip_id.isnull(), "chip:unknown"),
        (u.rate.isnull(), "precision:no_rate"),
        (u.chip_count.isnull(), "chip_count:missing"),
        (u.chip_count <= 0, "chip_count:not_positive"),
        (u.start.isnull(), "start:missing"),
        (u.start_s > as_of_s, "start:after_as_of"),
        (u.end_s < u.start_s, "end:before_start"),
        (u.utilization.isnan(), "utilization:out_of_range"),  # Spark's notnull() below is false for NaN
        (u.utilization.notnull() & ((u.utilization <= 0) | (u.utilization > 1)), "utilization:out_of_range"),
        (u.declared_flop.notnull() & (u.declared_flop < 0), "declared_flop:negative"),
        # NaN, or above the largest double (+inf). No notnull() guard: Ibis reads notnull() of a float on Spark as
        # "neither null nor NaN"; a null makes both tests null, which no case takes.
        (u.declared_flop.isnan() | (u.declared_flop > _MAX_DOUBLE), "declared_flop:not_finite"),
        else_=ibis.null("string"),
    )
    u = u.mutate(problem=problem)
    band = inputs.monitoring.utilisation
    util = u.utilization.fill_null(u.util_default)
    measured = u.utilization.notnull()
    err = band.measured_relative_error
    util_lo = ibis.ifelse(measured, u.utilization * (1 - err), u.util_default * (band.low / band.default))
    util_hi = ibis.ifelse(
        measured, ibis.least(u.utilization * (1 + err), 1.0), u.util_default * (band.high / band.default)
    )
    chip_seconds = u.chip_count.cast("float64") * (u.end_s - u.start_s)
    peak_rate = u.chip_count.cast("float64") * u.rate
    return u.mutate(
        util=util,
        flop=chip_seconds * u.rate * util,
        flop_rate=peak_rate * util,
        flop_lo=chip_seconds * u.rate * util_lo,
        flop_hi=chip_seconds * u.rate * util_hi,
        rate_now=ibis.ifelse(u.end_given, 0.0, peak_rate * util),  # FLOP/s of a running segment
        h100e_hours=chip_seconds / 3600.0 * u.h100e.fill_null(0.0),
        ops_peak=u.chip_count.cast("float64") * u.peak_ops,
    )


def problems(seg: ir.Table) -> ir.Table:
    return seg.filter(seg.problem.notnull()).select(
        "file", "row", "record_id", "problem", "chip", "chip_count", "precision_used", "start", "end", "utilization"
    )


def overlaps(good: ir.Table, job_ids: list[str]) -> ir.Table:
    """Segments of the given jobs that start before the previous segment of that job (by start) ends.
    ``jobs`` finds the jobs that have any (their segments add up to more than their span), so the
    sort this needs runs over those jobs only."""
    good = good.filter(good.job_id.isin(job_ids))
    w = ibis.window(group_by=good.job_id, order_by=[good.start_s, good.row, good.file])
    prev_end = good.end_s.lag().over(w)
    t = good.mutate(prev_end=prev_end)
    return t.filter(t.prev_end.notnull() & (t.start_s < t.prev_end)).select("file", "row", "record_id", "job_id")


def per_job(seg: ir.Table, numbers: ir.Table, inputs: Inputs) -> ir.Table:
    """Every job (the FLOP and times of its usable rows): FLOP estimate and band, declared FLOP, current
    rate, FLOP in each rolling window and in the calendar year, H100e-hours in the year, the most OP/s it
    can use at one instant (``ops_bound``), and the number of its account (``account_no``; a job on several
    accounts is counted under the first). ``numbers``: every account of the records with its number
    (``account_numbers``)."""
    as_of_s = inputs.as_of.timestamp()
    y0 = inputs.year_start.timestamp()
    seg = seg.filter(seg.problem.isnull())  # usable rows only: plain aggregates, no per-aggregate filter
    seg = seg.left_join(numbers, seg.account_id == numbers.numbered_account)
    duration = seg.end_s - seg.start_s

    def overlap(lo: float) -> ir.FloatingValue:
        """Seconds of the segment between ``lo`` and the scan date (0 for a segment of no length)."""
        return ibis.greatest(ibis.least(seg.end_s, as_of_s) - ibis.greatest(seg.start_s, lo), 0.0)

    # A window's share of a segment: its rate (per second) times the seconds in the window, which needs no
    # division by the segment's length (nor a case for a length of 0).
    h100e_per_second = seg.chip_count.cast("float64") * seg.h100e.fill_null(0.0) / 3600.0

    aggs: dict[str, Any] = {
        "flop_est": seg.flop.sum(),
        "flop_lo": seg.flop_lo.sum(),
        "flop_hi": seg.flop_hi.sum(),
        "declared": seg.declared_flop.max(),
        "rate_now": seg.rate_now.sum(),
        "first_s": seg.start_s.min(),
        "last_s": seg.end_s.max(),
        "busy_s": duration.sum(),
        "segments": seg.count(),
        "account_no": seg.account_no.min(),
        "ops_max": seg.ops_peak.max(),
        "flop_year": (seg.flop_rate * overlap(y0)).sum(),
        "h100e_hours_year": (h100e_per_second * overlap(y0)).sum(),
    }
    for days in inputs.monitoring.window_days:
        aggs[f"flop_{days}d"] = (seg.flop_rate * overlap(as_of_s - days * 86400.0)).sum()
    j = seg.group_by("job_id").aggregate(**aggs)
    # A window's band is the job's band scaled to the window (exact when all of a job's segments have
    # measured utilisation, or none has).
    low = ibis.ifelse(j.flop_est > 0, j.flop_lo / j.flop_est, 0.0)
    high = ibis.ifelse(j.flop_est > 0, j.flop_hi / j.flop_est, 0.0)
    bands: dict[str, Any] = {}
    for days in inputs.monitoring.window_days:
        bands[f"flop_lo_{days}d"] = j[f"flop_{days}d"] * low
        bands[f"flop_hi_{days}d"] = j[f"flop_{days}d"] * high
    overlapping = (j.segments > 1) & (j.busy_s > (j.last_s - j.first_s) + 1e-6)
    return j.mutate(
        flop=j.declared.fill_null(j.flop_est),
        overlapping=overlapping,
        # At any instant a job uses at most its largest segment; if its segments overlap, at most all of them
        # (bounded by as many of its largest: one sum fewer per job, and such jobs are rare and reported).
        ops_bound=ibis.ifelse(overlapping, j.ops_max * j.segments, j.ops_max),
        running=ibis.ifelse(j.rate_now > 0, 1, 0),
        **bands,
    )


OPS_PERIOD_DAYS = 61
OPS_PERIODS = 7
"""The scan's time split into periods of 61 days (seven up to the scan date, one before, one after), for a
bound of each owner's concurrent use: a job whose first and last segment fall in at most two adjacent
periods is counted in each of them, a longer one in every period (``ops_always``). At any instant, every
running job of an owner is counted in that instant's period, so the largest period sum plus ``ops_always``
bounds the owner's peak OP/s on any cluster, far more tightly than the sum over all its jobs."""


def ops_periods() -> list[str]:
    """The names of the per-period columns of ``summary``."""
    return [f"ops_p{k}" for k in range(OPS_PERIODS + 2)]


SUMMED = ("flop_est", "flop_lo", "flop_hi", "flop_year", "h100e_hours_year", "segments")


def summary(seg: ir.Table, accounts: ir.Table, numbers: ir.Table, inputs: Inputs) -> ir.Table:
    """One pass over the records grouped by (beneficial owner, customer, kept job): a job that may matter
    (past the lowest training threshold at the top of its band, projected past it within the horizon, with a
    declared-vs-estimated gap, or with overlapping segments) is a group of its own (``kept`` = its id, every
    column its own value); the other jobs of a customer form one group (``kept`` = "") of sums. Owners and
    customers are sums of these groups (a customer belongs to one owner). The jobs are first grouped by
    (account number, kept job), on a whole number, and these few groups by owner and customer after."""
    j = per_job(seg, numbers, inputs)
    windows = [f"flop{b}_{d}d" for d in inputs.monitoring.window_days for b in ("", "_lo", "_hi")]
    gap = inputs.monitoring.declared_gap_ratio
    horizon = inputs.monitoring.projection_days * 86400.0
    keep = (j.segments > 0) & (
        (ibis.greatest(j.flop, j.flop_hi) >= inputs.min_training_threshold)
        | ((j.running == 1) & (j.flop + j.rate_now * horizon >= inputs.min_training_threshold))
        | (j.declared.notnull() & ((j.declared > j.flop_est * gap) | (j.declared * gap < j.flop_est)))
        | j.overlapping
    )
    j = j.mutate(kept=ibis.ifelse(keep, j.job_id, ""))
    aggs: dict[str, Any] = {c: j[c].sum() for c in (*SUMMED, *windows, "flop", "rate_now")}
    # Each job's largest use at one instant, by the period(s) it runs in (see ``ops_periods``).
    base = inputs.as_of.timestamp() - OPS_PERIODS * OPS_PERIOD_DAYS * 86400.0

    def period(seconds: ir.FloatingValue) -> ir.FloatingValue:
        return ((seconds - base) / (OPS_PERIOD_DAYS * 86400.0)).floor().clip(lower=-1, upper=OPS_PERIODS)

    p0, p1 = period(j.first_s), period(j.last_s)
    short = (p1 - p0) <= 1
    for k in range(-1, OPS_PERIODS + 1):
        aggs[f"ops_p{k + 1}"] = j.ops_bound.sum(where=short & ((p0 == k) | (p1 == k)))
    aggs["ops_always"] = j.ops_bound.sum(where=~short)
    aggs.update(
        jobs=j.segments.count(where=j.segments > 0).cast("int64"),
        declared=j.declared.max(),
        first_s=j.first_s.min(),
        last_s=j.last_s.max(),
        running=j.running.max(),
        overlapping=j.overlapping.max(),
    )
    t = j.group_by(["account_no", "kept"]).aggregate(**aggs)
    # The customer and owner of each account number, then the sums per (owner, customer, kept job).
    owned = with_owner(numbers, accounts, "numbered_account")
    owned = owned.select(
        number=owned.account_no, account=owned.numbered_account, owner=owned.owner_id, subject=owned.subject
    )
    t = t.left_join(owned, t.account_no == owned.number).drop("number", "account_no")
    extremes = {"declared": "max", "first_s": "min", "last_s": "max", "running": "max", "overlapping": "max"}
    regroup: dict[str, Any] = {c: getattr(t[c], extremes.get(c, "sum"))() for c in aggs}
    # The first account (numbers follow the texts' order, so the smallest text is the smallest number).
    regroup["account"] = t.account.min()
    return t.group_by(["owner", "subject", "kept"]).aggregate(**regroup)


def bounds(usage: ir.Table, chips: ir.Table, owned: ir.Table, inputs: Inputs, floor: float) -> ir.Table:
    """Per (owner, cluster), an upper bound of the peak OP/s in use at one time; only the pairs whose bound
    reaches ``floor``, among the accounts of ``owned`` (``acct_id``, ``owner_id``: the accounts of the owners
    worth looking at, read through a join rather than the whole of the records). The bound: segments shorter
    than a day touch at most the day they start and the day they end, so the largest one-day sum of such
    segments (each counted on both days), plus every longer segment as if always on, is at least the
    concurrent peak. It reads the raw records (a bad row can only raise a bound, never lower it), so it needs
    none of the per-row checks."""
    day = 86400.0
    u = usage.filter(usage.start.notnull() & (usage.chip_count > 0))
    u = u.inner_join(owned, u.account_id == owned.acct_id)
    u = u.inner_join(chips, u.chip == chips.chip_name)
    start_s = u.start.epoch_seconds().cast("float64")
    end_s = u.end.epoch_seconds().cast("float64").fill_null(inputs.as_of.timestamp())
    d0 = (start_s / day).floor()
    d1 = (end_s / day).ceil() - 1
    long = (end_s - start_s) >= day
    # Each segment in the buckets it touches: its first and last day, or -1 ("always") when it is long.
    buckets = ibis.ifelse(long, ibis.array([-1.0]), ibis.ifelse(d1 > d0, ibis.array([d0, d1]), ibis.array([d0])))
    t = u.select("owner_id", "cluster_id", ops_peak=u.chip_count.cast("float64") * u.peak_ops, d=buckets.unnest())
    per_day = t.group_by(["owner_id", "cluster_id", "d"]).aggregate(ops=t.ops_peak.sum())
    always = per_day.d < 0
    b = per_day.group_by(["owner_id", "cluster_id"]).aggregate(
        ops=per_day.ops.max(where=~always).fill_null(0.0) + per_day.ops.sum(where=always).fill_null(0.0)
    )
    # A bound summed in another order may differ in its last bits: keep a margin (it only lets more pairs
    # through to the exact computation, never fewer).
    return b.filter(b.ops >= floor * (1 - 1e-9))


def first_rows(good: ir.Table, accounts: ir.Table) -> ir.Table:
    """The first usable row of each account that the customer table does not know."""
    t = good.anti_join(accounts, good.account_id == accounts.acct_id)
    return t.group_by("account_id").aggregate(first_row=t.row.min(), flop=t.flop.sum())


def clusters(good: ir.Table, owned: ir.Table, pairs: list[tuple[str, str]]) -> ir.Table:
    """The largest number of chips and peak OP/s in use at one time (a running sum over start and end
    events, ends before starts at the same instant), for the given (owner, cluster) pairs; ``owned`` maps
    each account of the pairs' owners (``acct_id``) to its owner (``owner_id``)."""
    good = good.filter(good.cluster_id.isin(sorted({c for _, c in pairs})))
    good = good.inner_join(owned, good.account_id == owned.acct_id)
    good = good.filter(good.owner_id.isin(sorted({o for o, _ in pairs})))
    starts = good.select(
        owner=good.owner_id,
        cluster=good.cluster_id,
        t=good.start_s,
        ops=good.ops_peak,
        chips=good.chip_count.cast("float64"),
    )
    ends = good.select(
        owner=good.owner_id,
        cluster=good.cluster_id,
        t=good.end_s,
        ops=-good.ops_peak,
        chips=-good.chip_count.cast("float64"),
    )
    events = starts.union(ends, distinct=False)
    w = ibis.cumulative_window(group_by=[events.owner, events.cluster], order_by=[events.t, events.ops])
    running = events.mutate(ops_now=events.ops.sum().over(w), chips_now=events.chips.sum().over(w))
    return running.group_by(["owner", "cluster"]).aggregate(
        peak_ops=running.ops_now.max(), peak_chips=running.chips_now.max()
    )


def daily(good: ir.Table, accounts: ir.Table, owner_ids: list[str]) -> ir.Table:
    """FLOP per day (of segment start) for the given owners, for the report's chart."""
    good = with_owner(good, accounts, "account_id")
    t = good.filter(good.owner_id.isin(owner_ids))
    day = (t.start_s / 86400.0).floor().cast("int64")
    t = t.mutate(day=day)
    return t.group_by(["owner_id", "day"]).aggregate(flop=t.flop.sum())


def countries(good: ir.Table, accounts: ir.Table) -> ir.Table:
    """FLOP and H100e-hours per datacenter country and per customer headquarters."""
    good = with_owner(good, accounts, "account_id")
    return good.group_by(["datacenter_country", "hq"]).aggregate(
        flop=good.flop.sum(), h100e_hours=good.h100e_hours.sum()
    )
