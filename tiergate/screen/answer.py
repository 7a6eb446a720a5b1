"""``tiergate screen name``: one query answered, and its arguments read without Typer when they are plain.

A query from a cold shell should answer well under a second; importing Typer (with Pydantic, which it builds a
validator of every parameter with) and building the command line cost about a third of that. So the launcher
(:mod:`tiergate.launch`) first tries :func:`parse_name`, which reads the usual forms only (the name, and the
options in :data:`NAME_OPTIONS` with plain values) and gives up (None) on anything else: ``--help``, ``--party``
(which records the screening), an unknown option, a value that is not plain, a number out of range. Then the
whole command line reads them, with its help and its error messages. Both run :func:`screen_name` with the same
values (``tests/screen/test_answer.py`` holds the two parsers to that)."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

import orjson

from tiergate.errors import InputError
from tiergate.screen.model import DEFAULT_THRESHOLD, Query

if TYPE_CHECKING:
    from rich.console import Console

NAME_DEFAULTS: dict[str, Any] = {
    "country": None,
    "schema": None,
    "identifier": None,
    "party": None,
    "dob": None,
    "db": None,
    "threshold": DEFAULT_THRESHOLD,
    "limit": 10,
    "format": "table",
    "max_age": None,
}
"""The parameters of ``tiergate screen name`` besides the name, with their defaults (as the command line has them)."""
NAME_OPTIONS: dict[str, tuple[str, str]] = {
    "--country": ("country", "text"),
    "--schema": ("schema", "text"),
    "--id": ("identifier", "repeated"),
    "--dob": ("dob", "text"),
    "--db": ("db", "text"),
    "--lists": ("db", "text"),
    "--threshold": ("threshold", "share"),
    "--limit": ("limit", "limit"),
    "--format": ("format", "text"),
    "--max-list-age": ("max_age", "days"),
}
"""The options :func:`parse_name` reads: the parameter each sets and how its value is read."""
_SHARE = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
_COUNT = re.compile(r"\d{1,9}")


def _plain(kind: str, text: str) -> Any:
    """``text`` read as an option of ``kind``; None when it is not plainly one (the command line then reads it)."""
    if kind in ("text", "repeated"):
        return text if text and not text.startswith("-") else None
    if kind == "share":
        return float(text) if _SHARE.fullmatch(text) and 0.0 <= float(text) <= 1.0 else None
    if not _COUNT.fullmatch(text):
        return None
    number = int(text)
    if kind == "limit":
        return number if 1 <= number <= 500 else None
    return number  # days: 0 or more


def parse_name(args: list[str]) -> dict[str, Any] | None:
    """The parameters of ``tiergate screen name ARGS...`` (``name`` and :data:`NAME_DEFAULTS`' keys) when
    ``args`` are plain; None for anything the whole command line should read."""
    found: dict[str, Any] = {"name": None, **NAME_DEFAULTS}
    given: set[str] = set()
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-"):
            if found["name"] is not None or not arg.strip():
                return None
            found["name"] = arg
            continue
        option, equals, text = arg.partition("=")
        spec = NAME_OPTIONS.get(option)
        if spec is None:
            return None
        if not equals:
            if not rest:
                return None
            text = rest.pop(0)
        key, kind = spec
        value = _plain(kind, text)
        if value is None:
            return None
        if kind == "repeated":
            found[key] = [*(found[key] or []), value]
        elif key in given:
            return None
        else:
            given.add(key)
            found[key] = value
    return found if found["name"] is not None else None


def stdout_console() -> Console:
    """The console a command prints its answer on: no highlighting, lines never wrapped (200 wide when not a
    terminal, so a pipe gets what a terminal shows)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def dump(value: Any, indent: bool = True) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()


def check_format(value: str, allowed: tuple[str, ...] = ("table", "json")) -> str:
    if value not in allowed:
        raise InputError(f"--format: {value!r}", hint=f"use {' or '.join(allowed)}")
    return value


def query_name(value: str, where: str) -> str:
    from tiergate.screen.normalize import UnscreenableName, check_name

    try:
        return check_name(value)
    except UnscreenableName as error:
        raise InputError(str(error), where=where) from None


def query_country(value: str | None, where: str) -> str | None:
    if value is None or value == "":
        return None
    from tiergate.screen.service import _code

    return _code(value, where)


def birth_date(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        raise InputError(f"{text!r} is not a date of birth", where=where, hint="YYYY, YYYY-MM or YYYY-MM-DD")
    return text


def installed(db: str | None) -> Any:
    """The list store to read lists from: the one at the default place is filled from the bundled lists on first
    use; a named one without lists is an error saying how to install them."""
    from tiergate.screen.store import installed_store

    return installed_store(db)


def screener(db: str | None, threshold: float) -> Any:
    """A screener of the store's lists, its index from the cache when the lists are unchanged (see
    :meth:`tiergate.screen.index.ScreeningIndex.for_store`)."""
    from tiergate.screen.index import ScreeningIndex
    from tiergate.screen.service import Screener

    store = installed(db)
    return Screener(ScreeningIndex.for_store(store), store, threshold)


def reading_screener(db: str | None, threshold: float) -> Any:
    """A screener that only reads: of a SQLite store read without SQLAlchemy when it can be
    (:func:`tiergate.screen.reader.open_lists`), else as :func:`screener`."""
    from tiergate.screen.reader import open_lists

    lists = open_lists(db)
    if lists is None:
        return screener(db, threshold)
    from tiergate.screen.index import ScreeningIndex
    from tiergate.screen.service import Screener

    return Screener(ScreeningIndex.for_store(lists, version=lists.data_version()), lists, threshold)  # type: ignore[arg-type]


def warn_stale(store: Any, max_age: int | None, console: Console) -> list[dict[str, Any]]:
    """The stale-list warnings of ``store``, printed on ``console``."""
    from tiergate.screen.places import list_warnings

    found = list_warnings(store, max_age)
    for w in found:
        console.print(f"WARNING stale list: {w['message']}", markup=False)
    return found


def screen_name(
    out: Console,
    name: str,
    country: str | None = None,
    schema: str | None = None,
    identifier: list[str] | None = None,
    party: str | None = None,
    dob: str | None = None,
    db: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int = 10,
    format: str = "table",
    max_age: int | None = None,
) -> int:
    """Ranked hits for a name printed on ``out``, each with its score and the features behind it, and a warning
    for each list older than ``max_age`` days; returns the exit status: 1 when there is an open match."""
    from tiergate.screen.service import party_id

    check_format(format)
    query = Query(
        query_name(name, "name"),
        schema,
        query_country(country, "--country"),
        tuple(identifier or ()),
        birth_date(dob, "--dob"),
    )
    found = screener(db, threshold) if party else reading_screener(db, threshold)
    key = party_id(query.name, query.country, party)
    hits = found.screen_and_record(query, key, limit=limit) if party else found.screen(query, party=key, limit=limit)
    rows = [h.to_dict() for h in hits]
    if format == "json":
        from tiergate.screen.places import list_warnings

        out.print(
            dump(
                {
                    "query": {"name": name, "country": query.country, "schema": schema, "party": key},
                    "threshold": threshold,
                    "data_version": found.store.data_version(),
                    "list_warnings": list_warnings(found.store, max_age),
                    "hits": rows,
                }
            ),
            markup=False,
        )
    else:
        warn_stale(found.store, max_age, out)
        if not rows:
            out.print(f"no hit at or above {threshold}", markup=False)
        for h in rows:
            out.print(
                f"{h['score']:.2f} {h['status']:<9} {h['list']:<6} {h['entry']}  {h['name']!r}"
                f" (on {h['matched_name']!r}; {', '.join(h['countries']) or '-'})",
                markup=False,
            )
            for feature, info in h["explanation"].items():
                out.print(f"      {feature} {info['score']:+.2f}: {info['detail']}", markup=False)
    return 1 if any(h.match and h.status != "cleared" for h in hits) else 0
