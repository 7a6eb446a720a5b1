"""Speed of the monitoring scan (issue 5).

    python bench/monitor_speed.py [--records 100000000] [--seed 0] [--repeat 3]

Generates N usage records with ``tiergate monitor generate`` (bench/out/monitor-N/, reused when present),
then times, each in its own process (so that peak memory is each one's own):
  scan   tiergate's full scan on DuckDB through Ibis: bad-row checks, per-job FLOP with band, per-owner
         totals and rolling windows, per-customer year totals, concurrent cluster peaks, alerts;
  sql    a hand-written DuckDB SQL query doing the same core aggregation over the same files: per-job FLOP
         (catalogue rate x utilisation or default), per-owner totals over the same rolling windows with the
         largest job, and the jobs and owners past the lowest training threshold.
It prints both times, their ratio (also without the scan's cluster-peak phase, which the SQL does not
do), each process's peak resident memory, and checks that both find the same
crossing jobs. Targets (issue 5): scan <= 60 s, <= 1.5 x the hand-written query, peak memory < 8 GB.
With --repeat N both run N times, alternately (a change in the machine's load then hits both), and the
median times are compared; peak memory is the highest of the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_scan_phase(folder: Path) -> dict[str, Any]:
    from tiergate.monitor import run_scan

    timings: dict[str, float] = {}
    started = time.perf_counter()
    result = run_scan(folder / "usage.parquet", folder / "customers.parquet", timings=timings)
    elapsed = time.perf_counter() - started
    jobs = sorted({a.subject_id for a in result.alerts if a.kind == "threshold_crossed" and a.subject_type == "job"})
    return {
        "seconds": elapsed,
        "peak_mb": _peak_mb(),
        "alerts": len(result.alerts),
        "crossing_jobs": jobs,
        "records": result.records,
        "phases": timings,
    }


SQL = """
WITH seg AS (
  SELECT u.job_id, a.owner_id, u.start, u."end",
         epoch(COALESCE(u."end", $as_of)) - epoch(u.start) AS seconds,
         u.chip_count * (epoch(COALESCE(u."end", $as_of)) - epoch(u.start)) * r.rate
           * COALESCE(u.utilization, c.util_default) AS flop
  FROM read_parquet($usage) u
  JOIN chips c ON c.chip_name = u.chip
  JOIN rates r ON r.rate_chip = c.chip_id AND r.rate_precision = COALESCE(lower(u.precision), 'bf16')
  LEFT JOIN accounts a ON a.acct_id = u.account_id
  WHERE u.chip_count > 0 AND COALESCE(u."end", $as_of) >= u.start
),
jobs AS (
  SELECT job_id, min(owner_id) AS owner_id, sum(flop) AS flop FROM seg GROUP BY job_id
),
owners AS (
  SELECT owner_id, sum(flop) AS flop,
         {windows}
  FROM seg GROUP BY owner_id
),
biggest AS (SELECT owner_id, max(flop) AS max_job FROM jobs GROUP BY owner_id)
SELECT 'job' AS kind, job_id AS subject, flop FROM jobs WHERE flop > $threshold
UNION ALL
SELECT 'owner', o.owner_id, o.flop FROM owners o JOIN biggest b USING (owner_id)
WHERE b.max_job <= $threshold AND greatest({window_columns}) > $threshold
"""


def run_sql_phase(folder: Path) -> dict[str, Any]:
    import datetime as dt

    import duckdb

    from tiergate.monitor import analytics as an
    from tiergate.monitor.owners import read_customers
    from tiergate.monitor.scan import accounts_table
    from tiergate.rules import load_rulebook
    from tiergate.rules.book import iso_country_codes

    started = time.perf_counter()
    book = load_rulebook()
    as_of = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    ruleset, _ = book.select(None, as_of.date())
    monitoring = ruleset.monitoring
    assert monitoring is not None
    customers = read_customers(folder / "customers.parquet", iso_country_codes().__contains__)
    from tiergate.monitor.scan import duckdb_config

    con = duckdb.connect(config=duckdb_config())  # the same memory limit as the scan
    names = [
        r[0]
        for r in con.execute("SELECT DISTINCT chip FROM read_parquet(?)", [str(folder / "usage.parquet")]).fetchall()
    ]
    chips, rates = an.chip_tables(book.catalogue, ruleset, sorted(n for n in names if n))
    con.register("chips", chips)
    con.register("rates", rates)
    con.register("accounts", accounts_table(customers))
    threshold = min(t.value for t in monitoring.thresholds if t.measure == "training_flop")
    windows = []
    for days in monitoring.window_days:
        lo = f"(epoch($as_of) - {days * 86400})"
        windows.append(
            f'sum(flop * CASE WHEN seconds > 0 THEN greatest(least(epoch(COALESCE("end", $as_of)), epoch($as_of)) - '
            f"greatest(epoch(start), {lo}), 0) / seconds ELSE 0 END) AS flop_{days}d"
        )
    sql = SQL.format(
        windows=",\n         ".join(windows), window_columns=", ".join(f"o.flop_{d}d" for d in monitoring.window_days)
    )
    rows = con.execute(sql, {"usage": str(folder / "usage.parquet"), "as_of": as_of, "threshold": threshold}).fetchall()
    elapsed = time.perf_counter() - started
    jobs = sorted(r[1] for r in rows if r[0] == "job")
    return {"seconds": elapsed, "peak_mb": _peak_mb(), "rows": len(rows), "crossing_jobs": jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the query and the scan this many times, alternately; medians"
    )
    parser.add_argument("--phase", choices=["scan", "sql"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = run_scan_phase(args.folder) if args.phase == "scan" else run_sql_phase(args.folder)
        print(json.dumps(result))
        return

    folder = HERE / "out" / f"monitor-{args.records}-{args.seed}"
    if not (folder / "usage.parquet").exists():
        from tiergate.monitor.generate import generate

        started = time.perf_counter()
        made = generate(folder, args.records, seed=args.seed)
        size = (folder / "usage.parquet").stat().st_size / 1e9
        print(
            f"generated {made.records:,} records in {time.perf_counter() - started:.1f} s ({size:.2f} GB) -> {folder}"
        )
    import duckdb

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}"
    )
    runs: dict[str, list[dict[str, Any]]] = {"sql": [], "scan": []}
    for _ in range(max(args.repeat, 1)):  # alternately, so that a change in the machine's load hits both
        for phase in ("sql", "scan"):
            run = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--folder", str(folder)], capture_output=True, text=True
            )
            if run.returncode != 0:
                sys.exit(f"{phase} failed:\n{run.stderr}")
            runs[phase].append(json.loads(run.stdout.strip().splitlines()[-1]))
    if args.repeat > 1:
        for phase, found in runs.items():
            times = ", ".join(f"{r['seconds']:.1f} s" for r in found)
            print(f"{phase} runs: {times}")
    # The median run of each (by time), with the highest peak memory of all its runs.
    median = {p: sorted(found, key=lambda r: r["seconds"])[len(found) // 2] for p, found in runs.items()}
    scan, sql = ({**median[p], "peak_mb": max(r["peak_mb"] for r in runs[p])} for p in ("scan", "sql"))
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in scan["phases"].items())
    print(f"records: {scan['records']:,}")
    print(
        f"scan (tiergate, Ibis on DuckDB): {scan['seconds']:.1f} s, peak {scan['peak_mb'] / 1024:.2f} GB; {phases}; "
        f"{scan['alerts']} alerts"
    )
    print(f"hand-written DuckDB SQL:         {sql['seconds']:.1f} s, peak {sql['peak_mb'] / 1024:.2f} GB")
    ratio = scan["seconds"] / sql["seconds"]
    print(
        f"ratio scan / SQL: {ratio:.2f} (target <= 1.5); scan {'meets' if scan['seconds'] <= 60 else 'misses'} "
        f"the 60 s target; memory {'meets' if max(scan['peak_mb'], sql['peak_mb']) < 8192 else 'misses'} < 8 GB"
    )
    # The SQL has no cluster peaks; the scan without that phase does the same aggregation as the SQL (plus the
    # bad-row checks, the bands and the per-customer totals): both ratios are printed, neither hides the other.
    like = scan["seconds"] - scan["phases"].get("clusters", 0.0)
    print(
        f"scan without the cluster-peak phase (the SQL's aggregation and more): {like:.1f} s; "
        f"ratio {like / sql['seconds']:.2f} (target <= 1.5)"
    )
    same = scan["crossing_jobs"] == sql["crossing_jobs"]
    print(f"same crossing jobs in both: {same} ({', '.join(scan['crossing_jobs'])})")
    if not same:
        sys.exit(f"mismatch: scan {scan['crossing_jobs']} vs SQL {sql['crossing_jobs']}")


if __name__ == "__main__":
    main()
