"""Name matching: golden pairs (data/name_pairs.csv), invariants as properties, and hostile names."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiergate.screen import DEFAULT_THRESHOLD, ListEntry, Query, ScreeningIndex, compare_names, name_form
from tiergate.screen.normalize import MAX_NAME_CHARS, UnscreenableName, check_name

DATA = Path(__file__).parent / "data"
PAIRS = list(csv.DictReader((DATA / "name_pairs.csv").read_text(encoding="utf-8").splitlines()))


@pytest.mark.parametrize("row", PAIRS, ids=[r["why"] for r in PAIRS])
def test_golden_pairs(row: dict[str, str]) -> None:
    score, features = compare_names(row["name1"], row["name2"], row["schema"])
    assert (score >= DEFAULT_THRESHOLD) == (row["match"] == "true"), (score, [f.detail for f in features])
    assert features[0].name == "name" and row["name1"] in features[0].detail


def test_legal_form_class_mismatch_is_explained() -> None:
    score, features = compare_names("Deutsche Bank AG", "Deutsche Bank GmbH", "Company")
    assert any(f.name == "legal_form_mismatch" and f.score < 0 for f in features)
    assert score < 1.0


def test_generic_tokens_weigh_less_than_distinctive_ones() -> None:
    generic, _ = compare_names("Sparta Trading International", "Sparta Trading", "Company")
    distinctive, _ = compare_names("Sparta Trading International", "Trading International", "Company")
    assert generic > distinctive


def test_country_and_identifier_are_supporting_evidence() -> None:
    entry = ListEntry(
        "t",
        "1",
        "EL",
        "Organization",
        "Shenzhen Rion Technology",
        countries=("CN",),
        identifiers=(__import__("tiergate.screen.model", fromlist=["Identifier"]).Identifier("USCC", "91440300MA5F"),),
    )
    index = ScreeningIndex.build([entry])
    plain = index.screen(Query("Shenzen Rion Tech"), floor=0.0)[0]
    same_country = index.screen(Query("Shenzen Rion Tech", country="CN"), floor=0.0)[0]
    other_country = index.screen(Query("Shenzen Rion Tech", country="DE"), floor=0.0)[0]
    with_id = index.screen(Query("Shenzen Rion Tech", identifiers=("91440300-ma5f",)), floor=0.0)[0]
    assert other_country.score < plain.score <= same_country.score
    assert with_id.score > plain.score
    names = {f.name for f in same_country.features} | {f.name for f in with_id.features}
    assert {"country_match", "identifier_match"} <= names


words = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll")), min_size=2, max_size=10).filter(
    lambda w: (
        not name_form(f"zz {w}", True).legal  # a legal form (AB, SA) is taken off only at a name's ends
        and all(len(t) > 1 for t in name_form(w, True).tokens)
    )  # nor letters that read as one (KӺ: the K of "K K")
)


@settings(max_examples=60, deadline=None)
@given(st.lists(words, min_size=1, max_size=5), st.randoms())
def test_token_order_does_not_change_the_score(tokens: list[str], rnd: object) -> None:
    name = " ".join(tokens)
    shuffled = list(tokens)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    try:
        a, _ = compare_names(name, name, "Person")
        b, _ = compare_names(" ".join(shuffled), name, "Person")
    except UnscreenableName:
        return
    assert 0.0 <= b <= 1.0
    assert a == pytest.approx(1.0) or not name_form(name, True).tokens
    assert b == pytest.approx(a)


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_scores_stay_in_the_unit_interval(a: str, b: str) -> None:
    try:
        score, features = compare_names(check_name(a), check_name(b))
    except UnscreenableName:
        return
    assert 0.0 <= score <= 1.0
    assert features and features[0].name == "name"


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01\x02", "...---", "\u200b\u200c"])
def test_empty_names_are_refused(bad: str) -> None:
    with pytest.raises(UnscreenableName, match="empty"):
        check_name(bad)


def test_a_ten_thousand_character_name_is_refused_clearly() -> None:
    with pytest.raises(UnscreenableName, match="10,000 characters"):
        check_name("A" * 10_000)
    assert check_name("A" * MAX_NAME_CHARS)


def test_control_characters_are_ignored() -> None:
    score, _ = compare_names(check_name("Huawei\x00 Tech\tnologies\x1b"), "Huawei Technologies")
    clean, _ = compare_names("Huawei Technologies", "Huawei Technologies")
    assert clean == 1.0
    assert score >= DEFAULT_THRESHOLD


def test_mixed_scripts_in_one_name() -> None:
    form = name_form("Huawei 技术 Компания Ltd")
    assert all(t.isascii() for t in form.tokens)
    score, _ = compare_names("Huawei 技术", "Huawei Technology", "Company")
    assert score >= DEFAULT_THRESHOLD


def test_index_finds_the_entry_and_explains_it() -> None:
    entries = [
        ListEntry("t", str(i), "SDN", "Organization", name)
        for i, name in enumerate(
            [
                "Banco Nacional de Cuba",
                "Aerocaribbean Airlines",
                "Korea Mining Development Trading Corporation",
                "Sberbank of Russia",
                "Acme Trading Company",
            ]
        )
    ]
    index = ScreeningIndex.build(entries)
    hits = index.screen(Query("KOREA MINING DEVELOPMENT TRADING CORP"))
    assert hits and hits[0].entry.entry_id == "2" and hits[0].match
    assert index.screen(Query("Zenith Trading Company")) == []
    assert "aligned" in hits[0].to_dict()["explanation"]["name"]["detail"]


def test_the_index_token_table_gives_the_same_scores_as_the_direct_comparison() -> None:
    from tiergate.screen.match import score_names, token_table

    names = [r["name2"] for r in PAIRS] + [r["name1"] for r in PAIRS]
    entries = [ListEntry("t", str(i), "EL", "Person" if i % 2 else "Organization", n) for i, n in enumerate(names)]
    for query_name in [r["name1"] for r in PAIRS] + ["J Smith", "CETC 13", "mhmd bn slmn"]:
        for person in (False, True):
            q = Query(query_name, "Person" if person else None)
            qform = name_form(query_name, person)
            forms = [name_form(e.name, e.schema == "Person") for e in entries]
            vocabulary = {t: f for form in forms for t, f in zip(form.tokens, form.folds, strict=True)}
            plain = token_table(qform, list(vocabulary), list(vocabulary.values()), False)
            han = token_table(qform, list(vocabulary), list(vocabulary.values()), True)
            for entry, form in zip(entries, forms, strict=True):
                direct = score_names(q, qform, entry, (form,))[0]
                tabled = score_names(q, qform, entry, (form,), (plain, han))[0]
                assert tabled == pytest.approx(direct, abs=1e-12), (query_name, entry.name)


def test_a_hit_on_a_weak_alias_counts_less_and_says_so() -> None:
    entry = ListEntry("t", "1", "UN", "Person", "Omar Sabawi Al-Tikriti", weak_aliases=("Abu Mufid",))
    hit = ScreeningIndex.build([entry]).screen(Query("Abu Mufid"), floor=0.0)[0]
    assert hit.matched_name == "Abu Mufid" and hit.score == pytest.approx(0.9)
    assert [f.name for f in hit.features][:2] == ["name", "weak_alias"]


_INDEX = ScreeningIndex.build(
    [
        ListEntry("t", str(i), "SDN", schema, name)
        for i, (schema, name) in enumerate(
            [
                ("Organization", "Banco Nacional de Cuba"),
                ("Person", "ZHANG, Wei"),
                ("Organization", "华为技术有限公司"),
                ("Person", "Владимир Путин"),
                ("Organization", "CETC 13"),
            ]
        )
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_screened_or_refused_as_a_name(text: str) -> None:
    try:
        hits = _INDEX.screen(Query(text), floor=0.0)
    except UnscreenableName:
        return
    assert all(0.0 <= h.score <= 1.0 and h.features for h in hits)


@pytest.mark.parametrize(
    "ofac, expected",
    [
        ("10 Dec 1948", ["1948-12-10"]),
        ("Mar 1961", ["1961-03"]),
        ("circa 1955", ["1955"]),
        ("1960 to 1962", ["1960", "1961", "1962"]),
        ("unknown", []),
    ],
)
def test_ofac_dates_of_birth(ofac: str, expected: list[str]) -> None:
    from tiergate.screen.ingest import birth_dates

    assert birth_dates(ofac) == expected


def test_date_of_birth_is_supporting_or_contrary_evidence() -> None:
    entry = ListEntry("t", "1", "SDN", "Person", "WONG, Moon Chi", birth_dates=("1961-03-18", "1945"))
    index = ScreeningIndex.build([entry])

    def screen(dob: str | None) -> tuple[float, set[str]]:
        hit = index.screen(Query("Moon Chi Wong", "Person", birth_date=dob), floor=0.0)[0]
        return hit.score, {f.name for f in hit.features}

    plain, _ = screen(None)
    same, same_features = screen("1961-03-18")
    year, year_features = screen("1945")
    other, other_features = screen("1980-01-01")
    assert same == plain == 1.0 and "birth_date_match" in same_features
    assert year == plain and not {"birth_date_match", "birth_year_mismatch"} & year_features
    assert other == pytest.approx(plain - 0.15) and "birth_year_mismatch" in other_features
