"""The list store: list entries, load history, analyst decisions, screened parties and the audit trail.

SQLAlchemy Core on a SQLite file by default or PostgreSQL by URL, through the ledger's engine
handling (:func:`tiergate.database.create_engine`). A load is one transaction: the datasets'
entries are replaced, the load is recorded with the files' SHA-256 and data date, and the entries
added, changed (by content hash) and removed are returned so that only the parties they concern
are screened again. A load that would drop more than :data:`MAX_DROP` of a dataset's entries
against the stored version is refused unless forced.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tiergate import database
from tiergate.errors import TiergateError
from tiergate.screen import places
from tiergate.screen.model import Dataset, ListEntry, ListStoreError
from tiergate.screen.model import Decision as Decision

# Where the installed store is and how old its lists are: the rules live in places (which loads no SQLAlchemy,
# for `tiergate screen name`); here under the names they always had.
DEFAULT_LISTS_URL = places.DEFAULT_LISTS_URL
DEFAULT_MAX_LIST_AGE = places.DEFAULT_MAX_LIST_AGE
LISTS_ENV = places.LISTS_ENV
LISTS_FILE = places.LISTS_FILE
MAX_LIST_AGE_ENV = places.MAX_LIST_AGE_ENV
SAMPLE_FILES = places.SAMPLE_FILES
list_warnings = places.list_warnings
lists_url = places.lists_url
max_list_age = places.max_list_age
stale_lists = places.stale_lists
today = places.today
_sample_only = places.sample_only

LOCK_WAIT_SECONDS = 60.0
# The ledger's engine takes SQLite's write lock at BEGIN for connections marked as writers (its option
# name, where the ledger defines one); list-store transactions are all writes.
_WRITE = {database.WRITE_OPTION: True}
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

bindings = sa.Table(
    "screen_decision_bindings",
    metadata,
    sa.Column("decision_id", sa.Integer, primary_key=True),
    sa.Column("party_form", sa.Text, nullable=False),
)
"""What each decision was made for: the party's normalised name, country and identifiers (``party_form`` of
``tiergate.screen.service``); a decision applies only to a party of the same form. A table of its own, so that a
store made before it gains it with ``create_all``."""

VERDICTS = ("cleared", "confirmed")
REOPENED = "reopened"
"""The verdict of a re-opening: the standing decision withdrawn, the hit open again (never a standing verdict)."""


def _busy(error: sa.exc.OperationalError) -> bool:
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text or "deadlock detected" in text


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _actor(actor: str | None = None) -> str:
    """Who the trail names: ``actor`` when given (e.g. the owner of the API key a server acts for), else
    ``$TIERGATE_ACTOR``, else the process's user."""
    if actor is not None and actor.strip():
        return actor.strip()[:200]
    try:
        return os.environ.get("TIERGATE_ACTOR") or getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


class NoStandingDecision(ListStoreError):
    """A re-opening of a (party, entry) pair that has no standing decision; nothing was changed."""


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


