"""One error shape for every failure of the HTTP API, declared in the OpenAPI document.

``{"error": {"status": 422, "code": "invalid_input", "message": "...", "where": "body.items[0].chip",
"hint": "did you mean ...?"}}``; ``where`` is always a field path (:func:`field_path`), and no message quotes a
command-line flag (:func:`for_http`). Nothing else reaches a client: no stack trace, no exception text of an
unexpected failure (that is logged on the server with an id the client is given).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from tiergate.errors import TiergateError

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    499: "client_closed",
    500: "internal",
    503: "busy",
}


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    where: str | None = None
    hint: str | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(Exception):
    """An error with its HTTP status, rendered in the one error shape."""

    def __init__(
        self, status: int, message: str, *, where: str | None = None, hint: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.where = where
        self.hint = hint
        self.code = code

    def body(self) -> dict[str, Any]:
        where = field_path(self.where)
        message = for_http(self.message) or ""
        if where is not None and not where.startswith(PARTS):  # e.g. "public key", "usage.csv:12": said in the text
            message, where = f"{where}: {message}", "body"
        return error_body(self.status, message, where=where, hint=for_http(self.hint), code=self.code)


_HTTP_WORDS = (
    ("(--license ID)", "(give a recorded licence: ?license=ID)"),
    ("ship with --license", "ship under a recorded licence: ?license=ID"),
    ("name one with --regime", "name one with ?regime="),
    ("--as-of could not choose", "a date could not choose"),
    ("(or pass --as-of)", "(or decide as of a date: ?as_of=)"),
    ("load it anyway with --force", "load it anyway with ?force=true"),
    ("say why with --reason", "say why in reason"),
    ("say who with --author", "the key's owner is the author"),
    ("see `tiergate chips list`", "see GET /v1/chips"),
    ("see `tiergate keys list`", "see GET /v1/keys"),
    ("see `tiergate ledger history`", "see GET /v1/ledger/history"),
    ("run `tiergate lists load PATH... --db URL`", "an admin loads them: POST /v1/screen/lists"),
    ("`tiergate lists load`", "the command line's lists load"),
    ("run `tiergate ledger init --db URL`", "the server's ledger is not initialised"),
    ("run `tiergate vault init --db URL` first", "an admin sets one up: POST /v1/vault/approvers"),
    ("run `tiergate vault init --db URL`", "an admin sets one up: POST /v1/vault/approvers"),
    (
        "load the restricted-party lists with `tiergate lists load --db URL` and pass --lists URL",
        "an admin loads the restricted-party lists: POST /v1/screen/lists",
    ),
    (
        "load the restricted-party lists with `tiergate lists load --db URL`",
        "an admin loads the restricted-party lists: POST /v1/screen/lists",
    ),
    (
        "start it with --vault-shards DIR, or release with `tiergate vault release`",
        "the server's operator names a shard folder when starting it",
    ),
    ("run `tiergate vault log verify`", "see GET /v1/vault/log/verify"),
    ("see `tiergate vault status`", "see GET /v1/vault/requests/{id}"),
    ("sign one with `tiergate vault log checkpoint`", "sign one: POST /v1/vault/log/checkpoint"),
    ("register it with `tiergate vault datacentre add FILE`", "register it: POST /v1/vault/datacentres"),
    ("(`tiergate screen decide`)", "(POST /v1/screen/decisions)"),
    ("see `tiergate equipment list`", "see GET /v1/equipment"),
    ("update it with `tiergate lists update`", "the server's operator updates it"),
)
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
_COMMAND = re.compile(r"`tiergate [^`]*(?:`|$)")
"""A command line not in the table (quoted whole, or the start of one a message completes)."""


def for_http(text: str | None) -> str | None:
    """A message of the core or the command line as an HTTP client or a page reads it: never a command-line
    flag (``--as-of``); the query parameter or operation that does the same instead. A flag not in the table
    becomes its parameter's name (``--dry-run`` -> ``dry_run``)."""
    if not text or ("-" not in text and "`" not in text):
        return text
    for cli, http in _HTTP_WORDS:
        text = text.replace(cli, http)
    text = _COMMAND.sub("the server's command line", text)
    return _FLAG.sub(lambda found: found.group(1).replace("-", "_"), text)


