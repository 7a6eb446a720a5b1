"""Shipping through the CLI (SQLite) and the API (SQLite and PostgreSQL): live balances, atomic
draws, exit codes, idempotent retries, and the audit commands."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import tiergate
from tiergate.ledger import Ledger
from tiergate.ledger.ship import ship

from ..inprocess import Completed, run_cli
from ..licences import licence_data, record


def _txn(tid: str, quantity: int, destination: str = "IN", **extra: Any) -> dict[str, Any]:
    return {
        "id": tid,
        "date": "2025-03-03",
        "destination": destination,
        "items": [{"chip": "nvidia-h100-sxm", "quantity": quantity}],
        "consignee": {"name": "Example Compute Pvt Ltd", "country": destination, "headquarters": destination},
        **extra,
    }


def _cli(tmp_path: Path, *args: str, today: str = "2025-03-03") -> Completed:
    env = {
        **os.environ,
        "TIERGATE_TODAY": today,
        "TIERGATE_DB": f"sqlite:///{tmp_path / 'l.db'}",
        "TIERGATE_ACTOR": "officer@example",
    }
    return run_cli(args, cwd=tmp_path, env=env)


def _write(tmp_path: Path, name: str, value: Any) -> str:
    (tmp_path / name).write_text(json.dumps(value))
    return name


@pytest.mark.usefixtures("installed_lists")  # decide/ship screen against them
def test_ship_draws_lpp_then_refuses_then_ships_under_a_licence(tmp_path: Path) -> None:
    assert _cli(tmp_path, "ledger", "init").returncode == 0
    first = _cli(tmp_path, "ship", _write(tmp_path, "a.json", _txn("a", 1000)), "--format", "json")
    assert first.returncode == 0, first.stderr
    shipped = json.loads(first.stdout)
    assert shipped["committed"] is True and shipped["authorization"] == "LPP"
    assert shipped["allocations"][0]["account"] == "lpp:IN:example-compute-pvt-ltd:2025"

    retry = _cli(tmp_path, "ship", "a.json", "--format", "json")
    assert retry.returncode == 0 and "already shipped" in json.loads(retry.stdout)["reason"]
    assert json.loads(retry.stdout)["duplicate"] is True and shipped["duplicate"] is False

    # 1,000 more H100 no longer fit the consignee's remaining LPP: a licence is required.
    second = _cli(tmp_path, "ship", _write(tmp_path, "b.json", _txn("b", 1000)), "--format", "json")
    assert second.returncode == 4 and json.loads(second.stdout)["committed"] is False
    assert json.loads(second.stdout)["outcome"] == "license_required"

    line = {"item": "nvidia-h100-sxm", "quantity": 1500, "value_usd": 100_000_000}
    _write(tmp_path, "l1.json", licence_data("L-1", lines=[line]))
    assert _cli(tmp_path, "ledger", "licence", "add", "l1.json").returncode == 0
    _write(tmp_path, "b.json", _txn("b", 1000, value_usd=30_000_000))
    licensed = _cli(tmp_path, "ship", "b.json", "--license", "L-1", "--format", "json")
    assert licensed.returncode == 0 and json.loads(licensed.stdout)["committed"] is True
    # 1,000 more units need the licence again, whose line has 500 left: refused for lack of allocation.
    c = _write(tmp_path, "c.json", _txn("c", 1000, value_usd=30_000_000))
    over = _cli(tmp_path, "ship", c, "--license", "L-1", "--format", "json")
    assert over.returncode == 3 and "allocation exceeded" in json.loads(over.stdout)["reason"]

    balances = {b["allocation"]: b for b in json.loads(_cli(tmp_path, "ledger", "balances", "--format", "json").stdout)}
    assert balances["lpp:IN:example-compute-pvt-ltd:2025"]["used"] == 1000 * 15831.2
    assert balances["country:IN:2025-2027"]["used"] == 1000 * 15831.2
    assert balances["licence:L-1:1:quantity"]["remaining"] == 500
    assert balances["licence:L-1:1:value"]["remaining"] == 70_000_000
    assert all(b["reserved"] == 0 for b in balances.values())

    history = json.loads(_cli(tmp_path, "ledger", "history", "--format", "json").stdout)
    assert {h["actor"] for h in history} == {"officer@example"}
    assert _cli(tmp_path, "audit", "verify").returncode == 0
    exported = _cli(tmp_path, "audit", "export", "--format", "csv", "--out", "audit.csv")
    assert exported.returncode == 0 and (tmp_path / "audit.csv").read_text().startswith("seq,at,actor,action")
    lines = _cli(tmp_path, "audit", "export").stdout.splitlines()
    actions = [json.loads(line)["action"] for line in lines]
    assert actions.count("ship") == 2 and actions.count("ship-refused") == 2 and "licence" in actions
    assert actions.count("packs") == 1  # every shipment ran under the same pack revisions

    # A shipment under other packs (a 2026 date: regime us-2026-01) enters the pack change first.
    later = _cli(
        tmp_path, "ship", _write(tmp_path, "d.json", {**_txn("d", 1), "date": "2026-03-02"}), today="2026-03-02"
    )
    assert later.returncode == 0, later.stdout + later.stderr
    entries = [json.loads(line) for line in _cli(tmp_path, "audit", "export").stdout.splitlines()]
    changes = [e for e in entries if e["action"] == "packs"]
    assert len(changes) == 2 and "us-2026-01@r2" in changes[-1]["subject"]
    assert entries[-2]["action"] == "packs" and entries[-1]["action"] == "ship"

    with sqlite3.connect(tmp_path / "l.db") as conn:
        conn.execute("UPDATE ledger_audit SET actor = 'someone else' WHERE seq = 2")
    broken = _cli(tmp_path, "audit", "verify")
    assert broken.returncode == 1 and "entry 2" in broken.stderr


@pytest.mark.usefixtures("installed_lists")  # decide/ship screen against them
def test_decide_reads_live_balances_without_writing(tmp_path: Path) -> None:
    _cli(tmp_path, "ledger", "init")
    _cli(tmp_path, "ship", _write(tmp_path, "a.json", _txn("a", 1600)))
    fresh = json.loads(_cli(tmp_path, "decide", _write(tmp_path, "b.json", _txn("b", 200)), "--format", "json").stdout)
    live = json.loads(
        _cli(tmp_path, "decide", "b.json", "--db", f"sqlite:///{tmp_path / 'l.db'}", "--format", "json").stdout
    )
    assert fresh["authorization"] == "LPP" and live["outcome"] == "license_required"
    assert len(json.loads(_cli(tmp_path, "ledger", "history", "--format", "json").stdout)) == 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("ledger", "balances", "--db", "sqlite:////no/such/dir/x.db"), "does not exist"),
        (("ledger", "balances", "--db", "oracle://x"), "unsupported database"),
        (("ship", "missing.json"), "is not a Tiergate ledger"),
    ],
)
def test_ledger_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    result = _cli(tmp_path, *args)
    assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr


def test_ship_on_each_database(ledger_url: str) -> None:
    book = tiergate.load_rulebook()
    ledger = Ledger(ledger_url, actor="api")
    ledger.init()
    txn = tiergate.parse_transaction(_txn("p", 1699), book.catalogue)
    assert ship(txn, book, ledger).committed
    again = tiergate.parse_transaction({**_txn("q", 1), "date": "2025-03-04"}, book.catalogue)
    refused = ship(again, book, ledger)
    assert not refused.committed and refused.decision.outcome == "license_required"
    assert ledger.remaining(["lpp:IN:example-compute-pvt-ltd:2025"]) == {
        "lpp:IN:example-compute-pvt-ltd:2025": pytest.approx(26_900_000 - 1699 * 15831.2)
    }
    assert ledger.verify_audit() is None
    assert dt.date(2025, 3, 3) == txn.date
    ledger.close()


def test_the_csv_export_shows_formulas_as_text_and_jsonl_stays_exact(tmp_path: Path) -> None:
    """An actor or subject written as a spreadsheet formula (CSV injection) is exported to CSV with an
    apostrophe before it; the JSON lines export keeps the entry as hashed."""
    hostile = '=HYPERLINK("http://evil.example","open")'
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", actor="-2+3")
    ledger.init()
    ledger.log("decision", hostile, {"note": "@SUM(A1:A2)"})
    ledger.close()
    exported = _cli(tmp_path, "audit", "export", "--format", "csv", "--out", "audit.csv")
    assert exported.returncode == 0, exported.stderr
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO((tmp_path / "audit.csv").read_text(encoding="utf-8"), newline="")))
    entry = rows[-1]
    assert entry["subject"] == "'" + hostile and entry["actor"] == "'-2+3"
    assert entry["payload"].startswith("{")  # a JSON text is not a formula: unchanged
    lines = [json.loads(line) for line in _cli(tmp_path, "audit", "export").stdout.splitlines()]
    assert lines[-1]["subject"] == hostile and lines[-1]["actor"] == "-2+3"
    assert _cli(tmp_path, "audit", "verify").returncode == 0


def test_one_licence_does_not_ship_what_several_authorities_must_license(tmp_path: Path) -> None:
    """Review fix: a Dutch NXT:2000i to China with its US content unknown needs a Dutch licence and (review) a US
    one; `ship --license L-1` committed it under the one licence. A licence is granted by one authority, so it
    cannot be taken to cover another's."""
    book = tiergate.load_rulebook()
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", actor="officer")
    ledger.init()
    record(
        ledger,
        "L-1",
        jurisdiction="NL",
        consignees=[{"name": "Hua Hong Foundry Co", "country": "CN"}],
        destination="CN",
        lines=[{"item": "asml-nxt-2000i", "quantity": 5, "value_usd": 500_000_000}],
    )
    cn = {"name": "Hua Hong Foundry Co", "country": "CN", "headquarters": "CN"}
    both = {
        "id": "nl-1",
        "date": "2025-06-01",
        "export_from": "NL",
        "destination": "CN",
        "consignee": cn,
        "value_usd": 80_000_000,
    }
    txn = tiergate.parse_transaction(
        {**both, "items": [{"equipment": "asml-nxt-2000i", "quantity": 1}]}, book.catalogue
    )
    refused = ship(txn, book, ledger, licence_id="L-1")
    assert not refused.committed and "NL" in refused.reason and "US" in refused.reason, refused.reason
    dutch_only = {**both, "id": "nl-2"}
    item = {"equipment": "asml-nxt-2000i", "quantity": 1, "us_content_pct": 10, "made_with_us_technology": True}
    one = tiergate.parse_transaction({**dutch_only, "items": [item]}, book.catalogue)
    shipped = ship(one, book, ledger, licence_id="L-1")  # a Dutch licence alone is needed: L-1 is it
    assert shipped.committed, shipped.reason
    assert [j.jurisdiction for j in shipped.decision.jurisdictions if j.outcome == "license_required"] == ["NL"]
    assert ledger.verify_audit() is None
    ledger.close()
