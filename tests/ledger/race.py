"""A worker for the concurrency test: threads that reserve one unit at a time until the cap refuses."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from tiergate.ledger import AllocationExceeded, Ledger, LedgerError


def race(url: str, account: str, threads: int) -> int:
    ledger = Ledger(url, actor="racer")
    won = [0] * threads

    def run(slot: int) -> None:
        while True:
            try:
                reservation = ledger.reserve(
                    account, 1, kind="race", rule="test/race", cap_tpp=200, key=f"{uuid.uuid4()}"
                )
                ledger.commit(reservation, key=f"{uuid.uuid4()}")
                won[slot] += 1
            except AllocationExceeded:
                return
            except LedgerError as error:  # a busy database: try again
                if "locked" not in str(error) and "deadlock" not in str(error):
                    raise

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ledger.engine.dispose()
    return sum(won)


def init_together(url: str, barrier: Any, answers: Any) -> None:
    """A worker of the concurrent ``ledger init`` test: connect, wait for the others, create the tables."""
    ledger = Ledger(url)
    with ledger.engine.connect():
        pass
    barrier.wait()
    try:
        answers.put(ledger.init())
    except Exception as error:  # the answer the test checks
        answers.put(f"{type(error).__name__}: {error}")
    finally:
        ledger.close()
