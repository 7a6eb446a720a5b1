"""Golden scenarios of the flag arms the first scorer lacked (digest §5 and §7): F10's site visit (T10, Megaspeed-
like), F12's forwarders per buyer, F13's issued-serials registry, F15's documents (invoice and notify parties, changes
after booking), F17's supplier tied to a listed firm, F7's unrelated firms at one address. Each arm fires with its
points, shipments, why and citation, does not fire on the legitimate counterpart, and says "insufficient data"
without its column; a malformed value of a new column is named by file, line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tiergate.diversion import FLAGS, run_scan
from tiergate.diversion.generate import PARTY_COLUMNS, SHIPMENT_COLUMNS

from .conftest import write_csv
from .test_flags import PARTY, SHIP, USER

LISTED_PARENT = "Shenzhen Xinlong Microelectronics Co Ltd"
SUPPLIER = {
    "id": "E1", "name": "Auravis Server Technologies Inc", "country": "US", "address": "9 Server Way, San Jose",
    "address_type": "commercial", "incorporated": "2021-05-01", "website": "https://auravis.example",
    "email_domain": "auravis.example", "naics": "334111", "is_forwarder": "false", "parent": LISTED_PARENT,
    "parent_country": "CN",
}  # fmt: skip


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A list store holding one synthetic Entity List entry: the parent of the supplier above."""
    from tiergate.screen.ingest import read_lists
    from tiergate.screen.store import ListStore

    folder = tmp_path_factory.mktemp("arms-lists")
    doc = {
        "list_id": "bis-entity-list",
        "source_file": "test",
        "extracted": "2026-01-01",
        "count": 1,
        "entities": [
            {
                "name": LISTED_PARENT, "aliases": [], "country": "China", "address": "88 Keji Road, Shenzhen",
                "status": None, "effective_date": "2023-03-02", "federal_register": "88 FR 12983 (test)",
                "notes": "For all items subject to the EAR",
            }
        ],
    }  # fmt: skip
    path = folder / "lists" / "nsfreg_bis_entity_list.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    url = f"sqlite:///{folder / 'lists.db'}"
    store = ListStore(url)
    store.load(read_lists([path]))
    store.close()
    return url


def _scan(
    tmp_path: Path,
    ships: list[dict[str, Any]],
    parties: list[dict[str, Any]] | None = None,
    *,
    columns: tuple[str, ...] = SHIPMENT_COLUMNS,
    party_columns: tuple[str, ...] = PARTY_COLUMNS,
    **kw: Any,
) -> Any:
    s = write_csv(tmp_path / "s.csv", ships, columns)
    p = write_csv(tmp_path / "p.csv", parties or [PARTY, USER], party_columns)
    return run_scan(s, p, **kw)


def _flags(result: Any, code: str) -> list[Any]:
    return [f for c in result.cases for f in c.flags if f.code == code]


