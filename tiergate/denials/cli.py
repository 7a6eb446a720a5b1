"""``tiergate denials add|list|import``: denial notices kept in the store (the ledger database)."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

from tiergate.console import Column, print_table
from tiergate.decide.model import DenialNotice
from tiergate.denials.model import denial_to_dict, jurisdiction_aliases, parse_denial
from tiergate.errors import InputError

denials_app = typer.Typer(
    no_args_is_help=True,
    help="Shared denials: notices of licences denied by any jurisdiction, consulted by every decision.",
)
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)
DEFAULT_DB = "sqlite:///tiergate-ledger.db"
DbOpt = Annotated[
    str, typer.Option("--db", envvar="TIERGATE_DB", help="The store: the ledger database URL (SQLite or PostgreSQL).")
]
CSV_COLUMNS = (
    "id",
    "jurisdiction",
    "date",
    "expires",
    "control_keys",
    "destination",
    "end_user",
    "end_user_id",
    "end_use",
    "reason",
    "public",
)


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


def _aliases() -> dict[str, str]:
    from tiergate.rules import load_rulebook

    book = load_rulebook()
    return jurisdiction_aliases([(j.code, j.aliases) for j in book.jurisdictions.values()])


def _csv_records(path: Path) -> list[tuple[dict[str, Any], str]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", where=str(path)) from None
    found = []
    with handle:
        reader = csv.DictReader(handle)
        unknown = [c for c in reader.fieldnames or [] if c not in CSV_COLUMNS]
        if reader.fieldnames is None or unknown:
            raise InputError(
                f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown else "empty CSV file (no header row)",
                where=str(path),
                hint=f"columns are {', '.join(CSV_COLUMNS)}",
            )
        try:
            for row in reader:
                data: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
                if "control_keys" in data:
                    data["control_keys"] = [k.strip() for k in data["control_keys"].split(";") if k.strip()]
                data["end_user"] = {"name": data.pop("end_user", ""), "id": data.pop("end_user_id", None)}
                if "public" in data:
                    data["public"] = data["public"].strip().lower() in ("true", "yes", "1")
                found.append((data, f"{path}:{reader.line_num}"))
        except UnicodeDecodeError as error:
            raise InputError(f"not UTF-8 text (byte {error.start})", where=str(path)) from None
        except csv.Error as error:
            raise InputError(f"malformed CSV: {error}", where=f"{path}:{reader.line_num}") from None
    return found


def read_denials(path: Path) -> list[DenialNotice]:
    """Every notice of a file (JSON object or list, JSON lines, YAML, CSV); the first bad one stops it."""
    from tiergate.batch import read_item_records

    aliases = _aliases()
    if path.suffix.lower() == ".csv":
        records = _csv_records(path)
    else:
        records = [(r.data, r.where) for r in read_item_records(path)]
    if not records:
        raise InputError("no denial notices in the file", where=str(path))
    return [parse_denial(data, where=where, jurisdictions=aliases) for data, where in records]


@denials_app.command("add")
def denials_add(
    denial_id: Annotated[str, typer.Option("--id", help="The notice's reference.")],
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", help="Who denied: NL, DE, EU, JP, UK, ...")],
    date: Annotated[str, typer.Option("--date", help="Date of the denial (YYYY-MM-DD).")],
    item: Annotated[
        list[str], typer.Option("--item", help="Item class denied: an entry (3B001.f), category or catalogue id.")
    ],
    destination: Annotated[str, typer.Option("--destination", help="Destination country (ISO alpha-2).")],
    end_user: Annotated[str, typer.Option("--end-user", help="The end user's name.")],
    end_user_id: Annotated[str | None, typer.Option("--end-user-id", help="The end user's party id.")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Default: three years after --date.")] = None,
    end_use: Annotated[str | None, typer.Option("--end-use")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Replace a notice with the same id.")] = False,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Keep one denial notice (public or user-supplied)."""
    from tiergate.denials.store import DenialStore

    data: dict[str, Any] = {
        "id": denial_id,
        "jurisdiction": jurisdiction,
        "date": date,
        "control_keys": item,
        "destination": destination,
        "end_user": {"name": end_user, "id": end_user_id},
        "reason": reason,
    }
    if expires:
        data["expires"] = expires
    if end_use:
        data["end_use"] = end_use
    notice = parse_denial(data, where="denial", jurisdictions=_aliases())
    store = DenialStore(db)
    try:
        store.add([notice], replace=replace)
    finally:
        store.close()
    out.print(f"denial {notice.id} of {notice.jurisdiction} kept (live until {notice.expires})", markup=False)


@denials_app.command("import")
def denials_import(
    file: Annotated[Path, typer.Argument(help="Denial notices: JSON (object or list), JSON lines, YAML or CSV.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace notices with the same ids.")] = False,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Keep every notice of a file, in one transaction (all or none)."""
    from tiergate.denials.store import DenialStore

    found = read_denials(file)
    store = DenialStore(db)
    try:
        count = store.add(found, replace=replace)
    finally:
        store.close()
    out.print(f"{count} denial notice(s) kept from {file}", markup=False)


@denials_app.command("list")
def denials_list(
    format: Annotated[Format, typer.Option("--format")] = Format.table,
    live_on: Annotated[str | None, typer.Option("--live-on", help="Only notices live on this date.")] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """The notices held, oldest first."""
    from tiergate.denials.store import DenialStore

    day = None
    if live_on is not None:
        try:
            day = dt.date.fromisoformat(live_on)
        except ValueError:
            raise InputError(f"--live-on: {live_on!r} is not a date (use YYYY-MM-DD)") from None
    store = DenialStore(db)
    try:
        rows = [denial_to_dict(d) for d in store.all(live_on=day)]
    finally:
        store.close()
    if format == Format.json:
        out.print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode(), markup=False)
        return
    if format == Format.jsonl:
        sys.stdout.write("".join(orjson.dumps(r).decode() + "\n" for r in rows))
        return
    print_table(
        out,
        f"{len(rows)} denial notice(s)",
        [
            Column("id", key=True),
            "by",
            "date",
            "expires",
            "items",
            Column("destination", key=True),
            "end user",
            "reason",
        ],
        (
            [
                r["id"],
                r["jurisdiction"],
                r["date"],
                r["expires"],
                ", ".join(r["control_keys"]),
                r["destination"],
                r["end_user"]["name"],
                r["reason"],
            ]
            for r in rows
        ),
    )
