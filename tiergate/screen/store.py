"""The list store: list entries, load history, analyst decisions, screened parties and the audit trail.

SQLAlchemy Core on a SQLite file by default or PostgreSQL by URL, through the ledger's engine
handling (:func:`tiergate.ledger.store.create_engine`). A load is one transaction: the datasets'
entries are replaced, the load is recorded with the files' SHA-256 and data date, and the entries
added, changed (by content hash) and removed are returned so that only the parties they concern
are screened again. A load that would drop more than :data:`MAX_DROP` of a dataset's entries
against the stored version is refused unless forced.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tiergate.errors import TiergateError
from tiergate.screen.model import Dataset, ListEntry, ListStoreError

MAX_DROP = 0.10
MIN_LIST_FOR_DROP = 20
SCHEMA_VERSION = "1"
metadata = sa.MetaData()

meta_table = sa.Table(
    "screen_meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
datasets = sa.Table(
    "screen_datasets",
    metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("format", sa.String(50), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("files", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("file_date", sa.String(40), nullable=True),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
)
loads = sa.Table(
    "screen_loads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("file_date", sa.String(40), nullable=True),
    sa.Column("files", sa.Text, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("added", sa.Integer, nullable=False),
    sa.Column("changed", sa.Integer, nullable=False),
    sa.Column("removed", sa.Integer, nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
)
entries = sa.Table(
    "screen_entries",
    metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("entry_id", sa.String(200), primary_key=True),
    sa.Column("list_code", sa.String(100), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)
decisions = sa.Table(
    "screen_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("party", sa.String(300), nullable=False, index=True),
    sa.Column("entry", sa.String(420), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("superseded", sa.Boolean, nullable=False, default=False),
)
parties = sa.Table(
    "screen_parties",
    metadata,
    sa.Column("party", sa.String(300), primary_key=True),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("hits", sa.Text, nullable=False),
    sa.Column("screened_at", sa.DateTime(timezone=True), nullable=False),
)
audit = sa.Table(
    "screen_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

VERDICTS = ("cleared", "confirmed")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _actor() -> str:
    try:
        return os.environ.get("TIERGATE_ACTOR") or getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


@dataclass
class LoadReport:
    dataset: str
    entries: int
    previous: int | None
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged_file: bool = False
    forced: bool = False
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "entries": self.entries,
            "previous": self.previous,
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "unchanged_file": self.unchanged_file,
            "forced": self.forced,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    party: str
    entry: str
    entry_hash: str
    verdict: str
    reason: str
    author: str
    decided_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "entry": self.entry,
            "entry_hash": self.entry_hash,
            "verdict": self.verdict,
            "reason": self.reason,
            "author": self.author,
            "decided_at": self.decided_at,
        }


class ListStore:
    def __init__(self, url: str) -> None:
        from tiergate.ledger.store import create_engine

        self.url = url
        try:
            self.engine = create_engine(url)
        except TiergateError as error:
            raise ListStoreError(error.message, hint=error.hint) from None
        self._entries_cache: tuple[str, list[ListEntry]] | None = None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as error:
            raise ListStoreError(f"database error on {self.url}: {error.orig}", hint="nothing was changed") from None

    def init(self) -> None:
        with self.transaction() as conn:
            metadata.create_all(conn)
            found = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema")).scalar()
            if found is None:
                conn.execute(meta_table.insert().values(key="schema", value=SCHEMA_VERSION))
            elif found != SCHEMA_VERSION:
                raise ListStoreError(f"{self.url} has list-store schema {found}; this Tiergate knows {SCHEMA_VERSION}")

    def check(self) -> None:
        try:
            with self.engine.connect() as conn:
                if not sa.inspect(conn).has_table("screen_entries"):
                    raise ListStoreError(
                        f"{self.url} holds no restricted-party lists", hint="run `tiergate lists load PATH... --db URL`"
                    )
        except sa.exc.OperationalError as error:
            raise ListStoreError(f"cannot open {self.url}: {error.orig}") from None

    # ---------------------------------------------------------------- loading

    def load(self, sets: Sequence[Dataset], *, force: bool = False) -> list[LoadReport]:
        """Store ``sets`` in one transaction (all or nothing); refuse a >10 % drop unless ``force``."""
        self.init()
        reports: list[LoadReport] = []
        actor = _actor()
        now = _now()
        with self.transaction() as conn:
            for ds in sets:
                prev = conn.execute(sa.select(datasets).where(datasets.c.dataset == ds.dataset)).mappings().first()
                old = {
                    r.entry_id: r.content_hash
                    for r in conn.execute(
                        sa.select(entries.c.entry_id, entries.c.content_hash).where(entries.c.dataset == ds.dataset)
                    )
                }
                new = {e.entry_id: e for e in ds.entries}
                report = LoadReport(ds.dataset, len(new), prev["entries"] if prev else None, forced=force)
                if prev is not None and prev["sha256"] == ds.sha256:
                    report.unchanged_file = True
                    report.version = prev["version"]
                    reports.append(report)
                    continue
                if prev is not None and prev["entries"] and len(new) < (1 - MAX_DROP) * prev["entries"] and not force:
                    drop = 1 - len(new) / prev["entries"]
                    raise ListStoreError(
                        f"{ds.dataset}: the new version has {len(new):,} entries against {prev['entries']:,} "
                        f"(a drop of {drop:.0%}, over {MAX_DROP:.0%}); nothing was loaded",
                        where=ds.files[0],
                        hint="check the file is complete; load it anyway with --force",
                    )
                if prev is not None and not force:
                    self._check_list_drops(conn, ds)
                report.added = sorted(k for k in new if k not in old)
                report.removed = sorted(k for k in old if k not in new)
                hashes = {k: e.content_hash for k, e in new.items()}
                report.changed = sorted(k for k in new if k in old and old[k] != hashes[k])
                conn.execute(entries.delete().where(entries.c.dataset == ds.dataset))
                rows = [
                    {
                        "dataset": e.dataset,
                        "entry_id": e.entry_id,
                        "list_code": e.list_code,
                        "name": e.name,
                        "content_hash": hashes[e.entry_id],
                        "data": orjson.dumps(e.to_dict()).decode(),
                    }
                    for e in ds.entries
                ]
                for start in range(0, len(rows), 5000):
                    conn.execute(entries.insert(), rows[start : start + 5000])
                version = (prev["version"] if prev else 0) + 1
                report.version = version
                values = {
                    "format": ds.format,
                    "title": ds.title,
                    "files": orjson.dumps(list(ds.files)).decode(),
                    "sha256": ds.sha256,
                    "file_date": ds.file_date,
                    "entries": len(new),
                    "version": version,
                    "loaded_at": now,
                }
                if prev is None:
                    conn.execute(datasets.insert().values(dataset=ds.dataset, **values))
                else:
                    conn.execute(datasets.update().where(datasets.c.dataset == ds.dataset).values(**values))
                conn.execute(
                    loads.insert().values(
                        dataset=ds.dataset,
                        version=version,
                        sha256=ds.sha256,
                        file_date=ds.file_date,
                        files=values["files"],
                        entries=len(new),
                        added=len(report.added),
                        changed=len(report.changed),
                        removed=len(report.removed),
                        forced=force,
                        actor=actor,
                        loaded_at=now,
                    )
                )
                self._audit(conn, "load", ds.dataset, {**report.to_dict(), "sha256": ds.sha256, "files": ds.files})
                reports.append(report)
        self._entries_cache = None
        return reports

    def _check_list_drops(self, conn: Connection, ds: Dataset) -> None:
        """A file that merges lists (the CSL) must not lose most of one of them silently (a feed that dropped
        the SDN portion): each list of at least :data:`MIN_LIST_FOR_DROP` entries is held to the same 10 %."""
        before = {
            str(code): int(n)
            for code, n in conn.execute(
                sa.select(entries.c.list_code, sa.func.count())
                .where(entries.c.dataset == ds.dataset)
                .group_by(entries.c.list_code)
            )
        }
        after: dict[str, int] = {}
        for e in ds.entries:
            after[e.list_code] = after.get(e.list_code, 0) + 1
        for code, n in sorted(before.items()):
            now = after.get(code, 0)
            if n >= MIN_LIST_FOR_DROP and now < (1 - MAX_DROP) * n:
                raise ListStoreError(
                    f"{ds.dataset}: list {code} has {now:,} entries against {n:,} "
                    f"(a drop of {1 - now / n:.0%}, over {MAX_DROP:.0%}); nothing was loaded",
                    where=ds.files[0],
                    hint="check the file holds every list; load it anyway with --force",
                )

    def status(self) -> list[dict[str, Any]]:
        self.check()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(datasets).order_by(datasets.c.dataset)).mappings().all()
            counts: dict[str, int] = {
                str(d): int(n)
                for d, n in conn.execute(sa.select(entries.c.dataset, sa.func.count()).group_by(entries.c.dataset))
            }
        out = []
        for r in rows:
            out.append(
                {
                    "dataset": r["dataset"],
                    "title": r["title"],
                    "format": r["format"],
                    "entries": counts.get(r["dataset"], 0),
                    "version": r["version"],
                    "file_date": r["file_date"],
                    "sha256": r["sha256"],
                    "files": orjson.loads(r["files"]),
                    "loaded_at": r["loaded_at"].isoformat() if r["loaded_at"] else None,
                }
            )
        return out

    def data_version(self) -> str:
        """One string naming every dataset's version and file hash (for audit records)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(datasets.c.dataset, datasets.c.version, datasets.c.sha256)).all()
        return ";".join(f"{d}@{v}:{h[:12]}" for d, v, h in sorted(rows))

    def list_entries(self, keys: Sequence[str] | None = None) -> list[ListEntry]:
        self.check()
        version = self.data_version()
        if keys is None and self._entries_cache is not None and self._entries_cache[0] == version:
            return self._entries_cache[1]
        with self.engine.connect() as conn:
            query = sa.select(entries.c.data).order_by(entries.c.dataset, entries.c.entry_id)
            rows = conn.execute(query).scalars().all()
        found = [ListEntry.from_dict(orjson.loads(r)) for r in rows]
        if keys is not None:
            wanted = set(keys)
            return [e for e in found if e.key in wanted]
        self._entries_cache = (version, found)
        return found

    # ---------------------------------------------------------------- analyst decisions

    def decide(self, party: str, entry: ListEntry, verdict: str, reason: str, author: str) -> Decision:
        if verdict not in VERDICTS:
            raise ListStoreError(f"verdict {verdict!r}", hint=f"one of {', '.join(VERDICTS)}")
        if not reason.strip():
            raise ListStoreError("a decision needs a reason", hint="say why with --reason")
        if not author.strip():
            raise ListStoreError("a decision needs an author", hint="say who with --author")
        if not party.strip():
            raise ListStoreError("a decision needs a party id")
        now = _now()
        with self.transaction() as conn:
            conn.execute(
                decisions.update()
                .where(decisions.c.party == party, decisions.c.entry == entry.key, decisions.c.superseded.is_(False))
                .values(superseded=True)
            )
            conn.execute(
                decisions.insert().values(
                    party=party,
                    entry=entry.key,
                    entry_hash=entry.content_hash,
                    verdict=verdict,
                    reason=reason.strip(),
                    author=author.strip(),
                    decided_at=now,
                    superseded=False,
                )
            )
            self._audit(
                conn,
                verdict,
                f"{party} / {entry.key}",
                {"entry_hash": entry.content_hash, "reason": reason.strip(), "author": author.strip()},
            )
        return Decision(party, entry.key, entry.content_hash, verdict, reason.strip(), author.strip(), now.isoformat())

    def decisions(self, party: str | None = None) -> dict[tuple[str, str], Decision]:
        """The standing decision for each (party, entry)."""
        try:
            with self.engine.connect() as conn:
                query = sa.select(decisions).where(decisions.c.superseded.is_(False))
                if party is not None:
                    query = query.where(decisions.c.party == party)
                rows = conn.execute(query).mappings().all()
        except sa.exc.OperationalError:
            return {}
        return {
            (r["party"], r["entry"]): Decision(
                r["party"],
                r["entry"],
                r["entry_hash"],
                r["verdict"],
                r["reason"],
                r["author"],
                r["decided_at"].isoformat() if r["decided_at"] else "",
            )
            for r in rows
        }

    # ---------------------------------------------------------------- screened parties and audit

    def record_screening(self, party: str, query: dict[str, Any], hits: list[dict[str, Any]]) -> None:
        self.record_screenings([(party, query, hits)])

    def record_screenings(self, results: Sequence[tuple[str, dict[str, Any], list[dict[str, Any]]]]) -> None:
        """Record each party's latest screening (for re-screening) and an audit entry per screening, in one
        transaction."""
        if not results:
            return
        now = _now()
        actor = _actor()
        with self.transaction() as conn:
            version = self._data_version(conn)
            keys = [party for party, _, _ in results]
            for start in range(0, len(keys), 500):
                conn.execute(parties.delete().where(parties.c.party.in_(keys[start : start + 500])))
            latest = {party: (query, hits) for party, query, hits in results}
            rows = [
                {
                    "party": party,
                    "query": orjson.dumps(q).decode(),
                    "hits": orjson.dumps(h).decode(),
                    "screened_at": now,
                }
                for party, (q, h) in latest.items()
            ]
            audits = [
                {
                    "at": now,
                    "actor": actor,
                    "action": "screen",
                    "subject": party,
                    "detail": orjson.dumps({"query": q, "hits": h, "data_version": version}).decode(),
                }
                for party, q, h in results
            ]
            for start in range(0, len(rows), 2000):
                conn.execute(parties.insert(), rows[start : start + 2000])
            for start in range(0, len(audits), 2000):
                conn.execute(audit.insert(), audits[start : start + 2000])

    def screened_parties(self) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(parties).order_by(parties.c.party)).mappings().all()
        return [(r["party"], orjson.loads(r["query"]), orjson.loads(r["hits"])) for r in rows]

    def _data_version(self, conn: Connection) -> str:
        rows = conn.execute(sa.select(datasets.c.dataset, datasets.c.version, datasets.c.sha256)).all()
        return ";".join(f"{d}@{v}:{h[:12]}" for d, v, h in sorted(rows))

    def _audit(self, conn: Connection, action: str, subject: str, detail: dict[str, Any]) -> None:
        conn.execute(
            audit.insert().values(
                at=_now(), actor=_actor(), action=action, subject=subject, detail=orjson.dumps(detail).decode()
            )
        )

    def audit_entries(self) -> Iterator[dict[str, Any]]:
        self.check()
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(audit).order_by(audit.c.id)).mappings():
                yield {
                    "id": r["id"],
                    "at": r["at"].isoformat() if r["at"] else None,
                    "actor": r["actor"],
                    "action": r["action"],
                    "subject": r["subject"],
                    "detail": orjson.loads(r["detail"]),
                }


def open_store(url: str) -> ListStore:
    return ListStore(url)
