"""Screening results, frozen: screens a fixed sample of queries on the real lists and writes (or checks against) every
hit's entry, score, matched name, match flag and explanation, so that a change meant to make screening faster can
be shown to change no result.

    python bench/screen_scores.py --write before.jsonl     # on the code before the change
    python bench/screen_scores.py --check before.jsonl     # on the code after it: exit 1 on any difference
    python bench/screen_scores.py --check before.jsonl --kept  # the same, from the index saved and loaded again

Queries (3,000 by default, all fixed by seeds): half from ``bench/screen_speed.py`` (list names with a realistic
change, and names on no list), half mined from the lists themselves (an entry's name or alias, in whatever script
the list gives it, perturbed the same way) with a country, a schema, a birth date or an identifier of the entry
(or a wrong one) so that the qualifiers are exercised too. Each query is screened twice: at the default threshold
(explanations of matches only) and with ``floor`` 0.5 (near misses explained too), 50 hits at most. Scores are
compared exactly (as Python writes a float: every bit), not rounded.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screen_speed import SHARED, perturb, queries

from tiergate.screen import ListEntry, Query, ScreeningIndex, read_lists


def mined_queries(entries: list[ListEntry], count: int, seed: int = 21) -> list[Query]:
    """Names and aliases of listed entries (any script), perturbed, with facts of the entry or wrong ones."""
    rnd = random.Random(seed)
    out: list[Query] = []
    while len(out) < count:
        entry = rnd.choice(entries)
        name = rnd.choice(entry.names)
        if rnd.random() < 0.6:
            name = perturb(name, rnd)
        if not name.strip():
            continue
        country = None
        if rnd.random() < 0.4:
            country = rnd.choice(entry.countries) if entry.countries and rnd.random() < 0.7 else "ZZ"
        schema = rnd.choice([None, None, "Person", "Organization", entry.schema])
        birth = None
        if entry.birth_dates and rnd.random() < 0.5:
            birth = rnd.choice([*entry.birth_dates, "1901-01-01"])
        ids: tuple[str, ...] = ()
        if entry.identifiers and rnd.random() < 0.5:
            ids = (rnd.choice(entry.identifiers).value.lower(),)
        out.append(Query(name, schema, country, ids, birth))
    return out


def sample(entries: list[ListEntry], count: int) -> list[Query]:
    half = count // 2
    return queries(entries, half, seed=15) + mined_queries(entries, count - half)


def results(index: ScreeningIndex, qs: list[Query]) -> list[dict[str, Any]]:
    out = []
    for q in qs:
        row: dict[str, Any] = {"query": [q.name, q.schema, q.country, list(q.identifiers), q.birth_date]}
        for label, options in (("threshold", {}), ("floor", {"floor": 0.5, "limit": 50})):
            try:
                hits = index.screen(q, **options)
            except ValueError as error:
                row[label] = f"unscreenable: {error}"
                continue
            row[label] = [
                [
                    h.entry.key,
                    repr(h.score),
                    h.matched_name,
                    h.match,
                    [[f.name, repr(f.score), f.detail] for f in h.features],
                ]
                for h in hits
            ]
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--queries", type=int, default=3_000)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", type=Path, help="write the results to this file (JSON lines)")
    what.add_argument("--check", type=Path, help="compare the results with this file; exit 1 on any difference")
    parser.add_argument(
        "--kept", action="store_true", help="screen from the index saved and loaded again (as the CLI does)"
    )
    args = parser.parse_args()

    files = sorted(p for p in (args.shared / "data" / "restricted_parties").rglob("*") if p.is_file())
    entries = [e for ds in read_lists(files) for e in ds.entries]
    index = ScreeningIndex.build(entries)
    if args.kept:
        with tempfile.TemporaryDirectory() as folder:
            index.save(Path(folder) / "kept.npz")
            index = ScreeningIndex.load(Path(folder) / "kept.npz")
        print("screening from the index saved and loaded again")
    qs = sample(entries, args.queries)
    t = time.perf_counter()
    rows = results(index, qs)
    took = time.perf_counter() - t
    hits = sum(len(r["floor"]) for r in rows if isinstance(r["floor"], list))
    print(f"{len(qs):,} queries screened twice in {took:.1f} s: {hits:,} hits at floor 0.5")
    if args.write:
        args.write.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        print(f"written to {args.write}")
        return
    expected = [orjson.loads(line) for line in args.check.read_bytes().splitlines()]
    if len(expected) != len(rows):
        sys.exit(f"{args.check}: {len(expected)} queries, this run {len(rows)} (another sample)")
    differ = 0
    for number, (mine, theirs) in enumerate(zip(rows, expected, strict=True), 1):
        mine = orjson.loads(orjson.dumps(mine))
        if mine != theirs:
            differ += 1
            if differ <= 5:
                print(f"query {number} {mine['query']!r} differs:\n  now    {mine}\n  before {theirs}")
    if differ:
        sys.exit(f"{differ:,} of {len(rows):,} queries have other hits, scores or explanations")
    print(f"all {len(rows):,} queries: the same hits, scores (exactly) and explanations as {args.check}")


if __name__ == "__main__":
    main()
