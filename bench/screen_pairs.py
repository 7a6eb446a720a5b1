"""A labelled name-pair set mined from the restricted-party lists themselves, scored by Tiergate and by nomenklatura's
matchers in the same run: F1 per script group (Arabic, Cyrillic, CJK, Hangul, Latin) and per schema (person,
organisation), plus nomenklatura's public name cases.

    python bench/screen_pairs.py [--shared PATH] [--per-group 150] [--threshold 0.7] [--seed 3] [--write FILE]
                                 [--as-mined] [--scores FILE] [--recall]

``--scores`` writes every pair (mined and public) with each matcher's score and a mark where Tiergate is wrong at
the threshold (the per-pair view behind the table). ``--recall`` measures the index's candidate recall on the same
pairs: of those ``compare`` scores at or above the threshold, the share whose list side the index proposes when
the query side is screened (the list sides indexed beside every entry of the lists, so that they compete for the
candidate places).

Positives: a list entry's name against one of its own aliases (the lists give many in other scripts and in
abbreviated forms). Hard negatives: the same alias against the name of the *most similar other entry* (rapidfuzz
token-set ratio over every primary name of the same schema), so each negative shares words or sounds with the
query. The mining is deterministic for a given seed and list files; ``--write`` keeps the pairs as CSV (the columns
of nomenklatura's name cases). nomenklatura is a benchmark-only dependency (``pip install -e '.[bench]'``).
Aliases the lists call weak and aliases no longer than three letters are left out; the labels are the lists' own,
so a few positives are an entry's unrelated names or translations (they cap every matcher's recall alike).

Left out besides, by the lists' own data and never by any matcher's score (the counts are printed; ``--as-mined``
mines without these rules, as the first version did):

- positives whose alias is one of OFAC's *weak* aliases: the legacy SDN files put the strong aliases in the
  ``alt`` file and the weak ones (nicknames, kunyas, noms de guerre: ``'AMINE DEL BELGIO'`` for *FETTAR,
  Rachid*, ``'TAQI, Abu'``) as ``a.k.a. '...'`` in the remarks, which is where Tiergate's reader finds them; the
  UN's "low quality" aliases were already left out as weak;

- positives whose alias is an acronym of one of the entry's names (its words, legal forms aside, capitals of at
  most six letters that are not words of the name and whose letters are, in order, initials of the name's words:
  ``IRGC``, ``CNOOC``, ``BLMZ OOO``): no name matcher expands one, and screening meets it as the list writes it;
- positives whose alias the SDN remarks call a former name (``f.k.a.``): a renamed company's old and new names
  share nothing by design;
- negatives whose "other entry" is the same party listed again (on another list, or twice on one): the two share
  an identifier (passport, registration number...; five characters or more), a person's full date of birth, or a
  name or alias word for word (case, punctuation and word order aside: *AL-QIZANI, Ashraf* and *ASHRAF
  AL-QIZANI*). The next most similar entry is taken instead (among the eight most similar).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from tiergate.screen import ListEntry, Query, ScreeningIndex, read_lists
from tiergate.screen.match import compare_names

SHARED = next(
    (p / "shared" for p in Path(__file__).resolve().parents if (p / "shared" / "data").is_dir()),
    Path(__file__).resolve().parents[2] / "shared",
)
CASES = "data/name_matching/nomenklatura_name_bench_cases.csv"
GROUPS = ("Arabic", "Cyrillic", "CJK", "Hangul", "Latin")


def script_group(text: str) -> str:
    if re.search(r"[\uac00-\ud7a3]", text):
        return "Hangul"
    if re.search(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]", text):
        return "CJK"
    if re.search(r"[\u0600-\u06ff\u0750-\u077f]", text):
        return "Arabic"
    if re.search(r"[\u0400-\u04ff]", text):
        return "Cyrillic"
    return "Latin"


def schema_of(entry: ListEntry) -> str:
    return "Person" if entry.schema == "Person" else "Organization"


_FKA = re.compile(r"\bf\.k\.a\.,?\s*'([^']+)'", re.IGNORECASE)
_REMARK_AKA = re.compile(r"\ba\.k\.a\.,?\s*'([^']+(?:'[^';]+)*)'", re.IGNORECASE)
_LEGAL_WORDS = frozenset(
    [
        "llc",
        "ltd",
        "ltd.",
        "limited",
        "co",
        "co.",
        "corp",
        "inc",
        "jsc",
        "ojsc",
        "cjsc",
        "pjsc",
        "ao",
        "oao",
        "zao",
        "pao",
        "ooo",
        "tov",
        "too",
        "gmbh",
        "ag",
        "sa",
        "plc",
    ]
)
_PUNCT = re.compile(r"[^\w]+")
EXCLUSIONS = (
    "weak alias (OFAC remarks a.k.a.)",
    "acronym alias",
    "former name (f.k.a.)",
    "negative: same identifier",
    "negative: same birth date",
    "negative: same name listed",
)


def _words(name: str) -> tuple[str, ...]:
    return tuple(sorted(w for w in _PUNCT.split(name.casefold()) if w))


def _subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(ch in letters for ch in short)


def _acronym(alias: str, entry: ListEntry) -> bool:
    """An alias made only of an acronym of one of the entry's names (and legal forms): ``IRGC`` for *Iranian
    Revolutionary Guard Corps*, ``BLMZ OOO``, ``CNOOC``: capitals (at most six a word) that are not words of the
    name and whose letters are, in order, initials of its words. No name matcher expands one; the list carries it
    as an alias and screening meets it there as written."""
    words = [w for w in _PUNCT.split(alias) if w and w.casefold() not in _LEGAL_WORDS]
    if not words or len(words) > 3:
        return False
    names = {w.casefold() for n in entry.names if n != alias for w in _PUNCT.split(n) if w}
    if not all(w.isupper() and w.isalpha() and w.isascii() and len(w) <= 6 for w in words):
        return False
    if any(w.casefold() in names for w in words):
        return False
    letters = "".join(words).casefold()
    return any(
        _subsequence(letters, "".join(w[0] for w in _PUNCT.split(n.casefold()) if w)) for n in entry.names if n != alias
    )


def _ids(entry: ListEntry) -> set[str]:
    out = {re.sub(r"[^0-9A-Z]", "", i.value.upper()) for i in entry.identifiers}
    return {i for i in out if len(i) >= 5}


def same_party(a: ListEntry, b: ListEntry) -> str | None:
    """Why two list entries are one party listed twice (on two lists, or twice on one), by the lists' own data and
    never by a matcher's score: a shared identifier, a shared full date of birth (persons), or a name or alias of
    one that is a name or alias of the other word for word (case, punctuation and word order aside)."""
    if _ids(a) & _ids(b):
        return "negative: same identifier"
    dates_a = {d for d in a.birth_dates if len(d) == 10}
    if schema_of(a) == "Person" and dates_a & {d for d in b.birth_dates if len(d) == 10}:
        return "negative: same birth date"
    if {_words(n) for n in a.names} & {_words(n) for n in b.names}:
        return "negative: same name listed"
    return None


def mine(
    entries: list[ListEntry], per_group: int, seed: int, excluded: dict[str, int] | None = None, sound: bool = True
) -> list[dict[str, str]]:
    """Positive and hard-negative pairs, up to ``per_group`` of each per script group and schema. ``sound``: leave
    out what no labelled pair should be (acronym aliases, former names as positives; the same party listed twice
    as a negative), counting each reason in ``excluded``."""
    rnd = random.Random(seed)
    excluded = {} if excluded is None else excluded
    names_by_schema: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for i, e in enumerate(entries):
        names_by_schema[schema_of(e)].append((e.name, i))
    candidates: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for i, e in enumerate(entries):
        seen = {e.name.casefold()}
        former = {a.casefold() for a in _FKA.findall(e.remarks or "")}
        weak = {a.casefold() for a in _REMARK_AKA.findall(e.remarks or "")} if e.dataset.startswith("ofac") else set()
        for alias in e.aliases:
            if len(alias) <= 3 or alias.casefold() in seen:
                continue
            seen.add(alias.casefold())
            if sound and alias.casefold() in weak:
                why = "weak alias (OFAC remarks a.k.a.)"
                excluded[why] = excluded.get(why, 0) + 1
                continue
            if sound and _acronym(alias, e):
                excluded["acronym alias"] = excluded.get("acronym alias", 0) + 1
                continue
            if sound and alias.casefold() in former:
                excluded["former name (f.k.a.)"] = excluded.get("former name (f.k.a.)", 0) + 1
                continue
            candidates[(script_group(alias), schema_of(e))].append((i, alias))
    rows: list[dict[str, str]] = []
    for (group, schema), found in sorted(candidates.items()):
        rnd.shuffle(found)
        pool = names_by_schema[schema]
        pool_names = [n for n, _ in pool]
        for i, alias in found[:per_group]:
            entry = entries[i]
            rows.append(row(group, schema, alias, entry.name, True))
            # the most similar other entry's name, by the entry's own (Latin) name
            known = {a.casefold() for a in entry.aliases}
            best = process.extract(entry.name, pool_names, scorer=fuzz.token_set_ratio, limit=8 if sound else 5)
            for _name, _score, k in best:
                other = pool[k][0].casefold()
                if pool[k][1] != i and other != entry.name.casefold() and other not in known:
                    why = same_party(entry, entries[pool[k][1]]) if sound else None
                    if why is not None:
                        excluded[why] = excluded.get(why, 0) + 1
                        continue
                    rows.append(row(group, schema, alias, pool[k][0], False))
                    break
    return rows


def row(group: str, schema: str, query: str, listed: str, match: bool) -> dict[str, str]:
    return {
        "case_group": f"mined-{group}",
        "schema": schema,
        "name1": query,
        "name2": listed,
        "is_match": "true" if match else "false",
        "quality": "",
        "category": group,
        "notes": "",
    }


def f1(rows: list[dict[str, str]], scores: list[float], threshold: float) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for r, s in zip(rows, scores, strict=True):
        hit, truth = s >= threshold, r["is_match"] == "true"
        tp += hit and truth
        fp += hit and not truth
        fn += truth and not hit
    p = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return (2 * p * rec / (p + rec) if p + rec else 0.0), p, rec


def scorers() -> dict[str, Callable[[dict[str, str]], float]]:
    out: dict[str, Callable[[dict[str, str]], float]] = {
        "Tiergate": lambda r: compare_names(r["name1"], r["name2"], r["schema"])[0]
    }
    try:
        from followthemoney import EntityProxy
        from nomenklatura.matching import LogicV1, LogicV2, NameMatcher
    except ImportError:
        print("nomenklatura is not installed (pip install -e '.[bench]'): Tiergate alone")
        return out
    counter = iter(range(10**9))

    def entity(key: str, schema: str, name: str) -> Any:
        return EntityProxy.from_dict({"id": key, "schema": schema, "properties": {"name": [name]}})

    for algorithm in (LogicV2, LogicV1, NameMatcher):
        config = algorithm.default_config()

        def score(r: dict[str, str], algorithm: Any = algorithm, config: Any = config) -> float:
            n = next(counter)
            schema = r["schema"] if r["schema"] in ("Person", "Organization", "Company") else "LegalEntity"
            left, right = entity(f"q{n}", schema, r["name1"]), entity(f"r{n}", schema, r["name2"])
            return float(algorithm.compare(left, right, config).score)

        out[f"nomenklatura {algorithm.NAME}"] = score
    return out


def candidate_recall(
    pairs: list[dict[str, str]], tiergate: list[float], entries: list[ListEntry], threshold: float
) -> tuple[int, int, list[str]]:
    """(proposed, pairs scored at or above ``threshold``, the misses): whether screening a pair's query side proposes
    its list side, indexed as an entry of its own among ``entries``."""
    sides = [
        ListEntry("pairs", str(i), "T", "Person" if r["schema"] == "Person" else "Organization", r["name2"])
        for i, r in enumerate(pairs)
    ]
    index = ScreeningIndex.build(entries + sides)
    above = proposed = 0
    misses = []
    for i, (r, score) in enumerate(zip(pairs, tiergate, strict=True)):
        if score < threshold:
            continue
        above += 1
        schema = "Person" if r["schema"] == "Person" else None
        hits = index.screen(Query(r["name1"], schema), floor=0.0, limit=500)
        if any(h.entry.key == f"pairs:{i}" for h in hits):
            proposed += 1
        else:
            misses.append(f"{r['name1']!r} ~ {r['name2']!r}")
    return proposed, above, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--per-group", type=int, default=150)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--write", type=Path)
    parser.add_argument("--scores", type=Path, help="write every pair with each matcher's score (CSV)")
    parser.add_argument("--recall", action="store_true", help="measure the index's candidate recall on the pairs")
    parser.add_argument(
        "--as-mined", action="store_true", help="the first mining: no acronym, former-name or same-party exclusions"
    )
    args = parser.parse_args()

    files = sorted(p for p in (args.shared / "data" / "restricted_parties").rglob("*") if p.is_file())
    entries = [e for ds in read_lists(files) for e in ds.entries]
    started = time.perf_counter()
    excluded: dict[str, int] = {}
    mined = mine(entries, args.per_group, args.seed, excluded, sound=not args.as_mined)
    print(f"mined {len(mined)} pairs from {len(entries):,} entries in {time.perf_counter() - started:.1f} s")
    if not args.as_mined:
        print("left out: " + ", ".join(f"{why} {excluded.get(why, 0)}" for why in EXCLUSIONS))
    if args.write:
        with args.write.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(mined[0]))
            writer.writeheader()
            writer.writerows(mined)
    with (args.shared / CASES).open(encoding="utf-8") as handle:
        public = list(csv.DictReader(handle))
    sets: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in mined:
        sets[f"{r['category']} / {r['schema']}"].append(r)
        sets[f"{r['category']} (all)"].append(r)
        sets[f"{r['schema']} (all)"].append(r)
    sets["mined, all"] = mined
    sets["public name cases"] = public
    matchers = scorers()
    scored = {name: [fn(r) for r in mined + public] for name, fn in matchers.items()}
    index = {id(r): k for k, r in enumerate(mined + public)}
    header = "| set | pairs | " + " | ".join(f"{m} F1" for m in matchers) + " |"
    print(header)
    print("|" + "---|" * (len(matchers) + 2))
    for label in sorted(sets, key=lambda s: (s.startswith("public"), s)):
        rows = sets[label]
        cells = []
        for m in matchers:
            scores = [scored[m][index[id(r)]] for r in rows]
            cells.append(f"{f1(rows, scores, args.threshold)[0]:.3f}")
        print(f"| {label} | {len(rows)} | " + " | ".join(cells) + " |")
    every = mined + public
    if args.scores:
        with args.scores.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["set", "schema", "name1", "name2", "is_match", *matchers, "tiergate_wrong"])
            for k, r in enumerate(every):
                truth = r["is_match"] == "true"
                wrong = (scored["Tiergate"][k] >= args.threshold) != truth
                label = r["category"] if k < len(mined) else "public"
                cells = [f"{scored[m][k]:.3f}" for m in matchers]
                writer.writerow([label, r["schema"], r["name1"], r["name2"], r["is_match"], *cells, wrong])
    if args.recall:
        started = time.perf_counter()
        proposed, above, misses = candidate_recall(every, scored["Tiergate"], entries, args.threshold)
        print(
            f"candidate recall: {proposed} of {above} pairs scored >= {args.threshold} are proposed by the index "
            f"({proposed / max(above, 1):.2%}; {time.perf_counter() - started:.0f} s)"
        )
        for miss in misses[:20]:
            print(f"  not proposed: {miss}")


if __name__ == "__main__":
    main()
