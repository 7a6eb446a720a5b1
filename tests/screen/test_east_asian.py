"""East Asian names: hand-written golden pairs (data/east_asian_pairs.csv: Chinese characters and pinyin, Hangul
and its romanisations, Korean names in Hanja, Japanese kanji and kana) scored by ``compare`` and found by the
index, and the readings behind them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tiergate.screen import DEFAULT_THRESHOLD, ListEntry, Query, ScreeningIndex, compare_names
from tiergate.screen.cjk import alternate_readings, hangul_run, listed_names
from tiergate.screen.normalize import alternate_forms, name_form

DATA = Path(__file__).parent / "data"
PAIRS = list(csv.DictReader((DATA / "east_asian_pairs.csv").read_text(encoding="utf-8").splitlines()))


@pytest.mark.parametrize("row", PAIRS, ids=[r["why"] for r in PAIRS])
def test_east_asian_golden_pairs(row: dict[str, str]) -> None:
    score, features = compare_names(row["name1"], row["name2"], row["schema"])
    assert (score >= DEFAULT_THRESHOLD) == (row["match"] == "true"), (score, [f.detail for f in features])
    assert features[0].name == "name" and row["name1"] in features[0].detail


def test_the_index_proposes_the_list_side_of_every_matching_pair() -> None:
    """Every plausible Latin form of a list name is indexed: a query in another script or romanisation finds it."""
    matching = [r for r in PAIRS if r["match"] == "true"]
    entries = [ListEntry("t", str(i), "SDN", r["schema"], r["name2"]) for i, r in enumerate(matching)]
    index = ScreeningIndex.build(entries)
    for i, row in enumerate(matching):
        hits = index.screen(Query(row["name1"], schema=row["schema"]))
        assert str(i) in {h.entry.entry_id for h in hits if h.match}, row
    # and the other way round: a list name in East Asian script is found by its romanisations
    reverse = [ListEntry("t", str(i), "SDN", r["schema"], r["name1"]) for i, r in enumerate(matching)]
    index = ScreeningIndex.build(reverse)
    for i, row in enumerate(matching):
        if row["name2"].isascii() and not row["name1"].isascii() and "、" not in row["name1"]:
            hits = index.screen(Query(row["name2"], schema=row["schema"]))
            assert str(i) in {h.entry.entry_id for h in hits}, row


def test_a_korean_name_in_hanja_is_read_in_sino_korean_with_the_surname_reading() -> None:
    assert name_form("金铁三", True).tokens == ("jin", "tiesan")  # pinyin first
    readings = {f.tokens for f in alternate_forms("金铁三", True)}
    assert ("kim", "cheol", "sam") in readings and ("kim", "chol", "sam") in readings


def test_hangul_in_the_revised_romanization_mccune_reischauer_and_the_passport_spelling() -> None:
    assert hangul_run("김정은", person=True).split() == ["kim", "jeong-eun"]
    assert hangul_run("박봉주", person=True, mccune=True).split() == ["park", "pong-ju"]
    assert hangul_run("이병철", person=True, passport=True).split() == ["lee", "byung-chul"]
    assert alternate_readings("최룡해", True) != ()


def test_japanese_is_read_in_hepburn_with_long_vowels_once() -> None:
    assert name_form("東芝").tokens != ("toshiba",)  # pinyin first for kanji alone
    assert ("toshiba",) in {f.tokens for f in alternate_forms("東芝")}
    assert name_form("トヨタ").tokens == ("toyota",)
    assert name_form("株式会社カラシニコフ・コンツェルン").legal == frozenset({"JSC"})


def test_names_listed_with_the_ideographic_comma_are_read_each_alone() -> None:
    assert listed_names("（別称、有限会社TsST、有限会社CST、ザラ・アエロ）") == [
        "有限会社TsST",
        "有限会社CST",
        "ザラ・アエロ",
    ]
    assert listed_names("华为技术有限公司") == []


def test_a_chinese_given_name_is_not_a_korean_one_sharing_the_surname() -> None:
    for korean in ("Lee Myung-bak", "Lee Myung Bak", "LEE MYUNG-BAK"):
        assert compare_names("李明", korean, "Person")[0] < 0.7
    assert compare_names("李明博", "Lee Myung-bak", "Person")[0] >= 0.85
