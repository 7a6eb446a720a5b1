"""Name-matching quality: precision, recall and F1 at the default threshold on nomenklatura's labelled name pairs,
beside nomenklatura's own matchers run in the same process on the same pairs.

    python bench/screen_quality.py [--shared PATH] [--threshold 0.7] [--misses]

nomenklatura is a benchmark-only dependency (``pip install -e '.[bench]'``); its matchers are called
through their public API (``Algorithm.compare(query, result, config)``) on FollowTheMoney entities
holding the two names, scored at the same threshold (0.70 is also yente's default). The script
also lists, per kind (Chinese, Cyrillic, Arabic, reordered), the true pairs nomenklatura's best
matcher finds and Tiergate misses.
"""

from __future__ import annotations

import argparse
import csv
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiergate.screen.match import compare_names
from tiergate.screen.model import DEFAULT_THRESHOLD

SHARED = Path(__file__).resolve().parents[2] / "shared"
CASES = "data/name_matching/nomenklatura_name_bench_cases.csv"


def kind(row: dict[str, str]) -> set[str]:
    text = row["name1"] + row["name2"]
    kinds = set()
    if re.search(r"[\u4e00-\u9fff]", text):
        kinds.add("chinese")
    if re.search(r"[\u0400-\u04ff]", text):
        kinds.add("cyrillic")
    if re.search(r"[\u0600-\u06ff]", text):
        kinds.add("arabic")
    a = sorted(re.findall(r"\w+", row["name1"].lower()))
    b = sorted(re.findall(r"\w+", row["name2"].lower()))
    if "reorder" in (row["category"] + row["notes"]).lower() or (
        a == b and row["name1"].lower() != row["name2"].lower()
    ):
        kinds.add("reordered")
    return kinds


def evaluate(rows: list[dict[str, str]], score: Callable[[dict[str, str]], float], threshold: float) -> dict[str, Any]:
    tp = fp = fn = tn = 0
    found: list[bool] = []
    started = time.perf_counter()
    for row in rows:
        hit = score(row) >= threshold
        truth = row["is_match"] == "true"
        found.append(hit)
        tp += hit and truth
        fp += hit and not truth
        fn += truth and not hit
        tn += not hit and not truth
    seconds = time.perf_counter() - started
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "found": found,
        "us_per_pair": seconds / len(rows) * 1e6,
    }


def nomenklatura_scorers() -> dict[str, Callable[[dict[str, str]], float]]:
    from followthemoney import EntityProxy
    from nomenklatura.matching import LogicV1, LogicV2, NameMatcher, NameQualifiedMatcher, OFACMatcher, RegressionV1

    def entity(key: str, schema: str, name: str) -> Any:
        return EntityProxy.from_dict({"id": key, "schema": schema, "properties": {"name": [name]}})

    scorers: dict[str, Callable[[dict[str, str]], float]] = {}
    counter = iter(range(10**9))  # fresh entity ids per pair: logic-v2 memoises by entity id
    for algorithm in (LogicV2, LogicV1, NameMatcher, NameQualifiedMatcher, OFACMatcher, RegressionV1):
        config = algorithm.default_config()

        def score(row: dict[str, str], algorithm: Any = algorithm, config: Any = config) -> float:
            n = next(counter)
            left = entity(f"q{n}", row["schema"], row["name1"])
            right = entity(f"r{n}", row["schema"], row["name2"])
            return float(algorithm.compare(left, right, config).score)

        scorers[f"nomenklatura {algorithm.NAME}"] = score
    return scorers


FIRST = [
    "John",
    "Maria",
    "Ahmed",
    "Wei",
    "Olga",
    "Carlos",
    "Anna",
    "David",
    "Fatima",
    "Li",
    "Ivan",
    "Sara",
    "Peter",
    "Yuki",
    "Omar",
]
LAST = [
    "Smith",
    "Garcia",
    "Khan",
    "Zhang",
    "Ivanova",
    "Silva",
    "Muller",
    "Brown",
    "Hassan",
    "Wang",
    "Petrov",
    "Rossi",
    "Kim",
    "Tanaka",
    "Ali",
]
BRANDS = ["Acme", "Northwind", "Blue River", "Sunrise", "Everest", "Atlas", "Summit", "Pioneer", "Horizon", "Evergreen"]
TRADES = ["Trading", "Logistics", "Electronics", "Holdings", "Technologies", "Software", "Foods", "Textiles"]


