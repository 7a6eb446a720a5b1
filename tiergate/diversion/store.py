"""The case queue in the ledger's database (SQLite file by default, PostgreSQL by URL), tables ``diversion_*`` under
their own Alembic version table; every change is an entry of the ledger's hash-chained audit log.

A case is kept under its key (the smallest party id of its network), so a re-scan finds it again. A re-scan with
the same evidence (the same flags, points and shipments) keeps the analyst's decision: a closed case stays closed.
When the evidence changes, a closed case opens again (the audit log says why) and an assigned one stays with its
analyst, with the new evidence.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from tiergate.database import schema_revision
from tiergate.diversion.model import LEVEL_RANK, Case
from tiergate.errors import TiergateError
from tiergate.ledger.store import WRITE_OPTION, Ledger

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "tiergate_diversion_version"
HEAD_REVISION = "div0001"
KNOWN_REVISIONS = ("div0001",)
STATUSES = ("open", "assigned", "closed")

metadata = sa.MetaData()
cases = sa.Table(
    "diversion_cases",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("case_id", sa.String(40), nullable=False, unique=True),
    sa.Column("level", sa.String(20), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("evidence", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("assignee", sa.String(200), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("decided_by", sa.String(200), nullable=True),
    sa.Column("decided_evidence", sa.String(64), nullable=True),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
notes = sa.Table(
    "diversion_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


class CaseError(TiergateError):
    """A case-queue operation that cannot be done as asked; nothing was changed."""


class UnknownCase(CaseError):
    """No case by that id; nothing was changed."""


def _aware(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat()


class CaseQueue:
    """Diversion cases, their analysts, notes and decisions."""

    def __init__(self, url: str | None = None, *, actor: str | None = None, ledger: Ledger | None = None) -> None:
        if ledger is None:
            if url is None:
                raise ValueError("a case queue needs a database URL or a ledger")
            ledger = Ledger(url, actor=actor)
        self.ledger = ledger
        self.url = ledger.url
        self._ready = False

    def dispose(self) -> None:
        """Close the database connections."""
        self.ledger.close()

    @property
    def actor(self) -> str:
        return self.ledger.actor

    # ------------------------------------------------------------------ schema

    def migrate(self) -> str:
        """Create or upgrade the ledger's tables and the queue's (Alembic, own version table)."""
        from alembic import command
        from alembic.config import Config

        self.ledger.init()
        self._revision(allow_empty=True)
        settings = Config()
        settings.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.ledger.engine.connect() as conn, conn.execution_options(**{WRITE_OPTION: True}).begin():
                settings.attributes["connection"] = conn
                command.upgrade(settings, "head")
        except OperationalError as error:
            raise CaseError(f"cannot open {self.url}: {error.orig}") from None
        self._ready = True
        return HEAD_REVISION

    def _revision(self, *, allow_empty: bool = False) -> None:
        try:
            revision = schema_revision(self.ledger.engine, VERSION_TABLE)
        except OperationalError as error:
            raise CaseError(f"cannot open {self.url}: {error.orig}") from None
        if revision is None:
            if allow_empty:
                return
            raise CaseError(
                f"{self.url} holds no case queue",
                hint="scan with `tiergate diversion scan SHIPMENTS --db URL` to fill it",
            )
        if revision not in KNOWN_REVISIONS:
            raise CaseError(
                f"{self.url} has diversion schema {revision!r}, newer than this Tiergate knows ({HEAD_REVISION})",
                hint="upgrade Tiergate; nothing was changed",
            )

    def check(self) -> None:
        if not self._ready:
            self._revision()
            self._ready = True

    def _read(self, work: Any) -> Any:
        self.check()
        try:
            with self.ledger.engine.connect() as conn, conn.begin():
                return work(conn)
        except OperationalError as error:
            raise CaseError(f"database error on {self.url}: {error.orig}") from None

    # ------------------------------------------------------------------ scans

    def record(self, found: list[Case]) -> dict[str, Any]:
        """Enter a scan's cases: new ones open, known ones updated; a closed case stays closed while its evidence
        is unchanged, and opens again when it changes. Each case's ``case`` becomes its id in the queue."""
        if not self._ready:
            self.migrate()
        now = self.ledger.clock()
        summary = {"new": 0, "updated": 0, "unchanged": 0, "reopened": 0, "kept_closed": 0}

        def work(conn: Connection) -> None:
            known = {
                r["key"]: r
                for r in conn.execute(sa.select(cases).where(cases.c.key.in_([c.key for c in found]))).mappings()
            } if found else {}  # fmt: skip
            count = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar() or 0
            for priority, case in enumerate(found):
                before = known.get(case.key)
                data_case = case.to_dict()
                if before is None:
                    count += 1
                    case.case = f"C-{count:04d}"
                    data_case["case"] = case.case
                    conn.execute(
                        cases.insert().values(
                            key=case.key,
                            case_id=case.case,
                            level=case.level,
                            score=case.score,
                            evidence=case.evidence,
                            data=orjson.dumps(data_case).decode(),
                            status="open",
                            priority=priority,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    self.ledger.append_audit(
                        conn,
                        "diversion.case.open",
                        case.case,
                        {"level": case.level, "score": case.score, "evidence": case.evidence},
                    )
                    summary["new"] += 1
                    continue
                case.case = before["case_id"]
                data_case["case"] = case.case
                values: dict[str, Any] = {
                    "level": case.level,
                    "score": case.score,
                    "evidence": case.evidence,
                    "data": orjson.dumps(data_case).decode(),
                    "priority": priority,
                }
                changed = before["evidence"] != case.evidence
                if before["status"] == "closed":
                    if before["decided_evidence"] == case.evidence:
                        summary["kept_closed"] += 1
                    else:
                        values.update(status="open", updated_at=now)
                        self.ledger.append_audit(
                            conn,
                            "diversion.case.reopen",
                            case.case,
                            {
                                "why": "the evidence changed after the case was closed",
                                "closed_on": before["decided_evidence"],
                                "evidence": case.evidence,
                                "level": case.level,
                                "score": case.score,
                            },
                        )
                        summary["reopened"] += 1
                elif changed:
                    values["updated_at"] = now
                    self.ledger.append_audit(
                        conn,
                        "diversion.case.update",
                        case.case,
                        {
                            "previous": before["evidence"],
                            "evidence": case.evidence,
                            "level": case.level,
                            "score": case.score,
                        },
                    )
                    summary["updated"] += 1
                else:
                    summary["unchanged"] += 1
                conn.execute(cases.update().where(cases.c.key == case.key).values(**values))

        self.ledger.run(work)
        return summary

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _view(row: Any) -> dict[str, Any]:
        data = orjson.loads(row["data"])
        data["case"] = row["case_id"]
        return {
            **data,
            "status": row["status"],
            "assignee": row["assignee"],
            "reason": row["reason"],
            "decided_by": row["decided_by"],
            "updated_at": _aware(row["updated_at"]),
        }

    def list(self, *, status: str | None = None, level: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise CaseError(f"status {status!r}", hint=f"one of {', '.join(STATUSES)}")
        if level is not None and level not in LEVEL_RANK:
            raise CaseError(f"level {level!r}", hint=f"one of {', '.join(LEVEL_RANK)}")

        def work(conn: Connection) -> list[dict[str, Any]]:
            query = sa.select(cases)
            if status is not None:
                query = query.where(cases.c.status == status)
            if level is not None:
                query = query.where(cases.c.level == level)
            rows = conn.execute(query).mappings().all()
            views = [self._view(r) for r in rows]
            views.sort(key=lambda v: (v["status"] == "closed", LEVEL_RANK.get(v["level"], 9), -v["score"], v["case"]))
            return views[:limit]

        result: list[dict[str, Any]] = self._read(work)
        return result

    def show(self, case_id: str) -> dict[str, Any]:
        def work(conn: Connection) -> dict[str, Any]:
            row = conn.execute(sa.select(cases).where(cases.c.case_id == case_id)).mappings().first()
            if row is None:
                raise UnknownCase(f"no case {case_id!r}", hint="`tiergate diversion cases list` shows the ids")
            view = self._view(row)
            view["analyst_notes"] = [
                {"author": n["author"], "text": n["text"], "at": _aware(n["at"])}
                for n in conn.execute(sa.select(notes).where(notes.c.key == row["key"]).order_by(notes.c.id)).mappings()
            ]
            return view

        result: dict[str, Any] = self._read(work)
        result["history"] = [
            {
                "seq": e["seq"],
                "at": e["at"],
                "actor": e["actor"],
                "action": e["action"],
                "payload": orjson.loads(e["payload"]),
            }
            for e in self.ledger.audit_entries()
            if e["subject"] == case_id and str(e["action"]).startswith("diversion.")
        ]
        return result

    # ------------------------------------------------------------------ analyst actions

    def _change(
        self, case_id: str, action: str, payload: dict[str, Any], values: dict[str, Any], note: str | None = None
    ) -> dict[str, Any]:
        self.check()
        now = self.ledger.clock()

        def work(conn: Connection) -> None:
            row = conn.execute(sa.select(cases).where(cases.c.case_id == case_id)).mappings().first()
            if row is None:
                raise UnknownCase(f"no case {case_id!r}", hint="`tiergate diversion cases list` shows the ids")
            update = dict(values)
            if update.get("decided_evidence") == "":
                update["decided_evidence"] = row["evidence"]
            if update:
                conn.execute(cases.update().where(cases.c.key == row["key"]).values(**update, updated_at=now))
            if note is not None:
                conn.execute(notes.insert().values(key=row["key"], author=payload["author"], text=note, at=now))
            self.ledger.append_audit(conn, action, case_id, {**payload, "evidence": row["evidence"]})

        try:
            self.ledger.run(work)
        except OperationalError as error:
            raise CaseError(f"database error on {self.url}: {error.orig}", hint="nothing was changed") from None
        return self.show(case_id)

    def assign(self, case_id: str, assignee: str, *, author: str | None = None) -> dict[str, Any]:
        who = _person(assignee, "--to")
        by = _person(author or self.actor, "--author")
        return self._change(
            case_id, "diversion.case.assign", {"assignee": who, "author": by}, {"assignee": who, "status": "assigned"}
        )

    def note(self, case_id: str, text: str, *, author: str | None = None) -> dict[str, Any]:
        if not text.strip():
            raise CaseError("a note needs text", hint="say it with --text")
        by = _person(author or self.actor, "--author")
        return self._change(case_id, "diversion.case.note", {"author": by, "text": text.strip()}, {}, note=text.strip())

    def close(self, case_id: str, reason: str, *, author: str | None = None) -> dict[str, Any]:
        if not reason.strip():
            raise CaseError("closing a case needs a reason", hint="say why with --reason")
        by = _person(author or self.actor, "--author")
        return self._change(
            case_id,
            "diversion.case.close",
            {"author": by, "reason": reason.strip()},
            {"status": "closed", "reason": reason.strip(), "decided_by": by, "decided_evidence": ""},
        )


def _person(name: str, option: str) -> str:
    text = " ".join(str(name).split())
    if not text:
        raise CaseError(f"{option}: a name is needed")
    return text[:200]
