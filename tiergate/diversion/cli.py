"""``tiergate diversion ...``: generate synthetic shipments, scan shipments for diversion, work the case queue."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from tiergate.errors import InputError

if TYPE_CHECKING:
    from tiergate.diversion.store import CaseQueue

diversion_app = typer.Typer(
    no_args_is_help=True,
    help="Diversion and smuggling detection: red flags on shipments, linked-party networks, a case queue.",
)
cases_app = typer.Typer(no_args_is_help=True, help="The case queue: list, show, assign, note, close.")
diversion_app.add_typer(cases_app, name="cases")
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_DB = "sqlite:///tiergate-ledger.db"
DbOpt = Annotated[
    str,
    typer.Option(
        "--db", envvar="TIERGATE_DB", help="Database URL (the ledger's): sqlite:///FILE (default) or postgresql://..."
    ),
]


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class Format(StrEnum):
    table = "table"
    jsonl = "jsonl"
    json = "json"
    html = "html"


class Level(StrEnum):
    block = "block"
    high = "high"
    medium = "medium"
    low = "low"


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a date (use YYYY-MM-DD)") from None


def _lists(given: str | None) -> str:
    """The list store, by the one rule of every face (:func:`tiergate.screen.store.installed_store`): the one named
    (``--lists`` or ``$TIERGATE_LISTS``), else the default store, filled from the bundled lists on first use, so a
    listed name or address is a hard stop on a fresh install too."""
    from tiergate.screen.store import installed_store

    store = installed_store(given)
    try:
        return str(store.url)
    finally:
        store.close()


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@diversion_app.command("generate")
def generate_cmd(
    shipments: Annotated[int, typer.Option("--shipments", min=0, help="About how many shipments to write.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write shipments, parties, labels, lists to.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (the same seed writes the same files).")] = 7,
    instances: Annotated[
        int | None, typer.Option("--instances", min=1, help="Times each scheme is planted (default: >= 20).")
    ] = None,
    parquet: Annotated[bool, typer.Option("--parquet", help="Write shipments as Parquet instead of CSV.")] = False,
) -> None:
    """Synthetic shipments and parties with planted schemes, one-signal decoys and legitimate hub traffic."""
    from tiergate.diversion.generate import generate

    made = generate(out_dir, shipments, seed=seed, instances=instances, parquet=parquet)
    _write(orjson.dumps(made.to_dict(), option=orjson.OPT_INDENT_2).decode())


@diversion_app.command("scan")
def scan_cmd(
    shipments: Annotated[Path, typer.Argument(help="Shipments: .csv, .jsonl or .parquet.")],
    parties: Annotated[Path | None, typer.Option("--parties", help="Parties: .csv, .jsonl or .parquet.")] = None,
    format: Annotated[
        Format, typer.Option("--format", help="table, jsonl (one case a line), json or html.")
    ] = Format.table,
    engine: Annotated[Engine, typer.Option("--engine", help="duckdb (default) or spark (local mode).")] = Engine.duckdb,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Scan date (default: the latest shipment date).")] = None,
    lists: Annotated[
        str | None,
        typer.Option("--lists", envvar="TIERGATE_LISTS", help="Restricted-party list store for names and addresses."),
    ] = None,
    min_level: Annotated[Level, typer.Option("--min-level", help="Print cases from this level up.")] = Level.medium,
    db: Annotated[
        str | None, typer.Option("--db", help="Also enter the cases in the case queue of this database.")
    ] = None,
    imports: Annotated[
        Path | None,
        typer.Option(
            "--imports",
            help="Hub imports by country and month (country, month, value_usd[, documented_h100e]) for F11.",
        ),
    ] = None,
    serial_registry: Annotated[
        Path | None,
        typer.Option(
            "--serial-registry",
            help="Serials the makers issued (manufacturer, prefix | first, last) for F13's 'serial not issued'.",
        ),
    ] = None,
) -> None:
    """Cases ordered by priority: hard stops (block), then scored red flags; each flag with its points, shipments,
    why and citation. Rows that do not parse are named on standard error (file:line: column: problem)."""
    from tiergate.diversion.model import LEVEL_RANK
    from tiergate.diversion.scan import run_scan

    result = run_scan(
        shipments,
        parties,
        engine=engine.value,
        as_of=_date(as_of, "--as-of"),
        lists_url=_lists(lists),
        imports=imports,
        serial_registry=serial_registry,
    )
    for problem in result.problems[:50]:
        err.print(f"warning: {problem}", markup=False)
    if len(result.problems) > 50:
        err.print(f"warning: ... and {len(result.problems) - 50} more rows left out", markup=False)
    for note in result.notes:
        text = note.get("note", "")
        if note.get("suggestions"):
            text += f" (did you mean {', '.join(note['suggestions'])}?)"
        err.print(f"note: {text}", markup=False)
    shown = [c for c in result.cases if LEVEL_RANK[c.level] <= LEVEL_RANK[min_level.value]]
    if db is not None:
        from tiergate.diversion.store import CaseQueue

        queue = CaseQueue(db)
        try:
            summary = queue.record(shown)
        finally:
            queue.dispose()
        err.print(f"case queue: {orjson.dumps(summary).decode()}", markup=False)
    cases = [c.to_dict() for c in shown]
    if format == Format.jsonl:
        sys.stdout.write("".join(orjson.dumps(c).decode() + "\n" for c in cases))
    elif format == Format.json:
        body = {**result.to_dict(), "cases": cases}
        _write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    elif format == Format.html:
        from tiergate.diversion.report import html_page

        _write(html_page(cases))
    else:
        table = Table(title=f"{len(cases)} case(s) of {result.shipments} shipment(s) as of {result.as_of}")
        for column in ("case", "level", "score", "shipments", "parties", "value at risk", "flags"):
            table.add_column(column)
        for c in shown:
            table.add_row(
                c.case,
                c.level,
                str(c.score),
                str(len(c.shipments)),
                ", ".join(c.parties[:4]) + (" ..." if len(c.parties) > 4 else ""),
                f"${c.value_at_risk_usd:,.0f}",
                ", ".join(f"{f.code} {f.points}" for f in c.flags[:5]),
            )
        out.print(table)


def _queue(db: str) -> CaseQueue:
    from tiergate.diversion.store import CaseQueue

    return CaseQueue(db)


def _emit(value: Any) -> None:
    _write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


@cases_app.command("list")
def cases_list(
    status: Annotated[str | None, typer.Option("--status", help="open, assigned or closed.")] = None,
    level: Annotated[str | None, typer.Option("--level", help="block, high, medium or low.")] = None,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """The queue: open and assigned cases first, by level and score."""
    queue = _queue(db)
    try:
        rows = queue.list(status=status, level=level)
    finally:
        queue.dispose()
    if format != Format.table:
        _emit(rows)
        return
    table = Table(title=f"{len(rows)} case(s)")
    for column in ("case", "status", "assignee", "level", "score", "shipments", "value at risk", "top flag"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["case"],
            r["status"],
            r["assignee"] or "",
            r["level"],
            str(r["score"]),
            str(len(r["shipments"])),
            f"${r['value_at_risk_usd']:,.0f}",
            r["flags"][0]["code"] if r["flags"] else "",
        )
    out.print(table)


@cases_app.command("show")
def cases_show(case: Annotated[str, typer.Argument(help="Case id (C-0001).")], db: DbOpt = DEFAULT_DB) -> None:
    """A case: flags with why and citation, shipments, parties, links, notes and its history in the audit log."""
    queue = _queue(db)
    try:
        _emit(queue.show(case))
    finally:
        queue.dispose()


@cases_app.command("assign")
def cases_assign(
    case: Annotated[str, typer.Argument(help="Case id.")],
    to: Annotated[str, typer.Option("--to", help="The analyst who takes the case.")],
    author: Annotated[
        str | None, typer.Option("--author", help="Who assigns (default $TIERGATE_ACTOR or $USER).")
    ] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Assign a case to an analyst."""
    queue = _queue(db)
    try:
        _emit(queue.assign(case, to, author=author))
    finally:
        queue.dispose()


@cases_app.command("note")
def cases_note(
    case: Annotated[str, typer.Argument(help="Case id.")],
    text: Annotated[str, typer.Option("--text", help="The note.")],
    author: Annotated[
        str | None, typer.Option("--author", help="Who writes (default $TIERGATE_ACTOR or $USER).")
    ] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Add an analyst's note to a case."""
    queue = _queue(db)
    try:
        _emit(queue.note(case, text, author=author))
    finally:
        queue.dispose()


@cases_app.command("close")
def cases_close(
    case: Annotated[str, typer.Argument(help="Case id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the case is closed (required).")],
    author: Annotated[
        str | None, typer.Option("--author", help="Who decides (default $TIERGATE_ACTOR or $USER).")
    ] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Close a case with a reason; it stays closed on re-scans until its evidence changes."""
    queue = _queue(db)
    try:
        _emit(queue.close(case, reason, author=author))
    finally:
        queue.dispose()
