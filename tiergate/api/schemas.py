"""OpenAPI declarations of request and response bodies.

Request bodies are the interchange models of :mod:`tiergate.interchange` (their JSON Schema, not a copy);
they are parsed by :func:`tiergate.interchange.parse_transaction` / ``parse_item``, the same functions as the
command line uses, so that both give the same answer and the same error for the same input. Response
bodies are the interchange dicts (``decision_to_dict`` and friends), described here for clients.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tiergate.interchange import ItemIn, TransactionIn

_REF = "#/components/schemas/{model}"
REQUEST_MODELS: tuple[type[BaseModel], ...] = (TransactionIn, ItemIn)


def components() -> dict[str, Any]:
    """The JSON Schemas of the request models and of everything they refer to, for ``components``."""
    _, top = models_json_schema([(m, "validation") for m in REQUEST_MODELS], ref_template=_REF)
    found: dict[str, Any] = dict(top.get("$defs", {}))
    return {**found, **RESPONSE_SCHEMAS}


def ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def json_body(schema: dict[str, Any], *, description: str, ndjson: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if ndjson:
        content["application/x-ndjson"] = {"schema": {"type": "string"}}
    return {"requestBody": {"required": True, "description": description, "content": content}}


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """An OpenAPI request body of uploaded files (``multipart/form-data``)."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def ok(schema: dict[str, Any], description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"application/json": {"schema": schema}}}}


