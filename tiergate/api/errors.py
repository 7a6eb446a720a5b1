"""One error shape for every failure of the HTTP API, declared in the OpenAPI document.

``{"error": {"status": 422, "code": "invalid_input", "message": "...", "where": "body: items[0].chip",
"hint": "did you mean ...?"}}``. Nothing else reaches a client: no stack trace, no exception text of an
unexpected failure (that is logged on the server with an id the client is given).
"""

from __future__ import annotations

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
        return error_body(self.status, self.message, where=self.where, hint=self.hint, code=self.code)


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
    return ApiError(status, error.message, where=error.where, hint=error.hint)


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
