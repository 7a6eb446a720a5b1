"""Benchmark of batch licence determination (issue: the decision core).

    python bench/decide.py [--rows 1000000] [--workers 1]

Generates N mixed transactions to Parquet (bench/out/, reused when present), then times:
  read       pyarrow reads the file into columns (pq.read_table);
  read+parse the same, then materialised as Python transaction records (to_pylist), which is
             what "merely reading and parsing" the rows means for a row-oriented reader;
  decide     tiergate's batch path end to end: read, validate, decide, write Parquet decisions.
It prints decisions per second and the ratio of decide time to each baseline, then checks a
random sample of the written decisions against row-by-row decide() (they must be equal).
Targets (issue 2): >= 50,000 decisions/s and decide <= 3x read+parse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate

from tiergate.batch import Record, decide_parquet_columnar, decide_stream, flat_to_transaction
from tiergate.columnar import rows_to_table
from tiergate.rules import load_rulebook

TODAY = dt.date(2026, 11, 27)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1, help="processes for deciding distinct contexts")
    parser.add_argument("--check", type=int, default=2000, help="rows re-decided one by one to check the output")
    args = parser.parse_args()

    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    source = out / f"transactions-{args.rows}.parquet"
    if not source.exists():
        started = time.perf_counter()
        generate(args.rows, source)
        print(f"generated {args.rows:,} transactions in {time.perf_counter() - started:.1f} s -> {source}")
    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {python}, pyarrow {pa.__version__}")

    book = load_rulebook()
    target = out / "decisions.parquet"
    started = time.perf_counter()
    decided = decide_parquet_columnar(source, target, book, regime=None, as_of=None, today=TODAY, workers=args.workers)
    elapsed = time.perf_counter() - started
    assert decided == args.rows

    started = time.perf_counter()
    table = pq.read_table(source)
    read = time.perf_counter() - started
    rows = table.to_pylist()
    read_parse = time.perf_counter() - started
    del table

    print(f"read (pq.read_table):        {read:8.2f} s")
    print(f"read+parse (to Python rows): {read_parse:8.2f} s")
    print(f"decide (read, decide, write):{elapsed:8.2f} s  = {decided / elapsed:,.0f} decisions/s")
    print(f"ratio decide / read+parse:   {elapsed / read_parse:8.2f}   (target <= 3)")
    print(f"ratio decide / read:         {elapsed / read:8.2f}")
    print(f"target >= 50,000 decisions/s: {'met' if decided / elapsed >= 50_000 else 'NOT met'}")

    sample = sorted(random.Random(1).sample(range(args.rows), min(args.check, args.rows)))
    records = [Record(flat_to_transaction(rows[i], f"row {i + 1}"), f"row {i + 1}") for i in sample]
    started = time.perf_counter()
    expected = rows_to_table(
        list(decide_stream(records, book, regime=None, as_of=None, today=TODAY, explain=False)), explain=False
    ).to_pylist()
    one_by_one = time.perf_counter() - started
    written = pq.read_table(target).take(sample).to_pylist()
    mismatches = sum(1 for a, b in zip(written, expected, strict=True) if a != b)
    print(
        f"check: {len(sample):,} random rows re-decided one by one ({len(sample) / one_by_one:,.0f}/s): "
        f"{mismatches} mismatch(es)"
    )
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