def _sub(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


# ---------------------------------------------------------------- T10: Megaspeed-like


def test_t10_megaspeed_like_boxed_kit_and_a_supplier_owned_by_a_listed_firm(tmp_path: Path, lists: str) -> None:
    """A 37 MW site in Malaysia orders more than it can power (40,000 H100: about 42 MW) through a Singapore
    company, from a supplier whose parent is on the Entity List; a visit found the kit still boxed."""
    site = {**USER, "id": "MS-MY", "name": "Megasite Sdn Bhd", "site_mw": "37", "site_visit": "boxed"}
    sg = {**PARTY, "id": "MS-SG", "name": "Megasite Pte Ltd", "site_mw": ""}
    ship = {
        **SHIP, "id": "T10", "exporter": SUPPLIER["name"], "consignee_id": "MS-SG", "end_user_id": "MS-MY",
        "quantity": "40000", "value_usd": "1520000000", "gross_kg": "120000", "route": "US>SG>MY",
        "payer_name": "Megasite Pte Ltd", "payer_country": "SG",
    }  # fmt: skip
    result = _scan(tmp_path, [ship], [site, sg, SUPPLIER], lists_url=lists)
    [case] = result.cases
    assert case.level == "high" and case.score >= 60
    [f10] = _flags(result, "F10-no-datacentre")
    assert f10.points == 25 == FLAGS["F10-no-datacentre"].cap and f10.shipments == ["T10"]
    assert "found the kit still boxed" in f10.why and "Megaspeed" in f10.citation
    [f17] = _flags(result, "F17-ownership")
    assert f17.points == 15 and f17.shipments == ["T10"]
    assert SUPPLIER["name"] in f17.why and LISTED_PARENT in f17.why and "EL entry" in f17.why
    assert "D:5" not in f17.why  # the parties' own parents are not in D:5: only the supplier arm fired

    # the legitimate counterpart: the site can power what it ordered, the kit was found installed, a supplier with
    # no listed owner, shipped straight to the site
    legit_site = {**site, "site_visit": "installed"}
    legit = {
        **ship, "exporter": "Exporter Inc", "consignee_id": "MS-MY", "end_user_id": "", "quantity": "16000",
        "value_usd": "608000000", "route": "US>MY", "payer_name": "Megasite Sdn Bhd", "payer_country": "MY",
    }  # fmt: skip
    clean = _scan(_sub(tmp_path, "legit"), [legit], [legit_site, SUPPLIER], lists_url=lists)
    assert not _flags(clean, "F10-no-datacentre") and not _flags(clean, "F17-ownership")
    assert all(c.score < 35 for c in clean.cases)


def test_f10_visit_found_the_kit_absent_and_an_installed_visit_leaves_the_capacity_arm(tmp_path: Path) -> None:
    absent = {**PARTY, "site_visit": "absent"}
    [flag] = _flags(_scan(tmp_path, [SHIP], [absent, USER]), "F10-no-datacentre")
    assert flag.points == 25 and "found the kit not there" in flag.why
    over = {**PARTY, "site_mw": "0.02", "site_visit": "installed"}
    big = {**SHIP, "quantity": "64"}  # 64 x 0.7 kW x 1.5 = 0.067 MW: more than twice the 0.02 MW site
    [flag] = _flags(_scan(_sub(tmp_path, "cap"), [big], [over, USER]), "F10-no-datacentre")
    assert flag.points == 25 and "documented site 0.02 MW" in flag.why  # the capacity arm, not the visit


def test_without_site_visits_f10_is_noted_and_gets_no_visit_points(tmp_path: Path) -> None:
    columns = tuple(c for c in PARTY_COLUMNS if c != "site_visit")
    result = _scan(tmp_path, [SHIP], party_columns=columns)
    note = next(n for n in result.notes if n.get("columns") == ["site_visit"])
    assert "insufficient data" in note["note"]
    assert not _flags(result, "F10-no-datacentre")


def test_a_malformed_site_visit_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    result = _scan(tmp_path, [SHIP], [PARTY, {**USER, "site_visit": "maybe"}])
    [problem] = result.problems
    assert (Path(problem.file).name, problem.line, problem.column) == ("p.csv", 3, "site_visit")
    assert "'maybe' is not one of installed, boxed, absent" in str(problem)


# ---------------------------------------------------------------- F17: the supplier's owner


def test_f17_supplier_listed_by_name_or_parent_and_not_for_others(tmp_path: Path, lists: str) -> None:
    ships = [
        {**SHIP, "id": "by-parent", "exporter": SUPPLIER["name"]},
        {**SHIP, "id": "by-name", "exporter": LISTED_PARENT.upper(), "consignee_id": "U1", "route": "US>MY",
         "payer_name": USER["name"], "payer_country": "MY"},
        {**SHIP, "id": "other", "exporter": "Exporter Inc", "consignee_id": "C2"},
    ]  # fmt: skip
    other = {**PARTY, "id": "C2", "name": "Other Compute Pte Ltd", "address": "3 Other Road, Singapore"}
    result = _scan(tmp_path, ships, [PARTY, USER, other, SUPPLIER], lists_url=lists)
    fired = {s: f for f in _flags(result, "F17-ownership") for s in f.shipments}
    assert set(fired) == {"by-parent", "by-name"}
    assert "is owned by" in fired["by-parent"].why and "is EL entry" in fired["by-name"].why
    assert all(f.points == 15 for f in fired.values())


def test_f17_supplier_arm_needs_the_lists(tmp_path: Path) -> None:
    result = _scan(tmp_path, [{**SHIP, "exporter": SUPPLIER["name"]}], [PARTY, USER, SUPPLIER])
    assert not _flags(result, "F17-ownership")
    assert any("no restricted-party lists" in n["note"] for n in result.notes)


# ---------------------------------------------------------------- F12: forwarders per buyer


FWD = {**PARTY, "is_forwarder": "true", "naics": "488510", "site_mw": ""}


def _forwarders(days: tuple[int, int, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    parties = [{**FWD, "id": f"F{i}", "name": f"Forwarder {i} Pte Ltd", "address": f"{i} Depot Road, Singapore"}
               for i in range(3)]  # fmt: skip
    ships = [
        {**SHIP, "id": f"L{i}", "consignee_id": f"F{i}", "date": f"2025-{3 + d // 30:02d}-{1 + d % 30:02d}",
         "payer_name": "Bright Harbour Holdings Ltd", "payer_country": "HK", "notify_party": f"Forwarder {i} Pte Ltd",
         "invoice_party": f"Forwarder {i} Pte Ltd"}
        for i, d in enumerate(days)
    ]  # fmt: skip
    return ships, parties


def test_f12_three_forwarders_for_one_buyer_within_90_days(tmp_path: Path) -> None:
    ships, parties = _forwarders((0, 40, 80))
    result = _scan(tmp_path, ships, parties)
    [flag] = _flags(result, "F12-split-lots")
    assert flag.points == 20 and flag.shipments == ["L0", "L1", "L2"]
    assert "3 forwarders for one buyer (payer Bright Harbour Holdings Ltd)" in flag.why
    assert "F0, F1, F2" in flag.why and "tri-seal" in flag.citation
    [case] = result.cases
    assert set(case.shipments) == {"L0", "L1", "L2"}


def test_f12_forwarders_spread_over_more_than_90_days_or_a_big_carrier_do_not_fire(tmp_path: Path) -> None:
    ships, parties = _forwarders((0, 60, 120))
    assert not _flags(_scan(tmp_path, ships, parties), "F12-split-lots")
    # one buyer, its own payer, three carriers that each serve six consignees: carriers are not forwarders
    firms = [{**PARTY, "id": f"B{i}", "name": f"Buyer {i} Pte Ltd", "address": f"{i} Buyer Road, Singapore"}
             for i in range(6)]  # fmt: skip
    carried = [
        {**SHIP, "id": f"C{i}-{j}", "consignee_id": f"B{i}", "forwarder": f"Carrier {j}",
         "payer_name": f"Buyer {i} Pte Ltd", "notify_party": f"Buyer {i} Pte Ltd", "invoice_party": f"B{i}"}
        for i in range(6)
        for j in range(3)
    ]  # fmt: skip
    assert not _flags(_scan(_sub(tmp_path, "carriers"), carried, firms), "F12-split-lots")


# ---------------------------------------------------------------- F15: documents


def test_f15_invoice_notify_party_and_late_change(tmp_path: Path) -> None:
    ships = [
        {**SHIP, "id": "invoice", "invoice_party": "Bright Harbour Holdings Ltd"},
        {**SHIP, "id": "notify", "notify_party": "Somebody Else Ltd"},
        {**SHIP, "id": "change", "booking_change": "END_USER"},
        {**SHIP, "id": "fine", "invoice_party": "x1", "notify_party": "Global Freight Lines",
         "forwarder": "Global Freight Lines", "booking_change": "none"},
        {**SHIP, "id": "user", "end_user_id": "U1", "invoice_party": USER["name"], "notify_party": "X1",
         "route": "US>SG>MY"},
    ]  # fmt: skip
    result = _scan(tmp_path, ships)
    fired = {s for f in _flags(result, "F15-documents") for s in f.shipments}
    assert fired == {"invoice", "notify", "change"}
    whys = {}
    for ship in ships[:3]:  # one at a time: a case's flag explains its strongest shipment
        [flag] = _flags(_scan(_sub(tmp_path, ship["id"]), [ship]), "F15-documents")
        assert flag.points == 10 == FLAGS["F15-documents"].cap and flag.shipments == [ship["id"]]
        whys[ship["id"]] = flag.why
    assert whys["invoice"] == "the invoice names 'Bright Harbour Holdings Ltd', not the consignee or end user"
    assert whys["notify"] == "the notify party 'Somebody Else Ltd' is not the consignee, end user or forwarder"
    assert whys["change"] == "the end user changed after booking"


def test_without_the_document_columns_f15_says_insufficient_data(tmp_path: Path) -> None:
    columns = tuple(c for c in SHIPMENT_COLUMNS if c not in ("notify_party", "invoice_party", "booking_change"))
    result = _scan(tmp_path, [SHIP, {**SHIP, "id": "S2", "route": "US>SG>HK"}], columns=columns)
    note = next(n for n in result.notes if n.get("columns") == ["notify_party", "invoice_party", "booking_change"])
    assert "insufficient data" in note["note"] and "F15" in note["note"]
    assert [f.shipments for f in _flags(result, "F15-documents")] == [["S2"]]  # the route still counts
    full = {**SHIP, "id": "S2", "invoice_party": "x1", "notify_party": "x1", "booking_change": "none"}
    empty = _scan(_sub(tmp_path, "empty"), [{**SHIP, "invoice_party": "", "notify_party": "x1"}, full])
    missing = next(n for n in empty.notes if isinstance(n.get("shipments"), list))
    assert {"shipment": "S1", "missing": ["invoice_party", "booking_change"]} in missing["shipments"]


def test_an_unknown_booking_change_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    result = _scan(tmp_path, [SHIP, {**SHIP, "id": "S2", "booking_change": "sometimes"}])
    assert [(p.line, p.column, p.shipment) for p in result.problems] == [(3, "booking_change", "S2")]
    assert "is not one of none, consignee" in str(result.problems[0])


# ---------------------------------------------------------------- F13: serials not issued


def _registry(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    return write_csv(tmp_path / "registry.csv", rows, ("manufacturer", "prefix", "first", "last"))


def test_f13_serial_not_issued_by_the_maker(tmp_path: Path) -> None:
    registry = _registry(
        tmp_path,
        [
            {"manufacturer": "nvidia", "first": "SN000100", "last": "SN000999"},
            {"manufacturer": "NVIDIA", "prefix": "1323"},
        ],
    )
    ships = [
        {**SHIP, "id": "issued", "serials": "SN000517;1323XYZ"},
        {**SHIP, "id": "forged", "serials": "SN000517;SN001200;SK00000001", "consignee_id": "U1", "route": "US>MY",
         "payer_name": USER["name"], "payer_country": "MY"},
        {**SHIP, "id": "amd", "product": "amd-mi300x", "brand": "AMD", "serials": "ZZ1", "consignee_id": "C2"},
    ]  # fmt: skip
    other = {**PARTY, "id": "C2", "name": "Other Compute Pte Ltd", "address": "3 Other Road, Singapore"}
    result = _scan(tmp_path, ships, [PARTY, USER, other], serial_registry=registry)
    [flag] = _flags(result, "F13-relabel-serials")
    assert flag.shipments == ["forged"] and flag.points == 25 == FLAGS["F13-relabel-serials"].cap
    assert "SK00000001, SN001200 not issued by nvidia" in flag.why and "registry.csv" in flag.why
    assert "SANDKYAN" in flag.citation
    assert not any("issued-serials registry" in n["note"] for n in result.notes)
    # AMD is not in the registry: not assessed; without a registry, a note and no points
    bare = _scan(_sub(tmp_path, "bare"), ships, [PARTY, USER, other])
    assert not _flags(bare, "F13-relabel-serials")
    assert any("no issued-serials registry" in n["note"] for n in bare.notes)


def test_a_malformed_registry_row_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    registry = _registry(
        tmp_path,
        [
            {"manufacturer": "NVIDIA", "first": "SN0001"},
            {"manufacturer": "", "prefix": "SN"},
            {"manufacturer": "NVIDIA", "first": "SN0009", "last": "SN0001"},
            {"manufacturer": "NVIDIA", "first": "SN01", "last": "SN0001"},
            {"manufacturer": "NVIDIA"},
            {"manufacturer": "NVIDIA", "prefix": "SN"},
        ],
    )
    result = _scan(tmp_path, [{**SHIP, "serials": "XX1"}], serial_registry=registry)
    where = [(Path(p.file).name, p.line, p.column) for p in result.problems]
    assert where == [
        ("registry.csv", 2, "last"),
        ("registry.csv", 3, "manufacturer"),
        ("registry.csv", 4, "last"),
        ("registry.csv", 5, "last"),
        ("registry.csv", 6, "prefix"),
    ]
    assert [f.shipments for f in _flags(result, "F13-relabel-serials")] == [["S1"]]  # the good row still counts


# ---------------------------------------------------------------- F7: unrelated firms at one address


def test_f7_four_unrelated_firms_at_one_address_and_not_one_group(tmp_path: Path) -> None:
    office = "10 Anson Road, #20-05, Singapore"
    firms = [{**PARTY, "id": f"A{i}", "name": f"Firm {i} Pte Ltd", "address": office} for i in range(4)]
    ships = [{**SHIP, "id": f"S{i}", "consignee_id": f"A{i}", "payer_name": f"Firm {i} Pte Ltd"} for i in range(4)]
    [flag] = _flags(_scan(tmp_path, ships, firms), "F7-address")
    assert flag.points == 10 and "4 firms at one address" in flag.why and len(flag.shipments) == 4
    three = _scan(_sub(tmp_path, "three"), ships[:3], firms[:3])
    assert not _flags(three, "F7-address")
    group = [{**f, "parent": "Example Holdings Ltd"} for f in firms]  # a head office and its subsidiaries
    assert not _flags(_scan(_sub(tmp_path, "group"), ships, group), "F7-address")


def test_spark_gives_the_new_arms_as_duckdb_does(tmp_path: Path) -> None:
    """F10's visit, F12's forwarders per buyer, F13's registry and F15's documents on both engines."""
    pytest.importorskip("pyspark")
    from tiergate.monitor.scan import spark_session

    ships, parties = _forwarders((0, 40, 80))
    ships += [
        {**SHIP, "id": "visit", "consignee_id": "V1"},
        {**SHIP, "id": "invoice", "invoice_party": "Bright Harbour Holdings Ltd", "serials": "SN000517;SK1"},
    ]
    parties += [{**PARTY, "id": "V1", "name": "Visited Pte Ltd", "site_visit": "boxed"}, PARTY]
    registry = _registry(tmp_path, [{"manufacturer": "NVIDIA", "first": "SN000100", "last": "SN000999"}])
    s = write_csv(tmp_path / "s.csv", ships, SHIPMENT_COLUMNS)
    p = write_csv(tmp_path / "p.csv", parties, PARTY_COLUMNS)
    spark = run_scan(s, p, engine="spark", spark=spark_session(), serial_registry=registry)
    duck = run_scan(s, p, engine="duckdb", serial_registry=registry)
    assert [c.to_dict() for c in duck.cases] == [c.to_dict() for c in spark.cases]
    assert duck.notes == spark.notes
    codes = {(f.code, f.points) for c in duck.cases for f in c.flags}
    expected = {("F10-no-datacentre", 25), ("F12-split-lots", 20), ("F13-relabel-serials", 25), ("F15-documents", 10)}
    assert expected <= codes
