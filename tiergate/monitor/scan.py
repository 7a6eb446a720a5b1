"""A monitoring scan: open the inputs on an engine, run the analytics, turn the results into alerts.

Thresholds, caps, prohibited use, utilisation and the KYC test come from the ruleset's monitoring
section (the packs); every alert's reasons name the rule, its citation and its status.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tiergate.catalog import Catalogue, load_catalogue
from tiergate.classify.metrics import fmt
from tiergate.errors import InputError, TiergateError
from tiergate.monitor import analytics as an
from tiergate.monitor.model import Alert, Problem, ScanResult
from tiergate.monitor.owners import Customers, read_customers
from tiergate.monitor.usage import open_usage, parquet_latest
from tiergate.rules import Rulebook, Ruleset, load_rulebook
from tiergate.rules.ruleset import ComputeThreshold, Provenance, compare

ENGINES = ("duckdb", "spark")
PROBLEM_LIST_LIMIT = 1000
"""Bad rows listed per kind of problem (all are counted)."""

_PROBLEM_TEXT = {
    "record_id:missing": ("record_id", "missing", "excluded"),
    "account_id:missing": ("account_id", "missing", "excluded"),
    "job_id:missing": ("job_id", "missing", "excluded"),
    "chip:missing": ("chip", "missing", "excluded"),
    "chip:unknown": ("chip", "unknown chip", "excluded"),
    "precision:no_rate": ("precision", "the catalogue has no dense rate for this chip at this precision", "excluded"),
    "chip_count:missing": ("chip_count", "missing", "excluded"),
    "chip_count:not_positive": ("chip_count", "not a positive number of chips", "excluded"),
    "start:missing": ("start", "missing", "excluded"),
    "start:after_as_of": ("start", "after the scan date", "excluded"),
    "end:before_start": ("end", "before start (negative duration)", "excluded"),
    "utilization:out_of_range": ("utilization", "outside 0 (exclusive) to 1", "excluded"),
    "declared_flop:negative": ("declared_flop", "negative", "excluded"),
    "declared_flop:not_finite": ("declared_flop", "not a finite number (NaN or infinite)", "excluded"),
}


def _sig(value: float | None) -> float | None:
    """Round to 10 significant digits, so that engines summing in another order print the same."""
    if value is None or not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.10g}")


def _file(value: object) -> str:
    """A file name as the engines give it (Spark says ``file:/path``) as a plain path."""
    text = str(value)
    if text.startswith("file:"):
        text = "/" + text.removeprefix("file:").lstrip("/")
    return text


def _stamp(value: object) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _rule(p: Provenance) -> str:
    return f"{p.citation} [{p.status}; rule {p.rule_id}]"


def _binding(t: ComputeThreshold, day: dt.date) -> str:
    if not t.in_force:
        return "watched, not binding (not in force)"
    if t.applies_from is not None and day < t.applies_from:
        return f"watched, not yet applicable on {day} (applies from {t.applies_from})"
    return f"in force on {day}"


DUCKDB_MEMORY = "6GB"
"""DuckDB's memory limit (``TIERGATE_DUCKDB_MEMORY`` overrides it); past it, DuckDB spills to a temporary
folder, which keeps a scan of 10^8 records under 8 GB."""


def duckdb_config() -> dict[str, str]:
    folder = Path(tempfile.gettempdir()) / f"tiergate-duckdb-{os.getpid()}"
    return {"memory_limit": os.environ.get("TIERGATE_DUCKDB_MEMORY", DUCKDB_MEMORY), "temp_directory": str(folder)}


@contextmanager
def engine_connection(engine: str, spark: Any = None) -> Iterator[tuple[Any, Any]]:
    """An Ibis connection for ``engine`` (and the Spark session for ``spark``)."""
    import ibis

    if engine == "duckdb":
        config = duckdb_config()
        con = ibis.duckdb.connect(**config)
        try:
            yield con, None
        finally:
            con.disconnect()
            shutil.rmtree(config["temp_directory"], ignore_errors=True)
        return
    if engine != "spark":
        raise InputError(f"unknown engine {engine!r}", hint="use duckdb or spark")
    session = spark if spark is not None else spark_session()
    yield ibis.pyspark.connect(session), session


def spark_session() -> Any:
    """A local Spark session (2 threads, UTC, no UI), created once per process."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("the spark engine needs PySpark", hint="pip install 'tiergate[spark]'") from None
    try:
        session = (
            SparkSession.builder.master("local[2]")
            .appName("tiergate-monitor")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.ansi.enabled", "false")
            .getOrCreate()
        )
    except Exception as error:  # no Java, or Java too old
        raise InputError(f"cannot start Spark: {error}", hint="the spark engine needs Java 17 or later") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _rows(expr: Any) -> list[dict[str, Any]]:
    return list(expr.to_pyarrow().to_pylist())


