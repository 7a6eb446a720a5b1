"""Benchmark of impact replay (issue 18: quarterly updates made safe).

    python bench/replay.py [--rows 1000000] [--from us-2025-05] [--to us-diffusion-2025]

Generates N mixed transactions to Parquet (bench/generate.py, bench/out/, reused when present), then times:
  batch   deciding them once in batch: tiergate's columnar path end to end (read, decide, write Parquet), as
          bench/decide.py measures it;
  replay  replaying them from one regime to the other: read, decide every transaction under both regimes in
          date order with each side's allocations carried forward, build the Replay report and write it as JSON.
It prints both times and their ratio (target: replay <= 2.5 x batch), then re-replays a random sample of the
rows one by one (the row path) and checks that each side's determinations agree with the column-wise run.
The default pair is the one that carries the most allocations (the Diffusion rule's LPP, country and VEU caps).
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

from tiergate.batch import decide_parquet_columnar, flat_to_transaction
from tiergate.replay.engine import HistoryRow, replay_rows
from tiergate.replay.history import replay_file
from tiergate.replay.report import build_report, dumps
from tiergate.rules import load_rulebook

TODAY = dt.date(2026, 11, 27)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--from", dest="regime_from", default="us-2025-05")
    parser.add_argument("--to", dest="regime_to", default="us-diffusion-2025")
    parser.add_argument("--check", type=int, default=300, help="consecutive rows re-replayed one by one")
    args = parser.parse_args()

    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    source = out / f"transactions-{args.rows}.parquet"
    if not source.exists():
        started = time.perf_counter()
        generate(args.rows, source)
        print(f"generated {args.rows:,} transactions in {time.perf_counter() - started:.1f} s -> {source}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"pyarrow {pa.__version__}")  # fmt: skip

    book = load_rulebook()
    started = time.perf_counter()
    decided = decide_parquet_columnar(source, out / "decisions.parquet", book, regime=None, as_of=None, today=TODAY)
    batch = time.perf_counter() - started
    assert decided == args.rows

    book = load_rulebook()  # a fresh rulebook: no memo carried over from the batch
    started = time.perf_counter()
    result = replay_file(book, source, regime_from=args.regime_from, regime_to=args.regime_to, today=TODAY)
    report = build_report(result, h100_tpp=15831.2)
    (out / "replay.json").write_bytes(dumps(report))
    replay = time.perf_counter() - started

    print(f"batch decide (read, decide, write):         {batch:8.2f} s  = {args.rows / batch:,.0f} decisions/s")
    print(f"replay {args.regime_from} -> {args.regime_to} (read, both sides, report): {replay:8.2f} s  "
          f"= {args.rows / replay:,.0f} transactions/s")  # fmt: skip
    print(f"ratio replay / batch:                       {replay / batch:8.2f}   (target <= 2.5)")
    bound = sum(b["transactions"] for side in report["binds"].values() for b in side)
    print(
        f"changed {report['changed']:,} of {report['total']:,}; unreplayable {report['unreplayable_count']:,}; "
        f"allowances bound: {bound:,}"
    )

    # A consecutive slice replayed one by one must give the same determinations as the slice replayed alone
    # column-wise (carried allocations depend on the whole history, so the check replays the same slice both ways).
    start = random.Random(1).randrange(max(1, args.rows - args.check))
    rows = pq.read_table(source).slice(start, args.check).to_pylist()
    one_by_one = replay_rows(
        book,
        [
            HistoryRow(flat_to_transaction(r, f"row {start + i + 1}"), f"row {start + i + 1}")
            for i, r in enumerate(rows)
        ],
        regime_from=args.regime_from,
        regime_to=args.regime_to,
        today=TODAY,
    )
    slice_file = out / "replay-check.parquet"
    pq.write_table(pa.Table.from_pylist(rows), slice_file)
    columns = replay_file(book, slice_file, regime_from=args.regime_from, regime_to=args.regime_to, today=TODAY)
    a, b = build_report(one_by_one), build_report(columns)
    same = a["provenance"]["merkle_root"] == b["provenance"]["merkle_root"] and a["transitions"] == b["transitions"]
    print(
        f"check: {len(rows):,} consecutive rows replayed one by one and column-wise: {'same' if same else 'DIFFERENT'}"
    )
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
