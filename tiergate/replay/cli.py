"""``tiergate replay``, ``tiergate packs propose`` and ``tiergate packs timeline``: the command-line faces of the
replay package (registered in ``tiergate.cli``). User errors are Tiergate errors: one line, exit code 2."""

from __future__ import annotations

import datetime as dt
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tiergate.batch import atomic_output
from tiergate.classify.metrics import fmt
from tiergate.errors import InputError
from tiergate.rules import Rulebook, load_rulebook

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PacksOpt = Annotated[
    list[Path] | None,
    typer.Option("--packs", help="An extra folder of packs (with an optional regimes.yaml); repeatable."),
]


class ReplayFormat(StrEnum):
    table = "table"
    json = "json"
    html = "html"


class TimelineFormat(StrEnum):
    table = "table"
    json = "json"


class Step(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a date (use YYYY-MM-DD)") from None


def _today() -> dt.date:
    override = os.environ.get("TIERGATE_TODAY")
    return dt.date.fromisoformat(override) if override else dt.date.today()


def _book(packs: list[Path] | None) -> Rulebook:
    return load_rulebook(packs or ())


# ---------------------------------------------------------------- replay


def replay_command(
    history: Annotated[
        Path | None,
        typer.Argument(help="Transactions: JSON, YAML, JSON lines, CSV or Parquet (or give --from-ledger)."),
    ] = None,
    regime_from: Annotated[str, typer.Option("--from", help="The baseline regime (or proposal).")] = "",
    regime_to: Annotated[str, typer.Option("--to", help="The candidate regime (or proposal).")] = "",
    packs: PacksOpt = None,
    format: Annotated[ReplayFormat, typer.Option("--format", help="table, json or html")] = ReplayFormat.table,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (written whole or not at all).")
    ] = None,
    from_ledger: Annotated[
        str | None,
        typer.Option("--from-ledger", help="Replay what was shipped through this ledger (sqlite:///FILE or URL)."),
    ] = None,
    effective_dates: Annotated[
        bool,
        typer.Option(
            "--effective-dates",
            help="Apply each pack only from its effective date (a proposal from the date it takes effect).",
        ),
    ] = False,
    listing: Annotated[
        Path | None,
        typer.Option("--listing", help="Proposed restricted-party listings applied to the --to side from their dates."),
    ] = None,
) -> None:
    """Decide a history under two regimes in date order, each carrying its allocations forward, and report what
    changed: transitions, TPP and value moved, by destination, consignee, chip and month."""
    from tiergate.replay.history import read_listings, replay_file, replay_ledger
    from tiergate.replay.report import build_report, dumps

    if not regime_from or not regime_to:
        raise InputError("give both --from REGIME and --to REGIME", hint="see tiergate packs list")
    if (history is None) == (from_ledger is None):
        raise InputError("give a history file or --from-ledger URL (one of them)")
    book = _book(packs)
    listings = read_listings(listing) if listing is not None else []
    if format == ReplayFormat.html and out_path is None:
        raise InputError("--format html needs --out FILE")
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("replaying: {task.completed:,} transactions"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("replay", total=None)
        if from_ledger is not None:
            result = replay_ledger(
                book,
                from_ledger,
                regime_from=regime_from,
                regime_to=regime_to,
                effective_dates=effective_dates,
                listings=listings,
                today=_today(),
            )
        else:
            assert history is not None
            result = replay_file(
                book,
                history,
                regime_from=regime_from,
                regime_to=regime_to,
                effective_dates=effective_dates,
                listings=listings,
                today=_today(),
                progress=lambda done: bar.update(task, completed=done),
            )
    h100 = book.catalogue.get("nvidia-h100-sxm")
    from tiergate.classify.metrics import tpp

    h100_tpp = tpp(h100, book.full(regime_to).bit_lengths).value if h100 is not None else None
    report = build_report(result, h100_tpp=h100_tpp)
    if format == ReplayFormat.json:
        data = dumps(report) + b"\n"
        if out_path is None:
            sys.stdout.buffer.write(data)
        else:
            with atomic_output(out_path) as handle:
                handle.write(data)
            err.print(f"wrote the replay report to {out_path}")
        return
    if format == ReplayFormat.html:
        from tiergate.replay.html import render_html

        assert out_path is not None
        text = render_html(report)
        with atomic_output(out_path, "w") as handle:
            handle.write(text)
        err.print(f"wrote the replay report to {out_path} (self-contained: opens offline)")
        return
    if out_path is not None:
        console = Console(file=None, record=True, width=160, highlight=False)
        _print_report(console, report)
        with atomic_output(out_path, "w") as handle:
            handle.write(console.export_text())
        err.print(f"wrote the replay report to {out_path}")
        return
    _print_report(out, report)


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.0f}"


def _state(outcome: str, authorization: str | None, policy: str | None) -> str:
    text = outcome
    if outcome == "authorized" and authorization:
        text += f" ({authorization})"
    if outcome == "license_required" and policy:
        text += f" ({policy})"
    return text