_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Decision": {
        "type": "object",
        "description": "The interchange format of a decision (docs/ARCHITECTURE.md).",
        "required": ["id", "regime", "outcome", "authorization", "review_policy", "items", "tpp_total", "rules"],
        "properties": {
            "id": _STRING_OR_NULL,
            "regime": {"type": "string"},
            "packs": {"type": "array", "items": {"type": "string"}},
            "date": {"type": "string", "format": "date"},
            "outcome": {"enum": ["no_license_required", "authorized", "license_required", "prohibited"]},
            "authorization": _STRING_OR_NULL,
            "review_policy": {"enum": ["presumption_of_approval", "case_by_case", "presumption_of_denial", None]},
            "items": {"type": "array", "items": {"type": "object"}},
            "tpp_total": _NUMBER_OR_NULL,
            "allocations": {"type": "array", "items": {"type": "object"}},
            "rules": {"type": "array", "items": {"type": "string"}},
            "citations": {"type": "array", "items": {"type": "string"}},
            "conditions": {"type": "array", "items": {"type": "string"}},
            "explanation": {"type": "array", "items": {"type": "string"}},
            "jurisdictions": {
                "type": "array",
                "description": "Each law's own answer when the transaction engages more than US law alone; the "
                "top-level outcome is the strictest of them.",
                "items": {"$ref": "#/components/schemas/JurisdictionAnswer"},
            },
            "screening": {"$ref": "#/components/schemas/ScreeningRecord"},
        },
    },
    "ScreeningRecord": {
        "type": "object",
        "description": "What restricted-party screening did to the decision (docs/screening.md).",
        "required": ["screened", "note", "changed_outcome", "hits"],
        "properties": {
            "screened": {"type": "boolean", "description": "false: the note is 'parties not screened'."},
            "note": {"type": "string"},
            "reason": _STRING_OR_NULL,
            "lists": _STRING_OR_NULL,
            "changed_outcome": {"type": "boolean"},
            "outcome_before": _STRING_OR_NULL,
            "hits": {"type": "array", "items": {"type": "object"}},
        },
    },
    "JurisdictionAnswer": {
        "type": "object",
        "required": ["jurisdiction", "reached", "outcome", "authorization", "review_policy", "indeterminate", "rules"],
        "properties": {
            "jurisdiction": {"type": "string", "description": "US, EU, NL, JP, KR, UK or TW."},
            "law": {"type": "string"},
            "packs": {"type": "array", "items": {"type": "string"}},
            "reached": {"type": "boolean"},
            "hook": _STRING_OR_NULL,
            "outcome": {"enum": ["no_license_required", "authorized", "license_required", "prohibited"]},
            "authorization": _STRING_OR_NULL,
            "review_policy": {"enum": ["presumption_of_approval", "case_by_case", "presumption_of_denial", None]},
            "indeterminate": {"type": "boolean"},
            "authority": _STRING_OR_NULL,
            "items": {"type": "array", "items": {"type": "object"}},
            "rules": {"type": "array", "items": {"type": "string"}},
            "citations": {"type": "array", "items": {"type": "string"}},
            "notices": {"type": "array", "items": {"type": "string"}},
        },
    },
    "DenialNotice": {
        "type": "object",
        "description": "A licence denial notified by a jurisdiction (docs/alliance.md).",
        "required": ["id", "jurisdiction", "date", "control_keys", "destination", "end_user"],
        "properties": {
            "id": {"type": "string", "minLength": 1, "maxLength": 100},
            "jurisdiction": {"type": "string", "minLength": 2, "maxLength": 3},
            "date": {"type": "string", "format": "date"},
            "expires": {"type": "string", "format": "date"},
            "control_keys": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "destination": {"type": "string", "minLength": 2, "maxLength": 2},
            "end_user": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "id": _STRING_OR_NULL},
            },
            "end_use": _STRING_OR_NULL,
            "reason": {"type": "string"},
            "public": {"type": "boolean"},
        },
    },
    "Shipment": {
        "type": "object",
        "description": "A decision made with live balances, and whether its allocations were drawn.",
        "required": ["outcome", "committed", "reason", "reservations"],
        "properties": {
            "outcome": {"type": "string"},
            "committed": {"type": "boolean"},
            "duplicate": {
                "type": "boolean",
                "description": "A repeat of a shipment committed before: nothing was drawn now.",
            },
            "reason": {"type": "string"},
            "reservations": {"type": "array", "items": {"type": "integer"}},
            "screening": {"$ref": "#/components/schemas/ScreeningRecord"},
        },
    },
    "Classification": {
        "type": "object",
        "required": ["name", "kind", "regime", "eccn", "rules", "explanation"],
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "regime": {"type": "string"},
            "eccn": {"type": "string"},
            "tpp": _NUMBER_OR_NULL,
            "performance_density": _NUMBER_OR_NULL,
            "rules": {"type": "array", "items": {"type": "string"}},
            "explanation": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Chip": {
        "type": "object",
        "required": ["id", "name", "eccn"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "tpp": _NUMBER_OR_NULL,
            "performance_density": _NUMBER_OR_NULL,
            "eccn": {"type": "string"},
        },
    },
    "Balance": {
        "type": "object",
        "required": ["allocation", "kind", "rule", "cap", "used", "reserved", "remaining"],
        "properties": {
            "allocation": {"type": "string"},
            "kind": {"type": "string"},
            "rule": {"type": "string"},
            "cap": _NUMBER_OR_NULL,
            "used": {"type": "number"},
            "reserved": {"type": "number"},
            "remaining": _NUMBER_OR_NULL,
        },
    },
    "Licence": {
        "type": "object",
        "description": "A licence as issued (docs/formats.md), each line with what it has left; `complete` is false "
        "for a licence carried over from an older ledger without its terms (it covers nothing until completed).",
        "required": ["id", "consignees", "lines", "conditions", "complete"],
        "properties": {
            "id": {"type": "string"},
            "jurisdiction": _STRING_OR_NULL,
            "exporter": _STRING_OR_NULL,
            "consignees": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "country": {"type": "string"}}},
            },
            "destination": _STRING_OR_NULL,
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "item": {"type": "string"},
                        "kind": {"enum": ["item", "family", "eccn"]},
                        "quantity": {"type": "integer"},
                        "value_usd": {"type": "number"},
                        "quantity_remaining": {"type": "integer"},
                        "value_usd_remaining": {"type": "number"},
                    },
                },
            },
            "issued": _STRING_OR_NULL,
            "expires": _STRING_OR_NULL,
            "conditions": {"type": "array", "items": {"type": "string"}},
            "complete": {"type": "boolean"},
            "note": {"type": "string"},
        },
    },
    "Movement": {
        "type": "object",
        "required": ["id", "at", "account", "op", "amount", "unit", "tpp", "reservation", "actor"],
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string"},
            "account": {"type": "string"},
            "op": {"enum": ["reserve", "commit", "release"]},
            "amount": {"type": "number", "description": "How much moved, in `unit`."},
            "unit": {
                "enum": ["TPP", "units", "USD"],
                "description": "TPP for an allocation; units or USD for a licence.",
            },
            "tpp": {**_NUMBER_OR_NULL, "description": "The amount when it is TPP, else null."},
            "reservation": {"type": "integer"},
            "key": {"type": "string"},
            "decision": _STRING_OR_NULL,
            "actor": {"type": "string"},
        },
    },
    "AuditEntry": {
        "type": "object",
        "required": ["seq", "at", "actor", "action", "subject", "payload", "prev_hash", "hash"],
        "properties": {
            "seq": {"type": "integer"},
            "at": {"type": "string"},
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "subject": {"type": "string"},
            "pack_revision": _STRING_OR_NULL,
            "input_hash": _STRING_OR_NULL,
            "payload": {"type": "string"},
            "prev_hash": {"type": "string"},
            "hash": {"type": "string"},
        },
    },
    "AuditVerification": {
        "type": "object",
        "required": ["intact", "entries"],
        "properties": {
            "intact": {"type": "boolean"},
            "entries": {"type": "integer"},
            "broken_at": {"type": ["integer", "null"]},
            "problem": _STRING_OR_NULL,
            "balances": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Accounts whose used or reserved TPP differ from their movements.",
            },
        },
    },
    "Hit": {
        "type": "object",
        "description": "A screening hit (`tiergate screen name --format json`): the list entry, the score, the status "
        "for the party (open, cleared, confirmed) and the features behind the score.",
        "required": ["entry", "list", "name", "matched_name", "score", "match", "status", "explanation"],
        "properties": {
            "entry": {"type": "string", "description": "DATASET:ID, the key of decisions."},
            "dataset": {"type": "string"},
            "list": {"type": "string", "description": "SDN, EL (Entity List), DPL, MEU, UVL, UN..."},
            "schema": {"type": "string"},
            "name": {"type": "string"},
            "matched_name": {"type": "string"},
            "countries": {"type": "array", "items": {"type": "string"}},
            "programs": {"type": "array", "items": {"type": "string"}},
            "listed_on": _STRING_OR_NULL,
            "license_requirement": _STRING_OR_NULL,
            "license_policy": _STRING_OR_NULL,
            "source": {"type": "string", "description": "FILE:LINE, the list file's name (not a path) and line."},
            "dataset_sha256": {
                **_STRING_OR_NULL,
                "description": "The SHA-256 of the dataset's files (the version the entry was read from).",
            },
            "dataset_date": {**_STRING_OR_NULL, "description": "The data date the dataset's file states."},
            "entry_hash": {"type": "string"},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "match": {"type": "boolean"},
            "status": {"enum": ["open", "cleared", "confirmed"]},
            "decision": {"type": ["object", "null"]},
            "explanation": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"score": {"type": "number"}, "detail": {"type": "string"}},
                },
            },
            "lists": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Every list the party is on (one party, one hit).",
            },
            "memberships": {
                "type": "array",
                "items": {"type": "object"},
                "description": "One per list the party is on: entry, list, entry_hash, score, status, decision "
                "(a change of one list's entry re-opens only its membership). Empty for a party on one list.",
            },
        },
    },
    "Screening": {
        "type": "object",
        "required": ["query", "threshold", "data_version", "hits"],
        "properties": {
            "query": {"type": "object"},
            "threshold": {"type": "number"},
            "data_version": {"type": "string", "description": "Every dataset's version and file hash."},
            "list_warnings": {
                "type": "array",
                "description": "A warning for each list whose data is older than the server's maximum list age "
                "(default 7 days) or of unknown date: which list, its data date and age.",
                "items": {
                    "type": "object",
                    "required": ["dataset", "title", "file_date", "age_days", "max_age_days", "message"],
                    "properties": {
                        "dataset": {"type": "string"},
                        "title": {"type": "string"},
                        "file_date": _STRING_OR_NULL,
                        "age_days": {"type": ["integer", "null"]},
                        "max_age_days": {"type": "integer"},
                        "message": {"type": "string"},
                    },
                },
            },
            "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        },
    },
    "ScreeningRow": {
        "type": "object",
        "required": ["id", "name", "hit", "best_score", "hits"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "country": _STRING_OR_NULL,
            "hit": {"type": "boolean", "description": "An open (not cleared) match."},
            "best_score": {"type": "number"},
            "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        },
    },
    "HitDecision": {
        "type": "object",
        "required": ["party", "entry", "entry_hash", "verdict", "reason", "author", "decided_at"],
        "properties": {
            "party": {"type": "string"},
            "entry": {"type": "string"},
            "entry_hash": {"type": "string"},
            "verdict": {"enum": ["cleared", "confirmed", "reopened"]},
            "reason": {"type": "string"},
            "author": {"type": "string"},
            "decided_at": {"type": "string"},
            "withdrawn": {"type": "string", "description": "For a re-opening: the verdict withdrawn."},
            "bound_to": {
                "type": "string",
                "description": "The party the decision holds for: its normalised name and country (and identifiers).",
            },
        },
    },
    "Alert": {
        "type": "object",
        "description": "A monitoring alert, as `tiergate monitor scan --format json` prints it.",
        "required": ["kind", "subject_id", "subject_type", "flop", "threshold", "projected_crossing", "reasons"],
        "properties": {
            "kind": {"type": "string"},
            "subject_id": {"type": "string"},
            "subject_type": {"type": "string"},
            "flop": _NUMBER_OR_NULL,
            "threshold": _NUMBER_OR_NULL,
            "projected_crossing": _STRING_OR_NULL,
            "reasons": {"type": "array", "items": {"type": "string"}},
        },
    },
    "ReplayListing": {
        "type": "object",
        "description": "A proposed restricted-party listing, applied to the `to` side from its effective date.",
        "required": ["list", "effective"],
        "additionalProperties": False,
        "properties": {
            "list": {"enum": ["EL", "SDN", "DPL"]},
            "effective": {"type": "string", "format": "date"},
            "name": {"type": "string", "minLength": 1, "maxLength": 500},
            "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "consignee_id": {"type": "string", "minLength": 1, "maxLength": 200},
            "license_policy": {"type": "string", "maxLength": 500},
        },
    },
    "ReplayTotal": {
        "type": "object",
        "description": "Transactions, TPP and value (value_usd: declared, else the catalogue's indicative price "
        "midpoint; value_usd_estimated: the estimated part; value_unpriced: transactions with neither).",
        "properties": {
            "tpp": _NUMBER_OR_NULL,
            "value_usd": _NUMBER_OR_NULL,
            "value_usd_estimated": _NUMBER_OR_NULL,
            "value_usd_low": _NUMBER_OR_NULL,
            "value_usd_high": _NUMBER_OR_NULL,
            "value_unpriced": {"type": "integer"},
        },
    },
    "Replay": {
        "type": "object",
        "description": "The Replay report (docs/ARCHITECTURE.md, Replay; docs/replay.md).",
        "required": ["from", "to", "total", "changed", "transitions", "by_destination", "by_consignee", "unreplayable"],
        "properties": {
            "from": {"type": "string"},
            "to": {"type": "string"},
            "total": {"type": "integer"},
            "changed": {"type": "integer"},
            "history": {"type": "object"},
            "options": {"type": "object"},
            "packs": {"type": "object"},
            "totals": {"type": "object"},
            "transitions": {
                "type": "array",
                "items": {
                    "allOf": [
                        {"$ref": "#/components/schemas/ReplayTotal"},
                        {
                            "type": "object",
                            "required": ["from", "to", "count"],
                            "properties": {
                                "from": {"type": "string"},
                                "to": {"type": "string"},
                                "count": {"type": "integer"},
                                "changed": {"type": "boolean"},
                            },
                        },
                    ]
                },
            },
            "by_destination": {"type": "array", "items": {"type": "object"}},
            "by_consignee": {"type": "array", "items": {"type": "object"}},
            "by_chip": {"type": "array", "items": {"type": "object"}},
            "by_month": {"type": "array", "items": {"type": "object"}},
            "rules": {"type": "array", "items": {"type": "object"}},
            "binds": {"type": "object"},
            "allocations": {"type": "object"},
            "unreplayable": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "where", "why"],
                    "properties": {"id": _STRING_OR_NULL, "where": {"type": "string"}, "why": {"type": "string"}},
                },
            },
            "unreplayable_count": {"type": "integer"},
            "provenance": {"type": "object"},
        },
    },
    "MonitorScan": {
        "type": "object",
        "required": ["source", "as_of", "regime", "records", "records_used", "problem_counts", "alerts"],
        "properties": {
            "source": {"enum": ["sample", "configured", "upload"]},
            "as_of": {"type": "string"},
            "regime": {"type": "string"},
            "engine": {"type": "string"},
            "records": {"type": "integer"},
            "records_used": {"type": "integer"},
            "problem_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "problems": {"type": "array", "items": {"type": "object"}},
            "thresholds": {"type": "array", "items": {"type": "object"}},
            "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
        },
    },
    "ApiKey": {
        "type": "object",
        "required": ["id", "owner", "role", "state", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "owner": {"type": "string"},
            "role": {"enum": ["viewer", "officer", "approver", "admin"]},
            "state": {"enum": ["active", "revoked", "expired"]},
            "created_at": {"type": "string"},
            "created_by": {"type": "string"},
            "expires_at": _STRING_OR_NULL,
            "revoked_at": _STRING_OR_NULL,
            "revoked_by": _STRING_OR_NULL,
            "token": {"type": "string", "description": "Only in the answer to the creation; shown once."},
        },
    },
}


