"""The Vault page: the approver set, artefacts, requests with why, approving as the signed-in key's owner, the log
verified on demand; hostile text escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import tiergate
from tests.vault.conftest import artefact, clean, transfer, write_shards
from tiergate.vault import Vault

from ..api.conftest import Api, make_api
from .test_pages import HTML, csrf_of, sign_in


@pytest.fixture
def web(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    made = make_api(tmp_path, book, key_cache_seconds=0.0)
    yield made
    made.client.close()
    made.ctx.close()


@pytest.fixture
def filled(web: Api, tmp_path: Path, book: tiergate.Rulebook) -> str:
    vault = Vault(web.db, book=book)
    vault.init("approver-owner,admin-owner,carol", 2)
    vault.register(artefact("frontier-1", 3.5e26, write_shards(tmp_path / "shards")))
    rid = str(vault.request(transfer(recipient="<script>alert(1)</script> Ltd"), clean).view["request"])
    vault.request(transfer(destination="CN"), clean)
    vault.close()
    return rid


def test_the_page_shows_the_vault(web: Api, filled: str) -> None:
    page = sign_in(web, "viewer").get("/vault", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "2</strong> of 3" in text and "approver-owner, admin-owner, carol" in text
    assert 'data-artefact="frontier-1"' in text and "<strong>4E091</strong>" in text
    assert '<span class="vault-status pending">pending</span>' in text
    assert '<span class="vault-status denied">denied</span>' in text and "tier3_floor" in text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; Ltd" in text
    assert "Approve as" not in text  # a viewer cannot approve
    verified = sign_in(web, "viewer").get("/vault?verify=1", headers=HTML).text
    assert 'id="verified">Verified: 4 entries' in verified


def test_an_approver_approves_as_the_keys_owner(web: Api, filled: str) -> None:
    client = sign_in(web, "approver")
    page = client.get("/vault", headers=HTML).text
    assert "Approve as approver-owner" in page
    done = client.post("/vault/approve", data={"csrf": csrf_of(page), "request": filled}, headers=HTML)
    assert done.status_code == 200
    assert f"{filled}: approved by approver-owner; status pending" in done.text
    again = client.post("/vault/approve", data={"csrf": csrf_of(page), "request": filled}, headers=HTML)
    assert "does not count (already_approved)" in again.text
    forged = client.post("/vault/approve", data={"csrf": "nope", "request": filled}, headers=HTML)
    assert forged.status_code == 403


def test_officers_cannot_approve_and_outsiders_are_told(web: Api, filled: str) -> None:
    officer = sign_in(web, "officer")
    page = officer.get("/vault", headers=HTML).text
    assert (
        officer.post("/vault/approve", data={"csrf": csrf_of(page), "request": filled}, headers=HTML).status_code == 403
    )
    with sa.create_engine(web.db).begin() as conn:  # the set without admin-owner
        conn.execute(sa.text('UPDATE vault_approver_sets SET approvers = \'["carol","approver-owner"]\''))
    admin = sign_in(web, "admin")
    page = admin.get("/vault", headers=HTML).text
    assert "Approve as" not in page
    refused = admin.post("/vault/approve", data={"csrf": csrf_of(page), "request": filled}, headers=HTML)
    assert refused.status_code == 422 and "is not in the approver set" in refused.text


def test_a_tampered_log_shows_on_the_page(web: Api, filled: str) -> None:
    with sa.create_engine(web.db).begin() as conn:
        conn.execute(sa.text("UPDATE vault_log SET entry = replace(entry, 'dave', 'eve') WHERE seq = 2"))
    text = sign_in(web, "viewer").get("/vault?verify=1", headers=HTML).text
    assert "Does not verify" in text
    assert re.search(r"<li>Entry 2: entry 2: its text does not match its recorded leaf hash", text)


def test_without_a_vault(web: Api) -> None:
    text = sign_in(web, "viewer").get("/vault", headers=HTML).text
    assert 'id="no-vault"' in text and 'href="/vault"' in text
