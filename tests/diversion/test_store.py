"""The case queue on SQLite and PostgreSQL: analysts' actions in the audit log, decisions kept across re-scans with
the same evidence, a closed case opened again when its evidence changes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiergate.diversion.model import Flag
from tiergate.diversion.store import CaseError, CaseQueue, UnknownCase

from ..ledger.conftest import pg_database
from .conftest import Scanned


@pytest.fixture(params=["sqlite", "postgresql"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaseQueue]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'ledger.db'}"])
    else:
        urls = pg_database()
    url = next(urls)
    q = CaseQueue(url, actor="tester")
    try:
        yield q
    finally:
        q.dispose()
        for _ in urls:  # drop the throw-away database
            pass


def test_record_act_and_rescan(queue: CaseQueue, scanned: Scanned) -> None:
    found = [c for c in copy.deepcopy(scanned.result.cases) if c.level != "low"]
    assert queue.record(found)["new"] == len(found)
    first = found[0].case
    assert queue.list()[0]["case"] == first
    queue.assign(first, "alice")
    queue.note(first, "asked the exporter for the end-user statement", author="alice")
    closed = queue.close(first, "licence on file covers it", author="alice")
    assert closed["status"] == "closed" and closed["decided_by"] == "alice"
    assert [n["text"] for n in closed["analyst_notes"]] == ["asked the exporter for the end-user statement"]
    actions = [h["action"] for h in closed["history"]]
    assert actions == ["diversion.case.open", "diversion.case.assign", "diversion.case.note", "diversion.case.close"]

    again = copy.deepcopy([c for c in scanned.result.cases if c.level != "low"])
    summary = queue.record(again)
    assert summary["kept_closed"] == 1 and summary["new"] == 0
    assert queue.show(first)["status"] == "closed"

    changed = copy.deepcopy([c for c in scanned.result.cases if c.level != "low"])
    target = next(c for c in changed if c.key == found[0].key)
    target.flags.append(Flag("F8-web-presence", 5, target.shipments[:1], "new evidence", "citation"))
    target.evidence = "changed-evidence"
    assert queue.record(changed)["reopened"] == 1
    view = queue.show(first)
    assert view["status"] == "open"
    assert view["history"][-1]["action"] == "diversion.case.reopen"
    assert queue.ledger.verify_audit() is None


def test_bad_actions_change_nothing(queue: CaseQueue, scanned: Scanned) -> None:
    found = [c for c in copy.deepcopy(scanned.result.cases) if c.level == "block"][:1]
    queue.record(found)
    with pytest.raises(CaseError, match="needs a reason"):
        queue.close(found[0].case, "  ")
    with pytest.raises(UnknownCase):
        queue.assign("C-9999", "bob")
    with pytest.raises(CaseError, match="status"):
        queue.list(status="pending")
    assert queue.show(found[0].case)["status"] == "open"
