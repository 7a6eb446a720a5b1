"""Reading request bodies: JSON (or JSON lines for batches), with errors naming the line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Request

from tiergate.api.errors import ApiError

_JSON_TYPES = ("application/json", "application/x-ndjson", "application/jsonl", "application/json-lines")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()


async def json_body(request: Request) -> Any:
    """The request's JSON body (400 when it is not JSON, 415 for another content type)."""
    media = _media_type(request)
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise ApiError(415, f"content type {media[:100]!r} is not accepted", hint="send application/json")
    raw = await request.body()
    return parse_json(raw, "body")


def parse_json(raw: bytes, where: str) -> Any:
    if not raw.strip():
        raise ApiError(400, "the request body is empty", where=where, hint="send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(
            400, f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})", where=where
        ) from None


async def records_body(request: Request, most: int | None = None, what: str = "records") -> list[tuple[Any, str]]:
    """A batch: a JSON array, or JSON lines (``application/x-ndjson``); each record with where it came from
    (``body[i]``: the array's element, or the line i + 1 of JSON lines). With ``most``, a batch of more records is
    a 413 (JSON lines: before the lines past it are parsed)."""
    media = _media_type(request)
    raw = await request.body()
    if media in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
        return parse_lines(raw, "body", most=most, what=what)
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise ApiError(415, f"content type {media[:100]!r} is not accepted", hint="send JSON or JSON lines")
    data = parse_json(raw, "body")
    if not isinstance(data, list):
        raise ApiError(422, f"expected a JSON array of {what}", where="body", hint="or send JSON lines")
    records = [(record, f"body[{index}]") for index, record in enumerate(data)]
    if most is not None:
        check_batch(records, most, what)
    return records


def check_batch(records: Sequence[tuple[Any, str]], most: int, what: str) -> None:
    """413 when a batch holds more than ``most`` records (``what``: "transactions", "parties")."""
    if len(records) > most:
        raise ApiError(413, f"{len(records):,} {what} in one batch; at most {most:,}", hint="split the batch")


def parse_lines(raw: bytes, where: str, most: int | None = None, what: str = "records") -> list[tuple[Any, str]]:
    """The records of JSON lines, each with ``body[i]`` for its line i + 1 (blank lines are skipped)."""
    out: list[tuple[Any, str]] = []
    for index, line in enumerate(raw.splitlines()):
        if not line.strip():
            continue
        if most is not None and len(out) >= most:
            raise ApiError(413, f"more than {most:,} {what} in one batch", hint="split the batch")
        try:
            out.append((orjson.loads(line), f"{where}[{index}]"))
        except orjson.JSONDecodeError as error:
            raise ApiError(400, f"line {index + 1}: not valid JSON: {error.msg}", where=f"{where}[{index}]") from None
    if not out:
        raise ApiError(400, "the request body holds no records", where=where)
    return out
