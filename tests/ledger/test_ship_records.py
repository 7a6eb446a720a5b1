"""Issue 21, items 6 and 7: `ship` records real shipments (the regime in force on the shipment's date, a date
within a window around today, an audited backfill), and a shipment is drawn once however often, and however
concurrently, it is sent."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import tiergate
from tiergate.errors import InputError
from tiergate.ledger import IdempotencyConflict, Ledger
from tiergate.ledger.ship import Shipment, ShipWindow, ship, shipment_to_dict

from ..inprocess import Completed
from .test_ship import _cli as ship_cli
from .test_ship import _write

TODAY = dt.date(2025, 3, 3)
LPP = "lpp:IN:example-compute-pvt-ltd:"


def _txn(tid: str | None, quantity: int, date: str = "2025-03-03") -> dict[str, Any]:
    found: dict[str, Any] = {
        "date": date,
        "destination": "IN",
        "items": [{"chip": "nvidia-h100-sxm", "quantity": quantity}],
        "consignee": {"name": "Example Compute Pvt Ltd", "country": "IN", "headquarters": "IN"},
    }
    if tid is not None:
        found["id"] = tid
    return found


def _cli(tmp_path: Path, *args: str) -> Completed:
    return ship_cli(tmp_path, *args, today=TODAY.isoformat())


@pytest.mark.usefixtures("installed_lists")  # decide/ship screen against them
def test_the_allowance_of_other_years_cannot_be_drawn_under_a_scenario(tmp_path: Path) -> None:
    """The exploit: with the 2025 LPP allowance used, the same consignee shipped 1,699 H100s three more times,
    under the Diffusion scenario dated 2024, 2026 and 2031, each against a new year's allowance."""
    book = tiergate.load_rulebook()
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", actor="t")
    ledger.init()
    first = ship(tiergate.parse_transaction(_txn("a", 1699), book.catalogue), book, ledger, today=TODAY)
    assert first.committed and first.decision.authorization == "LPP"
    for n, date in enumerate(("2024-06-03", "2026-03-02", "2031-01-06")):
        txn = tiergate.parse_transaction(_txn(f"x{n}", 1699, date), book.catalogue)
        for regime in ("us-diffusion-2025", None):
            with pytest.raises(InputError, match="nothing was drawn"):
                ship(txn, book, ledger, regime=regime, today=TODAY)
    with pytest.raises(InputError, match="us-2025-05 is a scenario"):
        ship(tiergate.parse_transaction(_txn("s", 1), book.catalogue), book, ledger, regime="us-2025-05", today=TODAY)
    assert [b.account for b in ledger.balances() if b.account.startswith(LPP)] == [LPP + "2025"]
    ledger.close()
    # The same through the command line: refused, one line, nothing drawn.
    refused = _cli(
        tmp_path, "ship", _write(tmp_path, "x.json", _txn("x", 1699, "2031-01-06")), "--regime", "us-diffusion-2025"
    )
    assert refused.returncode == 2 and "us-diffusion-2025 is a scenario" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.usefixtures("installed_lists")  # decide/ship screen against them
def test_a_backfill_needs_the_flag_and_is_audited(tmp_path: Path) -> None:
    book = tiergate.load_rulebook()
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", actor="t")
    ledger.init()
    old = _txn("old", 10, "2025-01-20")  # 42 days before today, Diffusion in force
    with pytest.raises(InputError, match="more than 30 days before today"):
        ship(tiergate.parse_transaction(old, book.catalogue), book, ledger, today=TODAY)
    within = tiergate.parse_transaction(_txn("w", 1, "2025-02-10"), book.catalogue)  # 21 days back
    assert ship(within, book, ledger, today=TODAY).committed
    ledger.close()
    shipped = _cli(tmp_path, "ship", _write(tmp_path, "old.json", old), "--backfill", "--format", "json")
    assert shipped.returncode == 0 and json.loads(shipped.stdout)["committed"] is True, shipped.stderr
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    backfills = [e for e in ledger.audit_entries() if e["action"] == "backfill"]
    assert len(backfills) == 1 and backfills[0]["actor"] == "officer@example" and backfills[0]["subject"] == "old"
    assert json.loads(backfills[0]["payload"])["date"] == "2025-01-20"
    ledger.close()