class ListStore:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = database.create_engine(url)
        except TiergateError as error:
            raise ListStoreError(error.message, hint=error.hint) from None
        self._entries_cache: tuple[str, list[ListEntry]] | None = None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction. On SQLite it takes the write lock when it begins, waiting (up to
        :data:`LOCK_WAIT_SECONDS`) while another writer holds it; its body then cannot meet a lock."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            conn = self.engine.connect().execution_options(**_WRITE)
            try:
                trans = conn.begin()
                break
            except sa.exc.OperationalError as error:
                conn.close()
                if _busy(error) and time.monotonic() < deadline:
                    time.sleep(random.uniform(0.001, 0.02))  # noqa: S311 - jitter, not security
                    continue
                raise ListStoreError(f"cannot open {self.url}: {error.orig}", hint="nothing was changed") from None
        try:
            yield conn
            trans.commit()
        except sa.exc.OperationalError as error:
            trans.rollback()
            raise ListStoreError(f"database error on {self.url}: {error.orig}", hint="nothing was changed") from None
        except BaseException:
            trans.rollback()
            raise
        finally:
            conn.close()

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

    def load(
        self,
        sets: Sequence[Dataset],
        *,
        force: bool = False,
        actor: str | None = None,
        retire: Sequence[str] = (),
    ) -> list[LoadReport]:
        """Store ``sets`` in one transaction (all or nothing); refuse a >10 % drop unless ``force``. ``actor``: who
        the load record and the trail name (default ``$TIERGATE_ACTOR`` or the process's user). ``retire``: datasets
        the new ones supersede (``tiergate lists update`` replacing the bundled snapshot), removed in the same
        transaction; each list (by list code) of the retired and replaced datasets is held to the same 10 %.

        The files' full paths are kept in the load record only (for operators); the dataset and its entries name
        each file by its name."""
        self.init()
        reports: list[LoadReport] = []
        actor = _actor(actor)
        now = _now()
        with self.transaction() as conn:
            retired = [name for name in dict.fromkeys(retire) if name not in {ds.dataset for ds in sets}]
            if retired and not force:
                self._check_retired_drops(conn, sets, retired)
            for name in retired:
                reports.extend(self._retire(conn, name, actor, now))
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
                        "data": orjson.dumps(_stored(e, ds)).decode(),
                    }
                    for e in ds.entries
                ]
                for start in range(0, len(rows), 5000):
                    conn.execute(entries.insert(), rows[start : start + 5000])
                version = (prev["version"] if prev else 0) + 1
                report.version = version
                names = [PurePath(f).name for f in ds.files]
                values = {
                    "format": ds.format,
                    "title": ds.title,
                    "files": orjson.dumps(names).decode(),
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
                        files=orjson.dumps(list(ds.files)).decode(),
                        entries=len(new),
                        added=len(report.added),
                        changed=len(report.changed),
                        removed=len(report.removed),
                        forced=force,
                        actor=actor,
                        loaded_at=now,
                    )
                )
                self._audit(
                    conn, "load", ds.dataset, {**report.to_dict(), "sha256": ds.sha256, "files": names}, actor=actor
                )
                reports.append(report)
        self._entries_cache = None
        return reports

    def _retire(self, conn: Connection, name: str, actor: str, now: dt.datetime) -> list[LoadReport]:
        prev = conn.execute(sa.select(datasets).where(datasets.c.dataset == name)).mappings().first()
        if prev is None:
            return []
        gone = sorted(str(k) for k in conn.execute(sa.select(entries.c.entry_id).where(entries.c.dataset == name)))
        conn.execute(entries.delete().where(entries.c.dataset == name))
        conn.execute(datasets.delete().where(datasets.c.dataset == name))
        conn.execute(
            loads.insert().values(
                dataset=name,
                version=prev["version"] + 1,
                sha256="",
                file_date=None,
                files="[]",
                entries=0,
                added=0,
                changed=0,
                removed=len(gone),
                forced=False,
                actor=actor,
                loaded_at=now,
            )
        )
        self._audit(conn, "retire", name, {"entries": len(gone), "version": prev["version"]}, actor=actor)
        return [LoadReport(name, 0, prev["entries"], removed=gone, version=prev["version"] + 1)]

    def _check_retired_drops(self, conn: Connection, sets: Sequence[Dataset], retired: Sequence[str]) -> None:
        """Each list (list code) of the retired and replaced datasets keeps at least 90 % of its entries in ``sets``."""
        names = [*retired, *(ds.dataset for ds in sets)]
        before = {
            str(code): int(n)
            for code, n in conn.execute(
                sa.select(entries.c.list_code, sa.func.count())
                .where(entries.c.dataset.in_(names))
                .group_by(entries.c.list_code)
            )
        }
        after: dict[str, int] = {}
        for ds in sets:
            for e in ds.entries:
                after[e.list_code] = after.get(e.list_code, 0) + 1
        for code, n in sorted(before.items()):
            now = after.get(code, 0)
            if n >= MIN_LIST_FOR_DROP and now < (1 - MAX_DROP) * n:
                raise ListStoreError(
                    f"list {code} would have {now:,} entries against {n:,} in the lists replaced "
                    f"({', '.join(retired)}): a drop of {1 - now / n:.0%}, over {MAX_DROP:.0%}; nothing was loaded",
                    hint="check the new files are complete; replace anyway with --force",
                )

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

    def status(self, *, paths: bool = False) -> list[dict[str, Any]]:
        """Each dataset: entries, version, the files' names, hash and data date. ``paths`` (for operators, as
        ``tiergate lists status`` shows them): also the files' full paths, from the load record of the version
        stored, and who loaded it."""
        self.check()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(datasets).order_by(datasets.c.dataset)).mappings().all()
            counts: dict[str, int] = {
                str(d): int(n)
                for d, n in conn.execute(sa.select(entries.c.dataset, sa.func.count()).group_by(entries.c.dataset))
            }
            records: dict[tuple[str, int], Any] = {}
            if paths:
                for load_row in conn.execute(sa.select(loads).order_by(loads.c.id)).mappings():
                    records[(load_row["dataset"], load_row["version"])] = load_row
        out = []
        for r in rows:
            loaded_at = r["loaded_at"].isoformat() if r["loaded_at"] else None
            row = places.dataset_status(r, counts.get(r["dataset"], 0), loaded_at)
            if paths:
                record = records.get((r["dataset"], r["version"]))
                row["paths"] = orjson.loads(record["files"]) if record is not None else orjson.loads(r["files"])
                row["loaded_by"] = record["actor"] if record is not None else None
            out.append(row)
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
            versions = {
                str(d): (str(h), f)
                for d, h, f in conn.execute(sa.select(datasets.c.dataset, datasets.c.sha256, datasets.c.file_date))
            }
        found = [_with_version(ListEntry.from_dict(orjson.loads(r)), versions) for r in rows]
        if keys is not None:
            wanted = set(keys)
            return [e for e in found if e.key in wanted]
        self._entries_cache = (version, found)
        return found

    # ---------------------------------------------------------------- analyst decisions

    def decide(
        self,
        party: str,
        entry: ListEntry,
        verdict: str,
        reason: str,
        author: str,
        *,
        actor: str | None = None,
        bound_to: str | None = None,
        siblings: Sequence[ListEntry] = (),
    ) -> Decision:
        """Clear or confirm the hit of ``entry`` for ``party``; a standing decision on the pair is superseded (kept in
        the history). ``actor``: who the trail names (default ``$TIERGATE_ACTOR`` or the process's user).
        ``bound_to``: the party form decided on (the decision holds only for a party of that form); ``siblings``:
        the same party's entries on other lists, decided alike in the same transaction (one party, one hit)."""
        party = party.strip()
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
            bindings.create(conn, checkfirst=True)  # a store made before decisions were bound
            for one in dict.fromkeys((entry, *siblings)):
                conn.execute(
                    decisions.update()
                    .where(decisions.c.party == party, decisions.c.entry == one.key, decisions.c.superseded.is_(False))
                    .values(superseded=True)
                )
                made = conn.execute(
                    decisions.insert().values(
                        party=party,
                        entry=one.key,
                        entry_hash=one.content_hash,
                        verdict=verdict,
                        reason=reason.strip(),
                        author=author.strip(),
                        decided_at=now,
                        superseded=False,
                    )
                )
                if bound_to is not None:
                    made_id = made.inserted_primary_key
                    assert made_id is not None
                    conn.execute(bindings.insert().values(decision_id=made_id[0], party_form=bound_to))
                detail = {"entry_hash": one.content_hash, "reason": reason.strip(), "author": author.strip()}
                if bound_to is not None:
                    detail["bound_to"] = bound_to
                self._audit(conn, verdict, f"{party} / {one.key}", detail, actor=actor)
        return Decision(
            party,
            entry.key,
            entry.content_hash,
            verdict,
            reason.strip(),
            author.strip(),
            now.isoformat(),
            bound_to=bound_to,
        )

    def reopen(
        self, party: str, entry: ListEntry | str, reason: str, author: str, *, actor: str | None = None
    ) -> Decision:
        """Withdraw the standing decision (cleared or confirmed) on (``party``, ``entry``): the hit is open again and
        counts until an analyst decides again. The withdrawn decision stays in the history (superseded), the
        re-opening is recorded after it with its reason and author, and the trail records it (action ``reopen``).
        :class:`NoStandingDecision` when the pair has none (nothing is changed)."""
        party = party.strip()
        key = entry if isinstance(entry, str) else entry.key
        if not reason.strip():
            raise ListStoreError("a re-opening needs a reason", hint="say why with --reason")
        if not author.strip():
            raise ListStoreError("a re-opening needs an author", hint="say who with --author")
        if not party:
            raise ListStoreError("a re-opening needs a party id")
        now = _now()
        with self.transaction() as conn:
            standing = (
                conn.execute(
                    sa.select(decisions)
                    .where(
                        decisions.c.party == party,
                        decisions.c.entry == key,
                        decisions.c.superseded.is_(False),
                        decisions.c.verdict.in_(VERDICTS),
                    )
                    .order_by(decisions.c.id.desc())
                )
                .mappings()
                .first()
            )
            if standing is None:
                raise NoStandingDecision(
                    f"no standing decision on {party[:100]!r} / {key[:200]!r} to re-open",
                    hint="a hit without a decision is open already",
                )
            conn.execute(
                decisions.update()
                .where(decisions.c.party == party, decisions.c.entry == key, decisions.c.superseded.is_(False))
                .values(superseded=True)
            )
            conn.execute(
                decisions.insert().values(
                    party=party,
                    entry=key,
                    entry_hash=standing["entry_hash"],
                    verdict=REOPENED,
                    reason=reason.strip(),
                    author=author.strip(),
                    decided_at=now,
                    superseded=False,
                )
            )
            self._audit(
                conn,
                "reopen",
                f"{party} / {key}",
                {
                    "entry_hash": standing["entry_hash"],
                    "reason": reason.strip(),
                    "author": author.strip(),
                    "withdrawn": standing["verdict"],
                },
                actor=actor,
            )
        return Decision(
            party,
            key,
            standing["entry_hash"],
            REOPENED,
            reason.strip(),
            author.strip(),
            now.isoformat(),
            withdrawn=standing["verdict"],
        )

    def decision_history(self, party: str, entry: str) -> list[Decision]:
        """Every decision made on (``party``, ``entry``), oldest first: the superseded ones, then the standing one
        (or the re-opening that withdrew it)."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(decisions)
                    .where(decisions.c.party == party.strip(), decisions.c.entry == entry)
                    .order_by(decisions.c.id)
                )
                .mappings()
                .all()
            )
        return [_decision(r) for r in rows]

    def decisions(self, party: str | None = None) -> dict[tuple[str, str], Decision]:
        """The standing decision (cleared or confirmed; a re-opening leaves none) for each (party, entry)."""
        try:
            with self.engine.connect() as conn:
                bound = sa.inspect(conn).has_table("screen_decision_bindings")
                form = bindings.c.party_form if bound else sa.null().label("party_form")
                query = sa.select(decisions, form)
                if bound:
                    query = query.select_from(decisions.outerjoin(bindings, bindings.c.decision_id == decisions.c.id))
                query = query.where(decisions.c.superseded.is_(False), decisions.c.verdict.in_(VERDICTS))
                if party is not None:
                    query = query.where(decisions.c.party == party)
                rows = conn.execute(query).mappings().all()
        except sa.exc.OperationalError:
            return {}
        return {(r["party"], r["entry"]): replace(_decision(r), bound_to=r["party_form"]) for r in rows}

    def screened_query(self, party: str) -> dict[str, Any] | None:
        """The query of ``party``'s last recorded screening (None when none was recorded)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(parties.c.query).where(parties.c.party == party.strip())).scalar()
        return orjson.loads(row) if row is not None else None

    # ---------------------------------------------------------------- screened parties and audit

    def record_screening(
        self, party: str, query: dict[str, Any], hits: list[dict[str, Any]], *, actor: str | None = None
    ) -> None:
        self.record_screenings([(party, query, hits)], actor=actor)

    def record_screenings(
        self, results: Sequence[tuple[str, dict[str, Any], list[dict[str, Any]]]], *, actor: str | None = None
    ) -> None:
        """Record each party's latest screening (for re-screening) and an audit entry per screening, in one
        transaction. ``actor``: who the trail names (default ``$TIERGATE_ACTOR`` or the process's user)."""
        if not results:
            return
        now = _now()
        actor = _actor(actor)
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

    def _audit(
        self, conn: Connection, action: str, subject: str, detail: dict[str, Any], *, actor: str | None = None
    ) -> None:
        conn.execute(
            audit.insert().values(
                at=_now(), actor=_actor(actor), action=action, subject=subject, detail=orjson.dumps(detail).decode()
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


def _decision(row: Any) -> Decision:
    return Decision(
        row["party"],
        row["entry"],
        row["entry_hash"],
        row["verdict"],
        row["reason"],
        row["author"],
        row["decided_at"].isoformat() if row["decided_at"] else "",
    )


def _stored(entry: ListEntry, ds: Dataset) -> dict[str, Any]:
    """An entry as stored: its file by name only, with the version (hash, date) of the dataset it came from."""
    data = entry.to_dict()
    data["source_file"] = PurePath(entry.source_file).name
    data["dataset_sha256"] = ds.sha256
    data["dataset_date"] = ds.file_date
    return data


def _with_version(entry: ListEntry, versions: dict[str, tuple[str, str | None]]) -> ListEntry:
    """``entry`` naming its dataset's hash and date (an entry stored before entries carried them takes the stored
    dataset's)."""
    if entry.dataset_sha256 is not None or entry.dataset not in versions:
        return entry
    sha256, date = versions[entry.dataset]
    return replace(entry, dataset_sha256=sha256, dataset_date=date)


# ---------------------------------------------------------------- where the installed list store is, and its lists

BUNDLED_FOLDER = Path(__file__).resolve().parent / "data"
BUNDLED_LISTS: tuple[Path, ...] = tuple(sorted(BUNDLED_FOLDER.glob("*.gz")))
"""The dated snapshot of the US and UN lists shipped with Tiergate (``data/PROVENANCE.md``): what a list store at
the default place is filled from on its first use (a fresh install)."""


class NoListStore(ListStoreError):
    """Screening asked of a list store that holds no lists: nothing was decided."""


def bundled_dates() -> dict[str, str]:
    """The documented data date of each bundled file (``data/lists.json``), for the files that state none."""
    manifest = orjson.loads((BUNDLED_FOLDER / "lists.json").read_bytes())
    return {str(item["file"]): str(item["published"]) for item in manifest["files"]}


def fill(store: ListStore, paths: Sequence[Path] = BUNDLED_LISTS) -> list[LoadReport]:
    """Load ``paths`` (default: the bundled lists, with their documented dates) into ``store`` when it holds no list
    at all (or, for the bundled lists, only the demo sample of earlier versions, which they replace); nothing
    otherwise (another process may have filled it meanwhile: the load is one transaction, and a second load of the
    same files changes nothing)."""
    from tiergate.screen.ingest import read_lists

    store.init()
    rows = store.status()
    upgrade = tuple(paths) == BUNDLED_LISTS and _sample_only(rows)
    if not paths or (rows and not upgrade):
        return []
    retire = [r["dataset"] for r in rows] if upgrade else []
    return store.load(read_lists(list(paths), bundled_dates()), retire=retire)


def installed_store(given: str | None = None, ledger: str | None = None) -> ListStore:
    """The installed list store (see :func:`lists_url`). The store at the default place is filled from the bundled
    lists on first use; a named store that holds no lists is :class:`NoListStore`, saying how to install one."""
    url, named = lists_url(given, ledger)
    store = open_store(url)
    try:
        rows = store.status()
    except (ListStoreError, sa.exc.OperationalError, sa.exc.ProgrammingError):
        rows = []
    if rows and (named or not _sample_only(rows)):
        return store
    if named or not BUNDLED_LISTS:
        store.close()
        raise NoListStore(
            f"no list store: {url} holds no restricted-party lists, so the parties cannot be screened",
            hint=f"install the bundled lists with `tiergate lists update --bundled --db {url}`, the official ones with "
            f"`tiergate lists update --db {url}`, or your files with `tiergate lists load FILES... --db {url}` (or "
            f"name another store with --lists or ${LISTS_ENV})",
        )
    fill(store)
    return store
