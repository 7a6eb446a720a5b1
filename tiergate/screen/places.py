"""Where the installed list store is and how old its lists are: the rules every face (the command line, the HTTP
API, the dashboard) follows, kept apart from the store itself so that a command that only reads the lists
(``tiergate screen name``) does not load SQLAlchemy to apply them."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any, Protocol

import orjson

from tiergate.screen.model import ListStoreError


class StatusReader(Protocol):
    """A list store as far as its lists' ages go: a row per list (``dataset``, ``title``, ``file_date``...)."""

    def status(self) -> list[dict[str, Any]]: ...


LISTS_ENV = "TIERGATE_LISTS"
"""The environment variable naming the list store (a URL), for every face."""
LISTS_FILE = "tiergate-lists.db"
DEFAULT_LISTS_URL = f"sqlite:///{LISTS_FILE}"
MAX_LIST_AGE_ENV = "TIERGATE_MAX_LIST_AGE"
"""The environment variable giving the age (days) beyond which a list is stale, for every face."""
DEFAULT_MAX_LIST_AGE = 7


def lists_url(given: str | None = None, ledger: str | None = None) -> tuple[str, bool]:
    """The list store's URL and whether it was named (not the default place): ``given`` (``--lists``/``--db``, a
    server's ``lists`` setting), else ``$TIERGATE_LISTS``, else a SQLite file ``tiergate-lists.db`` beside a SQLite
    ledger file ``ledger``, else ``tiergate-lists.db`` in the working folder. The one rule of the command line, the
    HTTP API and the dashboard."""
    if given is not None and given.strip():
        return given.strip(), True
    named = os.environ.get(LISTS_ENV, "").strip()
    if named:
        return named, True
    prefix = "sqlite:///"
    if ledger is not None and ledger.startswith(prefix) and ledger[len(prefix) :] not in ("", ":memory:"):
        return prefix + str(PurePath(ledger[len(prefix) :]).parent / LISTS_FILE), False
    return DEFAULT_LISTS_URL, False


SAMPLE_FILES = frozenset({"trade_gov_csl_sample_2025.csv"})
"""The 13-record demo sample earlier versions filled a fresh store with: a store holding nothing else is filled
from the bundled lists (the sample retired), never left screening against 13 records."""


def sample_only(rows: Sequence[dict[str, Any]]) -> bool:
    return bool(rows) and all(r["files"] and set(r["files"]) <= SAMPLE_FILES for r in rows)


def max_list_age(given: int | None = None) -> int:
    """The age in days beyond which a list is stale: ``given`` (``--max-list-age``, a server's setting), else
    ``$TIERGATE_MAX_LIST_AGE``, else 7."""
    if given is not None:
        if given < 0:
            raise ListStoreError(f"a list age of {given} days", where="--max-list-age", hint="give 0 days or more")
        return given
    text = os.environ.get(MAX_LIST_AGE_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_LIST_AGE
    if not text.isdigit():
        raise ListStoreError(f"{text[:40]!r} is not a number of days", where=f"${MAX_LIST_AGE_ENV}", hint="e.g. 7")
    return int(text)


def today() -> dt.date:
    """Today, or ``$TIERGATE_TODAY`` (YYYY-MM-DD) when set (as the server's settings take it)."""
    text = os.environ.get("TIERGATE_TODAY", "").strip()
    try:
        return dt.date.fromisoformat(text) if text else dt.date.today()
    except ValueError:
        raise ListStoreError(f"{text[:40]!r} is not a date", where="$TIERGATE_TODAY", hint="YYYY-MM-DD") from None


def stale_lists(rows: Sequence[dict[str, Any]], day: dt.date, max_age: int) -> list[dict[str, Any]]:
    """A warning for each list (a ``status`` row) whose data date is more than ``max_age`` days before ``day``, or
    unknown: ``{dataset, title, file_date, age_days, max_age_days, message}``."""
    found: list[dict[str, Any]] = []
    for row in rows:
        date = row.get("file_date")
        try:
            age: int | None = (day - dt.date.fromisoformat(str(date)[:10])).days if date else None
        except ValueError:
            age = None
        if age is not None and age <= max_age:
            continue
        title = row.get("title") or row["dataset"]
        message = (
            f"{title} ({row['dataset']}): data of {date}, {age} days old (over {max_age} days)"
            if age is not None
            else f"{title} ({row['dataset']}): data date unknown"
        )
        found.append(
            {
                "dataset": row["dataset"],
                "title": title,
                "file_date": date,
                "age_days": age,
                "max_age_days": max_age,
                "message": message + "; update it with `tiergate lists update`",
            }
        )
    return found


def list_warnings(store: StatusReader, max_age: int | None = None, day: dt.date | None = None) -> list[dict[str, Any]]:
    """The stale-list warnings of ``store`` (:func:`stale_lists`), as every face shows them: as of ``day`` (default
    :func:`today`), beyond ``max_age`` days (default :func:`max_list_age`)."""
    return stale_lists(store.status(), day or today(), max_list_age(max_age))


def dataset_status(row: Any, entries: int, loaded_at: str | None) -> dict[str, Any]:
    """One dataset's status as ``tiergate lists status`` and the answers show it, from its ``screen_datasets``
    row (read by the store or, for a cold ``screen name``, by :mod:`tiergate.screen.reader`): the files' names
    only (a store of before held their paths)."""
    return {
        "dataset": row["dataset"],
        "title": row["title"],
        "format": row["format"],
        "entries": entries,
        "version": row["version"],
        "file_date": row["file_date"],
        "sha256": row["sha256"],
        "files": [PurePath(f).name for f in orjson.loads(row["files"])],
        "loaded_at": loaded_at,
    }
