"""Bounds on the work of one request: a time budget, the client's departure, the size of an answer.

The outermost layer (:class:`tiergate.api.app.Guard`) gives every HTTP request a :class:`RequestBudget` (its
deadline, and whether the client has gone) in a context variable; FastAPI's thread pool copies the context, so
the routes' work in threads sees the same budget. Long loops (a batch of decisions or screenings) walk their
records through :func:`within_budget`, which stops the work between two records once the deadline has passed (a
503 naming the budget) or the client has closed the connection (nothing is sent; the work is abandoned, and any
writes it made so far are its own complete transactions, as when a process stops).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import orjson

from tiergate.api.errors import ApiError

T = TypeVar("T")


class ClientGone(ApiError):
    """The client closed the connection before the answer: the work stops; nothing is sent."""

    def __init__(self) -> None:
        super().__init__(499, "the client closed the connection")


class OverBudget(ApiError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            503,
            f"the request ran past its time budget of {seconds:g} s and was stopped",
            hint="send fewer records in one request",
            code="timeout",
        )


class RequestBudget:
    """The deadline of one request and whether its client is still there (set from the event loop, read by the
    threads doing the work)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.gone = threading.Event()

    def check(self) -> None:
        """Raise :class:`ClientGone` or :class:`OverBudget` when the work should stop."""
        if self.gone.is_set():
            raise ClientGone()
        if time.monotonic() > self.deadline:
            raise OverBudget(self.seconds)


_current: ContextVar[RequestBudget | None] = ContextVar("tiergate_request_budget", default=None)


def current_budget() -> RequestBudget | None:
    return _current.get()


def enter(budget: RequestBudget) -> Any:
    """Make ``budget`` the current request's (returns the token to :func:`leave` with)."""
    return _current.set(budget)


def leave(token: Any) -> None:
    _current.reset(token)


def check_budget() -> None:
    """Stop here if the current request is over its budget or its client has gone (no-op outside a request)."""
    budget = _current.get()
    if budget is not None:
        budget.check()


def within_budget(items: Iterable[T]) -> Iterator[T]:
    """``items``, checking the current request's budget before each one."""
    budget = _current.get()
    for item in items:
        if budget is not None:
            budget.check()
        yield item


class AnswerTooLarge(ApiError):
    def __init__(self, limit: int, what: str) -> None:
        super().__init__(
            413,
            f"the answer would be larger than {limit:,} bytes",
            hint=f"ask for fewer {what} in one request, or without the explanation (explain=false) where offered",
        )


def encode_rows(rows: Iterable[Any], limit: int, *, lines: bool, what: str = "records") -> bytes:
    """``rows`` as a JSON array (or JSON lines), each encoded as it comes so that only the encoded answer is held;
    a 413 as soon as it passes ``limit`` bytes (nothing is sent then: the answer is all or nothing)."""
    parts: list[bytes] = []
    size = 2
    for row in within_budget(rows):
        encoded = orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS)
        size += len(encoded) + 1
        if size > limit:
            raise AnswerTooLarge(limit, what)
        parts.append(encoded)
    if lines:
        return b"".join(part + b"\n" for part in parts)
    return b"[" + b",".join(parts) + b"]"