def common_name_hits(shared: Path) -> None:
    """Screening the real lists with common names (first + last names, generic company names): how many hit.
    Some hits are right (``Wei Zhang`` is on a list); the figure tracks the false-positive pressure."""
    import random

    from tiergate.screen import Query, ScreeningIndex, read_lists

    files = sorted(p for p in (shared / "data" / "restricted_parties").rglob("*") if p.is_file())
    index = ScreeningIndex.build([e for ds in read_lists(files) for e in ds.entries])
    rnd = random.Random(5)
    people = [Query(f"{rnd.choice(FIRST)} {rnd.choice(LAST)}") for _ in range(1000)]
    firms = [
        Query(f"{rnd.choice(BRANDS)} {rnd.choice(TRADES)} {rnd.choice(['Ltd', 'GmbH', 'LLC', 'Inc'])}")
        for _ in range(1000)
    ]
    for label, queries in (("common person names", people), ("generic company names", firms)):
        hit = sum(1 for q in queries if any(h.match for h in index.screen(q)))
        print(f"{label}: {hit} of {len(queries)} screened against every shared list have a match")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--misses", action="store_true", help="list the pairs Tiergate gets wrong")
    args = parser.parse_args()
    rows = list(csv.DictReader((args.shared / CASES).read_text(encoding="utf-8").splitlines()))
    print(
        f"{len(rows)} labelled pairs ({sum(r['is_match'] == 'true' for r in rows)} matches), threshold {args.threshold}"
    )

    results: dict[str, dict[str, Any]] = {}
    results["tiergate"] = evaluate(
        rows, lambda r: compare_names(r["name1"], r["name2"], r["schema"])[0], args.threshold
    )
    try:
        scorers = nomenklatura_scorers()
    except ImportError:
        scorers = {}
        print("nomenklatura is not installed (pip install -e '.[bench]'): no baseline")
    for name, scorer in scorers.items():
        results[name] = evaluate(rows, scorer, args.threshold)

    print(f"{'matcher':<32} {'precision':>9} {'recall':>7} {'F1':>6} {'TP':>4} {'FP':>4} {'FN':>4} {'µs/pair':>9}")
    for name, res in results.items():
        print(
            f"{name:<32} {res['precision']:>9.3f} {res['recall']:>7.3f} {res['f1']:>6.3f} {res['tp']:>4} "
            f"{res['fp']:>4} {res['fn']:>4} {res['us_per_pair']:>9.1f}"
        )
    if scorers:
        best_name = max((n for n in results if n != "tiergate"), key=lambda n: results[n]["f1"])
        best = results[best_name]
        ours = results["tiergate"]
        print(f"\nF1 ratio tiergate / {best_name} (best baseline): {ours['f1'] / best['f1']:.3f}")
        for k in ("chinese", "cyrillic", "arabic", "reordered"):
            idx = [i for i, r in enumerate(rows) if k in kind(r) and r["is_match"] == "true"]
            theirs = [i for i in idx if best["found"][i]]
            mine = [i for i in idx if ours["found"][i]]
            missed = [i for i in theirs if not ours["found"][i]]
            print(
                f"{k:<10} true pairs {len(idx):>3}: {best_name} finds {len(theirs)}, tiergate finds {len(mine)}; "
                f"found by {best_name} and missed by tiergate: {len(missed)}"
            )
            for i in missed:
                print(f"    missed: {rows[i]['name1']!r} ~ {rows[i]['name2']!r}")
    common_name_hits(args.shared)
    if args.misses:
        print("\nPairs tiergate gets wrong:")
        for i, r in enumerate(rows):
            if results["tiergate"]["found"][i] != (r["is_match"] == "true"):
                score = compare_names(r["name1"], r["name2"], r["schema"])[0]
                print(f"  {r['is_match']:<5} {score:.3f} {r['schema']:<12} {r['name1']!r} ~ {r['name2']!r}")


if __name__ == "__main__":
    main()
