"""Licences as the law writes them (issue 13, item 1): a licence covers its consignees, its destination, the items
of its lines and its dates, and nothing else; shipments draw on it per line, in units and in USD.

The failure of the issue: a licence for 1,000 H100 to an Indian consignee was accepted by ``ship --license`` for
100 H200 to a different consignee in China (committed, exit 0), H100 and H200 added into one quantity."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tiergate
from tiergate.catalog import load_equipment
from tiergate.errors import InputError
from tiergate.ledger import Ledger, LedgerError, open_ledger
from tiergate.ledger.licence import parse_licence
from tiergate.ledger.ship import ship
from tiergate.ledger.store import MIGRATIONS, WRITE_OPTION

from ..api.conftest import make_api
from ..inprocess import Completed, run_cli
from ..licences import licence_data, record
from ..web.test_pages import HTML, csrf_of, sign_in

INDIA = {"name": "Example Compute Pvt Ltd", "country": "IN"}
ISSUE_LICENCE = licence_data(
    "D1000", lines=[{"item": "nvidia-h100-sxm", "quantity": 1000, "value_usd": 30_000_000}], consignees=[INDIA]
)
ISSUE_ORDER = {
    "id": "cn-1",
    "date": "2025-03-03",
    "destination": "CN",
    "value_usd": 3_000_000,
    "items": [{"chip": "nvidia-h200", "quantity": 100}],
    "consignee": {"name": "Other Compute Co", "country": "CN", "headquarters": "CN"},
}
ISSUE_FIELDS = {"consignee.name", "destination", "items[0]"}
BEIJING = {"name": "Beijing Compute Co", "country": "CN"}


def _cli(tmp_path: Path, *args: str) -> Completed:
    env = {
        **os.environ,
        "TIERGATE_TODAY": "2025-03-03",
        "TIERGATE_DB": f"sqlite:///{tmp_path / 'l.db'}",
        "COLUMNS": "200",
    }
    return run_cli(args, cwd=tmp_path, env=env)


def _write(folder: Path, name: str, value: Any) -> str:
    (folder / name).write_text(json.dumps(value), encoding="utf-8")
    return name


def _new_ledger(folder: Path) -> Ledger:
    ledger = Ledger(f"sqlite:///{folder / 'l.db'}", actor="officer")
    ledger.init()
    return ledger


def _order(tid: str, chip: str, quantity: int, **changes: Any) -> dict[str, Any]:
    """An order to a Chinese consignee (a licence is required for every 3A090 chip)."""
    return {
        "id": tid,
        "date": "2025-03-03",
        "destination": "CN",
        "value_usd": 1_000_000,
        "items": [{"chip": chip, "quantity": quantity}],
        "consignee": {**BEIJING, "headquarters": "CN"},
        **changes,
    }


def _china_licence(ledger: Ledger, licence_id: str = "C-1", **changes: Any) -> None:
    record(ledger, licence_id, **{"consignees": [BEIJING], "destination": "CN", **changes})


def _ship(book: tiergate.Rulebook, ledger: Ledger, data: dict[str, Any], licence_id: str | None) -> Any:
    return ship(tiergate.parse_transaction(data, book.catalogue), book, ledger, licence_id=licence_id)


# ---------------------------------------------------------------------- the failure of the issue, on every face


@pytest.mark.usefixtures("installed_lists")  # decide/ship screen against them
def test_the_issue_through_the_cli_is_refused_naming_each_field(tmp_path: Path) -> None:
    _new_ledger(tmp_path).close()
    added = _cli(tmp_path, "ledger", "licence", "add", _write(tmp_path, "licence.json", ISSUE_LICENCE))
    assert added.returncode == 0 and "D1000 recorded" in added.stdout, added.stderr
    order = _write(tmp_path, "order.json", ISSUE_ORDER)
    shipped = _cli(tmp_path, "ship", order, "--license", "D1000", "--format", "json")
    assert shipped.returncode == 4, shipped.stdout + shipped.stderr
    answer = json.loads(shipped.stdout)
    assert answer["committed"] is False and "does not cover" in answer["reason"]
    check = answer["licence_check"]
    assert {m["field"] for m in check["mismatches"]} == ISSUE_FIELDS
    assert all(m["rule"].startswith("licence/") for m in check["mismatches"])
    assert any("[licence/destination]" in line for line in answer["explanation"])  # in the decision's trace
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    assert ledger.remaining(["licence:D1000:1:quantity"]) == {}  # nothing drawn
    refused = [json.loads(e["payload"]) for e in ledger.audit_entries() if e["action"] == "ship-refused"]
    assert {m["field"] for m in refused[-1]["licence_check"]["mismatches"]} == ISSUE_FIELDS
    assert [x.id for x in ledger.licences()] == ["D1000"]
    ledger.close()
    listed = _cli(tmp_path, "ledger", "licence", "list")
    assert listed.returncode == 0 and "D1000" in listed.stdout and "1,000 of 1,000" in listed.stdout, listed.stdout


def test_the_issue_through_the_api_and_the_dashboard(tmp_path: Path, book: tiergate.Rulebook) -> None:
    web = make_api(tmp_path, book)
    try:
        assert web.post("/v1/ledger/licences", json=ISSUE_LICENCE).status_code == 201
        answer = web.post("/v1/ship", json=ISSUE_ORDER, params={"licence": "D1000"}).json()
        assert answer["committed"] is False
        assert {m["field"] for m in answer["licence_check"]["mismatches"]} == ISSUE_FIELDS
        listed = web.get("/v1/ledger/licences").json()
        assert [x["id"] for x in listed] == ["D1000"] and listed[0]["lines"][0]["quantity_remaining"] == 1000
        assert web.get("/v1/ledger/licences/D1000").json()["consignees"] == [INDIA]
        assert web.get("/v1/ledger/licences/NOPE").status_code == 404
        client = sign_in(web)
        page = client.get("/decide", headers=HTML)
        form = {
            "csrf": csrf_of(page.text),
            "transaction": json.dumps({**ISSUE_ORDER, "id": "cn-2"}),
            "licence": "D1000",
        }
        shown = client.post("/decide/ship", data=form, headers=HTML)
        assert shown.status_code == 200 and "Not shipped." in shown.text
        assert "does not cover this shipment" in shown.text and "destination CN" in shown.text
        assert web.get("/v1/ledger/licences/D1000").json()["lines"][0]["quantity_remaining"] == 1000
    finally:
        web.client.close()
        web.ctx.close()


def test_a_licence_file_in_error_names_the_file_and_field_and_records_nothing(tmp_path: Path) -> None:
    _new_ledger(tmp_path).close()
    unknown_item = {**ISSUE_LICENCE, "lines": [{"item": "nvidia-h100-sxn", "quantity": 1, "value_usd": 1}]}
    bad = _cli(tmp_path, "ledger", "licence", "add", _write(tmp_path, "bad.json", unknown_item))
    assert bad.returncode == 2 and "bad.json" in bad.stderr and "lines[0].item" in bad.stderr, bad.stderr
    assert "nvidia-h100-sxm" in bad.stderr  # the suggestion
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    assert ledger.licences() == [] and [e["action"] for e in ledger.audit_entries()] == []
    ledger.close()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expires": "2025-01-01"}, "expires 2025-01-01 is before issued"),
        ({"destination": "XX"}, "destination"),
        ({"consignees": [{"name": "A", "country": "India"}]}, "consignees[0].country"),
        ({"consignees": []}, "consignees"),
        ({"lines": [{"item": "nvidia-h100-sxm", "quantity": 0, "value_usd": 1}]}, "lines[0].quantity"),
        ({"lines": [{"item": "nvidia-h100-sxm", "quantity": 5}]}, "lines[0].value_usd"),
        ({"lines": [{"item": "H100", "quantity": 5, "value_usd": 1}] * 2}, "lines[1].item"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"id": "has space"}, "id"),
        ({"jurisdiction": "U1"}, "jurisdiction"),
        ({"jurisdiction": "XX"}, "jurisdiction"),
    ],
)
def test_bad_licences_are_refused_naming_the_field(
    book: tiergate.Rulebook, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError, match=r"licence\.json") as raised:
        parse_licence(licence_data(**changes), book.catalogue, load_equipment(), where="licence.json")
    assert field in str(raised.value)


# ---------------------------------------------------------------------- what a licence covers


def test_lines_are_drawn_each_on_its_own_in_units_and_dollars(tmp_path: Path, book: tiergate.Rulebook) -> None:
    ledger = _new_ledger(tmp_path)
    lines = [
        {"item": "nvidia-h100-sxm", "quantity": 1000, "value_usd": 30_000_000},
        {"item": "nvidia-h200", "quantity": 500, "value_usd": 2_000_000},
    ]
    _china_licence(ledger, lines=lines)
    assert _ship(book, ledger, _order("a", "nvidia-h100-sxm", 400), "C-1").committed
    assert _ship(book, ledger, _order("b", "nvidia-h200", 300), "C-1").committed
    # 700 H100 do not fit line 1 (600 left), however many H200 line 2 has left: exit 3, nothing drawn.
    over = _ship(book, ledger, _order("c", "nvidia-h100-sxm", 700), "C-1")
    assert over.exit_code == 3 and "licence:C-1:1:quantity" in over.reason and "unit(s)" in over.reason
    # Line 2's dollars run out before its units: exit 3.
    dear = _ship(book, ledger, _order("d", "nvidia-h200", 10, value_usd=1_500_000), "C-1")
    assert dear.exit_code == 3 and "licence:C-1:2:value" in dear.reason and "USD" in dear.reason
    assert _ship(book, ledger, _order("e", "nvidia-h100-sxm", 600), "C-1").committed
    left = ledger.remaining(f"licence:C-1:{n}:{m}" for n in (1, 2) for m in ("quantity", "value"))
    assert left == {
        "licence:C-1:1:quantity": 0,
        "licence:C-1:1:value": 28_000_000,
        "licence:C-1:2:quantity": 200,
        "licence:C-1:2:value": 1_000_000,
    }
    # Items of two lines in one order: its one value cannot be split between the lines, so it is refused (4).
    both = _order("f", "nvidia-h200", 1)
    both["items"].append({"chip": "nvidia-h100-sxm", "quantity": 1})
    split = _ship(book, ledger, both, "C-1")
    assert split.exit_code == 4 and "value_usd" in split.reason
    ledger.close()


def test_families_and_eccns_cover_what_they_name_and_the_most_specific_line_is_drawn(
    tmp_path: Path, book: tiergate.Rulebook
) -> None:
    ledger = _new_ledger(tmp_path)
    lines = [
        {"item": "3A090.a", "quantity": 10, "value_usd": 1e9},
        {"item": "nvidia-h100", "quantity": 100, "value_usd": 1e9},
    ]
    _china_licence(ledger, lines=lines)
    for tid, chip in (("p", "nvidia-h100-pcie"), ("s", "nvidia-h100-sxm")):
        shipped = _ship(book, ledger, _order(tid, chip, 5), "C-1")
        assert shipped.committed and shipped.licence_check["lines"][0]["line"] == 2  # the family, not the ECCN
    h200 = _ship(book, ledger, _order("h", "nvidia-h200", 5), "C-1")
    assert h200.committed and h200.licence_check["lines"][0]["line"] == 1  # only the ECCN covers it
    system = {"system": {"name": "HGX", "chip": "nvidia-h100-sxm", "chips_per_system": 8}, "quantity": 1}
    refused = _ship(book, ledger, {**_order("x", "nvidia-h100-sxm", 1), "items": [system]}, "C-1")
    assert refused.exit_code == 4 and "items[0]" in refused.reason  # a 4A090 system is not an H100 chip
    ledger.close()


@pytest.mark.parametrize(
    ("day", "fragment"),
    [("2025-01-31", "before licence C-1 was issued"), ("2027-02-02", "expired on 2027-02-01")],
)
def test_a_licence_not_yet_valid_or_expired_covers_nothing(
    tmp_path: Path, book: tiergate.Rulebook, day: str, fragment: str
) -> None:
    ledger = _new_ledger(tmp_path)
    _china_licence(ledger)
    refused = _ship(book, ledger, _order("t", "nvidia-h100-sxm", 1, date=day), "C-1")
    assert refused.exit_code == 4 and fragment in refused.reason
    assert [m["field"] for m in refused.licence_check["mismatches"]] == ["date"]
    assert _ship(book, ledger, _order("t", "nvidia-h100-sxm", 1, date="2027-02-01"), "C-1").committed  # last day
    ledger.close()


def test_a_licence_of_another_authority_or_country_does_not_cover(tmp_path: Path, book: tiergate.Rulebook) -> None:
    ledger = _new_ledger(tmp_path)
    _china_licence(ledger, "NL-1", jurisdiction="NL")
    _china_licence(ledger, "C-1", consignees=[{"name": "Beijing Compute Co.", "country": "HK"}])
    other = _ship(book, ledger, _order("j", "nvidia-h100-sxm", 1), "NL-1")
    assert other.exit_code == 4 and [m["field"] for m in other.licence_check["mismatches"]] == ["jurisdiction"]
    moved = _ship(book, ledger, _order("k", "nvidia-h100-sxm", 1), "C-1")
    assert moved.exit_code == 4 and [m["field"] for m in moved.licence_check["mismatches"]] == ["consignee.country"]
    ledger.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(st.tuples(st.sampled_from(["nvidia-h100-sxm", "nvidia-h200"]), st.integers(1, 60)), max_size=6))
def test_a_licence_line_is_never_overdrawn(
    tmp_path_factory: pytest.TempPathFactory, book: tiergate.Rulebook, orders: list[tuple[str, int]]
) -> None:
    """Whatever the orders, each line's units drawn are the committed orders on it, and never past its quantity."""
    folder = tmp_path_factory.mktemp("licence")
    ledger = Ledger(f"sqlite:///{folder / 'l.db'}", actor="officer")
    ledger.init()
    quantity = {"nvidia-h100-sxm": 100, "nvidia-h200": 50}
    _china_licence(ledger, lines=[{"item": c, "quantity": q, "value_usd": 1e12} for c, q in quantity.items()])
    drawn = dict.fromkeys(quantity, 0)
    for n, (chip, units) in enumerate(orders):
        shipment = _ship(book, ledger, _order(f"o{n}", chip, units), "C-1")
        fits = drawn[chip] + units <= quantity[chip]
        assert shipment.committed == fits and shipment.exit_code == (0 if fits else 3)
        drawn[chip] += units if fits else 0
    left = ledger.remaining(["licence:C-1:1:quantity", "licence:C-1:2:quantity"])
    assert left.get("licence:C-1:1:quantity", 100) == 100 - drawn["nvidia-h100-sxm"] >= 0
    assert left.get("licence:C-1:2:quantity", 50) == 50 - drawn["nvidia-h200"] >= 0
    ledger.close()


