"""Diversion scoring quality on generated shipments: precision and recall at review budgets, recall per scheme,
and how many legitimate hub shipments and decoys are held.

    PYTHONPATH=. python bench/diversion_quality.py [--shipments 100000] [--seed 7] [--engine duckdb]

The analyst reviews cases in priority order (blocks, then high, then medium, by score x value at risk) until the
budget (a share of all shipments) is spent; low cases are never reviewed. A shipment counts as reviewed when its
case is. Precision: planted shipments among those reviewed; recall: planted shipments reviewed, of all planted.
"Held" means a case at ``high`` or ``block``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def evaluate(
    result: Any, labels: dict[str, dict[str, str]], budgets: tuple[float, ...] = (0.01, 0.05, 0.10)
) -> dict[str, Any]:
    total = result.shipments
    planted = {s for s, label in labels.items() if label["kind"] == "planted"}
    by_scheme: dict[str, set[str]] = defaultdict(set)
    for s, label in labels.items():
        if label["kind"] == "planted":
            by_scheme[label["scheme"]].add(s)
    out: dict[str, Any] = {"shipments": total, "planted": len(planted), "budgets": {}}
    reviewable = [c for c in result.cases if c.level in ("block", "high", "medium")]
    for budget in budgets:
        limit = budget * total
        reviewed: set[str] = set()
        for case in reviewable:
            if len(reviewed) + len(case.shipments) > limit and reviewed:
                break
            reviewed |= set(case.shipments)
        hit = reviewed & planted
        out["budgets"][f"{budget:.0%}"] = {
            "reviewed": len(reviewed),
            "precision": round(len(hit) / len(reviewed), 4) if reviewed else None,
            "recall": round(len(hit) / len(planted), 4) if planted else None,
            "per_scheme_recall": {
                scheme: round(len(reviewed & ids) / len(ids), 4) for scheme, ids in sorted(by_scheme.items())
            },
        }
    held = {s for c in result.cases if c.level in ("block", "high") for s in c.shipments}
    for kind in ("legit-hub", "decoy", "legit", "background"):
        ids = {s for s, label in labels.items() if label["kind"] == kind}
        out[f"held_{kind}"] = {
            "held": len(held & ids),
            "of": len(ids),
            "share": round(len(held & ids) / max(len(ids), 1), 5),
        }
    decoy_held = Counter(labels[s]["scheme"] for s in held if s in labels and labels[s]["kind"] == "decoy")
    out["decoys_held_by_kind"] = dict(decoy_held)
    return out


def main(argv: list[str] | None = None) -> int:
    import orjson

    from tiergate.diversion.generate import generate
    from tiergate.diversion.scan import run_scan
    from tiergate.screen.ingest import read_lists
    from tiergate.screen.store import ListStore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", default="duckdb")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        made = generate(folder, args.shipments, seed=args.seed)
        generated = time.perf_counter() - start
        url = f"sqlite:///{folder / 'lists.db'}"
        store = ListStore(url)
        store.load(read_lists([made.lists]))
        store.close()
        start = time.perf_counter()
        result = run_scan(
            made.shipments, made.parties, engine=args.engine, lists_url=url, serial_registry=made.registry
        )
        scanned = time.perf_counter() - start
        with made.labels.open() as handle:
            labels = {row["shipment"]: row for row in csv.DictReader(handle)}
    report = evaluate(result, labels)
    report["seconds"] = {"generate": round(generated, 1), "scan": round(scanned, 1)}
    report["levels"] = dict(Counter(c.level for c in result.cases))
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
