"""One spelling and no ignored option over HTTP (issue 20): ``license`` in parameters and fields with ``licence``
still accepted where it was, an unknown query parameter or body field refused with the nearest known one in the
one error shape, and no message of the core that reaches a client or a page quoting a command-line flag."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from tiergate.api.errors import for_http

from ..licences import licence_data
from .conftest import Api, sample

ROOT = Path(__file__).resolve().parents[2] / "tiergate"


def error_of(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message", "where", "hint"}
    return dict(body["error"])


def test_ship_under_license_or_licence(api: Api) -> None:
    for number in ("L-1", "L-2"):
        assert api.post("/v1/ledger/licences", json=licence_data(number)).status_code == 201
    order = {**sample("demo-02"), "value_usd": 60_000_000}
    first = api.post("/v1/ship", json={**order, "id": "a"}, params={"license": "L-1"}).json()
    assert first["committed"] is True, first
    second = api.post("/v1/ship", json={**order, "id": "b"}, params={"licence": "L-2"}).json()
    assert second["committed"] is True, second
    accounts = {b["allocation"]: b["used"] for b in api.get("/v1/ledger/balances").json()}
    assert accounts["licence:L-1:1:quantity"] == accounts["licence:L-2:1:quantity"] == 2000
    both = error_of(api.post("/v1/ship", json=sample("demo-02"), params={"license": "L-1", "licence": "L-2"}))
    assert both["where"] == "query.licence"


def test_an_unknown_query_parameter_is_refused_with_the_nearest(api: Api) -> None:
    typo = error_of(api.post("/v1/ship", json=sample("demo-02"), params={"lisence": "L-1"}))
    assert typo["where"] == "query.lisence" and "unknown query parameter" in typo["message"]
    assert typo["hint"] == "did you mean 'license'?"
    assert error_of(api.get("/v1/chips", params={"regim": "us-2025-05"}))["hint"] == "did you mean 'regime'?"
    assert error_of(api.post("/v1/decide", json=sample("demo-01"), params={"asof": "2025-03-03"}))["where"] == (
        "query.asof"
    )
    none = error_of(api.get("/v1/packs", params={"x": "1"}))
    assert none["hint"] == "this operation takes none"
    assert api.post("/v1/decide", json=sample("demo-01"), params={"as_of": "2025-03-03"}).status_code == 200
    assert api.get("/v1/ledger/history", params={"limit": 5}).status_code == 200


def test_an_unknown_body_field_names_its_path_and_the_nearest(api: Api) -> None:
    order = sample("demo-01")
    order["items"] = [{"chip": order["items"][0]["chip"], "qty": 8}]
    found = error_of(api.post("/v1/decide", json=order))
    assert found["where"] == "body.items[0].qty" and "unknown field" in found["message"], found
    assert found["hint"] == "did you mean 'quantity'?"
    licence = error_of(api.post("/v1/ledger/licences", json={**licence_data("L-9"), "destinaton": "IN"}))
    assert licence["where"] == "body.destinaton" and licence["hint"] == "did you mean 'destination'?", licence


def _error_texts() -> list[tuple[str, int, str]]:
    """Every string given to an error (a ``...Error(...)`` call, or any call with a ``hint``) outside the command
    lines: messages, hints, places."""
    found = []
    for path in ROOT.rglob("*.py"):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if not name.endswith("Error") and not any(k.arg == "hint" for k in node.keywords):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                for part in ast.walk(arg):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        found.append((str(path.relative_to(ROOT)), part.lineno, part.value))
    return found


def test_no_message_shown_over_http_quotes_a_flag_or_a_command() -> None:
    texts = _error_texts()
    assert len(texts) > 500
    flagged = [t for t in texts if "--" in t[2] or "`tiergate" in t[2]]
    assert len(flagged) > 20  # the command line's own words, which HTTP and pages must not show as they are
    bad = [
        (where, line, for_http(text))
        for where, line, text in flagged
        if re.search(r"(?<![\w-])--[a-z]", for_http(text) or "") or "`tiergate" in (for_http(text) or "")
    ]
    assert not bad, bad
    assert for_http("run `tiergate vault init --db URL` first") == "an admin sets one up: POST /v1/vault/approvers"
