"""Issue 21 item 1: look-alike letters, bidirectional overrides, invisible characters and letters separated by
punctuation do not hide a listed name, wherever a name is screened (the index, ``compare``, ``ship``, the API);
the hit says what was undone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tiergate
from tiergate.screen import ListEntry, Query, ScreeningIndex, compare_names, name_form
from tiergate.screen.normalize import clean_text, hostile_text

from .test_screen_cli import DATA, tg

CETC = "China Electronics Technology Group Corporation 13th Research Institute"
# six Cyrillic letters (с, р) among the Latin ones
CETC_LOOKALIKE = "China Eleсtroniсs Teсhnology Grouр Corрoration 13th Researсh Institute"
CETC_REVERSED = "\u202e" + CETC[::-1] + "\u202c"
HUAWEI_CYRILLIC_H = "Нuawei Technologies Co., Ltd."
HUAWEI_DOTTED = "H.u.a.w.e.i Technologies"
HOSTILE = {
    CETC_LOOKALIKE: CETC,
    CETC_REVERSED: CETC,
    HUAWEI_CYRILLIC_H: "Huawei Technologies Co., Ltd.",
    HUAWEI_DOTTED: "Huawei Technologies",
    "Hu\u200bawei\u200d Tech\u2060nologies": "Huawei Technologies",
    "Huawei \u2067Technologies\u2069": "Huawei Technologies",
}


def test_the_fixtures_are_hostile() -> None:
    assert sum(ch in "ср" for ch in CETC_LOOKALIKE) == 6 and CETC_LOOKALIKE != CETC
    assert not CETC_REVERSED[1:].startswith("China")


@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_normalised_as_the_reader_sees_it(hostile: str) -> None:
    plain = HOSTILE[hostile]
    form = name_form(hostile)
    assert form.tokens == name_form(plain).tokens
    assert form.warnings, "the trick is named"


def test_what_was_undone_is_said() -> None:
    _, notes = hostile_text(CETC_LOOKALIKE)
    assert "Cyrillic, Latin" in notes[0] and "U+0441" in notes[0] and "U+0440" in notes[0]
    _, notes = hostile_text(CETC_REVERSED)
    assert "U+202E" in notes[0] and "order a reader sees" in notes[0]
    _, notes = hostile_text(HUAWEI_DOTTED)
    assert "'H.u.a.w.e.i' read as 'Huawei'" in notes[0]


def test_genuine_names_are_left_alone() -> None:
    # a name wholly in Cyrillic is transliterated, not read as look-alikes; initials are not joined
    assert name_form("Ростех").tokens == ("rostekh",)
    assert name_form("J. R. R. Tolkien").tokens == ("j", "r", "r", "tolkien")
    assert name_form("Ростех").warnings == () and name_form("Huawei Technologies").warnings == ()
    # an embedding that reverses nothing keeps the order; right-to-left letters under an override are kept
    assert clean_text("\u202bHuawei\u202c") == "Huawei"
    assert clean_text("\u202eمحمد\u202c") == "محمد"


def test_a_name_of_look_alikes_only_is_screened_both_ways() -> None:
    all_lookalikes = "ВАСН"  # Cyrillic: transliterated "vasn"; read as Latin look-alikes "BACH"
    entry = ListEntry("t", "1", "EL", "Organization", "BACH")
    assert compare_names("vasn", "BACH")[0] < 0.7
    hit = ScreeningIndex.build([entry]).screen(Query(all_lookalikes))[0]
    assert hit.match and "read as 'BACH'" in {f.name: f.detail for f in hit.features}["evasion"]
    assert compare_names(all_lookalikes, "BACH")[0] >= 0.99


def _entries() -> list[ListEntry]:
    return [
        ListEntry("t", "cetc13", "EL", "Organization", CETC + " (CETC 13)", countries=("CN",)),
        ListEntry("t", "huawei", "EL", "Organization", "Huawei Technologies Co., Ltd.", countries=("CN",)),
        ListEntry("t", "cec", "EL", "Organization", "China Electronics Corporation", countries=("CN",)),
    ]


@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_the_index_finds_them_and_flags_them(hostile: str) -> None:
    hits = ScreeningIndex.build(_entries()).screen(Query(hostile))
    want = "cetc13" if "China" in HOSTILE[hostile] else "huawei"
    assert hits and hits[0].entry.entry_id == want and hits[0].match
    explained = {f.name: f.detail for f in hits[0].features}
    assert "evasion" in explained and "name" in explained


def test_ship_refuses_them_from_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lists.db'}"
    assert tg("lists", "load", str(DATA / "lists"), "--db", db, cwd=tmp_path).returncode == 0
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert tg("ledger", "init", "--db", ledger, cwd=tmp_path).returncode == 0
    for i, name in enumerate((CETC_LOOKALIKE, CETC_REVERSED, HUAWEI_CYRILLIC_H, HUAWEI_DOTTED)):
        txn = {
            "id": f"evade-{i}",
            "date": "2026-03-02",
            "destination": "DE",
            "items": [{"chip": "nvidia-h100-sxm", "quantity": 10}],
            "consignee": {"name": name, "country": "DE", "headquarters": "DE"},
        }
        path = tmp_path / f"t{i}.json"
        path.write_text(json.dumps(txn), encoding="utf-8")
        shipped = tg("ship", str(path), "--db", ledger, "--lists", db, cwd=tmp_path)
        assert shipped.returncode != 0 and "not committed" in shipped.stderr, (name, shipped.stdout, shipped.stderr)
        assert "matches" in shipped.stderr and ("Entity List" in shipped.stderr or "SDN" in shipped.stderr)


def test_ship_refuses_them_over_http(tmp_path: Path, book: tiergate.Rulebook) -> None:
    from tests.api.conftest import make_api, sample

    api = make_api(tmp_path, book)  # the bundled sample lists: CETC 13 is on the Entity List
    try:
        before = api.get("/v1/ledger/balances").json()
        for i, name in enumerate((CETC_LOOKALIKE, CETC_REVERSED)):
            txn = {
                **sample("demo-03"),
                "id": f"evade-{i}",
                "consignee": {"name": name, "country": "DE", "headquarters": "DE"},
            }
            answer = api.post("/v1/ship", json=txn)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["committed"] is False and "screen/entity-list" in body["rules"], body
        assert api.get("/v1/ledger/balances").json() == before
    finally:
        api.client.close()
        api.ctx.close()