def accounts_table(customers: Customers) -> Any:
    import pyarrow as pa

    acct, cust, owner, hq = [], [], [], []
    for account, cid in customers.account_customer.items():
        c = customers.by_id[cid]
        acct.append(account)
        cust.append(cid)
        owner.append(c.owner_id)
        hq.append(c.headquarters)
    return pa.table(
        {
            "acct_id": pa.array(acct, pa.string()),
            "customer_id": pa.array(cust, pa.string()),
            "owner_id": pa.array(owner, pa.string()),
            "hq": pa.array(hq, pa.string()),
        }
    )


def _heavy_owners(holder_rows: list[dict[str, Any]], floor: float) -> set[str]:
    """The owners whose bound of concurrent use (``an.OPS_PERIOD_DAYS``: the largest period sum of their
    jobs' largest use at one instant, plus the jobs longer than two periods) reaches ``floor``, with a
    margin for sums taken in another order (it only lets more owners through to the exact computation)."""
    periods = an.ops_periods()
    sums: dict[str, list[float]] = {}
    for r in holder_rows:
        if not r["segments"]:
            continue
        found = sums.setdefault(str(r["owner"]), [0.0] * (len(periods) + 1))
        for i, name in enumerate((*periods, "ops_always")):
            found[i] += float(r[name] or 0.0)
    return {owner for owner, s in sums.items() if max(s[:-1]) + s[-1] >= floor * (1 - 1e-9)}


def _owned_accounts(customers: Customers, owners: set[str]) -> Any:
    """(acct_id, owner_id) of every account of the given beneficial owners, as an Ibis table; an owner
    ``account:<id>`` (an account the customer table does not know) owns that account."""
    import ibis
    import pyarrow as pa

    acct, owner = [], []
    for account, cid in customers.account_customer.items():
        owner_id = customers.by_id[cid].owner_id
        if owner_id in owners:
            acct.append(account)
            owner.append(owner_id)
    for owner_id in sorted(owners):
        if owner_id.startswith("account:"):
            acct.append(owner_id.removeprefix("account:"))
            owner.append(owner_id)
    return ibis.memtable(pa.table({"acct_id": pa.array(acct, pa.string()), "owner_id": pa.array(owner, pa.string())}))


