"""Screening speed before and after a change, side by side in one process: the index and scoring modules
(``tiergate/screen/index.py`` and ``match.py``) of an earlier revision are loaded beside the current ones and both
screen the same queries on the same real lists, in alternating rounds, so that both see the same machine (on a
shared machine the load of other work changes from minute to minute; a ratio measured so holds).

    python bench/screen_speed_ab.py --before REV [--shared PATH] [--batch 5000] [--rounds 3] [--single 1000] [--kept]

``--kept``: each side screens as ``tiergate screen batch`` does, from its index saved to a file and loaded again
before every round (nothing the index learnt in an earlier round is kept; the name-normalisation cache is cleared
too), instead of from the index it has just built (which already holds every list name's normalised form).

Reports queries per second per core (CPU time of this process: one core) and by the clock, p50/p95 single-query
latency, and checks that both give the same hits with the same scores on every batch query. Normalisation
(``normalize.py``) is the current one for both: the change measured is that of the two modules.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screen_speed import SHARED, queries

from tiergate.screen import Query, read_lists
from tiergate.screen import index as current_index
from tiergate.screen.normalize import name_form

ROOT = Path(__file__).resolve().parents[1]


def load_revision(rev: str, folder: Path) -> ModuleType:
    """The index module of ``rev`` (with that revision's match module), under names of their own."""
    loaded: dict[str, ModuleType] = {}
    for name in ("match", "index"):
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:tiergate/screen/{name}.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        module_name = f"before_{name}"
        source = source.replace("from tiergate.screen.match import", "from before_match import")
        path = folder / f"{module_name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        loaded[name] = module
    return loaded["index"]


def batch(module: ModuleType, index: Any, qs: list[Query]) -> tuple[float, float, list[Any]]:
    cpu, wall = time.process_time(), time.perf_counter()
    results = list(module.screen_many(index, qs))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return len(qs) / cpu, len(qs) / wall, results


def latencies(index: Any, qs: list[Query]) -> tuple[float, float]:
    times = []
    for q in qs:
        t = time.process_time()
        index.screen(q)
        times.append(time.process_time() - t)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000


def same(a: list[Any], b: list[Any]) -> int:
    """How many queries have other hits or scores."""
    differ = 0
    for x, y in zip(a, b, strict=True):
        if isinstance(x, str) or isinstance(y, str):
            differ += x != y
        else:
            differ += [(h.entry.key, h.score, h.matched_name, h.features) for h in x] != [
                (h.entry.key, h.score, h.matched_name, h.features) for h in y
            ]
    return differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git revision to compare with (e.g. main)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--single", type=int, default=1_000)
    parser.add_argument("--kept", action="store_true", help="screen from the index saved and loaded, as the CLI does")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        before = load_revision(args.before, Path(tmp))
    files = sorted(p for p in (args.shared / "data" / "restricted_parties").rglob("*") if p.is_file())
    entries = [e for ds in read_lists(files) for e in ds.entries]
    sides = {
        "before": (before, before.ScreeningIndex.build(entries)),
        "after": (current_index, current_index.ScreeningIndex.build(entries)),
    }
    kept_folder = tempfile.TemporaryDirectory()
    kept = {label: Path(kept_folder.name) / f"{label}.npz" for label in sides}
    if args.kept:
        for label, (_, index) in sides.items():
            index.save(kept[label])
    warm = queries(entries, 2_000, seed=99)
    for module, index in sides.values():
        list(module.screen_many(index, warm))
    how = "from the kept file, loaded again each round" if args.kept else "from the index just built"
    print(f"real lists: {len(entries):,} entries; before = {args.before}, after = the working tree; screening {how}")
    print("load average at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    rates: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for r in range(args.rounds):
        qs = queries(entries, args.batch, seed=12 + r)
        results = {}
        for label, (module, index) in sides.items():
            if args.kept:
                name_form.cache_clear()
                index = module.ScreeningIndex.load(kept[label])
            per_core, clock, results[label] = batch(module, index, qs)
            rates[label].append((per_core, clock))
            print(f"round {r + 1} {label:<6}: {per_core:7,.0f} queries/s per core ({clock:,.0f} by the clock)")
        print(f"round {r + 1}: {same(results['before'], results['after'])} of {len(qs):,} queries differ")
    single = queries(entries, args.single, seed=13)
    for label, (_, index) in sides.items():
        p50, p95 = latencies(index, single)
        best = max(rates[label])[0]
        median = statistics.median(x for x, _ in rates[label])
        print(
            f"{label:<6}: batch {median:,.0f} queries/s per core (median of {args.rounds} rounds; best {best:,.0f}); "
            f"single query (CPU) p50 {p50:.2f} ms, p95 {p95:.2f} ms"
        )
    ratio = statistics.median(a[0] / b[0] for a, b in zip(rates["after"], rates["before"], strict=True))
    print(f"after / before: {ratio:.2f}x per core (median of the rounds' ratios)")
    print("load average at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
