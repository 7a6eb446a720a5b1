"""The API on PostgreSQL: keys, a shipment audited under its owner, revocation, the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tiergate

from ..ledger.conftest import pg_database
from .conftest import Api, make_api, sample


@pytest.fixture
def pg_api(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    for url in pg_database():
        made = make_api(tmp_path, book, db=url)
        try:
            yield made
        finally:
            made.client.close()
            made.ctx.close()


def test_ship_keys_and_audit_on_postgresql(pg_api: Api) -> None:
    shipped = pg_api.post("/v1/ship", json=sample("demo-01")).json()
    assert shipped["committed"] is True
    balances = pg_api.get("/v1/ledger/balances").json()
    assert balances[0]["used"] == pytest.approx(15_831_200)
    created = pg_api.post("/v1/keys", role="admin", json={"owner": "pg-user", "role": "viewer"}).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert pg_api.client.get("/v1/chips", headers=headers).status_code == 200
    assert pg_api.client.delete(f"/v1/keys/{created['id']}", headers=pg_api.headers("admin")).status_code == 200
    assert pg_api.client.get("/v1/chips", headers=headers).status_code == 401
    entries = pg_api.get("/v1/audit").json()
    assert {e["action"] for e in entries} >= {"ship", "api-key-create", "api-key-revoke"}
    assert pg_api.get("/v1/audit/verify").json()["intact"] is True