def page_message(error: ApiError | TiergateError) -> str:
    """An error as a page shows it: where, what and the hint, in the words of HTTP and pages (no flags)."""
    text = f"{error.where}: {error.message}" if error.where else error.message
    return for_http(f"{text} ({error.hint})" if error.hint else text) or ""


PARTS = ("body", "query", "path", "header")
"""Where a field of a request is: ``where`` names the part, then the field path in it."""
_FIELD = re.compile(r"^[A-Za-z_][\w-]*(?:\[\d+\]|\.[A-Za-z_][\w-]*)*$")
_PARTED = re.compile(r"^(body|query|path|header)((?:\[\d+\])*)\s*[:.]\s*(.+)$")
_LEADING_FIELD = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*): ")


def field_path(where: str | None) -> str | None:
    """``where`` as a field path: the request's part, then the field in it, e.g. ``query.regime``,
    ``body.items[0].quantity``, ``body[2].consignee.name`` (the third record of a batch), ``path.key_id``,
    ``header.authorization``. A bare field path is in the body. Anything else (an uploaded file's name and line)
    is left as it is here; :meth:`ApiError.body` then says it in the message, at ``body``."""
    if where is None:
        return None
    text = where.strip()
    found = _PARTED.match(text)
    if found and _FIELD.match(found.group(3)):
        return f"{found.group(1)}{found.group(2)}.{found.group(3)}"
    if text.startswith(PARTS) or not _FIELD.match(text):
        return text
    return f"body.{text}"


def with_field(where: str | None, message: str) -> str | None:
    """``where`` completed with the field a message of the interchange parser starts with (``items[0].chip: ...``
    at ``body[2]`` is at ``body[2].items[0].chip``)."""
    path = field_path(where)
    found = _LEADING_FIELD.match(message)
    if path is None or found is None or not path.startswith(PARTS) or path.endswith(found.group(1)):
        return path
    if found.group(1).split(".")[0].split("[")[0] in PARTS:
        return path
    return f"{path}.{found.group(1)}"


def error_body(
    status: int, message: str, *, where: str | None = None, hint: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "status": status,
            "code": code or CODES.get(status, "error"),
            "message": message,
            "where": where,
            "hint": hint,
        }
    }


def from_tiergate(error: TiergateError) -> ApiError:
    """The HTTP status of a user error of the core or the ledger: 409 for what conflicts with the ledger's
    state (an allocation exceeded, an idempotency key reused, a licence recorded twice), else 422."""
    from tiergate.ledger import LedgerError

    status = 409 if isinstance(error, LedgerError) else 422
    return ApiError(status, error.message, where=with_field(error.where, error.message), hint=error.hint)


_DESCRIPTIONS = {
    400: "Malformed request (e.g. the body is not JSON).",
    401: "No API key, or an unknown, revoked or expired one.",
    403: "The key's role does not allow this.",
    404: "No such resource.",
    405: "Method not allowed on this path.",
    408: "The request's headers or body did not arrive in time.",
    409: "Conflicts with the ledger's state (nothing was changed).",
    413: "Request body, an uploaded file's rows or decoded size, or the answer over its limit.",
    415: "Unsupported content type.",
    422: "Invalid input: the message names the field.",
    500: "Internal error (logged on the server under the id in the message).",
    503: "The ledger database is busy (code busy; try again), or the request ran past its time budget (code timeout).",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the error responses of a route (the shared ones always included)."""
    wanted = sorted({400, 401, 403, 405, 408, 413, 422, 500, 503, *statuses})
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in wanted}
