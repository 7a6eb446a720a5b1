"""Golden scenarios of the red flags added after the first scorer (digest §5): F9's payer that the end-user statement
does not name, F11's mirror-gap prior and F19's commercial oddities; each fires, does not fire, or says
"insufficient data"; and bad input (a malformed row named by file, line and column; a row with missing fields is
never a crash)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tiergate.diversion import FLAGS, run_scan
from tiergate.diversion.generate import PARTY_COLUMNS, SHIPMENT_COLUMNS
from tiergate.diversion.mirror import documented_h100e

from .conftest import write_csv

PARTY = {
    "id": "X1", "name": "Example Compute Pte Ltd", "country": "SG", "address": "1 Example Road, Singapore 000001",
    "address_type": "commercial", "incorporated": "2010-01-01", "website": "https://example.sg",
    "email_domain": "example.sg", "naics": "518210", "is_forwarder": "false", "site_mw": "50",
}  # fmt: skip
USER = {**PARTY, "id": "U1", "name": "Example Cloud Sdn Bhd", "country": "MY", "address": "2 Jalan Example, KL"}
SHIP = {
    "id": "S1", "date": "2025-06-10", "exporter": "Exporter Inc", "exporter_country": "US", "consignee_id": "X1",
    "hs_code": "854231", "description": "GPU accelerator", "product": "nvidia-h100-sxm", "brand": "NVIDIA",
    "quantity": "16", "value_usd": "608000", "gross_kg": "48", "route": "US>SG",
    "payer_name": "Example Compute Pte Ltd", "payer_country": "SG", "end_use_check": "passed",
    "payment_terms": "open_account", "support": "accepted",
}  # fmt: skip


def _scan(
    tmp_path: Path,
    ships: list[dict[str, Any]],
    parties: list[dict[str, Any]] | None = None,
    columns: tuple[str, ...] = SHIPMENT_COLUMNS,
    imports: Path | None = None,
) -> Any:
    s = write_csv(tmp_path / "s.csv", ships, columns)
    p = write_csv(tmp_path / "p.csv", parties or [PARTY, USER], PARTY_COLUMNS)
    return run_scan(s, p, imports=imports)


def _flags(result: Any, code: str) -> list[Any]:
    return [f for c in result.cases for f in c.flags if f.code == code]


def _imports(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    return write_csv(tmp_path / "imports.csv", rows, ("country", "month", "value_usd", "documented_h100e"))


# ---------------------------------------------------------------- F9: a payer the end-user statement does not name


def test_third_country_payer_not_on_the_statement_adds_five(tmp_path: Path) -> None:
    ship = {**SHIP, "payer_name": "Bright Harbour Holdings Ltd", "payer_country": "HK"}
    [flag] = _flags(_scan(tmp_path, [ship]), "F9-payer-mismatch")
    assert flag.points == 25 == FLAGS["F9-payer-mismatch"].cap
    assert flag.shipments == ["S1"] and "neither the consignee nor the end user" in flag.why
    assert "not on the end-user statement" in flag.citation


def test_payer_on_the_statement_gets_no_addition(tmp_path: Path) -> None:
    own = {**SHIP, "id": "own", "payer_country": "HK"}  # the consignee itself pays, from Hong Kong
    (tmp_path / "own").mkdir()
    [flag] = _flags(_scan(tmp_path / "own", [own]), "F9-payer-mismatch")
    assert flag.points == 20 and "neither the consignee" not in flag.why
    user = {**SHIP, "id": "user", "end_user_id": "U1", "payer_name": "example cloud sdn bhd ", "payer_country": "MY"}
    (tmp_path / "user").mkdir()
    [flag] = _flags(_scan(tmp_path / "user", [user]), "F9-payer-mismatch")
    assert flag.points == 10 and "neither the consignee" not in flag.why  # the end user pays: base points only


def test_payer_name_missing_is_insufficient_data_not_points(tmp_path: Path) -> None:
    ship = {**SHIP, "payer_name": "", "payer_country": "CN"}
    result = _scan(tmp_path, [ship])
    assert [f.points for f in _flags(result, "F9-payer-mismatch")] == [20]
    assert "payer_name" in json.dumps(result.notes)


# ---------------------------------------------------------------- F19: commercial oddities


def test_prepayment_declined_support_and_odd_routes_fire(tmp_path: Path) -> None:
    ships = [
        {**SHIP, "id": "prepaid", "payment_terms": "PREPAID", "route": "US>MY", "consignee_id": "U1",
         "payer_name": USER["name"], "payer_country": "MY"},
        {**SHIP, "id": "declined", "support": "declined"},
        {**SHIP, "id": "loop", "route": "US>HK>SG>HK>SG"},
        {**SHIP, "id": "long", "route": "US>AE>TH>VN>SG"},
        {**SHIP, "id": "plain"},
    ]  # fmt: skip
    result = _scan(tmp_path, ships)
    fired = {s: f for f in _flags(result, "F19-commercial-oddities") for s in f.shipments}
    assert {"prepaid", "declined", "loop", "long"} <= set(fired) and "plain" not in fired
    by_ship = {f.shipments[0]: f for c in result.cases for f in c.flags if f.code == "F19-commercial-oddities"}
    assert all(f.points == 5 == FLAGS["F19-commercial-oddities"].cap for f in by_ship.values())
    why = " ".join(f.why for f in by_ship.values())
    assert "paid in full before shipment" in why
    assert all("citation" and f.citation.startswith("15 CFR Part 732") for f in by_ship.values())


def test_without_the_columns_f19_says_insufficient_data(tmp_path: Path) -> None:
    columns = tuple(c for c in SHIPMENT_COLUMNS if c not in ("payment_terms", "support"))
    result = _scan(tmp_path, [{**SHIP, "route": "US>HK>SG>HK"}, {**SHIP, "id": "S2"}], columns=columns)
    note = next(n for n in result.notes if n.get("columns"))
    assert note["columns"] == ["payment_terms", "support"] and "insufficient data" in note["note"]
    assert [f.shipments for f in _flags(result, "F19-commercial-oddities")] == [["S1"]]  # the route still counts


def test_an_empty_payment_terms_on_a_compute_row_is_noted(tmp_path: Path) -> None:
    result = _scan(tmp_path, [{**SHIP, "payment_terms": ""}, {**SHIP, "id": "S2"}])
    missing = next(n for n in result.notes if "shipments" in n and isinstance(n["shipments"], list))
    assert {"shipment": "S1", "missing": ["payment_terms"]} in missing["shipments"]
    assert not _flags(result, "F19-commercial-oddities")


def test_an_unknown_payment_term_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    result = _scan(tmp_path, [SHIP, {**SHIP, "id": "S2", "payment_terms": "bitcoin"}])
    assert [(p.line, p.column, p.shipment) for p in result.problems] == [(3, "payment_terms", "S2")]
    assert "'bitcoin' is not one of prepaid, cash" in str(result.problems[0])
    assert result.shipments == 1


# ---------------------------------------------------------------- F11: the mirror-gap prior


TRANSIT = {**SHIP, "route": "US>MY>SG"}  # F4: 15 points (Malaysia is not the end-use country)


def test_imports_up_more_than_300_percent_raise_f4_by_half(tmp_path: Path) -> None:
    imports = _imports(
        tmp_path,
        [
            {"country": "MY", "month": "2024-06", "value_usd": "100000000", "documented_h100e": "10000000"},
            {"country": "MY", "month": "2025-06", "value_usd": "900000000"},
            {"country": "MY", "month": "2025-05", "value_usd": "300000000"},  # up 200 %: no gap
            {"country": "MY", "month": "2024-05", "value_usd": "100000000"},
        ],
    )
    june, may = {**TRANSIT, "id": "june"}, {**TRANSIT, "id": "may", "date": "2025-05-20"}
    result = _scan(tmp_path, [june, may], imports=imports)
    [f4] = [f for f in _flags(result, "F4-hub-route")]
    [f11] = _flags(result, "F11-mirror-gap")
    assert f4.points == 15 and f11.points == 8 == FLAGS["F11-mirror-gap"].cap  # 15 x 1.5, rounded up
    assert f11.shipments == ["june"]
    assert "MY's imports" in f11.why and "2025-06" in f11.why and "up 800 %" in f11.why
    assert f11.citation


def test_imports_over_twice_the_documented_capacity_fire_and_no_prior_year_is_noted(tmp_path: Path) -> None:
    imports = _imports(tmp_path, [{"country": "MY", "month": "2025-06", "value_usd": "600000000",
                                   "documented_h100e": "1000"}])  # fmt: skip
    result = _scan(tmp_path, [TRANSIT], imports=imports)
    [f11] = _flags(result, "F11-mirror-gap")
    assert "12,000 H100e" in f11.why and "1,000 H100e" in f11.why
    note = next(n for n in result.notes if "year-on-year" in n["note"])
    assert "insufficient data" in note["note"] and "MY 2025-06" in note["months"]


def test_a_hub_within_its_documented_capacity_gets_no_prior(tmp_path: Path) -> None:
    imports = _imports(tmp_path, [{"country": "MY", "month": "2025-06", "value_usd": "600000000",
                                   "documented_h100e": "100000"}])  # fmt: skip
    result = _scan(tmp_path, [TRANSIT], imports=imports)
    assert _flags(result, "F4-hub-route") and not _flags(result, "F11-mirror-gap")


def test_the_gap_is_computed_from_the_shipments_without_a_file(tmp_path: Path) -> None:
    assert documented_h100e()["VN"] < 3500  # Epoch AI documents little in Viet Nam
    big = {**SHIP, "id": "big", "route": "US>VN>SG", "quantity": "10000", "value_usd": "380000000",
           "gross_kg": "30000"}  # fmt: skip
    result = _scan(tmp_path, [big, {**SHIP, "id": "small", "route": "US>TH>SG", "date": "2025-06-12"}])
    [f11] = _flags(result, "F11-mirror-gap")
    assert f11.shipments == ["big"] and "VN's imports in the 12 months to 2025-06" in f11.why


def test_a_malformed_imports_row_is_named_and_left_out(tmp_path: Path) -> None:
    imports = _imports(
        tmp_path,
        [
            {"country": "MY", "month": "June", "value_usd": "600000000"},
            {"country": "MY", "month": "2025-06", "value_usd": "lots"},
            {"country": "Malaysia", "month": "2025-06", "value_usd": "1"},
        ],
    )
    result = _scan(tmp_path, [TRANSIT], imports=imports)
    where = [(Path(p.file).name, p.line, p.column) for p in result.problems]
    assert where == [("imports.csv", 2, "month"), ("imports.csv", 3, "value_usd"), ("imports.csv", 4, "country")]
    assert not _flags(result, "F11-mirror-gap")


# ---------------------------------------------------------------- bad input


def test_a_malformed_json_line_is_named_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    lines = [json.dumps(SHIP), "{not json", json.dumps({**SHIP, "id": "S3", "gross_kg": "-4"})]
    path.write_text("\n".join(lines) + "\n")
    p = write_csv(tmp_path / "p.csv", [PARTY], PARTY_COLUMNS)
    result = run_scan(path, p)
    assert [(p.line, p.column) for p in result.problems] == [(2, "(line)"), (3, "gross_kg")]
    assert result.shipments == 1


def test_zero_quantity_and_weight_and_an_unknown_consignee_are_not_a_crash(tmp_path: Path) -> None:
    ships = [
        {**SHIP, "quantity": "0", "gross_kg": "0", "payer_country": "HK"},
        {**SHIP, "id": "S2", "consignee_id": "NOBODY", "route": "US>HK>SG"},
        {"id": "S3", "product": "nvidia-h100-sxm", "route": "US>SG>MY>TH>VN", "payment_terms": "cash"},
    ]
    result = _scan(tmp_path, ships)
    assert result.shipments == 3
    text = json.dumps(result.notes)
    assert "NOBODY" in text and "insufficient data" in text
