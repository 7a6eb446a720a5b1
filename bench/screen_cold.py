"""One ``tiergate screen name`` from a cold shell, before and after a change, side by side: each run is a fresh
``python -m tiergate.launch screen name QUERY`` process, alternating between an earlier revision (its ``tiergate``
package taken out with ``git archive``) and the working tree, on the same list store, each side with its own kept
index (built by a first, untimed run). Reports the CPU time (user + system) and the clock time of each run,
their medians per side and query, and the load average.

    python bench/screen_cold.py --before REV [--runs 5] [--db sqlite:///FILE] [QUERY...]

Default queries: a Latin company name, a Latin person name, Cyrillic, Hangul and Chinese characters (which
need Japanese readings: pykakasi's dictionary). The store (default: a fresh one filled from the bundled lists in
a temporary folder) is only read (no ``--party``).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["Huawei Technologies", "Mohamed Ahmed Hassan", "Ростех", "김정은", "华为技术有限公司"]


def checkout(rev: str, folder: Path) -> Path:
    """The ``tiergate`` package of ``rev`` under ``folder``."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "tiergate"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run(tree: Path, cache: Path, db: str, query: str) -> tuple[float, float, int]:
    """(CPU seconds, clock seconds, exit status) of one cold ``screen name``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TIERGATE_LISTS")}
    env.update(PYTHONPATH=str(tree), TIERGATE_INDEX_CACHE=str(cache))
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tiergate.launch", "screen", "name", query, "--db", db],
        env=env,
        cwd=tree,
        capture_output=True,
    )
    clock = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if done.returncode not in (0, 1):
        sys.exit(f"{tree}: exit {done.returncode}: {done.stderr.decode()[-2000:]}")
    return cpu, clock, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git revision to compare with (e.g. main)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per side and query")
    parser.add_argument("--db", help="list store URL (default: a fresh one filled from the bundled lists)")
    parser.add_argument("queries", nargs="*", default=QUERIES)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        trees = {"before": checkout(args.before, work / "before"), "after": ROOT}
        db = args.db or f"sqlite:///{work / 'lists.db'}"
        if not args.db:
            subprocess.run(
                [sys.executable, "-m", "tiergate.launch", "lists", "update", "--bundled", "--db", db],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                check=True,
                capture_output=True,
            )
        caches = {label: work / f"cache-{label}" for label in trees}
        for label, tree in trees.items():  # untimed: fills the store, builds each side's kept index, writes .pyc
            run(tree, caches[label], db, args.queries[0])
            run(tree, caches[label], db, args.queries[0])
        print(f"before = {args.before}, after = the working tree; {args.runs} runs per side and query, alternating")
        print("load average at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        for query in args.queries:
            found: dict[str, list[tuple[float, float]]] = {label: [] for label in trees}
            for _ in range(args.runs):
                for label, tree in trees.items():
                    cpu, clock, _ = run(tree, caches[label], db, query)
                    found[label].append((cpu, clock))
            cells = []
            for label, times in found.items():
                cpu = statistics.median(c for c, _ in times)
                clock = statistics.median(w for _, w in times)
                cells.append(f"{label} CPU {cpu:.2f} s, clock {clock:.2f} s")
            before_cpu = statistics.median(c for c, _ in found["before"])
            after_cpu = statistics.median(c for c, _ in found["after"])
            print(f"{query!r}: " + "; ".join(cells) + f"; after / before CPU {after_cpu / before_cpu:.2f}")
        print("load average at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
