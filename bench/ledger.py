"""Benchmark of the allocation ledger (issue: the ledger).

    python bench/ledger.py [--ops 2000] [--writers 8] [--postgres URL] [--only sqlite|postgresql] [--repeat N]

For SQLite (a file) and PostgreSQL (a throw-away database on 127.0.0.1:5432 unless --postgres
names another server), 8 writer processes each make --ops reservations (each a committed
transaction: account, reservation, movement and hash-chained audit entry) against one capped
account, then the same processes run a raw single-row `UPDATE ... RETURNING` loop, one committed
(autocommit) transaction per update on the raw DBAPI connection, on the same database: the
baseline. It prints both rates, the ratio, and checks that the account never exceeded its cap.
Targets (issue 3): >= 1,000 reservations/s on SQLite and >= 2,000/s on PostgreSQL, at >= 0.5 of
the raw baseline; zero overspend.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tiergate.ledger import AllocationExceeded, Ledger
from tiergate.ledger.store import create_engine

ACCOUNT = "country:AE:2025-2027"


def reserve_loop(url: str, ops: int, cap: int) -> tuple[int, int]:
    ledger = Ledger(url, actor=f"bench-{os.getpid()}")
    done = refused = 0
    for _ in range(ops):
        try:
            ledger.reserve(ACCOUNT, 1, kind="country:tier2", rule="bench", cap_tpp=cap, key=str(uuid.uuid4()))
            done += 1
        except AllocationExceeded:
            refused += 1
    ledger.close()
    return done, refused


def raw_loop(url: str, ops: int, _cap: int) -> int:
    """The baseline: a raw single-row ``UPDATE ... RETURNING`` on the DBAPI connection, one committed
    (autocommit) transaction per operation, retried after the same short random pause as the ledger when
    SQLite's write lock is taken."""
    engine = create_engine(url)
    proxied = engine.raw_connection()
    driver = proxied.driver_connection
    assert driver is not None
    if engine.dialect.name == "postgresql":
        driver.rollback()
        driver.autocommit = True  # one statement, one transaction, one round trip
    statement = "UPDATE bench_counter SET n = n + 1 WHERE id = 1 RETURNING n"
    for _ in range(ops):
        pause = 0.0005
        while True:
            try:
                cursor = driver.cursor()
                cursor.execute(statement)
                cursor.fetchone()
                cursor.close()
                break
            except Exception as error:
                if "locked" not in str(error):
                    raise
                time.sleep(random.uniform(0, pause))
                pause = min(pause * 2, 0.02)
    proxied.close()
    engine.dispose()
    return ops


def timed(function: object, url: str, ops: int, writers: int, cap: int) -> tuple[float, list[object]]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(writers, mp_context=context) as pool:
        list(pool.map(_warm, range(writers)))  # start the processes before timing
        started = time.perf_counter()
        results = list(pool.map(function, [url] * writers, [ops] * writers, [cap] * writers))  # type: ignore[arg-type]
        return time.perf_counter() - started, results


def _warm(_: int) -> None:
    import tiergate.ledger  # noqa: F401


def run(name: str, url: str, ops: int, writers: int, target: int) -> tuple[bool, float, float]:
    """One run on a new database: (no overspend and an intact chain, reservations/s, raw updates/s)."""
    ledger = Ledger(url)
    ledger.init()
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bench_counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)"))
        conn.execute(sa.text("INSERT INTO bench_counter VALUES (1, 0)"))
    # A cap a little below the total asked, so the last reservations race for the last units.
    cap = writers * ops - writers
    elapsed, results = timed(reserve_loop, url, ops, writers, cap)
    done = sum(r[0] for r in results)  # type: ignore[index]
    raw_elapsed, _ = timed(raw_loop, url, ops, writers, cap)
    (balance,) = ledger.balances()
    problem = ledger.verify_audit()
    ledger.close()
    raw_rate = writers * ops / raw_elapsed
    overspend = balance.used + balance.reserved - (balance.cap or 0)
    assert done == min(cap, writers * ops), (done, cap)
    attempts = writers * ops
    rate = attempts / elapsed  # every attempt is a transaction: a reservation or a refusal at the cap
    print(
        f"{name}: {attempts:,} reservations ({done:,} granted, {attempts - done:,} refused at the cap) "
        f"by {writers} writers in {elapsed:.2f} s = {rate:,.0f}/s "
        f"(target {target:,}/s: {'met' if rate >= target else 'NOT met'})"
    )
    print(
        f"{name}: raw single-row UPDATE ... RETURNING, {writers} writers: {raw_rate:,.0f}/s; "
        f"ratio {rate / raw_rate:.2f} (target >= 0.5)"
    )
    print(
        f"{name}: cap {balance.cap:,.0f}, reserved {balance.reserved:,.0f}, overspend {max(overspend, 0):,.0f}; "
        f"audit chain {'intact' if problem is None else 'BROKEN at ' + str(problem.seq)}"
    )
    return overspend <= 0 and problem is None, rate, raw_rate


def median_line(name: str, runs: list[tuple[float, float]], target: int) -> None:
    """With --repeat: the median of the runs' rates and of their ratios."""
    rates = sorted(r for r, _ in runs)
    ratios = sorted(r / raw for r, raw in runs)
    rate, ratio = rates[len(rates) // 2], ratios[len(ratios) // 2]
    verdict = "met" if rate >= target else "NOT met"
    print(
        f"{name}: median of {len(runs)} runs: {rate:,.0f}/s (target {target:,}/s: {verdict}), "
        f"ratio {ratio:.2f} (target >= 0.5); runs {', '.join(f'{r:,.0f}/s at {r / raw:.2f}' for r, raw in runs)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=2000, help="reservations per writer")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="an administrative URL; a throw-away database is created beside it",
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="run one database only")
    parser.add_argument("--repeat", type=int, default=1, help="runs per database (each on a new one); medians")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; {args.writers} writer processes x {args.ops} operations")
    ok = True
    repeat = max(args.repeat, 1)
    if args.only != "postgresql":
        runs: list[tuple[float, float]] = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as folder:
                fine, rate, raw = run("SQLite", f"sqlite:///{folder}/bench.db", args.ops, args.writers, 1000)
            ok &= fine
            runs.append((rate, raw))
        if repeat > 1:
            median_line("SQLite", runs, 1000)
    if args.only == "sqlite":
        sys.exit(0 if ok else 1)
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    runs = []
    for _ in range(repeat):
        name = "tiergate_bench_" + uuid.uuid4().hex[:8]
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        except Exception as error:  # no server: say so, do not pretend
            print(f"PostgreSQL: skipped ({type(error).__name__}: cannot create a database at {args.postgres})")
            break
        try:
            url = args.postgres.rsplit("/", 1)[0] + "/" + name
            fine, rate, raw = run("PostgreSQL", url, args.ops, args.writers, 2000)
            ok &= fine
            runs.append((rate, raw))
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if len(runs) > 1:
        median_line("PostgreSQL", runs, 2000)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