EXAMPLES_FILE = Path(__file__).resolve().parent / "examples.json"
"""Real answers of every operation (``tests/api/make_examples.py`` regenerates them), shown as examples."""

ERROR_EXAMPLE = {
    "error": {
        "status": 422,
        "code": "invalid_input",
        "message": "items[0].qty: unknown field",
        "where": "body.items[0].qty",
        "hint": "did you mean 'quantity'?",
    }
}


def finish_document(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as clients and code generators read it: every operation with an example of its
    request body (JSON) and of its answer, and no response schema that mixes ``type`` with a reference or a
    ``oneOf`` (FastAPI adds ``type: string`` to the schemas of routes that answer with a plain Response)."""
    examples = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            example = examples.get(f"{method} {path}", {})
            body = operation.get("requestBody", {}).get("content", {})
            if "request" in example and body:  # the JSON body, else the only one (a CSV text, a form)
                media = "application/json" if "application/json" in body else next(iter(body))
                body[media]["example"] = example["request"]
            for status, answer in operation.get("responses", {}).items():
                for media, content in answer.get("content", {}).items():
                    schema = content.get("schema", {})
                    if "type" in schema and any(key in schema for key in ("$ref", "oneOf", "anyOf")):
                        del schema["type"]
                    if media == "application/json" and status in ("200", "201") and "response" in example:
                        content["example"] = example["response"]
    error = document.get("components", {}).get("schemas", {}).get("ErrorBody")
    if error is not None:
        error["example"] = ERROR_EXAMPLE
    return document
