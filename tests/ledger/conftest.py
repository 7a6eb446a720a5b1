"""Ledger tests run on a SQLite file and on a throw-away PostgreSQL database (created and dropped
here). PostgreSQL is on 127.0.0.1:5432 on the project's machines; elsewhere its tests are skipped,
except under CI (CI=true), where its absence is a failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN = os.environ.get("TIERGATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


PG = _pg_available()


def pg_database() -> Iterator[str]:
    if not PG:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}")
        pytest.skip("PostgreSQL is not reachable")
    name = "tiergate_test_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield from pg_database()


@pytest.fixture
def pg_ledger_url() -> Iterator[str]:
    """A throw-away PostgreSQL database only, for what only PostgreSQL does."""
    yield from pg_database()