# ---------------------------------------------------------------------- ledgers of the previous schema


def _ledger_of_revision_0001(url: str) -> None:
    """A ledger as Tiergate made it before licences had terms, with an old licence half drawn."""
    from alembic import command
    from alembic.config import Config

    ledger = Ledger(url, actor="old")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with ledger.engine.connect() as conn, conn.execution_options(**{WRITE_OPTION: True}).begin():
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        now = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
        conn.execute(
            sa.text(
                "INSERT INTO ledger_licences (licence_id, quantity, value_usd, note, created_at) "
                "VALUES ('L-OLD', 1500, 90000000, 'issued 2025-02-01', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO ledger_accounts (account, kind, rule, cap, used, reserved, created_at) "
                "VALUES ('licence:L-OLD:quantity', 'licence:quantity', 'licence/L-OLD', 15000000, 3000000, 0, :now)"
            ),
            {"now": now},
        )
    ledger.close()


def test_a_ledger_of_revision_0001_is_carried_over_and_old_licences_cover_nothing_until_completed(
    ledger_url: str, book: tiergate.Rulebook
) -> None:
    _ledger_of_revision_0001(ledger_url)
    with pytest.raises(LedgerError, match=r"older ledger schema '0001'.*ledger init"):
        open_ledger(ledger_url)
    ledger = Ledger(ledger_url, actor="officer")
    assert ledger.init() == "0002"
    old = ledger.licence("L-OLD")
    assert old is not None and not old.complete and "1500 unit(s)" in (old.note or "")
    refused = _ship(book, ledger, _order("o", "nvidia-h100-sxm", 1), "L-OLD")
    assert refused.exit_code == 4 and [m["field"] for m in refused.licence_check["mismatches"]] == ["licence"]
    # Its terms recorded, the units drawn before (300) are drawn on each line, up to the line's quantity.
    lines = [
        {"item": "nvidia-h100-sxm", "quantity": 1000, "value_usd": 1e9},
        {"item": "nvidia-h200", "quantity": 200, "value_usd": 1e9},
    ]
    _china_licence(ledger, "L-OLD", lines=lines)
    assert ledger.licence("L-OLD").complete  # type: ignore[union-attr]
    assert ledger.remaining(["licence:L-OLD:1:quantity", "licence:L-OLD:2:quantity"]) == {
        "licence:L-OLD:1:quantity": 700,
        "licence:L-OLD:2:quantity": 0,
    }
    assert _ship(book, ledger, _order("p", "nvidia-h100-sxm", 700), "L-OLD").committed
    assert _ship(book, ledger, _order("q", "nvidia-h200", 1), "L-OLD").exit_code == 3
    with pytest.raises(LedgerError, match="already recorded"):
        _china_licence(ledger, "L-OLD", lines=lines)
    assert ledger.verify_audit() is None
    ledger.close()
