"""The OpenAPI document as integrators and code generators read it (issue 20): a valid OpenAPI 3.1 document, an
example on every operation that its own schema accepts, request examples the server accepts, and no response
schema mixing ``type`` with a ``oneOf`` or a reference (the ``/v1/classify`` answer was ``type: string`` with a
``oneOf`` of objects)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from openapi_spec_validator import validate

from tiergate.api.schemas import EXAMPLES_FILE

from .conftest import Api


def _document(api: Api) -> dict[str, Any]:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def test_the_document_is_valid_openapi(api: Api) -> None:
    validate(_document(api))


def test_no_response_schema_mixes_a_type_with_a_union_or_a_reference(api: Api) -> None:
    document = _document(api)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                for content in answer.get("content", {}).values():
                    schema = content["schema"]
                    mixed = "type" in schema and any(k in schema for k in ("$ref", "oneOf", "anyOf"))
                    assert not mixed, (method, path, status, schema)
    classify = document["paths"]["/v1/classify"]["post"]["responses"]["200"]["content"]["application/json"]
    assert "type" not in classify["schema"] and len(classify["schema"]["oneOf"]) == 2


CAPTURED = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))
"""The real answers tests/api/make_examples.py captured, one entry per operation."""


def test_every_operation_has_examples_its_schemas_accept(api: Api) -> None:
    document = _document(api)
    components = document["components"]
    operations = [(m, p, op) for p, ops in document["paths"].items() for m, op in ops.items()]
    missing = [f"{m} {p}" for m, p, _ in operations if f"{m} {p}" not in CAPTURED]
    assert not missing, f"operations without examples (add them to tests/api/make_examples.py): {missing}"
    assert not set(CAPTURED) - {f"{m} {p}" for m, p, _ in operations}, "examples of operations that are gone"
    for method, path, operation in operations:
        answers = operation["responses"]
        success = answers.get("200") or answers.get("201")
        assert success is not None, (method, path)
        content = success["content"]["application/json"]
        assert "example" in content, (method, path)
        jsonschema.validate(content["example"], {**content["schema"], "components": components})
        bodies = operation.get("requestBody", {}).get("content", {})
        if bodies:
            shown = [media for media, body in bodies.items() if "example" in body]
            assert shown, (method, path, "no request example")
            body = bodies[shown[0]]
            jsonschema.validate(body["example"], {**body.get("schema", {}), "components": components})
    assert len(operations) >= 50
    error = components["schemas"]["ErrorBody"]
    jsonschema.validate(error["example"], {**error, "components": components})


def test_request_examples_are_accepted(api: Api) -> None:
    paths = _document(api)["paths"]

    def example(path: str) -> Any:
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["example"]

    assert api.post("/v1/decide", json=example("/v1/decide")).status_code == 200
    assert api.post("/v1/decide/batch", json=example("/v1/decide/batch")).status_code == 200
    assert api.post("/v1/classify", json=example("/v1/classify")).status_code == 200
    assert api.post("/v1/screen", role="viewer", json=example("/v1/screen")).status_code == 200
    assert api.post("/v1/screen/batch", role="viewer", json=example("/v1/screen/batch")).status_code == 200
    assert api.post("/v1/keys", role="admin", json=example("/v1/keys")).status_code == 201
