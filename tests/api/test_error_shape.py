"""One error shape, used the same way everywhere (issue 20): ``where`` always names the field path (a bad
``?regime=`` was reported as ``body``), an unknown field says so and suggests the nearest known one (``qty`` ->
``quantity``), and no message over HTTP quotes a command-line flag."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from tiergate.api.errors import field_path, for_http

from .conftest import Api, sample

PATH = re.compile(r"^(body|query|path|header)(\[\d+\])*(\.[A-Za-z_][\w-]*(\[\d+\])*)*$")
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "where", "hint"}
    assert error["where"] is None or PATH.match(error["where"]), error
    assert not FLAG.search(error["message"]) and not FLAG.search(error["hint"] or ""), error
    return dict(error)


def _txn(**changes: Any) -> dict[str, Any]:
    return {**sample("demo-02"), **changes}


def test_a_bad_regime_in_the_query_is_named_as_such(api: Api) -> None:
    for response in (
        api.post("/v1/decide?regime=nowhere", json=_txn()),
        api.post("/v1/decide/batch?regime=nowhere", json=[_txn()]),
        api.post("/v1/classify?regime=nowhere", json={"chip": "nvidia-h100-sxm"}),
        api.get("/v1/monitor/alerts?regime=nowhere"),
    ):
        error = _error(response, 422)
        assert error["where"] == "query.regime", error
        assert "us-diffusion-2025" in error["hint"]


@pytest.mark.parametrize(
    ("items", "where", "hint"),
    [
        ([{"chip": "nvidia-h100-sxm", "qty": 5}], "body.items[0].qty", "did you mean 'quantity'?"),
        ([{"chip": "nvidia-h100-sxm", "quantity": 5, "quantty": 1}], "body.items[0].quantty", "'quantity'"),
        (
            [{"system": {"name": "x", "chip": "nvidia-h100-sxm", "chips": 8}, "quantity": 1}],
            "body.items[0].system.chips",
            "'chips_per_system'",
        ),
    ],
)
def test_an_unknown_field_suggests_the_nearest_known_one(api: Api, items: Any, where: str, hint: str) -> None:
    error = _error(api.post("/v1/decide", json=_txn(items=items)), 422)
    assert error["where"] == where and "unknown field" in error["message"] and hint in error["hint"], error


def test_unknown_fields_of_every_body_are_suggested(api: Api) -> None:
    top = _error(api.post("/v1/decide", json={**_txn(), "destinaton": "IN"}), 422)
    assert top["where"] == "body.destinaton" and top["hint"] == "did you mean 'destination'?"
    screen = _error(api.post("/v1/screen", role="viewer", json={"nme": "Huawei"}), 422)
    assert screen["where"] == "body.nme" and screen["hint"] == "did you mean 'name'?", screen
    batch = _error(
        api.post("/v1/screen/batch", role="viewer", json=[{"name": "A"}, {"name": "B", "contry": "CN"}]), 422
    )
    assert batch["where"] == "body[1].contry" and batch["hint"] == "did you mean 'country'?", batch
    item = _error(api.post("/v1/classify", json=[{"chip": "nvidia-h100-sxm"}, {"chp": "x"}]), 422)
    assert item["where"] == "body[1].chp" and item["hint"] == "did you mean 'chip'?", item


def test_records_of_a_batch_and_lines_are_named_by_position(api: Api) -> None:
    bad = _txn(items=[{"chip": "nvidia-h100-sxmm", "quantity": 1}])
    error = _error(api.post("/v1/decide/batch", json=[_txn(), bad]), 422)
    assert error["where"] == "body[1].items[0].chip" and "did you mean" in error["hint"]
    lines = orjson.dumps(_txn()) + b"\n\n" + orjson.dumps(bad) + b"\n"
    headers = {"content-type": "application/x-ndjson"}
    error = _error(api.post("/v1/decide/batch", content=lines, headers=headers), 422)
    assert error["where"] == "body[2].items[0].chip"  # the third line
    broken = _error(api.post("/v1/decide/batch", content=lines + b"{oops\n", headers=headers), 400)
    assert broken["where"] == "body[3]" and broken["message"].startswith("line 4: not valid JSON")


def test_query_path_and_header_problems_name_their_part(api: Api) -> None:
    assert _error(api.get("/v1/ledger/history", params={"limit": "lots"}), 422)["where"] == "query.limit"
    assert _error(api.post("/v1/decide?as_of=soon", json=_txn()), 422)["where"] == "query.as_of"
    assert _error(api.post("/v1/decide?explain=perhaps", json=_txn()), 422)["where"] == "query.explain"
    assert _error(api.get("/v1/chips/no-such-chip"), 404)["where"] == "path.chip"
    assert _error(api.client.delete("/v1/keys/000000000000", headers=api.headers("admin")), 404)["where"] == (
        "path.key_id"
    )
    assert _error(api.client.get("/v1/chips"), 401)["where"] == "header.authorization"


def test_a_missing_date_does_not_quote_a_flag(api: Api) -> None:
    txn = _txn()
    del txn["date"]
    response = api.post("/v1/decide/batch", json=[txn])
    assert response.status_code == 200  # the server decides as of today
    refused = api.post(
        "/v1/ship",
        json={
            **_txn(),
            "items": [{"chip": "nvidia-h100-sxm", "quantity": 1}],
            "destination": "CN",
            "consignee": {"name": "A", "headquarters": "CN"},
        },
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["committed"] is False
    assert not FLAG.search(refused.json()["reason"]), refused.json()["reason"]


def test_for_http_and_field_path() -> None:
    assert for_http("date: required field is missing (or pass --as-of)") == (
        "date: required field is missing (or decide as of a date: ?as_of=)"
    )
    assert for_http("not authorised: a licence is required (--license ID)") == (
        "not authorised: a licence is required (give a recorded licence: ?license=ID)"
    )
    assert for_http("use --dry-run") == "use dry_run"
    assert for_http("a - b and x--y stay") == "a - b and x--y stay"
    assert field_path("body: items[0].chip") == "body.items[0].chip"
    assert field_path("body[2]: consignee.name") == "body[2].consignee.name"
    assert field_path("path: key_id") == "path.key_id"
    assert field_path("consignee.name") == "body.consignee.name"
    assert field_path("usage.csv:12") == "usage.csv:12"
