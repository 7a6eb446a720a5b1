"""``/v1/vault``: the vault over HTTP. The requester and the approver are the API key's owner; approving needs the
approver role and a place in the vault's approver set."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

import tiergate
from tiergate.api import create_key
from tiergate.vault import Vault, check_inclusion

from .conftest import Api, make_api


def assert_error(response: Any, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert text in (body["error"]["message"] + " " + str(body["error"]["hint"])), body


@pytest.fixture
def served(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "operator.pem"
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    storage = tmp_path / "storage"
    (storage / "frontier-1").mkdir(parents=True)
    api = make_api(tmp_path, book, vault_shards=storage, signing_key=key_file)
    vault = Vault(api.db, book=book)
    vault.init("approver-owner,admin-owner,officer-owner", 2)
    vault.close()
    yield api
    api.client.close()
    api.ctx.close()


def shards(served: Api) -> list[dict[str, Any]]:
    folder = served.ctx.settings.vault_shards
    assert folder is not None
    found = []
    for i in range(2):
        data = f"shard {i} ".encode() * 100
        (folder / "frontier-1" / f"part-{i}.bin").write_bytes(data)
        found.append({"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return found


def register(served: Api, ident: str = "frontier-1", ops: float = 3.5e26) -> Any:
    body = {"id": ident, "name": ident, "training_ops": ops, "open_weights": False, "shards": shards(served)}
    return served.post("/v1/vault/artefacts", json=body)


def ask(served: Api, destination: str = "DE", role: str = "officer", **more: Any) -> Any:
    body = {
        "artefact": "frontier-1",
        "destination": destination,
        "recipient": "Northwind Compute GmbH",
        "recipient_headquarters": destination,
        **more,
    }
    return served.post("/v1/vault/requests", role=role, json=body)


def test_the_whole_flow(served: Api) -> None:
    made = register(served)
    assert made.status_code == 201 and made.json()["eccn"] == "4E091"
    asked = ask(served)
    assert asked.status_code == 201, asked.text
    rid = asked.json()["request"]
    assert asked.json()["status"] == "pending" and asked.json()["requester"] == "officer-owner"

    first = served.post(f"/v1/vault/requests/{rid}/approve", role="approver")
    assert first.status_code == 200 and first.json()["counted"] and first.json()["status"] == "pending"
    own = served.post(f"/v1/vault/requests/{rid}/approve", role="admin")
    assert own.json()["status"] == "eligible"
    assert [a["approver"] for a in own.json()["approvals"]["counted"]] == ["approver-owner", "admin-owner"]

    released = served.post(f"/v1/vault/requests/{rid}/release", json={"shards": "frontier-1"})
    assert released.status_code == 200 and released.json()["status"] == "released", released.text
    assert "folder" not in released.json()["shards"]

    signed = served.post("/v1/vault/log/checkpoint", role="admin")
    assert signed.status_code == 200 and signed.json()["size"] == 6
    verified = served.get("/v1/vault/log/verify")
    assert verified.json()["ok"] is True and "server's signing key" in verified.json()["trust"]
    proof = served.get("/v1/vault/log/proofs/inclusion/3").json()
    assert proof["verified"] is True
    bundle = {k: v for k, v in proof.items() if k not in ("verified", "problem")}
    check_inclusion(bundle)
    consistency = served.get("/v1/vault/log/proofs/consistency", params={"old": 6}).json()
    assert consistency["verified"] is True
    entries = served.get("/v1/vault/log/entries", params={"start": 3, "limit": 2}).json()
    assert [e["actor"] for e in entries] == ["approver-owner", "admin-owner"]
    summary = served.get("/v1/vault").json()
    assert summary["log_size"] == 6 and summary["approver_set"]["threshold"] == 2


def test_the_requester_is_the_keys_owner_never_a_field(served: Api) -> None:
    register(served)
    assert_error(ask(served, requester="someone-else"), 422, "unknown field")
    rid = ask(served).json()["request"]
    key = create_key(served.ctx.ledger, "officer-owner", "approver", who="test")[0]
    own = served.client.post(f"/v1/vault/requests/{rid}/approve", headers={"Authorization": f"Bearer {key}"})
    assert own.status_code == 200 and own.json()["refused"] is True
    assert own.json()["approval_reason"] == "requester_cannot_approve"


def test_approving_needs_the_role_and_the_set(served: Api) -> None:
    register(served)
    rid = ask(served).json()["request"]
    assert_error(served.post(f"/v1/vault/requests/{rid}/approve", role="officer"), 403, "approver role")
    assert_error(served.post(f"/v1/vault/requests/{rid}/approve", role="viewer"), 403, "approver role")
    outsider = create_key(served.ctx.ledger, "mallory", "approver", who="test")[0]
    response = served.client.post(f"/v1/vault/requests/{rid}/approve", headers={"Authorization": f"Bearer {outsider}"})
    assert_error(response, 403, "'mallory' is not in the approver set")
    assert served.get(f"/v1/vault/requests/{rid}").json()["approvals"]["counted"] == []
    body_approver = served.client.post(
        f"/v1/vault/requests/{rid}/approve",
        headers=served.headers("approver"),
        json={"approver": "admin-owner"},
    )
    assert body_approver.json()["approver"] == "approver-owner"  # a body is ignored; the key decides


def test_tier3_is_denied_over_http(served: Api) -> None:
    register(served)
    asked = ask(served, destination="CN")
    assert (asked.json()["status"], asked.json()["reason"]) == ("denied", "tier3_floor")
    rid = asked.json()["request"]
    for role in ("approver", "admin"):
        answer = served.post(f"/v1/vault/requests/{rid}/approve", role=role)
        assert answer.json()["refused"] is True and answer.json()["status"] == "denied"


def test_release_stays_inside_the_shard_storage(served: Api) -> None:
    register(served)
    rid = ask(served).json()["request"]
    for role in ("approver", "admin"):
        served.post(f"/v1/vault/requests/{rid}/approve", role=role)
    for outside in ("..", "../..", "/etc", "frontier-1/../../"):
        assert_error(
            served.post(f"/v1/vault/requests/{rid}/release", json={"shards": outside}), 422, "outside the server's"
        )
    assert_error(served.post(f"/v1/vault/requests/{rid}/release", json={"shards": "nope"}), 422, "no folder 'nope'")
    (served.ctx.settings.vault_shards / "frontier-1" / "part-0.bin").write_bytes(b"changed")  # type: ignore[operator]
    blocked = served.post(f"/v1/vault/requests/{rid}/release", json={"shards": "frontier-1"})
    assert blocked.json()["refused"] is True and blocked.json()["refusal"] == "hash_mismatch"


def test_errors_in_the_one_shape(served: Api) -> None:
    assert_error(served.get("/v1/vault/requests/R-999999"), 404, "no request 'R-999999'")
    assert_error(served.get("/v1/vault/requests/R-1"), 422, "")
    assert_error(served.get("/v1/vault/artefacts/nope"), 404, "no artefact 'nope'")
    bad = {"id": "x", "name": "x", "training_ops": -1, "open_weights": False, "shards": [{"sha256": "ab", "bytes": 1}]}
    assert_error(served.post("/v1/vault/artefacts", json=bad), 422, "")
    nan = (
        '{"id": "x", "name": "x", "training_ops": NaN, "open_weights": false, '
        '"shards": [{"sha256": "' + "ab" * 32 + '", "bytes": 1}]}'
    )
    response = served.post("/v1/vault/artefacts", content=nan, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert_error(served.post("/v1/vault/artefacts", role="viewer", json=bad), 403, "officer role")
    assert_error(ask(served, artefact="nope"), 404, "no artefact 'nope'")
    assert_error(served.post("/v1/vault/log/checkpoint", role="officer"), 403, "admin role")
    assert_error(served.get("/v1/vault/log/proofs/inclusion/0"), 409, "no checkpoint covers entry 0")


def test_a_rotation_over_http(served: Api) -> None:
    proposed = served.post(
        "/v1/vault/approvers", role="admin", json={"approvers": ["approver-owner", "erin"], "threshold": 1}
    )
    assert proposed.status_code == 201 and proposed.json()["kind"] == "rotation"
    rid = proposed.json()["request"]
    served.post(f"/v1/vault/requests/{rid}/approve", role="approver")
    applied = served.post(f"/v1/vault/requests/{rid}/approve", role="admin")
    assert applied.json()["status"] == "applied"
    assert served.get("/v1/vault").json()["approver_set"]["approvers"] == ["approver-owner", "erin"]
    assert_error(
        served.post("/v1/vault/approvers", role="officer", json={"approvers": ["x"], "threshold": 1}), 403, "admin"
    )


def test_a_server_without_a_vault(tmp_path: Path, book: tiergate.Rulebook) -> None:
    api = make_api(tmp_path, book)
    try:
        assert_error(api.get("/v1/vault"), 404, "holds no vault")
        assert_error(api.post("/v1/vault/requests/R-000001/release", json={"shards": "x"}), 409, "no shard storage")
    finally:
        api.client.close()
        api.ctx.close()


def test_no_regime_choice_over_http_releases_a_controlled_artefact_to_china(served: Api) -> None:
    """Review fix: registered with ?regime=us-2026-01 (4E091 dormant there) and requested to China under it, a
    3.5e26 closed-weights artefact went to `pending` and was released after two approvals."""
    body = {"id": "frontier-1", "name": "frontier-1", "training_ops": 3.5e26, "open_weights": False}
    made = served.post("/v1/vault/artefacts?regime=us-2026-01", json={**body, "shards": shards(served)})
    assert made.status_code == 201 and made.json()["eccn"] == "not_controlled", made.text
    asked = ask(served, "CN", regime="us-2026-01")
    assert asked.status_code == 201, asked.text
    assert (asked.json()["status"], asked.json()["reason"]) == ("denied", "tier3_floor")
    rid = asked.json()["request"]
    for role in ("approver", "admin"):
        assert served.post(f"/v1/vault/requests/{rid}/approve", role=role).json()["status"] == "denied"
    released = served.post(f"/v1/vault/requests/{rid}/release", json={"shards": "frontier-1"})
    assert released.json()["status"] == "denied" and not released.json().get("released")
