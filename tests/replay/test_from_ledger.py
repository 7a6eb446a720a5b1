"""``tiergate replay --from-ledger URL``: the history is what was shipped through the ledger, as its audit log
keeps it; a shipment whose entry does not keep the transaction is listed as unreplayable, never reconstructed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

import tiergate
from tiergate.batch import read_records
from tiergate.cli import app
from tiergate.interchange import parse_transaction, transaction_to_dict
from tiergate.ledger import Ledger
from tiergate.ledger.ship import ship
from tiergate.replay.history import NO_FACTS, replay_ledger
from tiergate.replay.report import build_report

SAMPLES = Path(__file__).resolve().parents[2] / "tiergate" / "samples" / "transactions.jsonl"


def test_the_interchange_form_of_a_transaction_parses_back_to_it(book: tiergate.Rulebook) -> None:
    for record in read_records(SAMPLES):
        txn = parse_transaction(record.data, book.catalogue, where=record.where)
        assert parse_transaction(transaction_to_dict(txn), book.catalogue) == txn, record.where


def test_replay_from_a_ledger_decides_what_was_shipped(book: tiergate.Rulebook, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger(url, actor="test")
    ledger.init()
    shipped = []
    for record in read_records(SAMPLES):
        txn = parse_transaction(record.data, book.catalogue, where=record.where)
        if ship(txn, book, ledger, regime="us-diffusion-2025").committed:
            shipped.append(txn.id)
    # An entry written before the ledger kept the transaction (the payload without it): listed, not rebuilt.
    ledger.run(lambda conn: ledger.append_audit(conn, "ship", "old-1", {"outcome": "authorized"}))
    ledger.close()
    assert len(shipped) >= 3

    result = replay_ledger(
        book, url, regime_from="us-diffusion-2025", regime_to="us-2026-01", today=dt.date(2026, 3, 2)
    )
    report = build_report(result)
    assert result.facts.ids == shipped
    assert report["history"]["records"] == len(shipped) + 1 and report["total"] == len(shipped)
    assert report["unreplayable"][-1]["id"] == "old-1" and report["unreplayable"][-1]["why"] == NO_FACTS
    assert report["history"]["source"].startswith("ledger ") and len(report["history"]["sha256"]) == 64
    # Under the regime it was shipped under, nothing changes.
    same = build_report(
        replay_ledger(
            book, url, regime_from="us-diffusion-2025", regime_to="us-diffusion-2025", today=dt.date(2026, 3, 2)
        )
    )
    assert same["changed"] == 0

    out = CliRunner().invoke(
        app, ["replay", "--from-ledger", url, "--from", "us-diffusion-2025", "--to", "us-2026-01", "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["total"] == len(shipped)
