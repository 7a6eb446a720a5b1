"""Issue 21, item 9: four concurrent `ledger init` on an empty database; one failed with an internal error
(PostgreSQL: two CREATE TABLE alembic_version at once). The inits take turns: every one answers the schema."""

from __future__ import annotations

import multiprocessing

from tiergate.ledger import Ledger
from tiergate.ledger.store import HEAD_REVISION

from .race import init_together


def test_concurrent_inits_of_an_empty_database_all_succeed(pg_ledger_url: str) -> None:
    ledger_url = pg_ledger_url
    context = multiprocessing.get_context("spawn")  # not fork: a lock held by another thread would stay held
    barrier = context.Barrier(4)
    answers = context.Queue()
    workers = [context.Process(target=init_together, args=(ledger_url, barrier, answers)) for _ in range(4)]
    for worker in workers:
        worker.start()
    found = [answers.get(timeout=90) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert found == [HEAD_REVISION] * 4, found
    ledger = Ledger(ledger_url)
    ledger.check()
    assert ledger.verify_audit() is None
    ledger.close()
