"""The ``tiergate`` command line (Typer + Rich). Thin: parses arguments, calls the core, prints.

Every user error is one line on stderr (``error: <where>: <what> (<hint>)``) and exit code 2.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from tiergate import interchange
from tiergate.api.cli import keys_app, serve
from tiergate.batch import (
    Record,
    atomic_output,
    count_rows,
    decide_stream,
    read_item_records,
    read_records,
    write_parquet,
)
from tiergate.classify import classify
from tiergate.classify.metrics import fmt
from tiergate.console import Column, print_record, print_table
from tiergate.decide.model import ScreeningRecord
from tiergate.denials.cli import denials_app
from tiergate.diversion.cli import diversion_app
from tiergate.errors import InputError, TiergateError
from tiergate.interchange import screening_fields
from tiergate.monitor.cli import monitor_app
from tiergate.replay.cli import propose_command, replay_command, timeline_command
from tiergate.rules import Rulebook, load_rulebook
from tiergate.rules.describe import regimes_and_packs, rules_of
from tiergate.rules.diff import diff_rulesets, render_diff
from tiergate.screen.cli import (
    ListsOpt,
    NoScreeningOpt,
    consignee_hits,
    consignee_screening,
    lists_app,
    screen_app,
)
from tiergate.screen.licensing import allied_listings, apply_screening, not_screened, shipping_block, unscreened
from tiergate.vault.cli import vault_app
from tiergate.verify.cli import verify_app

app = typer.Typer(
    name="tiergate",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Export controls on advanced AI compute: classify chips, decide licences, inspect rule packs.",
)


def _version(value: bool) -> None:
    if value:
        from tiergate import __version__

        typer.echo(f"tiergate {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """Export controls on advanced AI compute: classify chips, decide licences, inspect rule packs."""


chips_app = typer.Typer(no_args_is_help=True, help="The accelerator catalogue.")
packs_app = typer.Typer(no_args_is_help=True, help="Rule packs and regimes.")
app.add_typer(chips_app, name="chips")
app.add_typer(keys_app, name="keys")
app.command("serve")(serve)
app.add_typer(packs_app, name="packs")
app.add_typer(lists_app, name="lists")
app.add_typer(screen_app, name="screen")
app.add_typer(monitor_app, name="monitor")
app.command("replay")(replay_command)
packs_app.command("propose")(propose_command)
packs_app.command("timeline")(timeline_command)
app.add_typer(denials_app, name="denials")
app.add_typer(vault_app, name="vault")
app.add_typer(verify_app, name="verify")
app.add_typer(diversion_app, name="diversion")

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PacksOpt = Annotated[
    list[Path] | None,
    typer.Option("--packs", help="An extra folder of packs (with an optional regimes.yaml); repeatable."),
]
RegimeOpt = Annotated[
    str | None, typer.Option("--regime", help="Evaluate under this regime (a scenario), whatever the date.")
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Evaluate as of this date (YYYY-MM-DD): picks the regime in force.")
]


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    parquet = "parquet"


def _dump(value: Any, *, indent: bool = True) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a date (use YYYY-MM-DD)") from None


def _book(packs: list[Path] | None) -> Rulebook:
    return load_rulebook(packs or ())


def _today() -> dt.date:
    override = os.environ.get("TIERGATE_TODAY")
    return dt.date.fromisoformat(override) if override else dt.date.today()


# ---------------------------------------------------------------- chips


@chips_app.command("list")
def chips_list(
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
    regime: RegimeOpt = None,
    as_of: AsOfOpt = None,
    packs: PacksOpt = None,
) -> None:
    """Every accelerator of the catalogue, with its TPP and ECCN under a regime (default: today's)."""
    book = _book(packs)
    ruleset, _ = book.select(regime, _date(as_of, "--as-of") or _today())
    rows = []
    for chip in book.catalogue:
        c = classify(chip, ruleset)
        rows.append(
            {
                **interchange.chip_to_dict(chip),
                "tpp": c.tpp,
                "performance_density": c.performance_density,
                "eccn": c.eccn,
            }
        )
    if format == Format.json:
        out.print(_dump(rows), markup=False)
        return
    print_table(
        out,
        f"Accelerator catalogue ({len(rows)} chips; ECCN under {ruleset.regime})",
        [
            Column("id", key=True),
            "name",
            Column("year", justify="right"),
            "DC",
            Column("TPP", key=True, justify="right"),
            Column("PD", justify="right"),
            Column("mem GB/s", justify="right"),
            Column("ECCN", key=True),
        ],
        (
            [
                r["id"],
                r["name"],
                str(r["year"] or ""),
                {True: "yes", False: "no", None: "?"}[r["datacenter"]],
                fmt(r["tpp"]) if r["tpp"] is not None else "?",
                fmt(r["performance_density"]) if r["performance_density"] else "?",
                fmt(r["memory_bandwidth_gbps"]) if r["memory_bandwidth_gbps"] else "?",
                r["eccn"],
            ]
            for r in rows
        ),
    )


@chips_app.command("show")
def chips_show(
    chip: Annotated[str, typer.Argument(help="Catalogue id or alias, e.g. nvidia-h100-sxm or 'H100'.")],
    format: Annotated[Format, typer.Option("--format")] = Format.table,
    regime: RegimeOpt = None,
    as_of: AsOfOpt = None,
    packs: PacksOpt = None,
) -> None:
    """One accelerator: figures, sources, and its classification."""
    book = _book(packs)
    found = book.catalogue.resolve(chip, where="chip")
    ruleset, _ = book.select(regime, _date(as_of, "--as-of") or _today())
    record = {
        **interchange.chip_to_dict(found),
        "classification": interchange.classification_to_dict(classify(found, ruleset), ruleset.regime),
    }
    if format == Format.json:
        out.print(_dump(record), markup=False)
        return
    cls = record["classification"]
    fields = [
        (label, _readable(record[key]))
        for label, key in (
            ("vendor", "vendor"),
            ("year", "year"),
            ("data centre", "datacenter"),
            ("designed in", "designer_country"),
            ("dense TOPS", "dense_tops"),
            ("dies", "dies"),
            ("die area mm2", "die_area_mm2"),
            ("memory GB", "memory_gb"),
            ("memory GB/s", "memory_bandwidth_gbps"),
            ("TDP W", "tdp_w"),
            ("reported TPP", "reported_tpp"),
            ("reported by", "reported_tpp_source"),
            ("aliases", "aliases"),
            ("recalled", "recalled"),
        )
    ]
    fields += [("sources", "\n".join(found.sources) or "-"), ("notes", found.notes or "-")]
    fields += [
        ("ECCN", f"{cls['eccn']} (under {ruleset.regime})"),
        ("TPP", fmt(cls["tpp"]) if cls["tpp"] is not None else "?"),
        ("how", "\n".join(cls["explanation"]) or "-"),
    ]
    print_record(out, f"{found.name} ({found.id})", fields)


def _readable(value: Any) -> str:
    """A field's value as a person reads it: no Python reprs (None, True, lists in brackets)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_readable(v) for v in value) or "-"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_readable(v)}" for k, v in value.items()) or "-"
    if isinstance(value, float):
        return fmt(value)
    return str(value)


# ---------------------------------------------------------------- equipment

equipment_app = typer.Typer(no_args_is_help=True, help="The equipment catalogue (SME tools and HBM stacks).")
app.add_typer(equipment_app, name="equipment")


@equipment_app.command("list")
def equipment_list(format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table) -> None:
    """Every tool of the equipment catalogue (category, origin, US ECCN), and the HBM stacks."""
    from tiergate.catalog import load_equipment

    catalogue = load_equipment()
    rows = [interchange.equipment_to_dict(tool) for tool in catalogue]
    stacks = [
        interchange.chip_to_dict(stack) | {"package_area_mm2": stack.package_area_mm2} for stack in catalogue.hbm_stacks
    ]
    if format == Format.json:
        out.print(_dump({"equipment": rows, "hbm_stacks": stacks}), markup=False)
        return
    print_table(
        out,
        f"Equipment catalogue ({len(rows)} tools)",
        [Column("id", key=True), "name", "category", "made in", Column("US ECCN", key=True)],
        ([r["id"], r["name"], r["category"], r["made_in"] or "?", r["us_eccn"] or "not established"] for r in rows),
    )
    print_table(
        out,
        f"HBM stacks ({len(stacks)}; give them as chips)",
        [Column("id", key=True), "name", Column("GB/s", justify="right"), Column("mm2", justify="right")],
        ([r["id"], r["name"], fmt(r["memory_bandwidth_gbps"]), fmt(r["package_area_mm2"])] for r in stacks),
    )


@equipment_app.command("show")
def equipment_show(
    tool: Annotated[str, typer.Argument(help="Catalogue id or alias, e.g. asml-nxt-2000i or 'NXT:2000i'.")],
) -> None:
    """One tool: category, origin, US ECCN, parameters, sources (JSON)."""
    from tiergate.catalog import load_equipment

    found = load_equipment().resolve(tool, where="equipment")
    out.print(_dump(interchange.equipment_to_dict(found)), markup=False)


# ---------------------------------------------------------------- classify


@app.command("classify")
def classify_command(
    file: Annotated[
        Path | None, typer.Argument(help="JSON/YAML/JSON-lines file of item objects (transaction format).")
    ] = None,
    chip: Annotated[str | None, typer.Option("--chip", help="Classify one catalogue chip by id or alias.")] = None,
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
    regime: RegimeOpt = None,
    as_of: AsOfOpt = None,
    packs: PacksOpt = None,
) -> None:
    """ECCN, TPP and performance density of chips, systems or model weights, with the arithmetic."""
    if (file is None) == (chip is None):
        raise InputError("give either a FILE of items or --chip ID")
    book = _book(packs)
    ruleset, _ = book.select(regime, _date(as_of, "--as-of") or _today())
    results = []
    if chip is not None:
        found = book.catalogue.resolve(chip, where="--chip")
        results.append(interchange.classification_to_dict(classify(found, ruleset), ruleset.regime))
    else:
        assert file is not None
        for record in read_item_records(file):
            item, quantity = interchange.parse_item(record.data, book.catalogue, where=record.where)
            result = interchange.classification_to_dict(classify(item, ruleset), ruleset.regime)
            result["quantity"] = quantity
            results.append(result)
    if format in (Format.json, Format.jsonl):
        payload: Any = results[0] if chip is not None else results
        if format == Format.jsonl:
            for r in results:
                out.print(_dump(r, indent=False), markup=False)
        else:
            out.print(_dump(payload), markup=False)
        return
    for r in results:
        tpp = fmt(r["tpp"]) if r["tpp"] is not None else "?"
        pd = fmt(r["performance_density"]) if r["performance_density"] is not None else "?"
        flag = " (provisional)" if r["provisional"] else ""
        out.print(
            f"[bold]{r['name']}[/bold]: ECCN {r['eccn']}{flag}; TPP {tpp}; performance density {pd} ({r['regime']})"
        )
        for line in r["explanation"]:
            out.print(f"  {line}", markup=False)


# ---------------------------------------------------------------- decide


def _print_table(decisions: list[dict[str, Any]], explain: bool) -> None:
    for d in decisions:  # a decision that screening changed shows the hit first
        screening = d.get("screening") or {}
        if screening.get("changed_outcome"):
            out.print(f"{d['id'] or '-'}: {screening['note']}", markup=False, style="bold red")
    colours = {
        "no_license_required": "green",
        "authorized": "cyan",
        "license_required": "yellow",
        "prohibited": "red",
    }
    print_table(
        out,
        f"{len(decisions)} decision(s)",
        [
            Column("id", key=True),
            "regime",
            Column("outcome", key=True),
            Column("authorization", key=True),
            "review policy",
            Column("ECCN", key=True),
            Column("TPP total", key=True, justify="right"),
            "draws",
            "laws",
            "screening",
        ],
        (
            [
                str(d["id"] or ""),
                d["regime"],
                Text(d["outcome"], style=colours[d["outcome"]]),
                str(d["authorization"] or "-"),
                str(d["review_policy"] or "-"),
                ", ".join(dict.fromkeys(i["eccn"] for i in d["items"])),
                fmt(d["tpp_total"]),
                "; ".join(f"{a['account']} {fmt(a['tpp'])}" for a in d["allocations"]) or "-",
                "; ".join(
                    f"{j['jurisdiction']}: {j['outcome'] if j['reached'] else 'not reached'}"
                    + (" (review)" if j["indeterminate"] else "")
                    for j in d.get("jurisdictions", [])
                )
                or "US",
                _screening_cell(d.get("screening")),
            ]
            for d in decisions
        ),
    )
    if explain:
        for d in decisions:
            out.rule(f"{d['id'] or ''} {d['outcome']}")
            for line in d["explanation"]:
                out.print(line, markup=False)
            for line in d["conditions"]:
                out.print(f"Condition: {line}", markup=False)


def _screening_cell(screening: dict[str, Any] | None) -> Text:
    """The table's screening column: not screened, no match, or the hits (and whether they changed the outcome)."""
    if not screening:
        return Text("-")
    if not screening["screened"]:
        return Text("parties not screened", style="bold")
    hits = screening["hits"]
    if not hits:
        return Text("no match")
    text = "; ".join(f"{h['list']} {h['name']} ({h['status']})" for h in hits[:3]) + (" ..." if len(hits) > 3 else "")
    if screening["changed_outcome"]:
        return Text(f"{screening['outcome_before']} -> changed by {text}", style="red")
    return Text(text)


UNSCREENED_NOTE = "note: parties not screened (--no-screening): restricted-party lists were not consulted"


@app.command("decide")
def decide_command(
    file: Annotated[Path, typer.Argument(help="Transactions: JSON, YAML, JSON lines, CSV or Parquet.")],
    regime: RegimeOpt = None,
    as_of: AsOfOpt = None,
    format: Annotated[
        Format, typer.Option("--format", help="table, json, jsonl or parquet (parquet needs --out)")
    ] = Format.table,
    explain: Annotated[bool, typer.Option("--explain", help="Print the explanation (table format).")] = False,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (written whole or not at all).")
    ] = None,
    balances_file: Annotated[
        Path | None, typer.Option("--balances", help="JSON object: allocation account -> remaining TPP.")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Processes deciding a large Parquet-to-Parquet batch.")
    ] = 1,
    db: Annotated[
        str | None, typer.Option("--db", help="Decide against this ledger's live balances (read only).")
    ] = None,
    packs: PacksOpt = None,
    lists: ListsOpt = None,
    no_screening: NoScreeningOpt = False,
    denials_db: Annotated[
        str | None,
        typer.Option(
            "--denials",
            envvar="TIERGATE_DB",
            help="The store whose denial notices are consulted (default: --db, or TIERGATE_DB).",
        ),
    ] = None,
) -> None:
    """Licence determination for each transaction: outcome, authorisation, review policy, allocations, rules.

    Every law the transaction engages answers (the exporting country's, the EU's, US law through its reach
    rules); the decision's ``jurisdictions`` lists each answer."""
    from tiergate.denials.store import held_denials

    book = _book(packs)
    when = _date(as_of, "--as-of")
    balances = _balances(balances_file)
    denials = held_denials(denials_db or db)
    if db is not None:
        if balances is not None:
            raise InputError("give --balances or --db, not both")
        balances = _ledger_balances(db, book, read_records(file), when, regime)
    if format == Format.parquet and out_path is None:
        raise InputError("--format parquet needs --out FILE")
    with_explanation = explain or format not in (Format.table, Format.parquet)
    if (
        format == Format.parquet
        and out_path is not None
        and not explain
        and balances is None
        and no_screening
        and not denials
        and file.suffix.lower() in (".parquet", ".pq")
    ):
        err.print(UNSCREENED_NOTE, markup=False)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from tiergate.batch import decide_parquet_columnar

        with Progress(
            TextColumn("deciding"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("decide", total=count_rows(file))
            done = decide_parquet_columnar(
                file,
                out_path,
                book,
                regime=regime,
                as_of=when,
                today=_today(),
                workers=workers,
                progress=lambda rows: bar.update(task, completed=rows),
                slice_rows=250_000 if err.is_terminal else 1_000_000,
            )
        err.print(f"wrote {done} decision(s) to {out_path}")
        return
    records: Iterable[Record] = read_records(file)
    alone = False
    if out_path is None:  # everything is decided before anything is printed
        records = list(records)
        alone = len(records) == 1 and records[0].alone
    screening = None if no_screening else consignee_screening(records, lists, db)
    if no_screening:
        err.print(UNSCREENED_NOTE, markup=False)
    decided = decide_stream(
        screening.records() if screening is not None else records,
        book,
        regime=regime,
        as_of=when,
        today=_today(),
        balances=balances,
        explain=with_explanation,
        denials=denials,
        listings_of=screening.listings_of if screening is not None else None,
    )
    decided = screening.adjust(decided) if screening is not None else unscreened(decided, "--no-screening")
    if format == Format.parquet:
        assert out_path is not None
        count = write_parquet(out_path, decided, explain=explain)
        err.print(f"wrote {count} decision(s) to {out_path}")
        return
    stream = (interchange.decision_to_dict(d, explain=with_explanation) for d in decided)
    if out_path is None:
        decisions = list(stream)  # decide everything before printing anything
        if format == Format.table:
            _print_table(decisions, explain)
        elif format == Format.jsonl:
            sys.stdout.write("".join(_dump(d, indent=False) + "\n" for d in decisions))
        else:
            sys.stdout.write(_dump(decisions[0] if alone else decisions) + "\n")
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = count_rows(file)
    with Progress(
        TextColumn("deciding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("decide", total=total)

        def counted() -> Any:
            for n, d in enumerate(stream, start=1):
                if n % 1000 == 0:
                    progress.update(task, completed=n)
                yield d

        count = 0
        with atomic_output(out_path) as handle:
            if format == Format.json:
                handle.write(orjson.dumps(list(counted()), option=orjson.OPT_INDENT_2))
                count = -1
            else:
                for d in counted():
                    handle.write(orjson.dumps(d) + b"\n")
                    count += 1
    err.print(f"wrote {'decisions' if count < 0 else f'{count} decision(s)'} to {out_path}")


def _ledger_balances(
    db: str, book: Rulebook, records: Iterable[Record], when: dt.date | None, regime: str | None
) -> dict[str, float]:
    """The live balances of every allocation account the transactions could draw (read only)."""
    from dataclasses import replace

    from tiergate.ledger import open_ledger
    from tiergate.ledger.ship import live_balances

    ledger = open_ledger(db)
    balances: dict[str, float] = {}
    try:
        for record in records:
            txn = interchange.parse_transaction(
                record.data, book.catalogue, where=record.where, default_date=when or _today()
            )
            if when is not None:
                txn = replace(txn, date=when)
            ruleset, _ = book.select(regime or txn.regime, txn.date)
            balances.update(live_balances(txn, ruleset, ledger))
    finally:
        ledger.close()
    return balances


def _balances(path: Path | None) -> dict[str, float] | None:
    if path is None:
        return None
    records = list(read_records(path))
    data = records[0].data if len(records) == 1 else None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in data.items()
    ):
        raise InputError("expected a JSON object mapping allocation accounts to remaining TPP", where=str(path))
    balances = {k: float(v) for k, v in data.items()}
    for account, remaining in balances.items():
        if not math.isfinite(remaining) or remaining < 0:
            raise InputError(
                f"{account}: a remaining balance is a finite number of TPP, 0 or more (got {remaining})",
                where=str(path),
            )
    return balances


# ---------------------------------------------------------------- packs


@packs_app.command("list")
def packs_list(format: Annotated[Format, typer.Option("--format")] = Format.table, packs: PacksOpt = None) -> None:
    """Regimes (with their dates and pack stacks) and packs (with revision, citation and dates)."""
    book = _book(packs)
    overview = regimes_and_packs(book, folders=True)
    regimes, pack_rows = overview["regimes"], overview["packs"]
    if format == Format.json:
        out.print(_dump({"regimes": regimes, "packs": pack_rows}), markup=False)
        return
    print_table(
        out,
        "Regimes",
        [Column("name", key=True), "in force", "packs", "title"],
        (
            [
                r["name"],
                f"{r['effective_from'] or '-'} .. {r['effective_until'] or ''}",
                " + ".join(r["packs"]),
                r["title"],
            ]
            for r in regimes
        ),
    )
    print_table(
        out,
        "Packs",
        [Column("id", key=True), "rev", "effective", "citation", "status", "title"],
        (
            [
                p["id"],
                str(p["revision"]),
                f"{p['effective_from']} .. {p['effective_until']}",
                p["citation"],
                p["status"],
                p["title"],
            ]
            for p in pack_rows
        ),
    )


@packs_app.command("show")
def packs_show(
    name: Annotated[str, typer.Argument(help="A regime name (shows the merged rules) or a pack id.")],
    format: Annotated[Format, typer.Option("--format")] = Format.table,
    packs: PacksOpt = None,
) -> None:
    """The rules of a regime (merged stack) or of one pack, with ids, summaries, citations and status."""
    data = rules_of(_book(packs), name)
    if format == Format.json:
        out.print(_dump(data), markup=False)
        return
    if "regime" in data:
        out.print(f"[bold]{name}[/bold]: {' + '.join(data['packs'])}")
        out.print("Parameters: " + "; ".join(f"{k} = {fmt(v)}" for k, v in data["parameters"].items()), markup=False)
        for gid, g in data["country_groups"].items():
            body = (
                ", ".join(g["members"])
                if g["members"] is not None
                else (
                    f"everyone minus {', '.join(g['minus'])}"
                    if g["everyone"]
                    else f"union {', '.join(g['union'] or [])}"
                )
            )
            out.print(f"Group {gid} [{g['status']}]: {body}", markup=False)
        for r in data["rules"]:
            out.print(f"{r['kind']:<14} {r['id']:<42} {r['label']:<24} [{r['status']}] {r['citation']}", markup=False)
            out.print(f"{'':<15}{r['summary']}", markup=False)
    else:
        out.print(_dump(data), markup=False)


@packs_app.command("validate")
def packs_validate(
    path: Annotated[Path, typer.Argument(help="A pack folder, or a folder of packs with an optional regimes.yaml.")],
) -> None:
    """Check a pack (or a folder of packs and regimes) against the schema and the packaged packs."""
    from tiergate.rules.book import Rulebook, iso_country_codes
    from tiergate.rules.compile import compile_ruleset
    from tiergate.rules.loader import load_jurisdictions, load_pack, load_pack_folders, packaged_packs_dir

    path = Path(path)
    if (path / "manifest.yaml").exists():
        pack = load_pack(path)
        if pack.manifest.scope == "alliance":
            _validate_alliance_pack(pack)
            return
        base_packs, regimes, files = load_pack_folders([packaged_packs_dir()])
        book = Rulebook(
            base_packs,
            regimes,
            load_rulebook().catalogue,
            iso_country_codes().__contains__,
            files,
            jurisdictions=load_jurisdictions([packaged_packs_dir()]),
        )
        stack = [p for p in ([pack.manifest.supersedes] if pack.manifest.supersedes in book.regimes else [])]
        base = (
            book.regime(stack[0])
            if stack
            else max(book.regimes.values(), key=lambda r: r.effective_from or dt.date.min)
        )
        packs_in = [book.packs[p] for p in base.packs if p != pack.manifest.id] + [pack]
        ruleset = compile_ruleset(
            f"{base.name}+{pack.manifest.id}", "validation", packs_in, book.catalogue, iso_country_codes().__contains__
        )
        count = (
            len(ruleset.requirements)
            + len(ruleset.exceptions)
            + len(ruleset.review_policies)
            + len(ruleset.classification)
        )
        out.print(
            f"ok: pack {pack.manifest.id} r{pack.manifest.revision} is valid "
            f"(checked on top of regime {base.name}; {count} rules in the merged stack)"
        )
        return
    packaged = path.resolve() == packaged_packs_dir().resolve()
    book = load_rulebook([] if packaged else [path])
    out.print(f"ok: {len(book.packs)} pack(s) and {len(book.regimes)} regime(s) valid, including {path}")


def _validate_alliance_pack(pack: Any) -> None:
    """An alliance pack checked on top of the packaged packs of its jurisdiction in force on its date."""
    from tiergate.rules.compile_allied import compile_allied

    book = load_rulebook()
    jurisdiction = book.jurisdiction(pack.manifest.jurisdiction, where=f"{pack.folder / 'manifest.yaml'}: jurisdiction")
    day = pack.manifest.effective_from
    stack = [
        p
        for p in book.alliance_stacks.get(jurisdiction.code, [])
        if p.manifest.id != pack.manifest.id and p.manifest.effective_from <= day
    ]
    rules = compile_allied(
        jurisdiction,
        [*stack, pack],
        list(book.jurisdictions.values()),
        us_groups=book.us_group_names,
        is_country=interchange.iso_codes().__contains__,
    )
    count = len(rules.controls) + len(rules.general_authorisations) + len(rules.catch_all) + len(rules.reach)
    out.print(
        f"ok: alliance pack {pack.manifest.id} r{pack.manifest.revision} ({jurisdiction.code}) is valid "
        f"(checked on top of {', '.join(p.manifest.id for p in stack) or 'no earlier pack'}; {count} entries)"
    )


@packs_app.command("diff")
def packs_diff(
    a: Annotated[str, typer.Argument(help="Regime to compare from.")],
    b: Annotated[str, typer.Argument(help="Regime to compare to.")],
    format: Annotated[Format, typer.Option("--format")] = Format.table,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate dated group memberships on this date.")] = None,
    packs: PacksOpt = None,
) -> None:
    """What changed between two regimes: thresholds, country groups, exceptions, review policies and caps."""
    book = _book(packs)
    diff = diff_rulesets(book.full(a), book.full(b), _date(as_of, "--as-of"))
    if format == Format.json:
        out.print(_dump(diff), markup=False)
        return
    for line in render_diff(diff):
        out.print(line, markup=False)


# ---------------------------------------------------------------- ledger, ship, audit

ledger_app = typer.Typer(
    no_args_is_help=True, help="The allocation ledger (SQLite file by default, PostgreSQL by URL)."
)
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log of the ledger.")
licence_app = typer.Typer(
    no_args_is_help=True, help="Issued licences: shipments they cover draw on their lines, in units and in USD."
)
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
ledger_app.add_typer(licence_app, name="licence", hidden=True)  # the other spelling, where it already was
ledger_app.add_typer(licence_app, name="license")

DbOpt = Annotated[
    str,
    typer.Option(
        "--db", envvar="TIERGATE_DB", help="Ledger database URL: sqlite:///FILE (default) or postgresql://..."
    ),
]
DEFAULT_DB = "sqlite:///tiergate-ledger.db"


@ledger_app.command("init")
def ledger_init(db: DbOpt = DEFAULT_DB) -> None:
    """Create the ledger's tables, or upgrade them to this version's schema."""
    from tiergate.ledger import Ledger

    revision = Ledger(db).init()
    out.print(f"ledger ready at {db} (schema {revision})")


@ledger_app.command("balances")
def ledger_balances(
    db: DbOpt = DEFAULT_DB,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Balances at a moment: a date (YYYY-MM-DD, its end) or a date-time (2026-03-02T12:00, UTC "
            "unless it names its offset).",
        ),
    ] = None,
    format: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Every allocation account: cap, used, reserved and remaining (TPP; units or USD for a licence)."""
    from tiergate.ledger import open_ledger
    from tiergate.ledger.ship import balances_rows
    from tiergate.ledger.store import unit_of

    moment = _moment(as_of, "--as-of")
    rows = balances_rows(open_ledger(db), moment)
    if format in (Format.json, Format.jsonl):
        out.print(_dump(rows, indent=format == Format.json), markup=False)
        return
    print_table(
        out,
        f"Allocations in {db}" + (f" as of {moment:%Y-%m-%d %H:%M:%S %Z}" if moment else ""),
        [
            Column("allocation", key=True),
            Column("unit", key=True),
            *(Column(k, key=True, justify="right") for k in ("cap", "used", "reserved", "remaining")),
        ],
        (
            [
                r["allocation"],
                unit_of(r["allocation"]),
                *("-" if r[k] is None else fmt(r[k]) for k in ("cap", "used", "reserved", "remaining")),
            ]
            for r in rows
        ),
    )


def _moment(text: str | None, option: str) -> dt.datetime | None:
    """A moment given as a date (its last instant, UTC) or an ISO date-time (UTC unless it names an offset)."""
    if text is None:
        return None
    if len(text.strip()) == 10:
        day = _date(text.strip(), option)
        assert day is not None
        return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{option}: {text!r} is not a date or a date-time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@ledger_app.command("history")
def ledger_history(
    db: DbOpt = DEFAULT_DB,
    account: Annotated[str | None, typer.Option("--account", help="Only this allocation account.")] = None,
    format: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Every reserve, commit and release, oldest first, each in its unit (TPP; units or USD for a licence)."""
    from tiergate.ledger import open_ledger

    moves = open_ledger(db).history(account)
    rows: list[dict[str, Any]] = [m.to_dict() for m in moves]
    if format in (Format.json, Format.jsonl):
        out.print(_dump(rows, indent=format == Format.json), markup=False)
        return
    print_table(
        out,
        f"Ledger history ({len(rows)} movements)",
        [
            Column("id", key=True, justify="right"),
            "at",
            Column("account", key=True),
            Column("op", key=True),
            Column("amount", key=True, justify="right"),
            Column("unit", key=True),
            Column("reservation", justify="right"),
            Column("decision", key=True),
            "actor",
        ],
        (
            [
                str(r["id"]),
                r["at"],
                r["account"],
                r["op"],
                fmt(r["amount"]),
                r["unit"],
                str(r["reservation"]),
                str(r["decision"] or ""),
                r["actor"],
            ]
            for r in rows
        ),
    )


@licence_app.command("add")
def licence_add(
    file: Annotated[Path, typer.Argument(help="The licence as issued (JSON or YAML; docs/formats.md, Licence).")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Record an issued licence: number, jurisdiction, exporter, consignees, destination, lines of items with
    a quantity and a value in USD, issue and expiry dates, conditions. Shipments draw on it only when it covers
    them, per line. A licence carried over from an older ledger without its terms is completed this way."""
    from tiergate.catalog import load_equipment
    from tiergate.ledger import open_ledger
    from tiergate.ledger.licence import parse_licence

    records = list(read_records(file))
    if len(records) != 1:
        raise InputError(f"a licence file holds one licence; this one holds {len(records)}", where=str(file))
    licence = parse_licence(records[0].data, _book(None).catalogue, load_equipment(), where=records[0].where)
    ledger = open_ledger(db)
    try:
        done = ledger.add_licence(licence)
    finally:
        ledger.close()
    lines = ", ".join(f"{line.quantity:,} x {line.item} ({line.value_usd:,.0f} USD)" for line in licence.lines)
    out.print(
        f"licence {licence.id} {done}: {licence.jurisdiction} licence to "
        + "; ".join(f"{c.name} ({c.country})" for c in licence.consignees)
        + f", destination {licence.destination}, {licence.issued} to {licence.expires}: {lines}",
        markup=False,
    )


@licence_app.command("list")
def licence_list(db: DbOpt = DEFAULT_DB, format: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Every licence recorded, with what each line has left."""
    from tiergate.ledger import open_ledger
    from tiergate.ledger.ship import licence_view

    ledger = open_ledger(db)
    try:
        rows = [licence_view(ledger, licence) for licence in ledger.licences()]
    finally:
        ledger.close()
    if format in (Format.json, Format.jsonl):
        out.print(_dump(rows, indent=format == Format.json), markup=False)
        return
    _licence_table(rows, f"Licences in {db}")


@licence_app.command("show")
def licence_show(
    licence_id: Annotated[str, typer.Argument(help="The licence number.")],
    db: DbOpt = DEFAULT_DB,
    format: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """One licence: its terms, and what each line has left."""
    from tiergate.ledger import LedgerError, open_ledger
    from tiergate.ledger.ship import licence_view

    ledger = open_ledger(db)
    try:
        licence = ledger.licence(licence_id)
        if licence is None:
            raise LedgerError(f"licence {licence_id!r} is not recorded", hint="see `tiergate ledger licence list`")
        row = licence_view(ledger, licence)
    finally:
        ledger.close()
    if format in (Format.json, Format.jsonl):
        out.print(_dump(row, indent=format == Format.json), markup=False)
        return
    _licence_table([row], f"Licence {licence_id}")
    for condition in row["conditions"]:
        out.print(f"  condition: {condition}", markup=False)


def _licence_table(rows: list[dict[str, Any]], title: str) -> None:
    body: list[list[str]] = []
    for row in rows:
        if not row["complete"]:
            note = f"covers nothing until completed ({row.get('note')})"
            body.append([row["id"], "-", "-", "-", "-", "-", note, "-", "-"])
            continue
        parties = "; ".join(f"{c['name']} ({c['country']})" for c in row["consignees"])
        valid = f"{row['issued']} to {row['expires']}"
        for n, line in enumerate(row["lines"], start=1):
            body.append(
                [
                    row["id"],  # on every line: the id a reader acts on is never left out
                    row["jurisdiction"] if n == 1 else "",
                    parties if n == 1 else "",
                    row["destination"] if n == 1 else "",
                    valid if n == 1 else "",
                    str(n),
                    line["item"],
                    f"{line['quantity_remaining']:,} of {line['quantity']:,}",
                    f"{line['value_usd_remaining']:,.0f} of {line['value_usd']:,.0f}",
                ]
            )
    print_table(
        out,
        title,
        [
            Column("licence", key=True),
            "by",
            "consignees",
            Column("to", key=True),
            "valid",
            Column("line", key=True),
            Column("item", key=True),
            Column("units left", key=True, justify="right"),
            Column("USD left", key=True, justify="right"),
        ],
        body,
    )


@ledger_app.command("installed")
def ledger_installed(
    consignee: Annotated[str, typer.Argument(help="The UVEU's consignee key (its id, or COUNTRY:name-slug).")],
    country: Annotated[str, typer.Argument(help="Where the compute is installed (ISO 3166-1 alpha-2).")],
    tpp: Annotated[float, typer.Argument(help="TPP installed there that did not ship through this ledger.")],
    key: Annotated[str | None, typer.Option("--key", help="Idempotency key (a retry with it changes nothing).")] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Declare a UVEU's installed base in a country (e.g. its US data centres), which its geographic
    allocation (at least 75 % in Tier 1, at most 7 % in any Tier 2 country) is measured against."""
    import uuid

    from tiergate.ledger import open_ledger

    code = country.strip().upper()
    if code not in interchange.iso_codes():
        raise InputError(f"country: {country!r} is not an ISO 3166-1 alpha-2 country code")
    ledger = open_ledger(db)
    account = f"uveu:{consignee}:{code}"
    idempotency = key or f"installed:{uuid.uuid4()}"
    try:
        held = ledger.reserve(
            account, tpp, kind="uveu:location", rule="declared", cap_tpp=None, key=idempotency + ":hold"
        )
        ledger.commit(held, key=idempotency + ":commit")
    finally:
        ledger.close()  # the connection the reservation kept, too
    out.print(f"{account}: {fmt(tpp)} TPP declared installed")


@app.command("ship")
def ship_command(
    file: Annotated[Path, typer.Argument(help="One transaction (JSON or YAML), or several (JSON lines).")],
    db: DbOpt = DEFAULT_DB,
    licence_id: Annotated[
        str | None, typer.Option("--license", "--licence", help="A recorded licence to ship under.")
    ] = None,
    regime: RegimeOpt = None,
    format: Annotated[Format, typer.Option("--format")] = Format.table,
    packs: PacksOpt = None,
    lists: ListsOpt = None,
    no_screening: NoScreeningOpt = False,
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill",
            help="An administrator records a shipment dated before the window (TIERGATE_SHIP_DAYS_BACK, default 30 "
            "days); the backfill is entered in the audit log.",
        ),
    ] = False,
) -> None:
    """Record real shipments: decide with live balances under the regime in force on each shipment's date and,
    when authorised, reserve and commit every allocation drawn, atomically. A shipment is dated from 30 days
    before today to today (see --backfill); a repeat of one already shipped (same id, else same content) draws
    nothing and is reported as a duplicate. The consignee is screened first against the installed list store
    (unless --no-screening).

    Exit code 0 when every transaction was committed, 3 when one was refused for lack of allocation,
    4 when one is not authorised (a licence is needed and --license names none that covers it, or it is
    prohibited). Under --license the licence must cover the consignee, the destination, every licensed item
    and the date; each item draws on its licence line, in units and in USD (an exhausted line: exit 3)."""
    from tiergate.ledger import open_ledger
    from tiergate.ledger.ship import (
        ShipWindow,
        live_decision,
        recorded_shipment,
        refuse_before_drawing,
        ship,
        shipment_to_dict,
    )

    book = _book(packs)
    window = ShipWindow.from_env()
    ledger = open_ledger(db)
    records = list(read_records(file))
    worst = 0
    for record in records:
        txn = interchange.parse_transaction(record.data, book.catalogue, where=record.where, default_date=_today())
        hits, version = ([], None) if no_screening else consignee_hits(txn, lists, db)
        block = None if no_screening else shipping_block(hits, licence_id is not None)
        if block is not None:  # restricted-party screening refuses it before the ledger is drawn (audited)
            checked, _ = recorded_shipment(txn, book, regime, _today(), window, backfill)
            decision, _ = live_decision(checked, book, ledger, listings=allied_listings(hits))
            adjusted = apply_screening(decision, hits, party=txn.consignee.name, lists=version)
            refusal = refuse_before_drawing(checked, ledger, adjusted, block)
            if refusal.duplicate:
                err.print(f"{txn.id or '-'}: {refusal.reason}", markup=False)
            else:
                worst = max(worst, 4)
                err.print(f"{txn.id or '-'}: not committed: {block}", markup=False)
            if format in (Format.json, Format.jsonl):
                refused: dict[str, Any] = (
                    shipment_to_dict(refusal)
                    if refusal.duplicate
                    else {"id": txn.id, "committed": False, "reason": block, "reservations": []}
                )
                screening = _screened(None, hits, txn, version)
                refused["screening"] = screening_fields(screening) if screening else None
                out.print(_dump(refused, indent=format == Format.json), markup=False)
            continue
        shipment = ship(
            txn,
            book,
            ledger,
            licence_id=licence_id,
            regime=regime,
            listings=allied_listings(hits),
            screening=_not_screened_with("--no-screening") if no_screening else _screen_with(hits, txn, version),
            today=_today(),
            window=window,
            backfill=backfill,
        )
        worst = max(worst, shipment.exit_code)
        screened: ScreeningRecord | None = shipment.decision.screening or (
            not_screened(shipment.decision, "--no-screening").screening
            if no_screening
            else _screened(shipment.decision, hits, txn, version)
        )
        if format in (Format.json, Format.jsonl):
            shown = {**shipment_to_dict(shipment), "screening": screening_fields(screened) if screened else None}
            out.print(_dump(shown, indent=format == Format.json), markup=False)
        else:
            shown = shipment_to_dict(shipment, explain=False)
            state = "[green]committed[/green]" if shipment.committed else "[red]not committed[/red]"
            if shipment.duplicate:
                state = "[yellow]duplicate[/yellow] (committed before)"
            label = f"{shown['id'] or '-'}: {shown['outcome']} ({shown['authorization'] or '-'})"
            out.print(f"{label}: {state}: {escape(shipment.reason)}")
            if screened is not None:
                why = f" ({screened.reason})" if screened.reason else ""
                out.print(f"  screening: {screened.note}{why}", markup=False)
            for a in shown["allocations"]:
                out.print(f"  draws {fmt(a['tpp'])} TPP from {a['account']}", markup=False)
    if worst:
        raise typer.Exit(worst)


def _not_screened_with(reason: str) -> Any:
    """What ``ship`` applies when told not to screen: the decision it records says "parties not screened"."""

    def unscreened(decision: Any) -> Any:
        return not_screened(decision, reason)

    return unscreened


def _screen_with(hits: list[Any], txn: Any, version: str | None) -> Any:
    """What ``ship`` applies to its live decision before drawing: the consignee's hits."""

    def screened(decision: Any) -> Any:
        return apply_screening(decision, hits, party=txn.consignee.name, lists=version)

    return screened


def _screened(decision: Any, hits: list[Any], txn: Any, version: str | None) -> ScreeningRecord | None:
    """The screening record of a shipment's consignee (``decision``: the shipment's; None for a refusal)."""
    from tiergate.screen.licensing import counted_hits, hit_summary

    if decision is not None:
        return apply_screening(decision, hits, party=txn.consignee.name, lists=version).screening
    counted = counted_hits(hits)
    first = counted[0].entry if counted else None
    note = f"parties screened: refused on {first.list_code} entry {first.key} {first.name!r}" if first else ""
    return ScreeningRecord(True, note, lists=version, hits=tuple(hit_summary(h) for h in counted), changed=True)


@audit_app.command("verify")
def audit_verify(
    db: DbOpt = DEFAULT_DB,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A checkpoint written by `audit checkpoint`: the log must still extend it."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The operator's public key (or key file) the checkpoint must be signed with; default the "
            "signing key's file ($TIERGATE_SIGNING_KEY) when it exists.",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Rehash every entry, not only the checkpoint's marks and the entries after it."),
    ] = False,
    format: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Check the audit chain and recompute every balance from the movements; with --checkpoint, that the log
    still extends a signed checkpoint. Exit 1 naming the first entry altered, deleted, reordered or missing."""
    from tiergate.ledger import open_ledger
    from tiergate.ledger.audit import AuditTampered, LedgerCheckpoint, verify
    from tiergate.signing import key_id, key_path, load_public_key

    signed = None
    trusted = None
    trust = None
    if checkpoint is not None:
        try:
            text = checkpoint.read_bytes()
        except OSError as error:
            raise InputError(f"cannot read ({error.strerror})", where=str(checkpoint)) from None
        signed = LedgerCheckpoint.from_json(text, where=str(checkpoint))
        path = public_key if public_key is not None else key_path(None)
        if public_key is not None or path.exists():
            trusted = load_public_key(path)
            trust = f"key {key_id(trusted)} from {path}"
    ledger = open_ledger(db)
    try:
        result = verify(ledger, signed, trusted=trusted, trust=trust, full=full)
    finally:
        ledger.close()
    if format in (Format.json, Format.jsonl):
        out.print(_dump(result.to_dict(), indent=format == Format.json), markup=False)
    if not result.intact:
        raise AuditTampered(result.message(), hint="restore the database from a copy that verifies")
    if format not in (Format.json, Format.jsonl):
        out.print(result.message(), markup=False)


@audit_app.command("checkpoint")
def audit_checkpoint(
    db: DbOpt = DEFAULT_DB,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the checkpoint here (whole or not at all); default stdout.")
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option(
            "--signing-key",
            help="The operator's Ed25519 key (PEM), kept outside the database; default $TIERGATE_SIGNING_KEY, else "
            "~/.config/tiergate/signing-ed25519.pem.",
        ),
    ] = None,
    create_key: Annotated[
        bool, typer.Option("--create-key", help="Create the signing key if it does not exist.")
    ] = False,
) -> None:
    """Verify the audit chain and the balances, then sign the log's size and root with the operator's key. Keep
    the checkpoint outside the database: `audit verify --checkpoint FILE` later proves the log only grew."""
    from tiergate.ledger import open_ledger
    from tiergate.ledger.audit import make_checkpoint
    from tiergate.signing import key_path, load_signing_key

    key = load_signing_key(key_path(signing_key), create=create_key)
    ledger = open_ledger(db)
    try:
        signed = make_checkpoint(ledger, key)
    finally:
        ledger.close()
    text = signed.to_json()
    if out_path is None:
        sys.stdout.write(text)
        return
    with atomic_output(out_path, "w") as handle:
        handle.write(text)
    err.print(f"checkpoint of {signed.checkpoint.size} audit entries written to {out_path}", markup=False)


@audit_app.command("export")
def audit_export(
    db: DbOpt = DEFAULT_DB,
    format: Annotated[str, typer.Option("--format", help="csv or jsonl")] = "jsonl",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write here (whole or not at all).")] = None,
) -> None:
    """The audit log for an examiner: every entry with its hash and the previous entry's hash."""
    import csv
    import io

    from tiergate.interchange import spreadsheet_row
    from tiergate.ledger import open_ledger

    if format not in ("csv", "jsonl"):
        raise InputError(f"--format: {format!r}; use csv or jsonl")
    entries = list(open_ledger(db).audit_entries())
    if format == "jsonl":
        text = "".join(_dump(e, indent=False) + "\n" for e in entries)
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer,
            fieldnames=[
                "seq",
                "at",
                "actor",
                "action",
                "subject",
                "pack_revision",
                "input_hash",
                "payload",
                "prev_hash",
                "hash",
            ],
        )
        writer.writeheader()
        writer.writerows(spreadsheet_row(e) for e in entries)
        text = buffer.getvalue()
    if out_path is None:
        sys.stdout.write(text)
        return
    with atomic_output(out_path, "w") as handle:
        handle.write(text)
    err.print(f"wrote {len(entries)} audit entries to {out_path}")


# ---------------------------------------------------------------- demo


@app.command("demo")
def demo() -> None:
    """Run the bundled sample: classify some accelerators and decide a dozen transactions across regimes."""
    samples = Path(__file__).parent / "samples"
    out.rule("Classification (regime in force on 2026-03-02)")
    classify_command(
        file=samples / "items.json", chip=None, format=Format.table, regime=None, as_of="2026-03-02", packs=None
    )
    out.rule("Decisions (each under the regime in force on its date)")
    decide_command(
        workers=1,
        db=None,
        file=samples / "transactions.jsonl",
        regime=None,
        as_of=None,
        format=Format.table,
        explain=False,
        out_path=None,
        balances_file=None,
        packs=None,
        lists=None,
        no_screening=False,
        denials_db=None,
    )
    book = _book(None)
    record = next(r for r in read_records(samples / "transactions.jsonl") if r.data["id"] == "demo-02")
    decision = next(decide_stream([record], book, regime=None, as_of=None, today=_today()))
    out.rule("Explanation of demo-02, as a compliance officer would file it")
    for line in decision.explanation:
        out.print(line, markup=False)

    import tempfile

    from tiergate.ledger import Ledger
    from tiergate.ledger.ship import ship

    out.rule("Shipping against a ledger (a throw-away SQLite file)")
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(f"sqlite:///{folder}/demo-ledger.db", actor="demo")
        ledger.init()
        for record in read_records(samples / "transactions.jsonl"):
            if record.data["id"] not in ("demo-01", "demo-02", "demo-03"):
                continue
            txn = interchange.parse_transaction(record.data, book.catalogue, where=record.where)
            shipment = ship(txn, book, ledger)
            state = "committed" if shipment.committed else "not committed"
            out.print(
                f"{txn.id}: {shipment.decision.outcome} ({shipment.decision.authorization}): {state}: "
                f"{shipment.reason}",
                markup=False,
            )
        from tiergate.catalog import load_equipment
        from tiergate.ledger.licence import parse_licence

        licence = parse_licence(
            orjson.loads((samples / "licence.json").read_text(encoding="utf-8")), book.catalogue, load_equipment()
        )
        ledger.add_licence(licence)
        out.print(
            f"licence {licence.id} recorded: {licence.lines[0].quantity:,} x {licence.lines[0].item} to "
            f"{licence.consignees[0].name} ({licence.destination}), valid to {licence.expires}",
            markup=False,
        )
        demo_02 = next(r for r in read_records(samples / "transactions.jsonl") if r.data["id"] == "demo-02").data
        other = {"name": "Other Compute Co", "country": "CN", "headquarters": "CN"}
        for data in (
            {**demo_02, "value_usd": 60_000_000},  # what the licence covers: drawn on its line
            {
                **demo_02,
                "id": "demo-lic",
                "destination": "CN",
                "consignee": other,
                "value_usd": 3_000_000,
                "items": [{"chip": "nvidia-h200", "quantity": 100}],
            },  # ships 100 H200 to another consignee in China: refused, the fields named
        ):
            txn = interchange.parse_transaction(data, book.catalogue)
            shipment = ship(txn, book, ledger, licence_id=licence.id)
            state = "committed" if shipment.committed else "not committed"
            out.print(f"{txn.id} under licence {licence.id}: {state}: {shipment.reason}", markup=False)
        # The same H100s to a German company the licence rules alone would let go (NLR), but whose name is on the
        # Entity List: the bundled lists refuse it before anything is drawn.
        listed = {
            "id": "demo-el",
            "date": "2026-03-02",
            "destination": "DE",
            "items": [{"chip": "nvidia-h100-sxm", "quantity": 8}],
            "consignee": {"name": "Huawei Technologies Duesseldorf GmbH", "country": "DE", "headquarters": "DE"},
        }
        txn = interchange.parse_transaction(listed, book.catalogue)
        hits, version = consignee_hits(txn, None, None)
        block = shipping_block(hits, False)
        if block is not None:
            out.print(f"{txn.id}: not committed: refused by screening: {block}", markup=False)
        else:
            shipment = ship(txn, book, ledger, screening=_screen_with(hits, txn, version))
            state = "committed" if shipment.committed else "not committed"
            out.print(f"{txn.id}: {shipment.decision.outcome}: {state}: {shipment.reason}", markup=False)
        for balance in ledger.balances():
            unit = (
                "TPP"
                if not balance.account.startswith("licence:")
                else ("USD" if balance.kind.endswith("value") else "unit(s)")
            )
            out.print(f"  {balance.account}: used {fmt(balance.used)} of {fmt(balance.cap or 0)} {unit}", markup=False)
        problem = ledger.verify_audit()
        out.print("  audit chain " + ("intact" if problem is None else f"broken at entry {problem.seq}"), markup=False)
        ledger.close()


def main() -> None:
    """Entry point: usage errors are Typer's (exit 2); Tiergate errors are one line (exit 2)."""
    try:
        app()
    except TiergateError as error:
        err.print(f"error: {error}", markup=False)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as error:  # the unexpected: one line unless debugging
        if os.environ.get("TIERGATE_DEBUG"):
            raise
        message = f"internal error: {type(error).__name__}: {error} (set TIERGATE_DEBUG=1 for the traceback)"
        err.print(message, markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
