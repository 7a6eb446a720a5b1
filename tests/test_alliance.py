"""Allied jurisdictions (issue 16): the combined decision's invariants, the US fast path, bad input that names
the field and suggests ids, shared denials through the CLI and the HTTP API, allied lists read in their
published formats and fed to the law whose list it is. The legal answers themselves are golden cases
(tests/golden/cases/alliance.yaml)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import tiergate
from tiergate.batch import Record, decide_stream
from tiergate.cli import app
from tiergate.decide.model import OUTCOMES, Listing
from tiergate.errors import InputError, UnknownEquipmentError, UnknownJurisdictionError
from tiergate.interchange import decision_to_dict
from tiergate.screen import ListFileError, read_lists
from tiergate.screen.index import ScreeningIndex
from tiergate.screen.licensing import ConsigneeScreening
from tiergate.screen.service import Screener

ALLIED = Path(__file__).parent / "screen" / "data" / "allied"
CN = {"name": "Hua Hong Foundry Co", "country": "CN", "headquarters": "CN"}


def _decide(book: tiergate.Rulebook, data: dict[str, Any], **kwargs: Any) -> tiergate.Decision:
    return tiergate.determine(tiergate.parse_transaction(data, book.catalogue), book, **kwargs)


# ---------------------------------------------------------------- the combined decision


TOOLS = ["asml-nxt-2000i", "asml-nxt-1980i", "asml-nxe-3400c", "tel-tactras-etch", "wonik-ips-ald", "screen-su-3200"]
CHIPS = ["nvidia-h100-sxm", "nvidia-h20", "skhynix-hbm3e-12h", "nvidia-rtx-4090"]
FROM = ["NL", "DE", "FR", "JP", "KR", "GB", "TW", "SG", "US"]
TO = ["CN", "US", "JP", "DE", "IN", "SG", "KR", "NL", "AE", "MY"]


@st.composite
def _allied_transactions(draw: Any) -> dict[str, Any]:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        item: dict[str, Any] = (
            {"equipment": draw(st.sampled_from(TOOLS))}
            if draw(st.booleans())
            else {"chip": draw(st.sampled_from(CHIPS))}
        )
        item["quantity"] = draw(st.integers(1, 500))
        if draw(st.booleans()):
            item["origin"] = draw(st.sampled_from(["US", "TW", "KR", "NL", "JP"]))
        if draw(st.booleans()):
            item["us_content_pct"] = draw(st.sampled_from([0, 10, 30]))
        if draw(st.booleans()):
            item["made_with_us_technology"] = draw(st.booleans())
        items.append(item)
    destination = draw(st.sampled_from(TO))
    return {
        "date": draw(st.dates(dt.date(2023, 11, 17), dt.date(2026, 6, 30))).isoformat(),
        "export_from": draw(st.sampled_from(FROM)),
        "destination": destination,
        "items": items,
        "consignee": {"name": "Party Co", "country": destination, "headquarters": draw(st.sampled_from(TO))},
        "end_use": draw(st.sampled_from([None, "advanced_node_fab"])),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_allied_transactions())
def test_the_top_level_is_the_strictest_answer_and_no_authorisation_cancels_a_licence(
    book: tiergate.Rulebook, data: dict[str, Any]
) -> None:
    decision = _decide(book, data)
    reached = [j for j in decision.jurisdictions if j.reached]
    if not decision.jurisdictions:  # the US fast path (exported from a country with no pack, chips only)
        assert data["export_from"] not in book.territory_laws
        return
    strictest = max((OUTCOMES.index(j.outcome) for j in reached), default=0)
    assert OUTCOMES.index(decision.outcome) == strictest
    if any(j.outcome == "license_required" for j in reached):
        assert decision.outcome in ("license_required", "prohibited"), "an authorisation cancelled a licence"
    for item in decision.items:  # each item is as strict as its strictest law
        worst = max(
            (OUTCOMES.index(j.items[item.index].outcome) for j in reached if j.items),
            default=0,
        )
        assert OUTCOMES.index(item.outcome) == worst
    assert set(decision.rules) == {r for j in reached for r in j.rules}


def test_a_us_only_transaction_takes_the_fast_path_and_keeps_its_shape(book: tiergate.Rulebook) -> None:
    data = {
        "date": "2025-06-01",
        "destination": "CN",
        "items": [{"chip": "nvidia-h100-sxm", "quantity": 8}],
        "consignee": CN,
    }
    txn = tiergate.parse_transaction(data, book.catalogue)
    ruleset, _ = book.select(None, txn.date)
    decision = tiergate.determine(txn, book)
    assert decision.jurisdictions == ()
    assert "jurisdictions" not in decision_to_dict(decision)
    assert decision == tiergate.decide(txn, ruleset, selection=decision.explanation[1])
    reexport = _decide(book, {**data, "export_from": "SG"})  # no Singapore pack: US law alone, as before
    assert reexport.jurisdictions == () and reexport.outcome == "license_required"


GOLDEN = Path(__file__).parent / "golden" / "cases"


def _us_golden_cases() -> list[Any]:
    import yaml

    found = []
    for file in sorted(GOLDEN.glob("*.yaml")):
        if file.stem == "alliance":
            continue
        for case in yaml.safe_load(file.read_text(encoding="utf-8")) or []:
            if case["transaction"].get("export_from", "US") == "US":
                found.append(pytest.param(case, id=case["name"]))
    return found


@pytest.mark.parametrize("case", _us_golden_cases())
def test_origin_facts_do_not_change_a_us_export(case: dict[str, Any], book: tiergate.Rulebook) -> None:
    """Review fix: a US golden case with its items' origin stated (US-origin, or PRC-made) takes the combined path
    and must give the US-only answer; a Huawei Ascend sold inside the US (General Prohibition 10) was NLR and a
    sale inside the US lost its rule ids."""
    plain = _decide(book, case["transaction"], regime=case.get("regime"), balances=case.get("balances"))
    want = (plain.outcome, plain.authorization, plain.review_policy, sorted(plain.rules), [i.eccn for i in plain.items])
    for origin in ({"origin": "US"}, {"origin": "CN", "us_content_pct": 0, "made_with_us_technology": False}):
        data = {**case["transaction"], "items": [{**item, **origin} for item in case["transaction"]["items"]]}
        got = _decide(book, data, regime=case.get("regime"), balances=case.get("balances"))
        assert (
            got.outcome,
            got.authorization,
            got.review_policy,
            sorted(got.rules),
            [i.eccn for i in got.items],
        ) == want


def test_a_tool_given_as_a_spec_is_judged_by_its_parameters(book: tiergate.Rulebook) -> None:
    spec = {"name": "Scanner", "category": "lithography.immersion_duv", "us_eccn": "3B001.f.1", "made_in": "NL"}
    base = {"date": "2025-06-01", "export_from": "NL", "destination": "CN", "consignee": CN}
    tight = _decide(
        book,
        {
            **base,
            "items": [
                {"equipment": {**spec, "parameters": {"dco_overlay_nm": 1.2}}, "quantity": 1, "us_content_pct": 0}
            ],
        },
    )
    loose = _decide(
        book,
        {
            **base,
            "items": [
                {"equipment": {**spec, "parameters": {"dco_overlay_nm": 3.0}}, "quantity": 1, "us_content_pct": 0}
            ],
        },
    )
    nl = {d.jurisdictions[0].jurisdiction: d.jurisdictions[0] for d in (tight, loose)}
    assert tight.jurisdictions[0].outcome == "license_required" and not tight.jurisdictions[0].indeterminate
    # 3.0 nm is outside both overlay bands, but the bands are recalled: a review, never a silent "no" (review fix)
    assert loose.jurisdictions[0].outcome == "license_required" and loose.jurisdictions[0].indeterminate
    assert "but the threshold is recalled" in "\n".join(loose.explanation)
    assert set(nl) == {"NL"}


# ---------------------------------------------------------------- bad input


def test_an_unknown_equipment_id_names_the_field_and_the_nearest_ids(book: tiergate.Rulebook) -> None:
    data = {
        "date": "2025-06-01",
        "export_from": "NL",
        "destination": "CN",
        "consignee": CN,
        "items": [{"equipment": "asml-nxt-2000", "quantity": 1}],
    }
    with pytest.raises(UnknownEquipmentError) as caught:
        tiergate.parse_transaction(data, book.catalogue, where="order.json")
    assert "items[0].equipment" in str(caught.value) and "asml-nxt-2000i" in str(caught.value)


@pytest.mark.parametrize(("origin", "suggested"), [("UK", "GB"), ("Japan", "JP"), ("JQ", "JP")])
def test_an_unknown_origin_code_names_the_field_and_suggests(
    book: tiergate.Rulebook, origin: str, suggested: str
) -> None:
    data = {
        "date": "2025-06-01",
        "export_from": "NL",
        "destination": "CN",
        "consignee": CN,
        "items": [{"equipment": "asml-nxt-2000i", "quantity": 1, "origin": origin}],
    }
    with pytest.raises(InputError) as caught:
        tiergate.parse_transaction(data, book.catalogue, where="order.json")
    assert "items[0].origin" in str(caught.value) and suggested in str(caught.value)


def test_an_unknown_jurisdiction_names_the_field_and_suggests(book: tiergate.Rulebook) -> None:
    with pytest.raises(UnknownJurisdictionError) as caught:
        book.jurisdiction("NK", where="--jurisdiction")
    assert "NL" in str(caught.value) and "--jurisdiction" in str(caught.value)
    from tiergate.denials.model import parse_denial

    with pytest.raises(UnknownJurisdictionError) as denied:
        parse_denial(
            {
                "id": "x",
                "jurisdiction": "EX",
                "date": "2024-01-01",
                "control_keys": ["3B001"],
                "destination": "CN",
                "end_user": {"name": "E"},
            },
            where="denials.json:1",
        )
    assert "denials.json:1: jurisdiction" in str(denied.value) and "EU" in str(denied.value)


def test_an_hbm_stack_given_as_equipment_says_to_give_it_as_a_chip(book: tiergate.Rulebook) -> None:
    data = {
        "date": "2025-06-01",
        "export_from": "KR",
        "destination": "CN",
        "consignee": CN,
        "items": [{"equipment": "skhynix-hbm3e-12h", "quantity": 1}],
    }
    with pytest.raises(InputError, match=r'give it as \{"chip"'):
        tiergate.parse_transaction(data, book.catalogue)


def test_an_alliance_pack_in_a_us_regime_is_refused(tmp_path: Path) -> None:
    from tiergate.errors import PackError

    (tmp_path / "regimes.yaml").write_text(
        "regimes:\n  - name: mixed\n    title: t\n    packs: [us-2023-10, nl-2023-09]\n", encoding="utf-8"
    )
    with pytest.raises(PackError, match="alliance pack"):
        tiergate.load_rulebook([tmp_path])


# ---------------------------------------------------------------- allied lists


def test_allied_lists_are_read_in_their_published_formats() -> None:
    sets = {ds.format: ds for ds in read_lists(sorted(p for p in ALLIED.iterdir() if p.suffix != ".py"))}
    assert set(sets) == {"eu-fsf-xml", "uk-sanctions-list-xml", "jp-eul-pdf", "tw-shtc-csv"}
    eu = {e.entry_id: e for e in sets["eu-fsf-xml"].entries}
    assert eu["EU.1234.56"].list_code == "EU-FSF" and eu["EU.1234.56"].schema == "Organization"
    assert eu["EU.1234.56"].weak_aliases == ("GFT LLC",) and eu["EU.1234.56"].listed_on == "2024-05-01"
    assert eu["EU.5678.90"].countries == ("RU",) and eu["EU.5678.90"].identifiers[0].value == "751234567"
    uk = {e.entry_id: e for e in sets["uk-sanctions-list-xml"].entries}
    assert uk["RUS1234"].aliases == ("GFT Trading",) and uk["RUS0001"].name == "Ivan Examplov"
    assert sets["uk-sanctions-list-xml"].file_date == "2025-11-21"
    jp = {e.entry_id: e for e in sets["jp-eul-pdf"].entries}
    assert jp["612"].name == "Beijing Example Institute of Aerodynamics" and jp["612"].countries == ("CN",)
    assert jp["613"].aliases == ("EETC", "EETC Group") and jp["613"].programs == ("N", "M")
    tw = {e.entry_id: e for e in sets["tw-shtc-csv"].entries}
    assert tw["1"].aliases == ("Huawei", "華為技術有限公司")
    assert tw["3"].name == "Example Trading Company" and tw["3"].identifiers[-1].value == "KPe.001"


def test_a_japanese_name_in_brackets_becomes_an_alias() -> None:
    from tiergate.screen.ingest import _jp_entry

    entry = _jp_entry(
        Path("eul.pdf"),
        {
            "no": "7",
            "name": "Example Institute (例研究所)",
            "country": "China",
            "aka": "EI・Example Inst",
            "wmd": "M、N",
        },
        1,
    )
    assert entry.name == "Example Institute" and entry.aliases == ("例研究所", "EI", "Example Inst")
    assert entry.programs == ("M", "N")


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        (
            "fsf.xml",
            '<export xmlns="http://eu.europa.ec/fpi/fsd/export"><sanctionEntity logicalId="1">'
            "<subjectType code='person'/></sanctionEntity></export>",
            "has no name",
        ),
        ("UK_Sanctions_List.xml", "<Designations><Designation><Names/></Designation>", "malformed XML"),
        ("shtc.csv", "項次item,名稱name\n1,X\n", "missing column(s)"),
    ],
)
def test_a_bad_allied_list_file_is_refused_naming_where(tmp_path: Path, name: str, body: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ListFileError) as caught:
        read_lists([path])
    assert message in str(caught.value) and name in str(caught.value)


def test_a_pdf_that_is_not_the_end_user_list_is_refused(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    with pdf.table() as table:
        for row in (("Item", "Price"), ("1", "2")):
            cells = table.row()
            for value in row:
                cells.cell(value)
    path = tmp_path / "other.pdf"
    pdf.output(str(path))
    with pytest.raises(ListFileError, match="header is not the End User List"):
        read_lists([path])


def test_a_hit_on_an_allied_list_feeds_the_law_whose_list_it_is(book: tiergate.Rulebook) -> None:
    entries = [e for ds in read_lists([ALLIED / "jp_end_user_list_sample.pdf"]) for e in ds.entries]
    screener = Screener(ScreeningIndex.build(entries))
    order = {
        "date": "2025-03-01",
        "destination": "CN",
        "items": [
            {
                "chip": {"name": "Edge ASIC", "datacenter": False, "dense_tops": {"int8": 50}, "die_area_mm2": 100},
                "quantity": 10,
                "origin": "JP",
                "us_content_pct": 0,
                "made_with_us_technology": False,
            }
        ],
        "consignee": {"name": "Beijing Example Institute of Aerodynamics", "country": "CN", "headquarters": "CN"},
    }
    records = [Record({**order, "export_from": "JP"}, "a"), Record({**order, "export_from": "US"}, "b")]
    screening = ConsigneeScreening(records, screener)
    decided = list(
        screening.adjust(
            decide_stream(
                screening.records(),
                book,
                regime=None,
                as_of=None,
                today=dt.date(2025, 3, 1),
                listings_of=screening.listings_of,
            )
        )
    )
    from_japan, from_us = decided
    japan = {j.jurisdiction: j for j in from_japan.jurisdictions}["JP"]
    assert japan.outcome == "license_required" and "jp-2023-07/end-user-list" in japan.rules
    assert from_us.outcome == "no_license_required", "a Japanese list does not reach a US export"


# ---------------------------------------------------------------- shared denials: CLI and API


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_denials_add_list_import_and_a_decision_that_must_consult(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiergate.cli import main  # noqa: F401  (the entry point the console script runs)

    monkeypatch.chdir(tmp_path)  # `decide` screens against the list store of the working folder

    db = f"sqlite:///{tmp_path / 'store.db'}"
    added = _cli(
        "denials",
        "add",
        "--id",
        "NL-1",
        "--jurisdiction",
        "NL",
        "--date",
        "2024-06-01",
        "--item",
        "3B001.f.1",
        "--destination",
        "CN",
        "--end-user",
        "Hua Hong Foundry Co",
        "--db",
        db,
    )
    assert added.exit_code == 0, added.output
    notices = tmp_path / "notices.jsonl"
    notices.write_text(
        json.dumps(
            {
                "id": "DE-7",
                "jurisdiction": "DE",
                "date": "2025-01-10",
                "control_keys": ["etch.dry"],
                "destination": "RU",
                "end_user": {"name": "Other Co"},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    assert _cli("denials", "import", str(notices), "--db", db).exit_code == 0
    listed = _cli("denials", "list", "--format", "json", "--db", db)
    assert [d["id"] for d in json.loads(listed.output)] == ["NL-1", "DE-7"]
    assert json.loads(listed.output)[0]["expires"] == "2027-06-01"
    order = tmp_path / "order.json"
    order.write_text(
        json.dumps(
            {
                "date": "2025-12-01",
                "export_from": "FR",
                "destination": "CN",
                "consignee": CN,
                "items": [
                    {
                        "equipment": "asml-nxe-3400c",
                        "quantity": 1,
                        "origin": "NL",
                        "us_content_pct": 10,
                        "made_with_us_technology": True,
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    decided = _cli("decide", str(order), "--format", "json", "--denials", db)
    assert decided.exit_code == 0, decided.output
    eu = {j["jurisdiction"]: j for j in json.loads(decided.output)["jurisdictions"]}["EU"]
    assert any("CONSULT_REQUIRED" in n and "NL-1" in n for n in eu["notices"])
    without = json.loads(_cli("decide", str(order), "--format", "json").output)
    assert not any("CONSULT" in n for j in without["jurisdictions"] for n in j["notices"])


def test_denials_bad_input_is_one_line_naming_the_field(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "X", "jurisdiction": "NLD", "date": "2024-01-01", "control_keys": ["3B001"], '
        '"destination": "CN", "end_user": {"name": "E"}}\n',
        encoding="utf-8",
    )
    with pytest.raises(UnknownJurisdictionError, match=r"bad.jsonl:1: jurisdiction"):
        _cli("denials", "import", str(bad), "--db", db)
    twice = [
        "denials",
        "add",
        "--id",
        "A",
        "--jurisdiction",
        "JP",
        "--date",
        "2024-01-01",
        "--item",
        "etch.dry",
        "--destination",
        "CN",
        "--end-user",
        "E",
        "--db",
        db,
    ]
    assert _cli(*twice).exit_code == 0
    with pytest.raises(InputError, match="already held"):
        _cli(*twice)


def test_equipment_cli_lists_and_shows() -> None:
    listed = json.loads(_cli("equipment", "list", "--format", "json").output)
    assert "asml-nxt-2000i" in {t["id"] for t in listed["equipment"]}
    assert "skhynix-hbm3e-12h" in {s["id"] for s in listed["hbm_stacks"]}
    assert json.loads(_cli("equipment", "show", "NXT:1980i").output)["id"] == "asml-nxt-1980i"
    with pytest.raises(UnknownEquipmentError, match="asml-nxt-2000i"):
        _cli("equipment", "show", "asml-nxt-200")


def test_api_denials_and_a_combined_decision(tmp_path: Path, book: tiergate.Rulebook) -> None:
    from tests.api.conftest import make_api

    api = make_api(tmp_path, book, screening=False)
    notice = {
        "id": "NL-9",
        "jurisdiction": "NL",
        "date": "2024-06-01",
        "control_keys": ["3B001.f.1"],
        "destination": "JP",
        "end_user": {"name": "Kumamoto Fab KK"},
    }
    kept = api.post("/v1/denials", json=notice)
    assert kept.status_code == 201, kept.text
    assert api.post("/v1/denials", json=notice).status_code == 409
    assert [d["id"] for d in api.get("/v1/denials").json()] == ["NL-9"]
    bad = api.post("/v1/denials", json={**notice, "id": "Z", "jurisdiction": "ZZ"})
    assert bad.status_code == 422 and "jurisdiction" in bad.text
    order = {
        "date": "2025-03-01",
        "export_from": "DE",
        "destination": "JP",
        "consignee": {"name": "Kumamoto Fab KK", "headquarters": "JP"},
        "items": [{"equipment": "asml-nxe-3400c", "quantity": 1, "origin": "NL", "us_content_pct": 10}],
    }
    decision = api.post("/v1/decide", json=order).json()
    eu = {j["jurisdiction"]: j for j in decision["jurisdictions"]}["EU"]
    assert decision["outcome"] == "license_required" and eu["authorization"] == "license"
    assert any("CONSULT_REQUIRED" in n for n in eu["notices"])
    unknown = api.post("/v1/decide", json={**order, "items": [{"equipment": "asml-nxe-340", "quantity": 1}]})
    assert unknown.status_code == 422 and "asml-nxe-3400c" in unknown.text
    assert api.get("/v1/equipment/asml-nxt-2000i").json()["category"] == "lithography.immersion_duv"


def test_listing_dates_are_respected_in_the_core(book: tiergate.Rulebook) -> None:
    order = {
        "date": "2025-06-09",
        "export_from": "TW",
        "destination": "CN",
        "consignee": {"name": "Huawei Technologies Co., Ltd.", "country": "CN", "headquarters": "CN"},
        "items": [
            {
                "equipment": {"name": "Etch", "category": "etch.dry", "us_eccn": "3B001.c", "made_in": "TW"},
                "quantity": 1,
                "us_content_pct": 0,
                "made_with_us_technology": False,
            }
        ],
    }
    listing = Listing("TW-SHTC", "tw:1", "Huawei Technologies Co., Ltd.", dt.date(2025, 6, 10))
    before = _decide(book, order, listings=[listing])
    after = _decide(book, {**order, "date": "2025-06-11"}, listings=[listing])
    tw = [{j.jurisdiction: j for j in d.jurisdictions}["TW"] for d in (before, after)]
    assert "tw-2023-10/entity-list-shtc" not in tw[0].rules and "tw-2023-10/entity-list-shtc" in tw[1].rules
    assert orjson.dumps(decision_to_dict(after))


def test_a_callers_own_id_never_hides_the_very_name_an_ally_denied(book: tiergate.Rulebook) -> None:
    """A denial names its end user by id and name; an order to the same name under the caller's own id for that
    party is the same end user (as a clearance never follows a caller's id to another name)."""
    from tiergate.decide.allied import matching_denials
    from tiergate.denials.model import parse_denial

    notice = {
        "id": "NL-5",
        "jurisdiction": "NL",
        "date": "2024-06-01",
        "control_keys": ["3B001.f.1"],
        "destination": "CN",
        "end_user": {"name": "Hua Hong Foundry Co", "id": "nl-register-118"},
    }
    denial = parse_denial(notice)
    keys = frozenset({"3b001", "3b001.f", "3b001.f.1"})

    def order(consignee: dict[str, str]) -> tiergate.Transaction:
        data = {
            "date": "2025-12-01",
            "destination": "CN",
            "consignee": consignee,
            "items": [{"chip": "H100", "quantity": 1}],
        }
        return tiergate.parse_transaction(data, book.catalogue)

    assert matching_denials([denial], order({**CN, "id": "cust-88"}), keys) == [denial]
    assert matching_denials([denial], order({**CN, "id": "nl-register-118"}), keys) == [denial]
    other = {"name": "Other Foundry Co", "country": "CN", "headquarters": "CN", "id": "nl-register-118"}
    assert matching_denials([denial], order(other), keys) == [denial]  # the notice's own id still counts
    stranger = {"name": "Other Foundry Co", "country": "CN", "headquarters": "CN", "id": "cust-9"}
    assert matching_denials([denial], order(stranger), keys) == []
