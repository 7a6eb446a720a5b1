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

TERA = 1e12


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything the expressions need besides the usage table, as plain values."""

    as_of: dt.datetime
    year_start: dt.datetime
    monitoring: Monitoring
    min_training_threshold: float
    max_training_threshold: float


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


def segments(usage: ir.Table, chips: ir.Table, rates: ir.Table, accounts: ir.Table, inputs: Inputs) -> ir.Table:
    """Every usage row with its problem (null when usable), FLOP estimate and band."""
    as_of_s = inputs.as_of.timestamp()
    u = usage.mutate(
        precision_used=usage.precision.lower().strip().fill_null(DEFAULT_PRECISION),
        start_s=usage.start.epoch_seconds().cast("float64"),
        end_given=usage.end.notnull(),
        end_s=usage.end.epoch_seconds().cast("float64").fill_null(as_of_s),
    )
    u = u.left_join(chips, u.chip == chips.chip_name)
    u = u.left_join(rates, (u.chip_id == rates.rate_chip) & (u.precision_used == rates.rate_precision))
    u = u.left_join(accounts, u.account_id == accounts.acct_id)
    u = u.mutate(owner_id=u.owner_id.fill_null(ibis.literal("account:") + u.account_id))
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
        (u.utilization.notnull() & ((u.utilization <= 0) | (u.utilization > 1)), "utilization:out_of_range"),
        (u.declared_flop.notnull() & (u.declared_flop < 0), "declared_flop:negative"),
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
        flop_lo=chip_seconds * u.rate * util_lo,
        flop_hi=chip_seconds * u.rate * util_hi,
        rate_now=ibis.ifelse(u.end_given, 0.0, peak_rate * util),
        h100e_hours=chip_seconds / 3600.0 * u.h100e.fill_null(0.0),
        ops_peak=u.chip_count.cast("float64") * u.peak_ops,
        running=ibis.ifelse(u.end_given, 0, 1),
    )


def problems(seg: ir.Table) -> ir.Table:
    return seg.filter(seg.problem.notnull()).select(
        "file", "row", "record_id", "problem", "chip", "chip_count", "precision_used", "start", "end", "utilization"
    )


def overlaps(good: ir.Table) -> ir.Table:
    """Segments of one job that start before the previous segment of that job (by start) ends."""
    w = ibis.window(group_by=good.job_id, order_by=[good.start_s, good.row, good.file])
    prev_end = good.end_s.lag().over(w)
    t = good.mutate(prev_end=prev_end)
    return t.filter(t.prev_end.notnull() & (t.start_s < t.prev_end)).select("file", "row", "record_id", "job_id")


def jobs(good: ir.Table, inputs: Inputs) -> ir.Table:
    """Per job: FLOP (declared wins), estimate and band, current rate; only jobs that may matter."""
    j = good.group_by("job_id").aggregate(
        flop_est=good.flop.sum(),
        flop_lo=good.flop_lo.sum(),
        flop_hi=good.flop_hi.sum(),
        declared=good.declared_flop.max(),
        rate_now=good.rate_now.sum(),
        running=good.running.max(),
        first_s=good.start_s.min(),
        last_s=good.end_s.max(),
        accounts=good.account_id.nunique(),
        account=good.account_id.min(),
        owner=good.owner_id.min(),
        customer=good.customer_id.min(),
        chips_max=good.chip_count.max(),
        segments=good.count(),
    )
    gap = inputs.monitoring.declared_gap_ratio
    horizon = inputs.monitoring.projection_days * 86400.0
    j = j.mutate(flop=j.declared.fill_null(j.flop_est))
    keep = (
        (ibis.greatest(j.flop, j.flop_hi) >= inputs.min_training_threshold)
        | ((j.running == 1) & (j.flop + j.rate_now * horizon >= inputs.min_training_threshold))
        | (j.declared.notnull() & ((j.declared > j.flop_est * gap) | (j.declared * gap < j.flop_est)))
    )
    return j.filter(keep)


def owners(good: ir.Table, inputs: Inputs) -> ir.Table:
    """Per beneficial owner: all-time FLOP (estimate and band) and FLOP in each rolling window."""
    as_of_s = inputs.as_of.timestamp()
    per_job = good.group_by(["owner_id", "job_id"]).aggregate(
        job_flop=good.flop.sum(), job_hi=good.flop_hi.sum(), job_declared=good.declared_flop.max()
    )
    per_job = per_job.mutate(
        job_flop=per_job.job_declared.fill_null(per_job.job_flop),
        job_hi=per_job.job_declared.fill_null(per_job.job_hi),
    )
    biggest = per_job.group_by("owner_id").aggregate(
        max_job_flop=per_job.job_flop.max(), max_job_hi=per_job.job_hi.max()
    )
    biggest = biggest.rename(big_owner="owner_id")
    duration = good.end_s - good.start_s
    aggs: dict[str, Any] = {
        "flop": good.flop.sum(),
        "flop_lo": good.flop_lo.sum(),
        "flop_hi": good.flop_hi.sum(),
        "accounts": good.account_id.nunique(),
        "customers": good.customer_id.nunique(),
        "jobs": good.job_id.nunique(),
        "h100e_hours": good.h100e_hours.sum(),
    }
    for days in inputs.monitoring.window_days:
        lo = as_of_s - days * 86400.0
        overlap = ibis.greatest(ibis.least(good.end_s, as_of_s) - ibis.greatest(good.start_s, lo), 0.0)
        share = ibis.ifelse(duration > 0, overlap / duration, 0.0)
        aggs[f"flop_{days}d"] = (good.flop * share).sum()
        aggs[f"flop_lo_{days}d"] = (good.flop_lo * share).sum()
        aggs[f"flop_hi_{days}d"] = (good.flop_hi * share).sum()
    o = good.group_by("owner_id").aggregate(**aggs)
    o = o.left_join(biggest, o.owner_id == biggest.big_owner).drop("big_owner")
    return o


def customers_year(good: ir.Table, inputs: Inputs) -> ir.Table:
    """Per customer (and per account with no customer): H100e-hours and FLOP in the calendar year of
    the scan date (segments prorated at the year's start), and FLOP of all time."""
    as_of_s = inputs.as_of.timestamp()
    y0 = inputs.year_start.timestamp()
    duration = good.end_s - good.start_s
    overlap = ibis.greatest(ibis.least(good.end_s, as_of_s) - ibis.greatest(good.start_s, y0), 0.0)
    share = ibis.ifelse(duration > 0, overlap / duration, 0.0)
    key = good.customer_id.fill_null(ibis.literal("account:") + good.account_id)
    t = good.mutate(subject=key, share=share)
    return t.group_by("subject").aggregate(
        flop=t.flop.sum(),
        flop_year=(t.flop * t.share).sum(),
        h100e_hours_year=(t.h100e_hours * t.share).sum(),
        accounts=t.account_id.nunique(),
        first_row=t.row.min(),
    )


def clusters(good: ir.Table) -> ir.Table:
    """Per owner and cluster: the largest number of chips and peak OP/s in use at one time."""
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


def daily(good: ir.Table, owner_ids: list[str]) -> ir.Table:
    """FLOP per day (of segment start) for the given owners, for the report's chart."""
    t = good.filter(good.owner_id.isin(owner_ids))
    day = (t.start_s / 86400.0).floor().cast("int64")
    t = t.mutate(day=day)
    return t.group_by(["owner_id", "day"]).aggregate(flop=t.flop.sum())


def countries(good: ir.Table) -> ir.Table:
    """FLOP and H100e-hours per datacenter country and per customer headquarters."""
    return good.group_by(["datacenter_country", "hq"]).aggregate(
        flop=good.flop.sum(), h100e_hours=good.h100e_hours.sum()
    )