def test_the_window_is_configurable() -> None:
    book = tiergate.load_rulebook()
    txn = tiergate.parse_transaction(_txn("t", 1, "2025-03-10"), book.catalogue)
    ledger = Ledger("sqlite://", actor="t")  # never reached: the date is refused first
    with pytest.raises(InputError, match="after 2025-03-03"):
        ship(txn, book, ledger, today=TODAY, window=ShipWindow())
    os.environ["TIERGATE_SHIP_DAYS_AHEAD"] = "x"
    try:
        with pytest.raises(InputError, match="TIERGATE_SHIP_DAYS_AHEAD"):
            ShipWindow.from_env()
        os.environ["TIERGATE_SHIP_DAYS_AHEAD"] = "7"
        assert ShipWindow.from_env() == ShipWindow(30, 7)
    finally:
        del os.environ["TIERGATE_SHIP_DAYS_AHEAD"]


def _race(url: str, data: dict[str, Any], workers: int) -> list[Shipment | BaseException]:
    book = tiergate.load_rulebook()
    txn = tiergate.parse_transaction(data, book.catalogue)
    ledgers = [Ledger(url, actor=f"w{i}") for i in range(workers)]
    start = threading.Barrier(workers)
    answers: list[Shipment | BaseException] = [RuntimeError("not run")] * workers

    def run(slot: int) -> None:
        start.wait()
        try:
            answers[slot] = ship(txn, book, ledgers[slot], today=TODAY)
        except BaseException as error:
            answers[slot] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for ledger in ledgers:
        ledger.close()
    return answers


@pytest.mark.parametrize("tid", ["retried", None])
def test_concurrent_retries_of_one_shipment_draw_and_log_once(ledger_url: str, tid: str | None) -> None:
    setup = Ledger(ledger_url)
    setup.init()
    setup.close()
    answers = _race(ledger_url, _txn(tid, 100), 8)
    assert all(isinstance(a, Shipment) for a in answers), answers
    shipments = [a for a in answers if isinstance(a, Shipment)]
    assert all(s.committed for s in shipments)
    assert sorted(s.duplicate for s in shipments) == [False] + [True] * 7
    shown = [shipment_to_dict(s) for s in shipments]
    assert len({(tuple(d["reservations"]), d["authorization"]) for d in shown}) == 1  # the same answer
    ledger = Ledger(ledger_url)
    entries = list(ledger.audit_entries())
    assert [e["action"] for e in entries].count("ship") == 1
    first = next(s for s in shipments if not s.duplicate)
    assert [m.op for m in ledger.history()] == ["reserve", "commit"] * len(first.reservations)
    assert ledger.verify_audit() is None
    ledger.close()


def test_an_id_less_repeat_says_duplicate_and_the_same_id_with_other_content_is_refused(tmp_path: Path) -> None:
    book = tiergate.load_rulebook()
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", actor="t")
    ledger.init()
    anonymous = tiergate.parse_transaction(_txn(None, 10), book.catalogue)
    first = ship(anonymous, book, ledger, today=TODAY)
    again = ship(anonymous, book, ledger, today=TODAY)
    assert first.committed and not first.duplicate
    assert again.duplicate and again.reservations == first.reservations and "nothing was drawn" in again.reason
    assert shipment_to_dict(again)["duplicate"] is True
    ship(tiergate.parse_transaction(_txn("one", 10), book.catalogue), book, ledger, today=TODAY)
    with pytest.raises(IdempotencyConflict, match="other content"):
        ship(tiergate.parse_transaction(_txn("one", 11), book.catalogue), book, ledger, today=TODAY)
    assert len(ledger.history()) == 4 * len(first.reservations)
    ledger.close()