def run_scan(
    usage_path: Path,
    customers_path: Path,
    *,
    engine: str = "duckdb",
    regime: str | None = None,
    as_of: dt.datetime | None = None,
    book: Rulebook | None = None,
    catalogue: Catalogue | None = None,
    spark: Any = None,
    with_report_data: bool = False,
    timings: dict[str, float] | None = None,
) -> ScanResult:
    import ibis
    import pyarrow as pa

    book = book or load_rulebook()
    catalogue = catalogue or load_catalogue()
    from tiergate.rules.book import iso_country_codes

    codes = iso_country_codes()
    customers = read_customers(Path(customers_path), codes.__contains__)
    with engine_connection(engine, spark) as (con, session):
        usage, csv_problems = open_usage(con, engine, Path(usage_path), session)
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            if timings is not None:
                timings[name] = timings.get(name, 0.0) + now - clock
            clock = now

        # One light pass: the (chip, precision) pairs used and the number of rows; and the latest time when
        # the scan date is not given (from the Parquet files' statistics when they have them, else read).
        known, latest = parquet_latest(Path(usage_path)) if as_of is None else (False, None)
        times = {} if as_of is not None or known else {"last_start": usage.start.max(), "last_end": usage.end.max()}
        pre = _rows(usage.group_by(["chip", "precision"]).aggregate(n=usage.count(), **times))
        total = sum(int(r["n"]) for r in pre)
        if as_of is None:
            if not known:
                stamps = [v for r in pre for v in (r["last_start"], r["last_end"]) if v is not None]
                latest = max(stamps) if stamps else None
            if latest is None:
                raise InputError("no usage record has a start time", where=str(usage_path))
            as_of = latest if latest.tzinfo else latest.replace(tzinfo=dt.UTC)
        as_of = as_of.astimezone(dt.UTC)
        lap("open")
        ruleset, _selection = book.select(regime, as_of.date())
        monitoring = ruleset.monitoring
        if monitoring is None:
            raise TiergateError(f"regime {ruleset.regime!r} has no monitoring section in its packs")
        training = [t for t in monitoring.thresholds if t.measure == "training_flop"]
        inputs = an.Inputs(
            as_of=as_of,
            year_start=dt.datetime(as_of.year, 1, 1, tzinfo=dt.UTC),
            monitoring=monitoring,
            min_training_threshold=min((t.value for t in training), default=math.inf),
        )
        names = sorted({r["chip"] for r in pre if r["chip"] is not None})
        chips_arrow, rates_arrow = an.chip_tables(catalogue, ruleset, names)
        chips, rates, accounts = (ibis.memtable(t) for t in (chips_arrow, rates_arrow, accounts_table(customers)))
        kinds = ibis.memtable(
            pa.table(
                {
                    "chip": pa.array([r["chip"] for r in pre], pa.string()),
                    "precision": pa.array([r["precision"] for r in pre], pa.string()),
                }
            )
        )
        seg = an.segments(usage, chips, rates, inputs, kinds)
        good = seg.filter(seg.problem.isnull())
        numbers = ibis.memtable(an.account_numbers(usage.select("account_id").distinct().to_pyarrow()))
        lap("accounts")
        holder_rows = _rows(an.summary(seg, accounts, numbers, inputs))
        lap("summary")
        job_rows = [{**r, "job_id": r["kept"]} for r in holder_rows if r["kept"]]
        used = sum(int(r["segments"] or 0) for r in holder_rows)
        bad_counts: dict[str, int] = {}
        bad: list[dict[str, Any]] = []
        if used < total:
            counted = _rows(seg.group_by("problem").aggregate(n=seg.count()))
            bad_counts = {str(r["problem"]): int(r["n"]) for r in counted if r["problem"] is not None}
            bad = _rows(an.problems(seg).order_by(["file", "row"]).limit(PROBLEM_LIST_LIMIT * 4))
        lap("problems")
        overlapping = sorted(str(j["job_id"]) for j in job_rows if j["overlapping"])
        overlap_rows: list[dict[str, Any]] = []
        if overlapping:
            overlap_rows = _rows(an.overlaps(good, overlapping).order_by(["file", "row"]))
        overlap_count = len(overlap_rows)
        overlap_rows = overlap_rows[:PROBLEM_LIST_LIMIT]
        lap("overlaps")
        owner_rows, customer_rows = _owners_and_customers(holder_rows, job_rows, monitoring.window_days)
        unknown_accounts: list[dict[str, Any]] = []
        if any(str(r["subject"]).startswith("account:") for r in customer_rows):
            unknown_accounts = _rows(an.first_rows(good, accounts).order_by("account_id"))
        cluster_min = min((t.value for t in monitoring.thresholds if t.measure == "cluster_ops_per_second"), default=0)
        # Only (owner, cluster) pairs whose segments' peaks sum to the threshold can have a concurrent peak past it.
        cluster_rows: list[dict[str, Any]] = []
        # The jobs' largest uses at one instant, summed per period, bound the owner's peak on any one cluster:
        # only owners that reach the threshold so are looked at.
        heavy = _heavy_owners(holder_rows, cluster_min)
        if cluster_min > 0 and heavy:
            # Their accounts (an account the customer table does not know is its own owner), joined to the
            # records: the cluster queries read only these owners' rows.
            owned = _owned_accounts(customers, heavy)
            pairs = [
                (str(r["owner_id"]), str(r["cluster_id"]))
                for r in _rows(an.bounds(usage, chips, owned, inputs, cluster_min))
            ]
            if pairs:
                cl = an.clusters(good, owned, pairs)
                cluster_rows = _rows(cl.filter(cl.peak_ops >= cluster_min).order_by(ibis.desc("peak_ops")))
        lap("clusters")
        report: dict[str, list[dict[str, Any]]] = {}
        if with_report_data:
            top = sorted(owner_rows, key=lambda r: -(r["flop"] or 0))[:8]
            report["owner_days"] = _rows(an.daily(good, accounts, [r["owner_id"] for r in top]))
            report["countries"] = _rows(an.countries(good, accounts))
            lap("report")

    problems = list(csv_problems) + list(customers.problems)
    counts: Counter[str] = Counter(f"{p.column}:unparseable" for p in csv_problems)
    for code, n in bad_counts.items():
        if n:
            counts[code] += n
    listed: Counter[str] = Counter()
    for r in bad:
        code = r["problem"]
        listed[code] += 1
        if listed[code] > PROBLEM_LIST_LIMIT:
            continue
        column, what, action = _PROBLEM_TEXT.get(code, (code, code, "excluded"))
        if code == "chip:unknown":
            suggestions = catalogue.suggest(str(r["chip"]))
            what = f"unknown chip {r['chip']!r}" + (f" (did you mean {', '.join(suggestions)}?)" if suggestions else "")
        elif code == "precision:no_rate":
            what = f"no dense {r['precision_used']} rate for {r['chip']} in the catalogue"
        elif code == "chip_count:not_positive":
            what = f"chip_count {r['chip_count']} is not positive"
        elif code == "end:before_start":
            what = f"end {_stamp(r['end'])} is before start {_stamp(r['start'])} (negative duration)"
        elif code == "utilization:out_of_range":
            value = r["utilization"]  # NaN (Spark hands it back as None) is outside too
            shown = "NaN" if value is None or (isinstance(value, float) and math.isnan(value)) else value
            what = f"utilization {shown} is outside (0, 1]"
        problems.append(Problem(_file(r["file"]), int(r["row"]), column, what, action, r["record_id"]))
    if overlap_count:
        counts["job:overlapping_segments"] = overlap_count
        for r in overlap_rows:
            problems.append(
                Problem(
                    _file(r["file"]),
                    int(r["row"]),
                    "start",
                    f"segment of job {r['job_id']} starts before the job's previous segment ends (overlap)",
                    "kept and counted (compute may be counted twice; check the job's records)",
                    r["record_id"],
                )
            )
    for cp in customers.problems:
        counts[f"customers:{cp.column}"] += 1

    alerts = _alerts(
        ruleset,
        inputs,
        customers,
        job_rows,
        owner_rows,
        customer_rows,
        cluster_rows,
        unknown_accounts,
        problems,
        counts,
        str(usage_path),
    )
    alerts.sort(key=lambda a: a.sort_key())
    result = ScanResult(
        as_of=as_of,
        regime=ruleset.regime,
        engine=engine,
        alerts=alerts,
        problems=problems,
        problem_counts=dict(sorted(counts.items())),
        records=total,
        records_used=used,
        owners=owner_rows,
        owner_days=report.get("owner_days", []),
        countries=report.get("countries", []),
        thresholds=[
            {"id": t.id, "label": t.label, "value": t.value, "measure": t.measure, "binding": _binding(t, as_of.date())}
            for t in monitoring.thresholds
        ],
    )
    return result


