"""``tiergate monitor ...``: generate synthetic usage, scan usage for alerts, the cluster registry, the report."""

from __future__ import annotations

import datetime as dt
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from tiergate.batch import atomic_output
from tiergate.classify.metrics import fmt
from tiergate.console import Column, print_table
from tiergate.errors import InputError

if TYPE_CHECKING:
    from tiergate.monitor.model import ScanResult

monitor_app = typer.Typer(
    no_args_is_help=True,
    help="Compute monitoring of cloud customers: training runs, beneficial owners, caps, KYC, clusters.",
)
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class Format(StrEnum):
    json = "json"
    table = "table"


PacksOpt = Annotated[
    list[Path] | None,
    typer.Option("--packs", help="An extra folder of packs (with an optional regimes.yaml); repeatable."),
]
RegimeOpt = Annotated[
    str | None, typer.Option("--regime", help="Evaluate under this regime (a scenario), whatever the date.")
]


def _moment(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a date or time (use YYYY-MM-DD or ISO 8601)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _dump(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@monitor_app.command("generate")
def generate_cmd(
    records: Annotated[int, typer.Option("--records", min=0, help="Clean usage records to generate.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for usage.parquet and customers.parquet.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files).")] = 0,
    end: Annotated[str | None, typer.Option("--end", help="Last moment of the data (default 2026-11-01).")] = None,
    no_planted: Annotated[bool, typer.Option("--no-planted", help="Leave out the planted cases.")] = False,
) -> None:
    """Synthetic providers, customers, ownership trees and jobs, with the planted cases of issue 5."""
    from tiergate.monitor.generate import DEFAULT_END, generate

    made = generate(out_dir, records, seed=seed, end=_moment(end, "--end") or DEFAULT_END, planted=not no_planted)
    out.print(
        f"wrote {made.records} usage records to {made.usage} and {made.customers_count} customers to {made.customers}",
        markup=False,
    )


def _scan(
    usage: Path,
    customers: Path,
    engine: Engine,
    regime: str | None,
    as_of: str | None,
    packs: list[Path] | None,
    *,
    with_report_data: bool = False,
) -> ScanResult:
    """Run the scan as `monitor scan` and `monitor report` take it, and warn of the bad rows on stderr."""
    from tiergate.monitor.scan import run_scan
    from tiergate.rules import load_rulebook

    result = run_scan(
        usage,
        customers,
        engine=engine.value,
        regime=regime,
        as_of=_moment(as_of, "--as-of"),
        book=load_rulebook(packs or ()),
        with_report_data=with_report_data,
    )
    _print_problems(result)
    return result


def _print_problems(result: ScanResult) -> None:
    if not result.problems and not result.problem_counts:
        return
    counts = ", ".join(f"{k} {v}" for k, v in result.problem_counts.items())
    err.print(
        f"warning: bad input: {counts} "
        f"({result.records - result.records_used} of {result.records} usage rows excluded)",
        markup=False,
    )
    for problem in result.problems[:20]:
        err.print(f"  {problem.render()}", markup=False)
    if len(result.problems) > 20:
        err.print(f"  ... and {len(result.problems) - 20} more (write them all with --problems FILE)", markup=False)


@monitor_app.command("scan")
def scan_cmd(
    usage: Annotated[Path, typer.Option("--usage", help="Usage records: .parquet, .csv, or a folder of .parquet.")],
    customers: Annotated[Path, typer.Option("--customers", help="Customers: .csv or .parquet.")],
    engine: Annotated[Engine, typer.Option("--engine", help="duckdb (default) or spark (local mode).")] = Engine.duckdb,
    format: Annotated[Format, typer.Option("--format", help="json (the alert list) or table.")] = Format.json,
    regime: RegimeOpt = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Scan date (default: the latest time in the usage records).")
    ] = None,
    problems_out: Annotated[
        Path | None, typer.Option("--problems", help="Write every bad-input row here (JSON lines).")
    ] = None,
    packs: PacksOpt = None,
) -> None:
    """Alerts: threshold crossings (job, beneficial owner), projections, clusters, caps, prohibited use, KYC."""
    result = _scan(usage, customers, engine, regime, as_of, packs)
    if problems_out is not None:
        with atomic_output(problems_out) as handle:
            for problem in result.problems:
                handle.write(orjson.dumps(problem.to_dict()) + b"\n")
    if format == Format.json:
        out.print(_dump([a.to_dict() for a in result.alerts]), markup=False)
        return
    print_table(
        out,
        f"{len(result.alerts)} alert(s) as of {result.as_of:%Y-%m-%d %H:%M} UTC under {result.regime}",
        [
            Column("kind", key=True),
            Column("subject", key=True),
            Column("FLOP", justify="right"),
            Column("threshold", justify="right"),
            "projected",
            "first reason",
        ],
        (
            [
                a.kind,
                f"{a.subject_type} {a.subject_id}",
                fmt(a.flop) if a.flop is not None else "",
                fmt(a.threshold) if a.threshold is not None else "",
                a.projected_crossing or "",
                a.reasons[0],
            ]
            for a in result.alerts
        ),
    )


@monitor_app.command("clusters")
def clusters_cmd(
    regime: RegimeOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date for the regime and group membership.")] = None,
    clusters: Annotated[
        Path | None, typer.Option("--clusters", help="Epoch AI GPU clusters CSV (default: the bundled copy).")
    ] = None,
    status: Annotated[str, typer.Option("--status", help="existing, planned, decommissioned or all.")] = "existing",
    include_duplicates: Annotated[
        bool, typer.Option("--include-duplicates", help="Keep rows Epoch marks as possible duplicates.")
    ] = False,
    format: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.table,
    packs: PacksOpt = None,
) -> None:
    """Installed TPP and H100-equivalents of Epoch AI's GPU clusters per country and per tier under a regime."""
    from tiergate.monitor.clusters import load_registry
    from tiergate.rules import load_rulebook

    book = load_rulebook(packs or ())
    moment = _moment(as_of, "--as-of")
    today = os.environ.get("TIERGATE_TODAY")
    day = moment.date() if moment else (dt.date.fromisoformat(today) if today else dt.date.today())
    ruleset, _ = book.select(regime, day)
    registry = load_registry(
        ruleset, book.catalogue, day, clusters, status=status, include_duplicates=include_duplicates
    )
    if format == Format.json:
        out.print(
            _dump(
                {
                    "regime": registry.regime,
                    "date": day.isoformat(),
                    "source": registry.source,
                    "clusters": len(registry.rows),
                    "by_tier": registry.by_tier,
                    "by_country": registry.by_country,
                    "unmapped_chips": registry.unmapped,
                    "skipped": registry.skipped,
                }
            ),
            markup=False,
        )
        return
    for title, rows, first in (("tier", registry.by_tier, "tier"), ("country", registry.by_country, "country")):
        table = Table(
            title=f"Installed compute by {title} under {registry.regime} on {day} ({len(registry.rows)} clusters)"
        )
        for column in (first, *(["tier"] if title == "country" else []), "clusters", "TPP", "H100e", "Epoch H100e"):
            table.add_column(column, justify="left" if column in (first, "tier") else "right")
        for r in rows:
            extra = [r["tier"]] if title == "country" else []
            table.add_row(
                r["key"],
                *extra,
                str(r["clusters"]),
                f"{r['tpp']:,.0f}",
                f"{r['h100e']:,.0f}",
                f"{r['epoch_h100e']:,.0f}",
            )
        out.print(table)
    if registry.unmapped:
        names = ", ".join(f"{k} ({v})" for k, v in registry.unmapped.items())
        out.print(f"Chips not in the catalogue (Epoch's H100-equivalents used): {names}", markup=False)


@monitor_app.command("report")
def report_cmd(
    usage: Annotated[Path, typer.Option("--usage", help="Usage records: .parquet, .csv, or a folder of .parquet.")],
    customers: Annotated[Path, typer.Option("--customers", help="Customers: .csv or .parquet.")],
    out_file: Annotated[Path, typer.Option("--out", help="The report file (.html).")],
    engine: Annotated[Engine, typer.Option("--engine", help="duckdb (default) or spark.")] = Engine.duckdb,
    regime: RegimeOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Scan date (default: latest usage time).")] = None,
    packs: PacksOpt = None,
) -> None:
    """A self-contained HTML report: compute by owner over time with threshold lines, by country, alerts."""
    from tiergate.monitor.report import render_html

    if out_file.suffix.lower() not in (".html", ".htm"):
        raise InputError(
            "the report is written as HTML; name the file .html",
            where=str(out_file),
            hint="PDF is not produced: print the HTML to PDF from a browser",
        )
    result = _scan(usage, customers, engine, regime, as_of, packs, with_report_data=True)
    with atomic_output(out_file, "w") as handle:
        handle.write(render_html(result))
    out.print(f"wrote {out_file} ({len(result.alerts)} alert(s))", markup=False)