def _print_report(console: Console, report: dict[str, Any]) -> None:
    totals, moved, history = report["totals"], report["totals"]["moved"], report["history"]
    console.print(
        f"Replay {report['from']} -> {report['to']}: {report['total']:,} transaction(s) replayed of "
        f"{history['records']:,} read ({report['unreplayable_count']:,} unreplayable), "
        f"{history['first_date']} to {history['last_date']}.",
        markup=False,
    )
    console.print(
        f"Changed: {report['changed']:,}; TPP moved {fmt(moved['tpp'] or 0)} "
        f"({moved['h100e'] if moved['h100e'] is not None else '-'} H100e); value moved {_money(moved['value_usd'])} "
        f"(estimated {_money(moved['value_usd_estimated'])}, range {_money(moved['value_usd_low'])} to "
        f"{_money(moved['value_usd_high'])}, {moved['value_unpriced']} unpriced); licence applications "
        f"+{totals['licence_applications_added']:,} / -{totals['licence_applications_removed']:,} "
        f"(about {totals['licence_applications_added_per_year'] or 0:,} a year added).",
        markup=False,
    )
    table = Table(title="Transitions", show_lines=False)
    for column in ("from", "to", "count", "TPP", "value USD", "estimated"):
        table.add_column(column, justify="right" if column not in ("from", "to") else "left")
    for t in report["transitions"]:
        table.add_row(
            _state(t["from"], t["from_authorization"], t["from_review_policy"]),
            _state(t["to"], t["to_authorization"], t["to_review_policy"]),
            f"{t['count']:,}",
            fmt(t["tpp"] or 0),
            _money(t["value_usd"]),
            _money(t["value_usd_estimated"]),
        )
    console.print(table)
    for key, title in (("by_destination", "destination"), ("by_consignee", "consignee"), ("by_chip", "chip")):
        rows = [r for r in report[key] if r["changed"]][:10]
        if not rows:
            continue
        table = Table(title=f"Most affected by {title}")
        for column in (title, "changed", "TPP moved", "value moved", "licences +/-"):
            table.add_column(column, justify="left" if column == title else "right")
        for r in rows:
            table.add_row(
                r.get("name", r[title]) if title == "consignee" else r[title],
                f"{r['changed']:,}",
                fmt(r["tpp_moved"] or 0),
                _money(r["value_usd_moved"]),
                f"+{r['licence_applications_added']:,}/-{r['licence_applications_removed']:,}",
            )
        console.print(table)
    for side in ("from", "to"):
        for b in report["binds"][side]:
            console.print(
                f"Allowance bound ({side} side): {b['allocation']} [{b['rule']}]: {b['transactions']:,} transaction(s) "
                f"found no room, first on {b['first_date']} ({b['first_quarter']}, {b['first_account']}).",
                markup=False,
            )
    for u in report["unreplayable"][:20]:
        console.print(f"Unreplayable: {u['where']}: {u['why']}", markup=False)
    if report["unreplayable_count"] > 20:
        console.print(f"... and {report['unreplayable_count'] - 20:,} more (see --format json)", markup=False)
    console.print(f"Merkle root {report['provenance']['merkle_root']}", markup=False)


# ---------------------------------------------------------------- packs propose / timeline


def propose_command(
    base: Annotated[str, typer.Option("--base", help="The regime the proposal amends.")],
    effective: Annotated[str, typer.Option("--effective", help="The date the proposal would take effect.")],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder of packs to write the proposal into.")],
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", help="NAME=EXPR: a new value (number or expression) for a parameter; repeatable."),
    ] = None,
    add: Annotated[
        list[str] | None, typer.Option("--add", help="GROUP=CC[,CC]: add countries to a country group; repeatable.")
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option("--remove", help="GROUP=CC[,CC]: remove countries from a country group; repeatable."),
    ] = None,
    pack_id: Annotated[str | None, typer.Option("--id", help="The proposal's pack (and regime) id.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="A title for the proposal.")] = None,
    packs: PacksOpt = None,
) -> None:
    """Write a proposal pack (parameter overrides, country-group amendments) and its regime (the base stack plus
    the proposal) into a folder of packs, checked before anything is written."""
    from tiergate.replay.proposal import build_proposal, parse_assignment, write_proposal

    book = _book(packs)
    proposal = build_proposal(
        book,
        base,
        sets=[parse_assignment(text, "--set") for text in sets or []],
        add=[parse_assignment(text, "--add") for text in add or []],
        remove=[parse_assignment(text, "--remove") for text in remove or []],
        effective=_date(effective, "--effective"),
        pack_id=pack_id,
        title=title,
    )
    target = write_proposal(proposal, out_dir, book)
    for line in proposal.describe():
        out.print(line, markup=False)
    out.print(f"wrote {target} and the regime {proposal.pack_id} in {out_dir / 'regimes.yaml'}", markup=False)
    out.print(
        f"next: tiergate packs diff {base} {proposal.pack_id} --packs {out_dir}; "
        f"tiergate replay HISTORY --from {base} --to {proposal.pack_id} --packs {out_dir}",
        markup=False,
    )


def timeline_command(
    parameter: Annotated[str, typer.Argument(help="A parameter of the regime (e.g. tpp_a1_min) or frontier_tpp.")],
    start: Annotated[str, typer.Option("--from", help="First date (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last date (YYYY-MM-DD).")],
    every: Annotated[Step, typer.Option("--every", help="month, quarter or year")] = Step.quarter,
    regime: Annotated[
        str | None, typer.Option("--regime", help="Evaluate this regime (a scenario); default: the one in force.")
    ] = None,
    format: Annotated[TimelineFormat, typer.Option("--format", help="table or json")] = TimelineFormat.table,
    packs: PacksOpt = None,
) -> None:
    """How a threshold would have moved from --from to --to (catalogue quantities as of each date), and which
    catalogue chips crossed it when."""
    import orjson

    from tiergate.replay.timeline import render_timeline, threshold_timeline

    book = _book(packs)
    data = threshold_timeline(book, parameter, _date(start, "--from"), _date(end, "--to"), every.value, regime)
    if format == TimelineFormat.json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for line in render_timeline(data):
        out.print(line, markup=False)
