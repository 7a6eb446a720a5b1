"""Schemathesis against the served OpenAPI document: generated requests (valid and invalid) to every
operation never get a 5xx, every status is one the document declares, and errors have the one shape.
Examples are bounded so that this runs in seconds. The app is made at collection (schemathesis
parametrizes from its schema), on a throw-away ledger removed at exit."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, status_code_conformance

import tiergate
from tiergate.vault import Vault

from .conftest import make_api


@schemathesis.serializer("application/x-ndjson")
def _json_lines(ctx: Any, value: Any) -> bytes:
    return str(value).encode("utf-8", "replace")


_FOLDER = Path(tempfile.mkdtemp(prefix="tiergate-schema-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
SERVED = make_api(_FOLDER, tiergate.load_rulebook())
_VAULT = Vault(SERVED.db)
_VAULT.init("admin-owner,approver-owner", 1)  # generated requests reach the vault's logic, not only its 404
_VAULT.register(
    {
        "id": "frontier-1",
        "name": "F",
        "training_ops": 3.5e26,
        "open_weights": False,
        "shards": [{"sha256": "ab" * 32, "bytes": 1}],
    }
)
_VAULT.close()
EXAMPLES = int(os.environ.get("TIERGATE_SCHEMA_EXAMPLES", "12"))
"""Examples per operation (12 keeps the run to seconds; set more to hunt)."""
schema = schemathesis.openapi.from_asgi("/openapi.json", SERVED.app)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error_on_generated_input(case: Any) -> None:
    role = "admin"
    if case.path == "/v1/keys" and case.method == "POST":
        role = "viewer"  # generated keys would pile up; the 403 path is checked instead
    response = case.call(headers=SERVED.headers(role))
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, content_type_conformance])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and body["error"]["status"] == response.status_code
        where = body["error"]["where"]
        assert where is None or where.startswith(("body", "query", "path", "header")), body
        text = f"{body['error']['message']} {body['error']['hint'] or ''}"
        assert not re.search(r"(?<![\w-])--[a-z]", text), body  # no command-line flag over HTTP
