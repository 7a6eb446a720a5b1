"""Invariants under random operation sequences (Hypothesis) and under a writer killed mid-operation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tiergate.ledger import AllocationExceeded, Ledger, LedgerError
from tiergate.ledger.schema import accounts, audit, movements, reservations

CAP = 100.0


class LedgerMachine(RuleBasedStateMachine):
    """Random reserve / commit / release / retry sequences against a model of the balances."""

    url = ""

    @initialize()
    def start(self) -> None:
        self.ledger = Ledger(self.url, actor="hypothesis")
        self.ledger.init()
        self.account = f"country:IN:{uuid.uuid4().hex}"  # a fresh account per run: examples share one database
        self.open: dict[int, float] = {}
        self.used = 0.0
        self.reserved = 0.0
        self.keys: list[tuple[str, float]] = []
        self.counter = 0

    def _key(self) -> str:
        self.counter += 1
        return f"{self.account}:{self.counter}"

    @rule(amount=st.integers(1, 60))
    def reserve(self, amount: int) -> None:
        key = self._key()
        try:
            reservation = self.ledger.reserve(self.account, amount, kind="k", rule="r", cap_tpp=CAP, key=key)
        except AllocationExceeded:
            assert self.used + self.reserved + amount > CAP
            return
        assert self.used + self.reserved + amount <= CAP
        self.open[reservation] = amount
        self.reserved += amount
        self.keys.append((key, amount))

    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        if not self.open:
            return
        reservation = data.draw(st.sampled_from(sorted(self.open)))
        outstanding = self.open[reservation]
        amount = data.draw(st.integers(1, int(outstanding) + 5))
        commit = data.draw(st.booleans())
        operation = self.ledger.commit if commit else self.ledger.release
        try:
            operation(reservation, key=self._key(), amount_tpp=amount)
        except LedgerError:
            assert amount > outstanding
            return
        assert amount <= outstanding
        self.open[reservation] -= amount
        if self.open[reservation] == 0:
            del self.open[reservation]
        self.reserved -= amount
        if commit:
            self.used += amount

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        if not self.keys:
            return
        key, amount = data.draw(st.sampled_from(self.keys))
        self.ledger.reserve(self.account, amount, kind="k", rule="r", cap_tpp=CAP, key=key)  # changes nothing

    @invariant()
    def balances_match_the_model_and_the_cap(self) -> None:
        if not hasattr(self, "ledger"):
            return
        rows = [b for b in self.ledger.balances() if b.account == self.account]
        used, reserved = (rows[0].used, rows[0].reserved) if rows else (0.0, 0.0)
        assert (used, reserved) == (self.used, self.reserved)
        assert used + reserved <= CAP

    def teardown(self) -> None:
        if hasattr(self, "ledger"):
            assert self.ledger.verify_audit() is None
            self.ledger.close()


@pytest.mark.parametrize("examples", [25])
def test_random_sequences_never_exceed_the_cap(ledger_url: str, examples: int) -> None:
    LedgerMachine.url = ledger_url
    machine = LedgerMachine.TestCase
    machine.settings = settings(
        max_examples=examples if "sqlite" in ledger_url else 10,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine().runTest()


WRITER = """
import sys, uuid
from tiergate.ledger import Ledger, AllocationExceeded
ledger = Ledger(sys.argv[1], actor="writer")
print("ready", flush=True)
n = 0
while True:
    try:
        r = ledger.reserve("country:MY:2025-2027", 1, kind="k", rule="r", cap_tpp=10**9, key=str(uuid.uuid4()))
        ledger.commit(r, key=str(uuid.uuid4()))
        n += 1
    except AllocationExceeded:
        break
"""


def test_a_writer_killed_mid_operation_leaves_no_half_written_entry(ledger_url: str, tmp_path: Path) -> None:
    setup = Ledger(ledger_url)
    setup.init()
    setup.close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    for _ in range(3):
        process = subprocess.Popen([sys.executable, str(script), ledger_url], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
    ledger = Ledger(ledger_url)
    assert ledger.verify_audit() is None
    with ledger.engine.connect() as conn:
        account = conn.execute(sa.select(accounts)).mappings().one()
        reserved = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(movements.c.amount), 0)).where(movements.c.op == "reserve")
        ).scalar()
        committed = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(movements.c.amount), 0)).where(movements.c.op == "commit")
        ).scalar()
        held = conn.execute(sa.select(sa.func.sum(reservations.c.amount - reservations.c.committed))).scalar() or 0
        moves = conn.execute(sa.select(sa.func.count()).select_from(movements)).scalar()
        entries = conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar()
    assert committed > 0  # the writer got somewhere before each kill
    assert account["used"] == committed and account["reserved"] == reserved - committed == held
    assert moves == entries  # every movement has its audit entry and nothing else was written
    ledger.close()