def _owners_and_customers(
    holder_rows: list[dict[str, Any]], job_rows: list[dict[str, Any]], windows: tuple[int, ...]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Owners and customers summed from the (owner, customer) groups; each owner's largest job (central
    and high) from the jobs that may cross a threshold (a job that crosses one is among them)."""
    fields = [*an.SUMMED, "jobs", *(f"flop{b}_{w}d" for w in windows for b in ("", "_lo", "_hi"))]
    owners: dict[str, dict[str, Any]] = {}
    customers: dict[str, dict[str, Any]] = {}
    for r in holder_rows:
        if not r["segments"]:
            continue
        owner = owners.setdefault(
            str(r["owner"]), {"owner_id": str(r["owner"]), "customers": 0, **dict.fromkeys(fields, 0.0)}
        )
        customer = customers.setdefault(str(r["subject"]), {"subject": str(r["subject"]), **dict.fromkeys(fields, 0.0)})
        if customer["jobs"] == 0:
            owner["customers"] += 1
        for name in fields:
            value = float(r[name] or 0.0)
            owner[name] += value
            customer[name] += value
    for record in (*owners.values(), *customers.values()):
        record["flop"] = record["flop_est"]
        record["max_job_flop"] = 0.0
        record["max_job_hi"] = 0.0
    for j in job_rows:
        found = owners.get(str(j["owner"]))
        if found is not None and j["segments"]:
            found["max_job_flop"] = max(found["max_job_flop"], float(j["flop"]))
            high = float(j["flop"]) if j["declared"] is not None else float(j["flop_hi"])
            found["max_job_hi"] = max(found["max_job_hi"], high)
    return sorted(owners.values(), key=lambda o: o["owner_id"]), sorted(customers.values(), key=lambda c: c["subject"])


def _crosses(value: float | None, t: ComputeThreshold) -> bool:
    return value is not None and compare(value, t.comparator, t.value)


def _when(seconds: float) -> str:
    stamp = dt.datetime.fromtimestamp(round(seconds / 60.0) * 60.0, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%MZ")


def _alerts(
    ruleset: Ruleset,
    inputs: an.Inputs,
    customers: Customers,
    job_rows: list[dict[str, Any]],
    owner_rows: list[dict[str, Any]],
    customer_rows: list[dict[str, Any]],
    cluster_rows: list[dict[str, Any]],
    unknown_accounts: list[dict[str, Any]],
    problems: list[Problem],
    counts: Counter[str],
    usage_file: str,
) -> list[Alert]:
    monitoring = inputs.monitoring
    day = inputs.as_of.date()
    as_of_s = inputs.as_of.timestamp()
    alerts: list[Alert] = []
    training = [t for t in monitoring.thresholds if t.measure == "training_flop"]
    cluster_thresholds = [t for t in monitoring.thresholds if t.measure == "cluster_ops_per_second"]
    band = monitoring.utilisation

    def threshold_reason(t: ComputeThreshold) -> str:
        binding = _binding(t, day)
        return f"{t.label}: FLOP {t.comparator} {fmt(t.value)} ({t.jurisdiction}; {binding}); {_rule(t.provenance)}"

    # Jobs: crossings, possible crossings (band), projections, declared gaps.
    for j in job_rows:
        declared = j["declared"]
        flop = float(j["flop"])
        basis = (
            f"declared {fmt(declared)} FLOP (estimate {fmt(j['flop_est'])})"
            if declared is not None
            else f"estimated {fmt(flop)} FLOP (band {fmt(j['flop_lo'])} to {fmt(j['flop_hi'])})"
        )
        subject = str(j["subject"])
        named = "not in the customer table" if subject.startswith("account:") else subject
        who = f"account {j['account']}, customer {named}, owner {j['owner']}"
        est = (
            f"estimate = chip-seconds x dense peak at the job's precision (catalogue) x utilisation (measured, else "
            f"{fmt(band.default)}; band {fmt(band.low)} to {fmt(band.high)}); {_rule(band.provenance)}"
        )
        for t in training:
            if _crosses(flop, t):
                alerts.append(
                    Alert(
                        "threshold_crossed",
                        j["job_id"],
                        "job",
                        _sig(flop),
                        t.value,
                        None,
                        (threshold_reason(t), f"job {basis}", who, est),
                    )
                )
                continue
            high = float(j["flop_hi"]) if declared is None else flop
            if _crosses(high, t):
                alerts.append(
                    Alert(
                        "threshold_possible",
                        j["job_id"],
                        "job",
                        _sig(flop),
                        t.value,
                        None,
                        (threshold_reason(t), f"job {basis}: the high end of the band crosses", who, est),
                    )
                )
            rate = float(j["rate_now"] or 0.0)
            if j["running"] == 1 and rate > 0:
                seconds = (t.value - flop) / rate
                if seconds <= monitoring.projection_days * 86400.0:
                    when = _when(as_of_s + seconds)
                    alerts.append(
                        Alert(
                            "projected_crossing",
                            j["job_id"],
                            "job",
                            _sig(flop),
                            t.value,
                            when,
                            (
                                threshold_reason(t),
                                f"running job at {fmt(rate)} FLOP/s (chips x dense peak x utilisation of its open "
                                f"segments) with {basis} on {inputs.as_of:%Y-%m-%dT%H:%MZ} reaches the threshold in "
                                f"{seconds / 86400:.1f} days, at {when}",
                                who,
                                f"projection horizon {monitoring.projection_days} days (pack setting)",
                            ),
                        )
                    )
        if declared is not None:
            ratio = declared / j["flop_est"] if j["flop_est"] else math.inf
            gap = monitoring.declared_gap_ratio
            if ratio > gap or ratio < 1 / gap:
                alerts.append(
                    Alert(
                        "declared_gap",
                        j["job_id"],
                        "job",
                        _sig(declared),
                        None,
                        None,
                        (
                            f"declared {fmt(declared)} FLOP is {fmt(ratio)} x the estimate {fmt(j['flop_est'])} "
                            f"(band {fmt(j['flop_lo'])} to {fmt(j['flop_hi'])}); flagged beyond a factor of {fmt(gap)}",
                            who,
                            est,
                        ),
                    )
                )

    # Beneficial owners: crossings that only aggregation over jobs and accounts reveals.
    windows = sorted(monitoring.window_days)
    used_by = {str(r["subject"]) for r in customer_rows}
    owner_accounts: Counter[str] = Counter()
    for cid, known in customers.by_id.items():
        if cid in used_by:
            owner_accounts[known.owner_id] += len(known.accounts)
    for o in owner_rows:
        biggest = o["max_job_flop"]
        for t in training:
            if _crosses(biggest, t):
                continue  # a job alert covers it
            crossed = [w for w in windows if _crosses(o[f"flop_{w}d"], t)]
            possible = [] if _crosses(o["max_job_hi"], t) else [w for w in windows if _crosses(o[f"flop_hi_{w}d"], t)]
            chosen = crossed or possible
            if not chosen:
                continue
            w = chosen[0]
            kind = "threshold_crossed" if crossed else "threshold_possible"
            sums = ", ".join(f"{x} days {fmt(o[f'flop_{x}d'])}" for x in windows)
            alerts.append(
                Alert(
                    kind,
                    o["owner_id"],
                    "beneficial_owner",
                    _sig(o[f"flop_{w}d"]),
                    t.value,
                    None,
                    (
                        threshold_reason(t),
                        f"{int(o['jobs'])} job(s) of {o['customers']} customer(s) "
                        f"({owner_accounts[o['owner_id']]} account(s)) of this beneficial owner sum to "
                        f"{fmt(o[f'flop_{w}d'])} FLOP in the {w} days to "
                        f"{day} (band {fmt(o[f'flop_lo_{w}d'])} to {fmt(o[f'flop_hi_{w}d'])}); no single job crosses "
                        + (
                            f"(largest {fmt(biggest)})"
                            if biggest
                            else f"(each is below {fmt(inputs.min_training_threshold)} FLOP at the top of its band)"
                        ),
                        f"rolling windows: {sums}; ownership walked through parent_id to the beneficial owner",
                    ),
                )
            )

    # Clusters: the largest concurrent use per owner.
    best: dict[str, dict[str, Any]] = {}
    for c in cluster_rows:
        if c["owner"] not in best or c["peak_ops"] > best[c["owner"]]["peak_ops"]:
            best[c["owner"]] = c
    for owner, c in best.items():
        for t in cluster_thresholds:
            if _crosses(c["peak_ops"], t):
                alerts.append(
                    Alert(
                        "cluster_threshold",
                        owner,
                        "beneficial_owner",
                        _sig(c["peak_ops"]),
                        t.value,
                        None,
                        (
                            f"{t.label}: OP/s {t.comparator} {fmt(t.value)} ({t.jurisdiction}; {_binding(t, day)}); "
                            f"{_rule(t.provenance)}",
                            f"peak {fmt(c['peak_ops'])} OP/s with {fmt(c['peak_chips'])} chips in use at once on "
                            f"cluster {c['cluster']} (flop holds the peak OP/s for this kind)",
                            "peak OP/s = chips x the chip's highest dense rate over its precisions (catalogue)",
                        ),
                    )
                )

    # Customers: prohibited use, caps, KYC.
    usage_by_customer = {r["subject"]: r for r in customer_rows}
    restricted = monitoring.restricted_access
    country_use: dict[tuple[str, str], float] = {}
    country_members: dict[tuple[str, str], list[str]] = {}
    for cid, customer in sorted(customers.by_id.items()):
        use = usage_by_customer.get(cid)
        flop_all = float(use["flop"]) if use else 0.0
        if not customer.accounts:
            continue
        for rule in monitoring.prohibited_use:
            hits = [
                (who, hq)
                for who, hq in customer.chain_headquarters
                if rule.headquarters.passes(ruleset.memberships(hq, day))
            ]
            if hits:
                parts = [
                    f"{'the customer' if who == cid else 'parent ' + who} is headquartered in {hq}" for who, hq in hits
                ]
                alerts.append(
                    Alert(
                        "prohibited_use",
                        cid,
                        "customer",
                        _sig(flop_all),
                        None,
                        None,
                        (
                            f"headquarters {rule.headquarters.text}: {'; '.join(parts)}",
                            f"{rule.provenance.summary} {_rule(rule.provenance)}",
                            f"{len(customer.accounts)} account(s); {fmt(flop_all)} FLOP used",
                        ),
                    )
                )
        hq_groups = ruleset.memberships(customer.headquarters, day) if customer.headquarters else frozenset()
        for cap in monitoring.caps:
            if not customer.headquarters or not cap.headquarters.passes(hq_groups):
                continue
            used_value = 0.0
            if use:
                used_value = float(use["h100e_hours_year"] if cap.unit == "h100e_hours" else use["flop_year"])
            if cap.scope == "customer":
                if used_value > cap.cap:
                    alerts.append(
                        Alert(
                            "cap_exceeded",
                            cid,
                            "customer",
                            _sig(float(use["flop_year"])) if use else 0.0,
                            cap.cap,
                            None,
                            (
                                f"{fmt(used_value)} {cap.unit.replace('_', ' ')} in {inputs.as_of.year} to {day} "
                                f"exceeds the cap of {fmt(cap.cap)} for customers headquartered "
                                f"{cap.headquarters.text} ({customer.headquarters})",
                                f"{cap.provenance.summary} {_rule(cap.provenance)}",
                            ),
                        )
                    )
            else:
                key = (cap.id, customer.headquarters)
                country_use[key] = country_use.get(key, 0.0) + used_value
                country_members.setdefault(key, []).append(cid)
        reasons = []
        if not customer.verified:
            reasons.append("identity not verified (Customer Identification Program)")
        if customer.cycle:
            reasons.append(f"ownership chain loops ({' -> '.join(customer.chain)}); beneficial owner unresolved")
        elif not customer.owner_found:
            reasons.append(f"no beneficial owner given up the ownership chain ({' -> '.join(customer.chain)})")
        if customer.payment_country and restricted.passes(ruleset.memberships(customer.payment_country, day)):
            reasons.append(f"payment from {customer.payment_country} ({restricted.text})")
        bad_logins = [c for c in customer.login_countries if restricted.passes(ruleset.memberships(c, day))]
        if bad_logins:
            reasons.append(f"logins from {', '.join(bad_logins)} ({restricted.text})")
        if reasons:
            reasons.append(
                "KYC for IaaS: identity, payment, IP addresses and beneficial owners (proposed 15 CFR 7.300-"
                "7.310, 89 FR 5698); BIS 2025-05-13 guidance on remote access from restricted jurisdictions"
            )
            alerts.append(Alert("kyc_gap", cid, "customer", _sig(flop_all), None, None, tuple(reasons)))
    for (cap_id, country), used_value in sorted(country_use.items()):
        cap = next(c for c in monitoring.caps if c.id == cap_id)
        if used_value > cap.cap:
            members = country_members[(cap_id, country)]
            alerts.append(
                Alert(
                    "cap_exceeded",
                    country,
                    "country",
                    None,
                    cap.cap,
                    None,
                    (
                        f"{fmt(used_value)} {cap.unit.replace('_', ' ')} in {inputs.as_of.year} to {day} by "
                        f"{len(members)} customer(s) headquartered in {country} exceeds the country cap of "
                        f"{fmt(cap.cap)}",
                        f"{cap.provenance.summary} {_rule(cap.provenance)}",
                    ),
                )
            )

    # Accounts that the customer table does not know: counted under the account, flagged.
    for r in unknown_accounts:
        account = str(r["account_id"])
        problems.append(
            Problem(
                usage_file,
                int(r["first_row"]),
                "account_id",
                f"account {account} is not in the customer table",
                "counted under the account as its own owner and flagged",
            )
        )
        counts["account_id:not_in_customers"] += 1
        alerts.append(
            Alert(
                "kyc_gap",
                account,
                "account",
                _sig(float(r["flop"])),
                None,
                None,
                (
                    f"account {account} used {fmt(float(r['flop']))} FLOP but is not in the customer table: no "
                    "identity, owner or headquarters on file",
                ),
            )
        )
    return alerts
