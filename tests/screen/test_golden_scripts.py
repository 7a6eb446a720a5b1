"""Hand-written golden pairs per class (Arabic script, Cyrillic, Latin abbreviations and trade-style names, false
friends): data/golden_arabic_cyrillic_latin.csv says for each pair whether it is a match at the default threshold."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tiergate.screen.match import compare_names
from tiergate.screen.model import DEFAULT_THRESHOLD

CASES = Path(__file__).parent / "data" / "golden_arabic_cyrillic_latin.csv"


def _cases() -> list[dict[str, str]]:
    with CASES.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for line, r in enumerate(rows, start=2):
        if r["match"] not in ("true", "false") or not r["name1"] or not r["name2"]:
            raise ValueError(f"{CASES.name}:{line}: 'match' must be true or false and both names given")
    return rows


@pytest.mark.parametrize("case", _cases(), ids=lambda r: f"{r['class']}:{r['name1']}~{r['name2']}")
def test_golden_pair(case: dict[str, str]) -> None:
    score, features = compare_names(case["name1"], case["name2"], case["schema"])
    expected = case["match"] == "true"
    assert (score >= DEFAULT_THRESHOLD) == expected, f"{case['why']}: {score:.2f} {features[0].detail}"
    assert features and features[0].name == "name"  # every hit keeps its per-feature explanation


def test_every_class_has_matches_and_non_matches() -> None:
    rows = _cases()
    for cls in ("arabic", "cyrillic", "latin"):
        kinds = {r["match"] for r in rows if r["class"] == cls}
        assert kinds == {"true", "false"}, cls


def test_an_outline_match_says_so() -> None:
    score, features = compare_names("خالد محمود", "Khaled Mahmoud", "Person")
    assert score >= DEFAULT_THRESHOLD
    assert "consonant outline" in features[0].detail
    assert "khld~khaled" in features[0].detail
