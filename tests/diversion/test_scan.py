"""Scenarios of the diversion digest (T1-T11) on generated and hand-written shipments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tiergate.diversion import FLAGS, HARD_STOPS, run_scan
from tiergate.diversion.generate import PARTY_COLUMNS, SHIPMENT_COLUMNS
from tiergate.errors import InputError

from .conftest import Scanned, write_csv

HELD = ("high", "block")


def _codes(case: dict[str, Any]) -> set[str]:
    return {f["code"] for f in case["flags"]}


def test_every_flag_has_citation_shipments_and_why(scanned: Scanned) -> None:
    assert scanned.result.cases
    for case in scanned.result.cases:
        for flag in case.flags:
            assert flag.citation and flag.why and flag.shipments, flag
            assert flag.code in FLAGS or flag.code in HARD_STOPS
            assert set(flag.shipments) <= set(case.shipments)
            if flag.code in FLAGS:
                assert 0 < flag.points <= FLAGS[flag.code].cap


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        (
            "alx-forwarder",
            {"F2-declared-goods", "F4-hub-route", "F5-forwarder-consignee", "F6-new-entity", "F9-payer-mismatch",
             "F12-split-lots"},
        ),
        ("janford-realtor", {"F18-business-fit", "F4-hub-route", "F9-payer-mismatch", "F15-documents"}),
        ("gatekeeper-relabel", {"F13-relabel-serials", "F2-declared-goods", "F5-forwarder-consignee", "F4-hub-route"}),
        ("supermicro-serials", {"F13-relabel-serials", "F4-hub-route"}),
        ("cover-goods", {"F20-cover-goods", "F3-unit-value", "F4-hub-route"}),
        ("split-lots", {"F12-split-lots", "F7-address"}),
        ("megaspeed-capacity", {"F10-no-datacentre", "F14-check-inconclusive", "F17-ownership"}),
        ("chiplet-sum", {"F21-chiplet-sum", "F9-payer-mismatch"}),
    ],
)  # fmt: skip
def test_planted_scheme_is_a_case_with_its_flags(scanned: Scanned, scheme: str, expected: set[str]) -> None:
    cases = scanned.cases_of(scheme)
    assert len(cases) == 2, scheme
    for case in cases:
        assert expected <= _codes(case), (scheme, _codes(case))
        if scheme != "chiplet-sum":
            assert case["level"] in HELD and case["score"] >= 60, case


def test_serials_flag_cites_both_shipments(scanned: Scanned) -> None:
    for case in scanned.cases_of("supermicro-serials"):
        flag = next(f for f in case["flags"] if f["code"] == "F13-relabel-serials")
        ids = {
            s
            for s, label in scanned.labels.items()
            if label["network"] in {scanned.labels[x]["network"] for x in case["shipments"]}
        }
        assert len(set(flag["shipments"]) & ids) == 2


@pytest.mark.parametrize(
    ("scheme", "code"),
    [
        ("listed-address", "H1-listed-address"),
        ("d5-no-licence", "H2-d5-no-licence"),
        ("failed-check", "H3-check-failed"),
    ],
)
def test_hard_stops_block(scanned: Scanned, scheme: str, code: str) -> None:
    cases = scanned.cases_of(scheme)
    assert cases
    for case in cases:
        assert case["level"] == "block"
        assert code in _codes(case)


def test_legitimate_hub_traffic_and_decoys_are_not_held(scanned: Scanned) -> None:
    held = {s for c in scanned.result.cases if c.level in HELD for s in c.shipments}
    for kind in ("legit-hub", "decoy", "legit", "background"):
        ids = {s for s, label in scanned.labels.items() if label["kind"] == kind}
        assert ids and not held & ids, kind


def test_split_lot_alone_is_low(scanned: Scanned, tmp_path: Path) -> None:
    import csv

    lot = next(s for s, label in scanned.labels.items() if label["scheme"] == "split-lots")
    with scanned.made.shipments.open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["id"] == lot)
    one = write_csv(tmp_path / "one.csv", [row], SHIPMENT_COLUMNS)
    result = run_scan(one, scanned.made.parties)
    assert [c.level for c in result.cases] == ["low"]
    assert result.cases[0].score < 35


# ---------------------------------------------------------------- hand-written shipments

PARTY = {
    "id": "X1", "name": "Example Compute Pte Ltd", "country": "SG", "address": "1 Example Road, Singapore 000001",
    "address_type": "commercial", "incorporated": "2010-01-01", "website": "https://example.sg",
    "email_domain": "example.sg", "naics": "518210", "is_forwarder": "false", "site_mw": "50",
}  # fmt: skip
SHIP = {
    "id": "T8", "date": "2025-06-01", "exporter": "Exporter Inc", "exporter_country": "US", "consignee_id": "X1",
    "hs_code": "854231", "description": "GPU accelerator", "product": "nvidia-h100-sxm", "brand": "NVIDIA",
    "quantity": "16", "value_usd": "48000", "gross_kg": "48", "route": "US>SG", "payer_name": "Example Compute Pte Ltd",
    "payer_country": "SG", "end_use_check": "none",
}  # fmt: skip


def _scan(tmp_path: Path, ships: list[dict[str, Any]], parties: list[dict[str, Any]] | None = None) -> Any:
    s = write_csv(tmp_path / "s.csv", ships, SHIPMENT_COLUMNS)
    p = write_csv(tmp_path / "p.csv", parties or [PARTY], PARTY_COLUMNS)
    return run_scan(s, p)


def test_unit_value_far_below_reference(tmp_path: Path) -> None:
    result = _scan(tmp_path, [SHIP])  # 16 H100 at $3,000 each
    flag = next(f for c in result.cases for f in c.flags if f.code == "F3-unit-value")
    assert flag.points == 20 and flag.shipments == ["T8"]


def test_missing_payer_is_insufficient_data_not_points(tmp_path: Path) -> None:
    ship = {**SHIP, "value_usd": "640000", "payer_name": "", "payer_country": ""}
    result = _scan(tmp_path, [ship])
    assert not any(f.code == "F9-payer-mismatch" for c in result.cases for f in c.flags)
    text = json.dumps(result.notes)
    assert "insufficient data" in text and "payer_country" in text


def test_row_with_most_fields_missing_does_not_crash(tmp_path: Path) -> None:
    result = _scan(tmp_path, [{"id": "bare"}, {"id": "T9", "product": "nvidia-h100-sxm", "quantity": "8"}])
    assert result.shipments == 2
    assert "insufficient data" in json.dumps(result.notes)


def test_malformed_row_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    good = {**SHIP, "id": "ok", "value_usd": "640000"}
    result = _scan(tmp_path, [good, {**SHIP, "id": "bad", "quantity": "many"}, {**SHIP, "id": "bad2", "date": "June"}])
    assert result.shipments == 1
    where = [(p.file.endswith("s.csv"), p.line, p.column) for p in result.problems]
    assert where == [(True, 3, "quantity"), (True, 4, "date")]
    assert "'many' is not a whole number" in str(result.problems[0])


def test_unknown_chip_id_gets_suggestions(tmp_path: Path) -> None:
    result = _scan(tmp_path, [{**SHIP, "product": "nvidia-h100-sxn"}])
    note = next(n for n in result.notes if n.get("product") == "nvidia-h100-sxn")
    assert "nvidia-h100-sxm" in note["suggestions"]


def test_jsonl_and_parquet_give_the_same_cases(scanned: Scanned, tmp_path: Path) -> None:
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    with scanned.made.shipments.open() as handle:
        rows = list(csv.DictReader(handle))[:300]
    c = write_csv(tmp_path / "s.csv", rows, SHIPMENT_COLUMNS)
    j = tmp_path / "s.jsonl"
    j.write_text("".join(json.dumps({k: v for k, v in r.items() if v != ""}) + "\n" for r in rows))
    table = pa.table({k: pa.array([r[k] or None for r in rows], pa.string()) for k in SHIPMENT_COLUMNS})
    pq.write_table(table, tmp_path / "s.parquet")
    runs = [run_scan(f, scanned.made.parties) for f in (c, j, tmp_path / "s.parquet")]
    dumps = [[case.to_dict() for case in r.cases] for r in runs]
    assert dumps[0] == dumps[1] == dumps[2]
    assert dumps[0]


def test_unreadable_inputs_stop_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        run_scan(tmp_path / "absent.csv")
    bad = tmp_path / "s.xlsx"
    bad.write_text("x")
    with pytest.raises(InputError, match=r"not a \.csv"):
        run_scan(bad)
    header = tmp_path / "h.csv"
    header.write_text("date,product\n2025-01-01,x\n")
    with pytest.raises(InputError, match="missing column"):
        run_scan(header)


def test_listed_name_blocks_until_an_analyst_clears_the_hit(scanned: Scanned, tmp_path: Path) -> None:
    from tiergate.screen.service import party_form
    from tiergate.screen.store import ListStore

    listed = json.loads(scanned.made.lists.read_text())["entities"][0]
    party = {**PARTY, "id": "L1", "name": listed["name"], "country": "CN", "address": "9 Other Road, Beijing 100000"}
    ship = {**SHIP, "id": "L-ship", "consignee_id": "L1", "value_usd": "640000", "licence": "D123456"}
    s = write_csv(tmp_path / "s.csv", [ship], SHIPMENT_COLUMNS)
    p = write_csv(tmp_path / "p.csv", [party], PARTY_COLUMNS)
    store_url = f"sqlite:///{tmp_path / 'lists.db'}"
    import shutil

    shutil.copy(scanned.lists.removeprefix("sqlite:///"), tmp_path / "lists.db")
    case = run_scan(s, p, lists_url=store_url).cases[0]
    assert case.level == "block" and case.flags[0].code == "H1-listed-party"
    assert listed["name"] in case.flags[0].why
    store = ListStore(store_url)
    same_name = [e for e in store.list_entries() if e.name == listed["name"]]
    form = party_form(party["name"], party["country"])  # a clearance holds for the party it was made for
    for entry in same_name[:-1]:  # each listing is decided on its own: one cleared leaves the next one blocking
        store.decide("L1", entry, "cleared", "a different company (registry checked)", "analyst", bound_to=form)
    if len(same_name) > 1:
        assert run_scan(s, p, lists_url=store_url).cases[0].level == "block"
    store.decide("L1", same_name[-1], "cleared", "a different company (registry checked)", "analyst", bound_to=form)
    store.close()
    after = run_scan(s, p, lists_url=store_url).cases
    assert all(c.level != "block" for c in after), ([e.key for e in same_name], [f.why for c in after for f in c.flags])


def test_epoch_documented_capacity_counts_for_a_party_without_site_mw(tmp_path: Path) -> None:
    party = {**PARTY, "id": "G1", "name": "G42 Cloud LLC", "country": "AE", "site_mw": ""}
    ships = [
        {**SHIP, "id": "small", "consignee_id": "G1", "value_usd": "640000", "payer_name": "G42 Cloud LLC",
         "payer_country": "AE", "route": "US>AE"},
        {**SHIP, "id": "large", "consignee_id": "G1", "quantity": "4096", "value_usd": "163840000",
         "payer_name": "G42 Cloud LLC", "payer_country": "AE", "route": "US>AE"},
    ]  # fmt: skip
    result = _scan(tmp_path, ships, [party])
    flags = [f for c in result.cases for f in c.flags if f.code == "F10-no-datacentre"]
    assert [f.shipments for f in flags] == [["large"]]
    assert "Epoch AI: G42" in flags[0].why


def test_consignees_sharing_a_small_forwarder_are_one_network(tmp_path: Path) -> None:
    """The forwarder link is by the shipment's forwarder (its name), not by whether the consignee is a forwarder
    (the scan once linked parties by that yes/no value, so no forwarder link ever formed)."""
    other = {**PARTY, "id": "X2", "name": "Other Servers Sdn Bhd", "country": "MY", "address": "2 Jalan Lain, 50000",
             "website": "https://other.my", "email_domain": "other.my"}  # fmt: skip
    ships = [
        {**SHIP, "forwarder": "Tiny Freight Ltd"},  # each alone a case (F3: $3,000 an H100)
        {**SHIP, "id": "T9", "consignee_id": "X2", "forwarder": "Tiny Freight Ltd",
         "route": "US>MY", "payer_name": "Other Servers Sdn Bhd", "payer_country": "MY"},
    ]  # fmt: skip
    result = _scan(tmp_path, ships, [PARTY, other])
    linked = [c for c in result.cases if {"X1", "X2"} <= set(c.parties)]
    assert linked, [c.parties for c in result.cases]
    assert any(link.get("kind") == "forwarder" or "Tiny Freight" in json.dumps(link) for link in linked[0].links)
    apart = _scan(tmp_path, [ships[0], {**ships[1], "forwarder": "Another Freight Ltd"}], [PARTY, other])
    assert len(apart.cases) == 2 and not any({"X1", "X2"} <= set(c.parties) for c in apart.cases)


def test_generated_new_signals_fire_where_planted(scanned: Scanned) -> None:
    """The generator plants the later arms inside their schemes: the Megaspeed-like site visit found the kit boxed
    and its supplier is owned by a listed firm; the ALX-like payer used three forwarders; the Gatekeeper-like
    relabelled lots carry serials the registry says were never issued; the Janford-like invoice names the payer."""
    for case in scanned.cases_of("megaspeed-capacity"):
        flags = {f["code"]: f for f in case["flags"]}
        assert flags["F10-no-datacentre"]["points"] == 25 and "still boxed" in flags["F10-no-datacentre"]["why"]
        assert "is owned by" in flags["F17-ownership"]["why"]
    for case in scanned.cases_of("alx-forwarder"):
        f12 = next(f for f in case["flags"] if f["code"] == "F12-split-lots")
        assert "forwarders for one buyer" in f12["why"]
    for case in scanned.cases_of("gatekeeper-relabel"):
        f13 = next(f for f in case["flags"] if f["code"] == "F13-relabel-serials")
        assert "not issued by nvidia" in f13["why"]
    for case in scanned.cases_of("janford-realtor"):
        f15 = next(f for f in case["flags"] if f["code"] == "F15-documents")
        assert "the invoice names" in f15["why"]
    for decoy in ("boxed-visit-only", "affiliated-supplier-only", "three-forwarders-only", "invoice-party-only",
                  "serial-not-issued-only"):  # fmt: skip
        cases = scanned.cases_of(decoy)
        assert cases and all(c["level"] == "low" for c in cases), decoy
