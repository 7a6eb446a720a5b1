"""Issue 21, item 3: an audit log that cannot be quietly rewritten. Each attack below left the hash chain intact
(someone who can write the database recomputes plain SHA-256); a signed checkpoint kept outside the database
catches it and names where the log departs, and the balances are recomputed from the movements."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tiergate.ledger import Ledger
from tiergate.ledger.audit import LedgerCheckpoint, make_checkpoint, verify
from tiergate.ledger.schema import audit, audit_head
from tiergate.ledger.store import entry_hash
from tiergate.signing import CheckpointError

from ..inprocess import Completed, run_cli

CAP = dict(kind="lpp:consignee", rule="us-diffusion-2025/lpp-allowance", cap_tpp=1000.0)
KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    book = Ledger(ledger_url, actor="tester")
    book.init()
    for n in range(5):  # 10 entries: a reservation and its commit, five times
        held = book.reserve("lpp:IN:a:2025", 10 + n, key=f"r{n}", **CAP)
        book.commit(held, key=f"c{n}")
    yield book
    book.close()


def _rechain(ledger: Ledger, entries: list[dict[str, Any]]) -> None:
    """What an attacker with write access does: renumber, recompute every hash, move the head row."""
    previous = "0" * 64
    with ledger.engine.begin() as conn:
        conn.execute(audit.delete())
        for seq, entry in enumerate(entries, 1):
            row = {**entry, "seq": seq, "prev_hash": previous}
            row["hash"] = previous = entry_hash(row)
            conn.execute(audit.insert().values(**row))
        conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=len(entries), hash=previous))


def _checkpoint(ledger: Ledger) -> LedgerCheckpoint:
    signed = make_checkpoint(ledger, KEY)
    return LedgerCheckpoint.from_json(signed.to_json())  # as read back from the operator's file


@pytest.mark.parametrize("full", [False, True])
def test_an_edited_entry_with_every_later_hash_recomputed_is_named(ledger: Ledger, full: bool) -> None:
    signed = _checkpoint(ledger)
    entries = list(ledger.audit_entries())
    entries[2]["payload"] = entries[2]["payload"].replace('"tpp":11.0', '"tpp":1.0')
    _rechain(ledger, entries)
    assert ledger.verify_audit() is None  # the chain alone is fooled
    result = verify(ledger, signed, trusted=KEY.public_key(), full=full)
    assert not result.intact and result.problem is not None and result.problem.seq == 3, result.problem
    assert "signed checkpoint" in result.problem.problem


@pytest.mark.parametrize("full", [False, True])
def test_a_deleted_and_renumbered_middle_entry_is_named(ledger: Ledger, full: bool) -> None:
    signed = _checkpoint(ledger)
    entries = list(ledger.audit_entries())
    del entries[3]
    _rechain(ledger, entries)
    assert ledger.verify_audit() is None
    result = verify(ledger, signed, trusted=KEY.public_key(), full=full)
    assert result.problem is not None and result.problem.seq == 4, result.problem


@pytest.mark.parametrize("full", [False, True])
def test_a_truncated_tail_with_the_head_row_moved_is_named(ledger: Ledger, full: bool) -> None:
    signed = _checkpoint(ledger)
    _rechain(ledger, list(ledger.audit_entries())[:7])
    assert ledger.verify_audit() is None
    result = verify(ledger, signed, trusted=KEY.public_key(), full=full)
    assert result.problem is not None and result.problem.seq == 8, result.problem
    assert "rolled back" in result.problem.problem


def test_the_log_may_grow_after_the_checkpoint_and_later_entries_are_checked(ledger: Ledger) -> None:
    signed = _checkpoint(ledger)
    held = ledger.reserve("lpp:IN:a:2025", 1, key="later", **CAP)
    ledger.commit(held, key="later-commit")
    result = verify(ledger, signed, trusted=KEY.public_key())
    assert result.intact and result.entries == 12 and result.checkpoint == 10, result.message()
    with ledger.engine.begin() as conn:  # an entry after the checkpoint edited, hash left behind
        conn.execute(audit.update().where(audit.c.seq == 11).values(actor="mallory"))
    result = verify(ledger, signed, trusted=KEY.public_key())
    assert result.problem is not None and result.problem.seq == 11


def test_an_edit_that_leaves_the_hash_behind_is_caught_incrementally(ledger: Ledger) -> None:
    signed = _checkpoint(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(audit.update().where(audit.c.seq == 2).values(actor="mallory"))
    result = verify(ledger, signed, trusted=KEY.public_key())
    assert result.problem is not None and result.problem.seq == 2


def test_balances_are_recomputed_from_the_movements(ledger: Ledger) -> None:
    assert verify(ledger).intact
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_accounts SET used = 0"))
    assert ledger.verify_audit() is None  # the chain does not see it
    result = verify(ledger)
    assert not result.intact and result.problem is None
    assert any("used is 0" in line for line in result.balances), result.balances
    with pytest.raises(Exception, match="balances differ"):
        make_checkpoint(ledger, KEY)  # nothing is signed over a tampered ledger


def test_movements_deleted_with_the_balances_adjusted_disagree_with_the_audit_log(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_movements WHERE idempotency_key IN ('c4')"))
        conn.execute(sa.text("UPDATE ledger_accounts SET used = used - 140000, reserved = reserved + 140000"))
    result = verify(ledger)
    assert not result.intact and any("audit log" in line for line in result.balances), result.balances


def test_a_checkpoint_altered_or_signed_by_another_key_is_refused(ledger: Ledger) -> None:
    signed = make_checkpoint(ledger, KEY)
    text = signed.to_json().replace(signed.marks[0][1], "f" * 64)
    with pytest.raises(CheckpointError, match="marks"):
        LedgerCheckpoint.from_json(text)
    with pytest.raises(CheckpointError, match="trusted key"):
        verify(ledger, _checkpoint(ledger), trusted=Ed25519PrivateKey.generate().public_key())


def _cli(tmp_path: Path, *args: str) -> Completed:
    env = {
        **os.environ,
        "TIERGATE_DB": f"sqlite:///{tmp_path / 'l.db'}",
        "TIERGATE_SIGNING_KEY": str(tmp_path / "keys" / "signing.pem"),
    }
    return run_cli(args, cwd=tmp_path, env=env)


def test_a_database_rolled_back_to_an_earlier_copy_fails_verify_through_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    ledger = Ledger(url, actor="tester")
    ledger.init()
    for n in range(3):
        ledger.commit(ledger.reserve("lpp:IN:a:2025", 10, key=f"r{n}", **CAP), key=f"c{n}")
    with sqlite3.connect(tmp_path / "l.db") as live, sqlite3.connect(tmp_path / "copy.db") as copy:
        live.backup(copy)  # the operator's nightly copy, or the attacker's
    for n in range(3, 5):
        ledger.commit(ledger.reserve("lpp:IN:a:2025", 10, key=f"r{n}", **CAP), key=f"c{n}")
    ledger.close()

    made = _cli(tmp_path, "audit", "checkpoint", "--create-key", "--out", "cp.json")
    assert made.returncode == 0, made.stderr
    assert _cli(tmp_path, "audit", "verify", "--checkpoint", "cp.json").returncode == 0

    (tmp_path / "l.db").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"l.db{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(tmp_path / "copy.db") as copy, sqlite3.connect(tmp_path / "l.db") as live:
        copy.backup(live)
    assert _cli(tmp_path, "audit", "verify").returncode == 0  # the copy is internally consistent
    rolled = _cli(tmp_path, "audit", "verify", "--checkpoint", "cp.json")
    assert rolled.returncode == 1 and "entry 7" in rolled.stderr and "rolled back" in rolled.stderr, rolled.stderr
    assert "Traceback" not in rolled.stderr
