"""The installed list store read with the standard library's ``sqlite3``: what one ``tiergate screen name`` needs
(the lists' status for the stale-list warnings, the data version that names the kept index, the standing analyst
decisions) without loading SQLAlchemy, a third of a cold command's time.

Only a SQLite file named plainly (``sqlite:///FILE``) that holds lists is read so; anything else (PostgreSQL, a
URL with options, a store to fill from the bundled lists, a file that cannot be read now) is ``None`` and the
command opens the store as every other command does (:func:`tiergate.screen.store.installed_store`). The rows are
read in one read transaction when the store is opened, and are exactly what :class:`tiergate.screen.store.ListStore`
returns for the same store (``tests/screen/test_reader.py``). Writing (``--party`` records the screening) always
goes through the store."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from tiergate.screen.model import Decision, ListEntry
from tiergate.screen.places import dataset_status, lists_url, sample_only

PLAIN_SQLITE = "sqlite:///"
VERDICTS = ("cleared", "confirmed")
"""The standing verdicts (``tiergate.screen.store.VERDICTS``)."""


def sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///FILE`` URL (relative to the working folder, or ``sqlite:////absolute``);
    None for any other URL (another database, an in-memory one, options or escapes the URL parser would read)."""
    if not url.startswith(PLAIN_SQLITE):
        return None
    name = url[len(PLAIN_SQLITE) :]
    if not name or name == ":memory:" or any(c in name for c in "?%#"):
        return None
    return Path(name)


def _when(value: Any) -> str | None:
    """A stored timestamp as the store returns it (SQLAlchemy reads SQLite's text into a datetime)."""
    if value is None or value == "":
        return None
    return dt.datetime.fromisoformat(str(value)).isoformat()


class SqliteLists:
    """A read-only view of a SQLite list store's lists and decisions, as read when it was opened."""

    def __init__(
        self, url: str, status: list[dict[str, Any]], version: str, decisions: dict[tuple[str, str], Decision]
    ) -> None:
        self.url = url
        self._status = status
        self._version = version
        self._decisions = decisions

    def status(self) -> list[dict[str, Any]]:
        """As :meth:`tiergate.screen.store.ListStore.status` without ``paths``."""
        return [dict(row, files=list(row["files"])) for row in self._status]

    def data_version(self) -> str:
        """As :meth:`tiergate.screen.store.ListStore.data_version`."""
        return self._version

    def decisions(self, party: str | None = None) -> dict[tuple[str, str], Decision]:
        """As :meth:`tiergate.screen.store.ListStore.decisions`."""
        return {key: d for key, d in self._decisions.items() if party is None or d.party == party}

    def list_entries(self, keys: Sequence[str] | None = None) -> list[ListEntry]:
        """The entries, from the store itself (building an index needs them; the kept one does not)."""
        from tiergate.screen.store import open_store

        store = open_store(self.url)
        try:
            return store.list_entries(keys)
        finally:
            store.close()

    def close(self) -> None:
        """Nothing is held open."""


def open_lists(given: str | None = None) -> SqliteLists | None:
    """The installed list store (``--db``, ``$TIERGATE_LISTS`` or the default place: :func:`lists_url`) read
    without SQLAlchemy, when it is a plain SQLite file that holds lists (not only the demo sample a store at the
    default place is upgraded from); else None."""
    url, named = lists_url(given)
    path = sqlite_file(url)
    if path is None or not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(path, timeout=0.05)) as conn:  # reads only (a read-only open of a WAL file
            conn.row_factory = sqlite3.Row  # fails once its last writer has gone and taken its -shm file along)
            found = read(conn)
    except (sqlite3.Error, ValueError, orjson.JSONDecodeError):
        return None
    if found is None:
        return None
    status, version, decisions = found
    if not status or (not named and sample_only(status)):
        return None
    return SqliteLists(url, status, version, decisions)


def read(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], str, dict[tuple[str, str], Decision]] | None:
    """The status rows, data version and standing decisions of the store on ``conn``, in one read transaction;
    None when it holds no list tables."""
    conn.execute("BEGIN")
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"screen_datasets", "screen_entries"} <= tables:
            return None
        counts = {
            str(d): int(n) for d, n in conn.execute("SELECT dataset, count(*) FROM screen_entries GROUP BY dataset")
        }
        status = [
            dataset_status(r, counts.get(r["dataset"], 0), _when(r["loaded_at"]))
            for r in conn.execute("SELECT * FROM screen_datasets ORDER BY dataset")
        ]
        rows = conn.execute("SELECT dataset, version, sha256 FROM screen_datasets").fetchall()
        version = ";".join(f"{d}@{v}:{h[:12]}" for d, v, h in sorted(tuple(r) for r in rows))
        decisions: dict[tuple[str, str], Decision] = {}
        if "screen_decisions" in tables:
            bound = "screen_decision_bindings" in tables
            query = (
                "SELECT d.*, b.party_form AS party_form FROM screen_decisions AS d "
                "LEFT OUTER JOIN screen_decision_bindings AS b ON b.decision_id = d.id"
                if bound
                else "SELECT d.*, NULL AS party_form FROM screen_decisions AS d"
            )
            query += " WHERE d.superseded IS 0 AND d.verdict IN (?, ?)"
            for r in conn.execute(query, VERDICTS):
                decision = Decision(
                    r["party"],
                    r["entry"],
                    r["entry_hash"],
                    r["verdict"],
                    r["reason"],
                    r["author"],
                    _when(r["decided_at"]) or "",
                )
                decisions[(r["party"], r["entry"])] = replace(decision, bound_to=r["party_form"])
        return status, version, decisions
    finally:
        conn.rollback()
