"""Check of monitoring's FLOP estimate against real training runs (issue 5).

    python bench/monitor_epoch.py [--shared PATH] [--verbose]

Reads Epoch AI's Large-Scale AI Models (``shared/data/ai_compute/epoch_large_scale_ai_models.csv``), keeps
the models that state training hardware, hardware quantity and training time, maps Epoch's hardware names
to catalogue ids (``tiergate.monitor.epoch``), and estimates each model's training compute with the
monitoring analytics themselves: one job of quantity chips for the stated hours, at bf16 (fp16 when the chip
has no bf16 rate), at the model's reported MFU when Epoch gives one, else the pack's default utilisation.
Prints every model, the median and spread of estimated / reported compute, and the names it could not map.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from tiergate.monitor import analytics as an
from tiergate.monitor.epoch import resolve_epoch
from tiergate.rules import load_rulebook

REGIME = "us-2026-01"


def _float(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--verbose", action="store_true", help="print every model")
    args = parser.parse_args()
    source = args.shared / "data" / "ai_compute" / "epoch_large_scale_ai_models.csv"
    with source.open(newline="", encoding="utf-8-sig") as handle:
        models = list(csv.DictReader(handle))

    book = load_rulebook()
    ruleset = book.full(REGIME)
    catalogue = book.catalogue
    stated = [
        m
        for m in models
        if m["Training hardware"].strip() and _float(m["Hardware quantity"]) and _float(m["Training time (hours)"])
    ]
    unmapped: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    for i, m in enumerate(stated):
        hardware = m["Training hardware"].strip()
        # Several hardware names: usable only when they are the same catalogue chip (e.g. A100 40 GB and 80 GB).
        found = {resolve_epoch(part, catalogue) for part in hardware.split(",")}
        chip = found.pop() if len(found) == 1 else None
        if chip is None:
            unmapped[hardware] = unmapped.get(hardware, 0) + 1
            continue
        rates = dict(chip.dies[0].dense_tops)
        precision = "bf16" if "bf16" in rates else "fp16"
        hours = float(m["Training time (hours)"])
        mfu = _float(m["Hardware utilization (MFU)"])
        rows.append(
            {
                "record_id": f"m{i}",
                "provider": "epoch",
                "account_id": "epoch",
                "job_id": m["Model"],
                "cluster_id": "c",
                "datacenter_country": "US",
                "chip": chip.id,
                "chip_count": round(float(m["Hardware quantity"])),
                "start": start,
                "end": start + dt.timedelta(hours=hours),
                "precision": precision,
                "utilization": mfu,
                "declared_flop": None,
                "row": i + 2,
                "file": str(source),
                "_reported": _float(m["Training compute (FLOP)"]),
                "_hardware": hardware,
            }
        )
    with_reported = [r for r in rows if r["_reported"]]
    usage = pa.Table.from_pylist([{k: v for k, v in r.items() if not k.startswith("_")} for r in with_reported])
    names = sorted({r["chip"] for r in with_reported})
    chips, rates = an.chip_tables(catalogue, ruleset, names)
    inputs = an.Inputs(
        dt.datetime(2030, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC), ruleset.monitoring, 0.0
    )
    assert ruleset.monitoring is not None
    con = ibis.duckdb.connect()
    seg = an.segments(ibis.memtable(usage), ibis.memtable(chips), ibis.memtable(rates), inputs)
    estimates = {
        r["job_id"]: r for r in con.to_pyarrow(seg.select("job_id", "flop", "flop_lo", "flop_hi", "util")).to_pylist()
    }
    ratios = []
    print(f"Epoch AI Large-Scale AI Models: {len(models)} models, {len(stated)} state hardware, quantity and time;")
    print(f"{len(rows)} mapped to the catalogue, {len(with_reported)} of them with reported training compute.")
    if args.verbose:
        print(
            f"{'model':40} {'chip':18} {'chips':>7} {'hours':>8} {'util':>5} {'estimated':>10} {'reported':>10} ratio"
        )
    for r in with_reported:
        est = estimates[r["job_id"]]
        ratio = est["flop"] / r["_reported"]
        ratios.append(ratio)
        if args.verbose:
            hours = (r["end"] - r["start"]).total_seconds() / 3600
            print(
                f"{r['job_id'][:40]:40} {r['chip']:18} {r['chip_count']:>7} {hours:>8.0f} {est['util']:>5.2f} "
                f"{est['flop']:>10.3g} {r['_reported']:>10.3g} {ratio:.2f}"
            )
    ratios.sort()
    q = statistics.quantiles(ratios, n=4)
    within2 = sum(1 for x in ratios if 0.5 <= x <= 2) / len(ratios)
    print(
        f"estimated / reported compute over {len(ratios)} models: median {statistics.median(ratios):.2f}, "
        f"quartiles {q[0]:.2f} to {q[2]:.2f}, min {ratios[0]:.2f}, max {ratios[-1]:.2f}, "
        f"within a factor of 2: {within2:.0%}"
    )
    print("not mapped to the catalogue: " + ", ".join(f"{k} ({v})" for k, v in sorted(unmapped.items())))


if __name__ == "__main__":
    main()
