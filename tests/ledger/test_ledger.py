"""The ledger's operations and their invariants, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import orjson
import pytest
import sqlalchemy as sa

from tiergate.ledger import (
    AllocationExceeded,
    IdempotencyConflict,
    Ledger,
    LedgerError,
    UnknownReservation,
    open_ledger,
)
from tiergate.ledger.schema import accounts, audit, movements

from ..licences import record
from .race import race

CAP = dict(kind="lpp:consignee", rule="us-diffusion-2025/lpp-allowance", cap_tpp=1000.0)


@pytest.fixture
def ledger(ledger_url: str) -> Ledger:
    book = Ledger(ledger_url, actor="tester")
    book.init()
    yield book
    book.close()


def test_reserve_commit_release_move_the_balance(ledger: Ledger) -> None:
    first = ledger.reserve("lpp:IN:a:2025", 300.5, key="r1", decision_id="d1", **CAP)
    ledger.commit(first, key="c1", amount_tpp=100)
    ledger.release(first, key="x1")
    (balance,) = ledger.balances()
    assert (balance.cap, balance.used, balance.reserved, balance.remaining) == (1000, 100, 0, 900)
    assert [m.op for m in ledger.history()] == ["reserve", "commit", "release"]
    assert ledger.verify_audit() is None


def test_the_cap_is_never_exceeded_and_refusals_change_nothing(ledger: Ledger) -> None:
    ledger.reserve("lpp:IN:a:2025", 999.9999, key="r1", **CAP)
    with pytest.raises(AllocationExceeded, match=r"0\.0001 TPP left"):
        ledger.reserve("lpp:IN:a:2025", 0.0002, key="r2", **CAP)
    ledger.reserve("lpp:IN:a:2025", 0.0001, key="r3", **CAP)  # exactly at the cap
    assert ledger.balances()[0].remaining == 0
    assert len(ledger.history()) == 2


def test_a_retried_operation_changes_nothing(ledger: Ledger) -> None:
    first = ledger.reserve("lpp:IN:a:2025", 10, key="same", **CAP)
    assert ledger.reserve("lpp:IN:a:2025", 10, key="same", **CAP) == first
    ledger.commit(first, key="done")
    ledger.commit(first, key="done")
    entries = len(list(ledger.audit_entries()))
    assert ledger.balances()[0].used == 10 and len(ledger.history()) == 2 and entries == 2
    with pytest.raises(IdempotencyConflict):
        ledger.reserve("lpp:IN:a:2025", 11, key="same", **CAP)


def test_a_retry_after_the_cap_is_reached_returns_the_first_reservation(ledger: Ledger) -> None:
    first = ledger.reserve("lpp:IN:a:2025", 1000, key="all", **CAP)  # the whole cap
    assert ledger.reserve("lpp:IN:a:2025", 1000, key="all", **CAP) == first  # not "cap reached"
    assert ledger.balances()[0].reserved == 1000 and len(ledger.history()) == 1


@pytest.mark.parametrize(
    "account, key, decision",
    [
        ('lpp:IN:Ünïcode "quoted" \\ back:2025', "k-\u2028-\n-\t", 'd"1'),
        ("lpp:IN:918374655091283701:2025", "918374655091283702", None),  # the markers themselves
        ("lpp:CN:北京有限公司:2026", "键", "决定"),
    ],
)
def test_audit_entries_of_reservations_verify_whatever_the_text(
    ledger: Ledger, account: str, key: str, decision: str | None
) -> None:
    """The one-step reservation has the database compute the entry's hash: it must be the hash the
    verifier recomputes, for any text, and the payload must name the reservation."""
    first = ledger.reserve(account, 5, key=key, decision_id=decision, **CAP)
    second = ledger.reserve(account, 7, key=key + "/2", decision_id=decision, **CAP)
    assert ledger.verify_audit() is None
    entries = list(ledger.audit_entries())
    assert [e["seq"] for e in entries] == [1, 2]
    payloads = [orjson.loads(e["payload"]) for e in entries]
    assert [p["reservation"] for p in payloads] == [first, second]
    assert [p["key"] for p in payloads] == [key, key + "/2"]
    assert payloads[0]["decision"] == decision and payloads[0]["tpp"] == 5
    assert entries[1]["prev_hash"] == entries[0]["hash"]


@pytest.mark.parametrize("amount", [0, -5, float("nan")])
def test_bad_amounts_are_refused(ledger: Ledger, amount: float) -> None:
    with pytest.raises(LedgerError, match="amount"):
        ledger.reserve("lpp:IN:a:2025", amount, key="k", **CAP)
    assert ledger.history() == []


def test_releasing_more_than_reserved_or_an_unknown_reservation_is_refused(ledger: Ledger) -> None:
    held = ledger.reserve("lpp:IN:a:2025", 10, key="r", **CAP)
    with pytest.raises(LedgerError, match=r"10\.0 TPP still reserved"):
        ledger.release(held, key="x", amount_tpp=11)
    with pytest.raises(UnknownReservation):
        ledger.commit(999, key="c")
    assert ledger.balances()[0].reserved == 10 and len(ledger.history()) == 1


def test_a_licence_cannot_be_used_beyond_its_quantity(ledger: Ledger) -> None:
    record(ledger, "L-1", lines=[{"item": "nvidia-h100-sxm", "quantity": 5, "value_usd": 100}])
    line = dict(kind="licence:quantity", rule="licence/L-1/line-1", cap_tpp=5)
    held = ledger.reserve("licence:L-1:1:quantity", 5, key="a", **line)
    ledger.commit(held, key="b")
    with pytest.raises(AllocationExceeded):
        ledger.reserve("licence:L-1:1:quantity", 1, key="c", **line)
    with pytest.raises(LedgerError, match="already recorded"):
        record(ledger, "L-1")


def test_balances_as_of_a_moment(ledger: Ledger) -> None:
    held = ledger.reserve("lpp:IN:a:2025", 10, key="r", **CAP)
    moment = dt.datetime.now(dt.UTC)
    ledger.commit(held, key="c")
    (then,) = ledger.balances(moment)
    (now,) = ledger.balances()
    assert (then.used, then.reserved) == (0, 10) and (now.used, now.reserved) == (10, 0)


def test_the_audit_chain_names_the_first_tampered_entry(ledger: Ledger) -> None:
    for i in range(5):
        ledger.reserve("lpp:IN:a:2025", 1, key=f"r{i}", **CAP)
    assert ledger.verify_audit() is None
    with ledger.engine.begin() as conn:
        conn.execute(audit.update().where(audit.c.seq == 3).values(payload='{"tpp": 0}'))
    problem = ledger.verify_audit()
    assert problem is not None and problem.seq == 3 and "altered" in problem.problem


def test_a_deleted_or_reordered_audit_entry_is_found(ledger: Ledger) -> None:
    for i in range(5):
        ledger.reserve("lpp:IN:a:2025", 1, key=f"r{i}", **CAP)
    with ledger.engine.begin() as conn:
        conn.execute(audit.delete().where(audit.c.seq == 5))
    problem = ledger.verify_audit()
    assert problem is not None and "tail deleted" in problem.problem
    with ledger.engine.begin() as conn:
        conn.execute(audit.delete().where(audit.c.seq == 2))
    problem = ledger.verify_audit()
    assert problem is not None and problem.seq == 2 and "missing" in problem.problem


def test_swapped_audit_entries_are_found(ledger: Ledger) -> None:
    for i in range(4):
        ledger.reserve("lpp:IN:a:2025", 1, key=f"r{i}", **CAP)
    with ledger.engine.begin() as conn:
        rows = {r.seq: r for r in conn.execute(sa.select(audit)).mappings()}
        for seq, other in ((2, 3), (3, 2)):
            row = dict(rows[other])
            row.pop("seq")
            conn.execute(audit.update().where(audit.c.seq == seq).values(**row))
    problem = ledger.verify_audit()
    assert problem is not None and problem.seq == 2


def test_the_database_refuses_a_row_over_its_cap(ledger: Ledger) -> None:
    """Besides the conditional update, a CHECK constraint guards the invariant."""
    ledger.reserve("lpp:IN:a:2025", 10, key="r", **CAP)
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as conn:
        conn.execute(accounts.update().values(used=10**12))


def test_a_ledger_of_a_newer_schema_is_refused(ledger: Ledger, ledger_url: str) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(LedgerError, match="newer than this Tiergate"):
        open_ledger(ledger_url)


def test_a_database_that_cannot_be_opened_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        open_ledger("sqlite:////no/such/folder/ledger.db")
    with pytest.raises(LedgerError, match=r"not a database URL|unsupported database"):
        open_ledger("mysql+nothing://x")


def test_a_commit_is_on_disk_before_it_returns(ledger: Ledger) -> None:
    """A committed shipment must survive a power cut, not only a killed process: on SQLite every commit is
    flushed (synchronous=FULL, 2), as PostgreSQL's are (synchronous_commit on)."""
    with ledger.engine.connect() as conn:
        if ledger.engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        else:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_eight_processes_of_eight_threads_never_overspend(ledger: Ledger, ledger_url: str) -> None:
    account = "country:AE:2025-2027"
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(8, mp_context=context) as pool:
        won = sum(pool.map(race, [ledger_url] * 8, [account] * 8, [8] * 8))
    (balance,) = ledger.balances()
    assert won == 200 and balance.used == 200 and balance.reserved == 0 and balance.remaining == 0
    with ledger.engine.connect() as conn:
        commits = conn.execute(
            sa.select(sa.func.count()).select_from(movements).where(movements.c.op == "commit")
        ).scalar()
    assert commits == 200
    assert ledger.verify_audit() is None


def test_a_reservation_after_the_server_dropped_the_kept_connection(pg_ledger_url: str) -> None:
    """The one-step reservation keeps a connection between calls; when the server has closed it and every idle one
    of the pool (PostgreSQL restarted, say), the next reservation opens another and is made once."""
    ledger_url = pg_ledger_url
    book = Ledger(ledger_url, actor="tester")
    book.init()
    try:
        book.reserve("lpp:IN:a:2025", 1, key="before", **CAP)
        held = [book.engine.connect() for _ in range(3)]  # three idle connections in the pool, lost too below
        for conn in held:
            conn.close()
        admin = sa.create_engine(ledger_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            dropped = conn.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).scalar()
        admin.dispose()
        assert dropped and dropped >= 1
        book.reserve("lpp:IN:a:2025", 2, key="after", **CAP)
        (balance,) = book.balances()
        assert balance.reserved == 3 and [m.idempotency_key for m in book.history()] == ["before", "after"]
        assert book.verify_audit() is None
    finally:
        book.close()
