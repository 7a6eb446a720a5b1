"""The HTTP API by behaviour: same answers as the Python API and the CLI, ledger writes audited under the
key's owner, roles, and one error shape for every failure."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

import tiergate
from tiergate.api import create_key, revoke_key
from tiergate.interchange import decision_to_dict

from ..licences import licence_data
from .conftest import SAMPLES, Api, sample

ERROR_KEYS = {"status", "code", "message", "where", "hint"}


def assert_error(response: Any, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["status"] == status
    text = json.dumps(body)
    assert "Traceback" not in text and 'File "' not in text
    for fragment in fragments:
        assert fragment in text, text
    return dict(body["error"])


# ---------------------------------------------------------------- decide


def test_decide_gives_the_python_api_answer(api: Api, book: tiergate.Rulebook) -> None:
    for ident in ("demo-01", "demo-04", "demo-05", "demo-09", "demo-11"):
        txn = sample(ident)
        expected = decision_to_dict(tiergate.determine(tiergate.parse_transaction(txn, book.catalogue), book))
        response = api.post("/v1/decide", json=txn)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer.pop("screening")["screened"] is True
        answer["explanation"] = [line for line in answer["explanation"] if not line.startswith("Screening:")]
        assert answer == orjson.loads(orjson.dumps(expected)), ident


def test_decide_batch_keeps_input_order_in_json_and_json_lines(api: Api) -> None:
    lines = SAMPLES.read_bytes()
    as_list = [json.loads(line) for line in lines.splitlines()]
    listed = api.post("/v1/decide/batch", json=as_list)
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()] == [t["id"] for t in as_list]
    streamed = api.post("/v1/decide/batch", content=lines, headers={"content-type": "application/x-ndjson"})
    assert streamed.status_code == 200
    assert streamed.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in streamed.text.splitlines()] == listed.json()


def test_batch_error_names_the_record_and_answers_nothing_else(api: Api) -> None:
    txns = [sample("demo-01"), {**sample("demo-02"), "destination": "XX"}, sample("demo-03")]
    assert_error(api.post("/v1/decide/batch", json=txns), 422, "body[1]", "destination")
    body = b"\n".join(orjson.dumps(t) for t in [sample("demo-01")]) + b"\n{not json\n"
    assert_error(
        api.post("/v1/decide/batch", content=body, headers={"content-type": "application/x-ndjson"}), 400, "line 2"
    )


def test_decide_options_regime_as_of_and_explain(api: Api) -> None:
    txn = sample("demo-01")
    scenario = api.post("/v1/decide", json=txn, params={"regime": "us-2024-12"}).json()
    assert scenario["regime"] == "us-2024-12"
    assert scenario["outcome"] == "no_license_required"  # India needed no licence before the Diffusion rule
    later = api.post("/v1/decide", json=txn, params={"as_of": "2026-03-02"}).json()
    assert later["regime"] == "us-2026-01" and later["date"] == "2026-03-02"
    bare = api.post("/v1/decide", json=txn, params={"explain": "false"}).json()
    assert "explanation" not in bare
    assert_error(api.post("/v1/decide", json=txn, params={"regime": "no-such"}), 422, "unknown regime")
    assert_error(api.post("/v1/decide", json=txn, params={"as_of": "yesterday"}), 422, "as_of")


def test_decide_without_a_date_uses_the_servers_today(api: Api) -> None:
    txn = sample("demo-01")
    del txn["date"]
    assert api.post("/v1/decide", json=txn).json()["date"] == "2025-03-03"


# ---------------------------------------------------------------- ship, ledger, audit


def _audit(api: Api) -> list[dict[str, Any]]:
    response = api.get("/v1/audit")
    assert response.status_code == 200
    return list(response.json())


def test_ship_draws_the_allocation_and_is_audited_under_the_keys_owner(api: Api) -> None:
    txn = sample("demo-01")
    before = api.post("/v1/decide", json=txn, params={"live": "true"}).json()
    shipped = api.post("/v1/ship", json=txn)
    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert body["committed"] is True and body["reason"] == "shipped under LPP"
    balances = {b["allocation"]: b for b in api.get("/v1/ledger/balances").json()}
    account = before["allocations"][0]["account"]
    assert balances[account]["used"] == pytest.approx(before["tpp_total"])
    after = api.post("/v1/decide", json=txn, params={"live": "true"}).json()
    left = before["allocations"][0]["cap"] - before["tpp_total"]
    assert before["outcome"] == "authorized" and after["outcome"] == "license_required"  # LPP no longer covers it
    assert any(f"remaining balance {left:,}" in line for line in after["explanation"])
    assert after != api.post("/v1/decide", json=txn).json()  # without live balances: only the caps
    key_id = api.tokens["officer"].split("_")[1]
    writes = [e for e in _audit(api) if e["action"] in ("reserve", "commit", "ship")]
    assert {e["action"] for e in writes} == {"reserve", "commit", "ship"}
    assert {e["actor"] for e in writes} == {f"officer-owner (api key {key_id})"}
    history = api.get("/v1/ledger/history", params={"account": account}).json()
    assert [m["op"] for m in history] == ["reserve", "commit"]
    assert history[0]["actor"] == f"officer-owner (api key {key_id})"
    again = api.post("/v1/ship", json=txn).json()
    assert again["committed"] is True and again["reason"].startswith("already shipped")
    assert api.get("/v1/audit/verify").json() == {
        "intact": True,
        "entries": len(_audit(api)),
        "broken_at": None,
        "problem": None,
        "balances": [],
    }


def test_refused_shipment_is_an_answer_and_in_the_audit_log(api: Api) -> None:
    response = api.post("/v1/ship", json={**sample("demo-09"), "date": "2025-03-03"})  # dated today
    assert response.status_code == 200
    body = response.json()
    assert body["committed"] is False and body["reason"].startswith("not authorised")
    refused = [e for e in _audit(api) if e["action"] == "ship-refused"]
    assert len(refused) == 1 and refused[0]["actor"].startswith("officer-owner")
    assert api.get("/v1/ledger/balances").json() == []


def test_audit_export_formats_and_paging(api: Api) -> None:
    api.post("/v1/ship", json=sample("demo-01"))
    entries = _audit(api)
    lines = api.get("/v1/audit", params={"format": "jsonl"}).text.splitlines()
    assert [json.loads(line) for line in lines] == entries
    csv_text = api.get("/v1/audit", params={"format": "csv"}).text
    assert csv_text.splitlines()[0].startswith("seq,at,actor,action")
    page = api.get("/v1/audit", params={"after": 2, "limit": 2}).json()
    assert [e["seq"] for e in page] == [3, 4]


def test_tampered_audit_log_is_reported(api: Api) -> None:
    api.post("/v1/ship", json=sample("demo-01"))
    with api.ctx.ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_audit SET actor = 'mallory' WHERE seq = 3"))
    verdict = api.get("/v1/audit/verify").json()
    assert verdict["intact"] is False and verdict["broken_at"] == 3


def test_balances_set_back_are_reported_by_the_verification(api: Api) -> None:
    """Issue 21, item 3: `UPDATE ledger_accounts SET used = 0` let 1,600 more H100s ship while verify said intact."""
    assert api.post("/v1/ship", json=sample("demo-01")).json()["committed"] is True
    with api.ctx.ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_accounts SET used = 0"))
    verdict = api.get("/v1/audit/verify").json()
    assert verdict["intact"] is False and verdict["broken_at"] is None
    assert verdict["balances"] and "used is 0" in verdict["balances"][0]


# ---------------------------------------------------------------- chips, classify, packs


def test_chips_classify_and_packs(api: Api) -> None:
    chips = api.get("/v1/chips").json()
    h100 = next(c for c in chips if c["id"] == "nvidia-h100-sxm")
    assert h100["eccn"] == "3A090.a"
    shown = api.get("/v1/chips/H100").json()
    assert shown["id"] == "nvidia-h100-sxm" and shown["classification"]["eccn"] == "3A090.a"
    assert_error(api.get("/v1/chips/not-a-chip"), 404, "unknown chip")
    one = api.post("/v1/classify", json={"chip": "nvidia-h100-sxm", "quantity": 8}, role="viewer").json()
    assert one["eccn"] == "3A090.a" and one["quantity"] == 8 and one["tpp"] == h100["tpp"]
    many = api.post("/v1/classify", json=[{"chip": "nvidia-h100-sxm"}, {"chip": "nvidia-rtx-4090"}], role="viewer")
    assert [c["chip"] for c in many.json()] == ["nvidia-h100-sxm", "nvidia-rtx-4090"]
    assert_error(api.post("/v1/classify", json=[{"chip": "x"}, {"chip": 5}], role="viewer"), 422, "body[0]")
    packs = api.get("/v1/packs").json()
    assert "us-diffusion-2025" in [r["name"] for r in packs["regimes"]]
    regime = api.get("/v1/packs/us-diffusion-2025").json()
    assert "tier1" in regime["country_groups"]
    assert api.get("/v1/packs/us-2026-01").json()["regime"] == "us-2026-01"
    assert api.get("/v1/packs/us-2024-12").json()["regime"] == "us-2024-12"
    diff = api.get("/v1/packs/diff", params={"from": "us-2024-12", "to": "us-diffusion-2025"}).json()
    assert any(g["group"] == "tier1" and g["change"] == "added" for g in diff["country_groups"])
    assert_error(api.get("/v1/packs/diff", params={"from": "nope", "to": "us-2024-12"}), 404, "nope")
    assert_error(api.get("/v1/packs/nope"), 404, "no regime or pack")


# ---------------------------------------------------------------- keys and roles


def test_roles(api: Api) -> None:
    txn = sample("demo-01")
    assert_error(api.post("/v1/decide", json=txn, role="viewer"), 403, "viewer role cannot")
    assert_error(api.post("/v1/ship", json=txn, role="viewer"), 403)
    assert api.get("/v1/ledger/balances", role="viewer").status_code == 200
    assert api.post("/v1/decide", json=txn, role="admin").status_code == 200
    assert_error(api.get("/v1/keys", role="officer"), 403, "admin")
    assert_error(api.client.get("/v1/ledger/balances"), 401, "API key is required")
    assert api.client.get("/v1/ledger/balances").headers["www-authenticate"] == "Bearer"


def test_admin_creates_and_revokes_keys_and_a_revoked_key_is_refused_at_once(api: Api) -> None:
    created = api.post("/v1/keys", role="admin", json={"owner": "bob@example.com", "role": "viewer"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/ledger/balances", headers=headers).status_code == 200
    listed = api.get("/v1/keys", role="admin").json()
    assert "token" not in json.dumps(listed) and token not in json.dumps(listed)
    assert api.client.delete(f"/v1/keys/{created.json()['id']}", headers=api.headers("admin")).status_code == 200
    assert_error(api.client.get("/v1/ledger/balances", headers=headers), 401, "revoked")
    actions = [(e["action"], e["actor"]) for e in _audit(api) if e["action"].startswith("api-key")]
    admin_actor = f"admin-owner (api key {api.tokens['admin'].split('_')[1]})"
    assert ("api-key-create", admin_actor) in actions and ("api-key-revoke", admin_actor) in actions
    assert_error(api.client.delete("/v1/keys/0123456789ab", headers=api.headers("admin")), 404)
    assert_error(api.post("/v1/keys", role="admin", json={"owner": "x", "role": "root"}), 422, "role")
    assert_error(api.post("/v1/keys", role="admin", json={"owner": "x", "role": "viewer", "sudo": True}), 422)


def test_keys_are_hashed_at_rest(api: Api) -> None:
    with api.ctx.ledger.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM api_keys")).mappings().all()
    dump = json.dumps([{k: str(v) for k, v in r.items()} for r in rows])
    for token in api.tokens.values():
        _, key_id, secret = token.split("_", 2)
        assert secret not in dump
        row = next(r for r in rows if r["id"] == key_id)
        assert row["secret_hash"] == hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def test_forged_expired_and_revoked_keys_are_refused(api: Api) -> None:
    token = api.tokens["officer"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (forged, "tg_000000000000_x", "not-a-key", "tg_" + "a" * 12 + "_" + "b" * 500, "' OR 1=1 --"):
        assert_error(api.client.get("/v1/chips", headers={"Authorization": f"Bearer {bad}"}), 401, "unknown")
    ledger = api.ctx.ledger
    soon = ledger.clock() + dt.timedelta(hours=1)
    expiring, _ = create_key(ledger, "carol", "officer", who="test", expires_at=soon)
    assert api.client.get("/v1/chips", headers={"Authorization": f"Bearer {expiring}"}).status_code == 200
    real_clock = ledger.clock
    ledger.clock = lambda: real_clock() + dt.timedelta(hours=2)
    try:
        assert_error(api.client.get("/v1/chips", headers={"Authorization": f"Bearer {expiring}"}), 401, "expired")
    finally:
        ledger.clock = real_clock
    # Revoked by another process (the CLI): refused once the short key cache lapses.
    api.ctx.forget_keys()
    revoke_key(ledger, token.split("_")[1], who="cli-user")
    api.ctx.forget_keys()
    assert_error(api.client.get("/v1/chips", headers=api.headers("officer")), 401, "revoked")


# ---------------------------------------------------------------- bad input


def test_bad_bodies(api: Api) -> None:
    txn = sample("demo-01")
    assert_error(api.post("/v1/decide", content=b"{bad json"), 400, "not valid JSON")
    assert_error(api.post("/v1/decide", content=b""), 400, "empty")
    assert_error(api.post("/v1/decide", json=[txn]), 422, "expected a transaction object")
    assert_error(api.post("/v1/decide", content=b"x", headers={"content-type": "text/plain"}), 415)
    wrong_type = {**txn, "items": [{"chip": "nvidia-h100-sxm", "quantity": "ten"}]}
    assert_error(api.post("/v1/decide", json=wrong_type), 422, "items[0].quantity")
    negative = {**txn, "items": [{"chip": "nvidia-h100-sxm", "quantity": -5}]}
    assert_error(api.post("/v1/decide", json=negative), 422, "items[0].quantity")
    assert_error(api.post("/v1/decide", json={**txn, "unknown_field": 1}), 422, "unknown field")
    nested = {**txn, "consignee": {**txn["consignee"], "admin": True}}
    assert_error(api.post("/v1/decide", json=nested), 422, "consignee.admin", "unknown field")
    assert_error(api.post("/v1/decide", json={**txn, "destination": "ZZ"}), 422, "destination")
    unknown_chip = {**txn, "items": [{"chip": "nvidia-h1OO", "quantity": 1}]}
    assert_error(api.post("/v1/decide", json=unknown_chip), 422, "unknown chip")
    assert_error(api.post("/v1/decide", content=b"1e999999"), 400)
    deep = b"[" * 100_000 + b"]" * 100_000
    assert_error(api.post("/v1/decide", content=deep), 400)


def test_body_size_limits(api: Api) -> None:
    huge = b'{"id": "' + b"x" * (2 << 20) + b'"}'
    assert_error(api.post("/v1/decide", content=huge), 413, "larger than")

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b" " * 65536

    assert_error(api.post("/v1/decide", content=chunks()), 413)
    many = [sample("demo-01")] * (api.ctx.settings.max_batch_records + 1)
    assert_error(api.post("/v1/decide/batch", json=many), 413, "at most")


def test_unknown_paths_methods_and_internal_errors_share_the_shape(api: Api) -> None:
    assert_error(api.get("/v1/nothing-here"), 404)
    assert_error(api.client.put("/v1/decide", headers=api.headers("officer")), 405)
    assert_error(api.get("/v1/ledger/history", params={"limit": "lots"}), 422, "limit")

    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    api.app.add_api_route("/v1/boom", boom)
    error = assert_error(api.get("/v1/boom"), 500, "internal error")
    assert "secret" not in error["message"] and "RuntimeError" not in error["message"]


INJECTIONS = ["'; DROP TABLE ledger_audit; --", "<script>alert('x')</script>", '" OR 1=1 --', "{{7*7}}", "\x00\u202e"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_in_every_text_field_are_data(api: Api, text: str) -> None:
    txn = sample("demo-01")
    txn["id"] = text
    txn["end_use"] = text[:100]
    txn["consignee"] = {**txn["consignee"], "name": text, "id": text}
    decided = api.post("/v1/decide", json=txn)
    assert decided.status_code == 200, decided.text
    assert decided.json()["id"] == text.strip()
    shipped = api.post("/v1/ship", json=txn)
    assert shipped.status_code == 200 and shipped.json()["committed"] is True
    assert api.get("/v1/audit/verify").json()["intact"] is True
    assert any(e["subject"] == text.strip() for e in _audit(api))
    for field in ("regime", "as_of"):
        response = api.post("/v1/decide", json=sample("demo-01"), params={field: text})
        assert response.status_code == 422
    assert api.get("/v1/ledger/history", params={"account": text}).json() == []
    from urllib.parse import quote

    assert_error(api.get("/v1/packs/" + quote(text, safe="")), 404)


def test_openapi_declares_every_error_response(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 14
    for path, method, op in operations:
        declared = set(op["responses"])
        assert {"400", "401", "403", "405", "413", "422", "500", "503"} <= declared, (path, method, declared)
        pydantic_bodies = ("/v1/keys", "/v1/ledger/licences", "/v1/screen", "/v1/screen/decisions")
        if "requestBody" in op and path not in pydantic_bodies and not path.startswith("/v1/vault"):  # FastAPI: 422
            assert "415" in declared, (path, method)
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (path, status)
    decide_body = schema["paths"]["/v1/decide"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert decide_body == {"$ref": "#/components/schemas/TransactionIn"}
    assert "TransactionIn" in schema["components"]["schemas"] and "ErrorBody" in schema["components"]["schemas"]


def test_concurrent_shipments_and_reads_neither_fail_nor_overspend(api: Api) -> None:
    """Writers and readers at once on one SQLite file: every request answered (no 503, no 500), the LPP
    allowance never exceeded, the audit chain intact."""
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    def shipper(n: int) -> list[int]:
        with TestClient(api.app) as client:
            statuses = []
            for i in range(4):
                txn = {**sample("demo-01"), "id": f"c-{n}-{i}", "items": [{"chip": "nvidia-h100-sxm", "quantity": 400}]}
                response = client.post("/v1/ship", json=txn, headers=api.headers("officer"))
                statuses.append(response.status_code)
            return statuses

    def reader(_: int) -> list[int]:
        with TestClient(api.app) as client:
            return [
                client.get(path, headers=api.headers("viewer")).status_code
                for _ in range(4)
                for path in ("/v1/ledger/balances", "/v1/audit/verify", "/v1/ledger/history")
            ]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(shipper, range(4))) + list(pool.map(reader, range(4)))
    assert {status for statuses in results for status in statuses} == {200}
    (balance,) = api.get("/v1/ledger/balances").json()
    assert balance["used"] <= balance["cap"]
    assert balance["used"] == pytest.approx(4 * 400 * 15_831.2)  # 4 of the 16 fit; the rest refused
    assert api.get("/v1/audit/verify").json()["intact"] is True


def test_query_options_are_checked_and_a_large_transaction_is_decided_alike(api: Api) -> None:
    assert_error(api.post("/v1/decide", json=sample("demo-01"), params={"explain": "maybe"}), 422, "explain")
    assert_error(api.post("/v1/decide", json=sample("demo-01"), params={"regime": "r" * 101}), 422, "regime")
    assert api.post("/v1/decide", json=sample("demo-01"), params={"explain": "0"}).status_code == 200
    api.post("/v1/ship", json=sample("demo-01"))
    txn = {**sample("demo-01"), "items": [{"chip": "nvidia-h100-sxm", "quantity": 1}] * 300}
    big = json.dumps(txn, indent=20).encode()
    assert len(big) > 32_768  # decided in the thread pool
    cold = api.post("/v1/decide", content=big).json()
    live = api.post("/v1/decide", content=big, params={"live": "true"}).json()
    assert cold["outcome"] == live["outcome"] == "authorized"
    assert cold["allocations"][0]["remaining"] is None  # the caps only
    assert live["allocations"][0]["remaining"] == pytest.approx(26_900_000 - 15_831_200)


def test_a_revocation_by_another_process_takes_effect_within_two_cache_periods(api: Api) -> None:
    import time

    assert api.get("/v1/chips", role="viewer").status_code == 200  # checked and cached
    revoke_key(api.ctx.ledger, api.tokens["viewer"].split("_")[1], who="another process")
    time.sleep(2 * api.ctx.settings.key_cache_seconds + 0.1)
    assert_error(api.get("/v1/chips", role="viewer"), 401, "revoked")


def test_record_a_licence_and_ship_under_it(api: Api) -> None:
    line = {"item": "nvidia-h100-sxm", "quantity": 3000, "value_usd": 90_000_000}
    body = licence_data("L-2025-007", lines=[line], conditions=["<b>issued</b>"])
    assert_error(api.post("/v1/ledger/licences", role="viewer", json=body), 403)
    assert api.post("/v1/ledger/licences", json=body).status_code == 201
    assert_error(api.post("/v1/ledger/licences", json=body), 409, "already recorded")
    assert_error(api.post("/v1/ledger/licences", json={**body, "lines": [{**line, "quantity": 0}]}), 422, "quantity")
    wrong = [{**line, "quantity": "3000"}]
    assert_error(api.post("/v1/ledger/licences", json={**body, "lines": wrong}), 422, "lines[0].quantity")
    plain = api.post("/v1/ledger/licences", content=b"licence", headers={"content-type": "text/plain"})
    assert_error(plain, 422)
    refused = api.post("/v1/ship", json=sample("demo-02")).json()
    assert refused["committed"] is False and "licence is required" in refused["reason"]
    order = {**sample("demo-02"), "id": "demo-02b", "value_usd": 60_000_000}
    shipped = api.post("/v1/ship", json=order, params={"licence": "L-2025-007"})
    assert shipped.json()["committed"] is True
    accounts = {b["allocation"]: b for b in api.get("/v1/ledger/balances").json()}
    assert accounts["licence:L-2025-007:1:quantity"]["used"] == 2000
    assert accounts["licence:L-2025-007:1:value"]["remaining"] == 30_000_000
    recorded = [e for e in _audit(api) if e["action"] == "licence"]
    assert len(recorded) == 1 and recorded[0]["actor"].startswith("officer-owner (api key")
    assert_error(api.post("/v1/ship", json=sample("demo-02"), params={"licence": ""}), 422, "licence")
