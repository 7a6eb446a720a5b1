"""``tiergate lists ...`` and ``tiergate screen ...``: list loading and restricted-party screening."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tiergate.console import Column, print_table
from tiergate.errors import InputError
from tiergate.screen import answer
from tiergate.screen.model import DEFAULT_THRESHOLD, Query

DEFAULT_LISTS_DB = "sqlite:///tiergate-lists.db"
"""The list store at the default place (``tiergate.screen.store.lists_url`` is the rule every face follows)."""
LIST_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson", ".xml", ".gz")
"""The files taken from a folder given to ``lists load`` (others there, such as a README, are left alone)."""

lists_app = typer.Typer(no_args_is_help=True, help="Restricted-party lists: load list files into a store, status.")
screen_app = typer.Typer(no_args_is_help=True, help="Restricted-party screening against the loaded lists.")

out = answer.stdout_console()
err = Console(stderr=True, highlight=False, soft_wrap=True)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        "--lists",
        help="List store URL: sqlite:///FILE or postgresql://... (default $TIERGATE_LISTS, else sqlite:///"
        "tiergate-lists.db here, filled from the bundled lists on first use).",
    ),
]
MaxAgeOpt = Annotated[
    int | None,
    typer.Option(
        "--max-list-age",
        min=0,
        help="Warn when a list's data is older than this many days (default $TIERGATE_MAX_LIST_AGE, else 7).",
    ),
]
PartyOpt = Annotated[str, typer.Option("--party", help="The party id (as screened).")]
EntryOpt = Annotated[str, typer.Option("--entry", help="The list entry, DATASET:ID (a hit's 'entry').")]
ThresholdOpt = Annotated[
    float, typer.Option("--threshold", min=0.0, max=1.0, help=f"Match threshold (default {DEFAULT_THRESHOLD}).")
]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json")]
NameOpt = Annotated[
    str | None, typer.Option("--name", help="The party's name as screened (default: its recorded screening's).")
]
CountryOpt = Annotated[str | None, typer.Option("--country", help="The party's country (ISO alpha-2).")]
IdOpt = Annotated[list[str] | None, typer.Option("--id", help="The party's identifiers as screened; repeatable.")]


_dump = answer.dump
_format = answer.check_format
_name = answer.query_name
_country = answer.query_country
_birth_date = answer.birth_date


def _store(db: str | None) -> Any:
    """The list store to write to (``lists load``, decisions, the audit trail): ``--db``, else the installed one."""
    from tiergate.screen.store import lists_url, open_store

    return open_store(lists_url(db)[0])


_installed = answer.installed
_warn = answer.warn_stale


# ---------------------------------------------------------------- lists


@lists_app.command("load")
def lists_load(
    paths: Annotated[list[Path], typer.Argument(help="List files (or folders of them).")],
    db: DbOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Load even if a list drops more than 10 % of its entries.")
    ] = False,
    format: FormatOpt = "table",
    rescreen: Annotated[
        bool, typer.Option("--rescreen/--no-rescreen", help="Screen again the recorded parties the update touches.")
    ] = True,
) -> None:
    """Read list files (OFAC CSV, trade.gov CSL CSV, UN XML, NSF JSON, FtM JSON lines); store them all or nothing."""
    from tiergate.screen.ingest import read_lists
    from tiergate.screen.service import Screener
    from tiergate.screen.service import rescreen as do_rescreen

    _format(format)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in LIST_SUFFIXES
                )
            )
        else:
            files.append(path)
    if not files:
        raise InputError("no list files given")
    sets = read_lists(files)
    store = _store(db)
    reports = store.load(sets, force=force)
    result: dict[str, Any] = {"loaded": [r.to_dict() for r in reports]}
    if rescreen and any(r.added or r.changed or r.removed for r in reports) and store.screened_parties():
        outcome = do_rescreen(Screener.from_store(store), store, reports)
        result["rescreen"] = outcome.to_dict()
    if format == "json":
        out.print(_dump(result), markup=False)
        return
    for r in reports:
        if r.unchanged_file:
            out.print(f"{r.dataset}: unchanged (same file hash), {r.entries:,} entries", markup=False)
        else:
            out.print(
                f"{r.dataset}: version {r.version}, {r.entries:,} entries "
                f"(+{len(r.added)} ~{len(r.changed)} -{len(r.removed)}){' (forced)' if r.forced else ''}",
                markup=False,
            )
    if "rescreen" in result:
        rs = result["rescreen"]
        out.print(
            f"re-screened {len(rs['screened'])} part(ies), skipped {rs['skipped']}: "
            f"{len(rs['new_hits'])} new hit(s), {len(rs['gone'])} gone",
            markup=False,
        )
        for item in rs["new_hits"]:
            h = item["hit"]
            out.print(
                f"  new hit: {item['party']} -> {h['list']} {h['entry']} {h['name']!r} {h['score']}", markup=False
            )


@lists_app.command("status")
def lists_status(db: DbOpt = None, format: FormatOpt = "table", max_age: MaxAgeOpt = None) -> None:
    """The loaded lists: entries, version, the files' hash and data date (the list's own date), a warning for each
    list older than --max-list-age days, and (for operators) the paths the files were loaded from and who loaded
    them."""
    from tiergate.screen.store import max_list_age, stale_lists, today

    _format(format)
    store = _installed(db)
    rows = store.status(paths=True)
    stale = {w["dataset"]: w for w in stale_lists(rows, today(), max_list_age(max_age))}
    if format == "json":
        for r in rows:
            r["warning"] = stale[r["dataset"]]["message"] if r["dataset"] in stale else None
        out.print(_dump(rows), markup=False)
        return
    for w in stale.values():
        out.print(f"WARNING stale list: {w['message']}", markup=False)
    print_table(
        out,
        f"{len(rows)} list(s) loaded (sha256 shortened; --format json for all of it)",
        [
            Column("dataset", key=True),
            Column("entries", key=True, justify="right"),
            Column("version", key=True),
            "data date",
            "sha256",
            "loaded at",
            "loaded by",
            "title",
        ],
        (
            [
                r["dataset"],
                f"{r['entries']:,}",
                str(r["version"]),
                r["file_date"] or "-",
                r["sha256"][:16],
                r["loaded_at"][:19],
                r["loaded_by"] or "-",
                r["title"],
            ]
            for r in rows
        ),
    )
    out.print("loaded from:", markup=False)
    for r in rows:
        for path in r["paths"]:
            out.print(f"  {r['dataset']}: {path}", markup=False)


@lists_app.command("update")
def lists_update(
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Fetch the files from this base URL or folder (under their official names) instead of the official "
            "addresses (trade.gov's Consolidated Screening List and the UN Security Council list).",
        ),
    ] = None,
    bundled: Annotated[
        bool, typer.Option("--bundled", help="Load the snapshot bundled with Tiergate instead (no network).")
    ] = False,
    db: DbOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace even if a list drops more than 10 % of its entries.")
    ] = False,
    format: FormatOpt = "table",
    max_age: MaxAgeOpt = None,
) -> None:
    """Fetch the official lists, verify them (read completely, expected format and lists, sizes) and swap them into
    the store in one transaction, replacing the bundled snapshot; on any failure the store is left as it was. Each
    list keeps the data date its file (or its publisher) states."""
    from tiergate.screen.service import Screener
    from tiergate.screen.service import rescreen as do_rescreen
    from tiergate.screen.store import BUNDLED_LISTS, bundled_dates, list_warnings

    _format(format)
    store = _store(db)
    if bundled:
        from tiergate.screen.ingest import read_lists

        if source is not None:
            raise InputError("--bundled and --source together", hint="give one of them")
        store.init()
        reports = store.load(read_lists(list(BUNDLED_LISTS), bundled_dates()), force=force)
    else:
        from tiergate.screen.update import update

        reports = update(store, source, force=force)
    result: dict[str, Any] = {"loaded": [r.to_dict() for r in reports]}
    dates = {r["dataset"]: r["file_date"] for r in store.status()}
    for item in result["loaded"]:
        item["file_date"] = dates.get(item["dataset"])
        item["retired"] = item["dataset"] not in dates
    if any(r.added or r.changed or r.removed for r in reports) and store.screened_parties():
        result["rescreen"] = do_rescreen(Screener.from_store(store), store, reports).to_dict()
    result["list_warnings"] = list_warnings(store, max_age)
    if format == "json":
        out.print(_dump(result), markup=False)
        return
    for item in result["loaded"]:
        if item["retired"]:
            out.print(f"{item['dataset']}: replaced (removed {item['removed']:,} entries)", markup=False)
        elif item["unchanged_file"]:
            out.print(
                f"{item['dataset']}: unchanged, {item['entries']:,} entries, data of {item['file_date']}", markup=False
            )
        else:
            out.print(
                f"{item['dataset']}: version {item['version']}, {item['entries']:,} entries, data of "
                f"{item['file_date'] or 'unknown date'} (+{item['added']} ~{item['changed']} -{item['removed']})",
                markup=False,
            )
    if "rescreen" in result:
        rs = result["rescreen"]
        out.print(f"re-screened {len(rs['screened'])} part(ies): {len(rs['new_hits'])} new hit(s)", markup=False)
    for w in result["list_warnings"]:
        out.print(f"WARNING stale list: {w['message']}", markup=False)


# ---------------------------------------------------------------- screen


_screener = answer.screener


@screen_app.command("name")
def screen_name(
    name: Annotated[str, typer.Argument(help="The party's name, in any script.")],
    country: Annotated[str | None, typer.Option("--country", help="The party's country (ISO alpha-2).")] = None,
    schema: Annotated[str | None, typer.Option("--schema", help="Person, Organization, Company, Vessel...")] = None,
    identifier: Annotated[
        list[str] | None, typer.Option("--id", help="An identifier (registration, passport, IMO...); repeatable.")
    ] = None,
    party: Annotated[
        str | None, typer.Option("--party", help="Record this screening under this party id (for decisions).")
    ] = None,
    dob: Annotated[
        str | None, typer.Option("--dob", help="A person's date of birth: YYYY, YYYY-MM or YYYY-MM-DD.")
    ] = None,
    db: DbOpt = None,
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 10,
    format: FormatOpt = "table",
    max_age: MaxAgeOpt = None,
) -> None:
    """Ranked hits for a name, each with its score and the features behind it, and a warning for each list older
    than --max-list-age days. Exit 1 when there is an open match."""
    code = answer.screen_name(out, name, country, schema, identifier, party, dob, db, threshold, limit, format, max_age)
    if code:
        raise typer.Exit(code)


@screen_app.command("compare")
def screen_compare(
    pairs: Annotated[Path, typer.Option("--pairs", help="CSV with columns name1,name2[,schema].")],
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    format: Annotated[str, typer.Option("--format", help="json (JSON lines, one per row, in order)")] = "json",
) -> None:
    """Score name pairs: one JSON line per row, in input order, with the score, the verdict and its explanation."""
    from tiergate.screen.match import compare_names

    _format(format, ("json", "jsonl"))
    from tiergate.batch import not_utf8, open_text

    lines: list[str] = []
    with open_text(pairs) as handle:
        reader = csv.DictReader(handle)
        try:
            if reader.fieldnames is None:
                raise InputError("empty CSV file (no header row)", where=str(pairs))
            missing = [c for c in ("name1", "name2") if c not in reader.fieldnames]
            if missing:
                raise InputError(
                    f"missing column(s) {', '.join(missing)}", where=f"{pairs}:1", hint="columns: name1,name2[,schema]"
                )
            for row in reader:
                where = f"{pairs}:{reader.line_num}"
                if None in row:
                    raise InputError("more fields than the header has", where=where)
                n1 = _name(row.get("name1") or "", f"{where}: name1")
                n2 = _name(row.get("name2") or "", f"{where}: name2")
                schema = (row.get("schema") or "").strip() or None
                score, features = compare_names(n1, n2, schema)
                lines.append(
                    _dump(
                        {
                            "line": reader.line_num,
                            "name1": row["name1"],
                            "name2": row["name2"],
                            "schema": schema,
                            "score": round(score, 4),
                            "match": score >= threshold,
                            "threshold": threshold,
                            "explanation": {f.name: {"score": round(f.score, 4), "detail": f.detail} for f in features},
                        },
                        indent=False,
                    )
                )
        except UnicodeDecodeError:
            raise not_utf8(pairs) from None
        except csv.Error as error:
            raise InputError(f"malformed CSV: {error}", where=f"{pairs}:{reader.line_num}") from None
    sys.stdout.write("".join(line + "\n" for line in lines))


BATCH_COLUMNS = ("id", "name", "country", "schema", "identifiers", "birth_date")


def _batch_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError("no such file", where=str(path))
    rows: list[tuple[str, dict[str, Any]]] = []
    if suffix == ".csv":
        from tiergate.batch import not_utf8, open_text

        with open_text(path) as handle:
            reader = csv.DictReader(handle)
            try:
                if reader.fieldnames is None or "name" not in reader.fieldnames:
                    raise InputError(
                        "needs a header with a 'name' column",
                        where=f"{path}:1",
                        hint=f"columns: {', '.join(BATCH_COLUMNS)}",
                    )
                for row in reader:
                    if None in row:
                        raise InputError("more fields than the header has", where=f"{path}:{reader.line_num}")
                    rows.append((f"{path}:{reader.line_num}", dict(row)))
            except UnicodeDecodeError:
                raise not_utf8(path) from None
            except csv.Error as error:
                raise InputError(f"malformed CSV: {error}", where=f"{path}:{reader.line_num}") from None
    elif suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as error:
            raise InputError(f"not a readable Parquet file: {error}", where=str(path)) from None
        if "name" not in table.column_names:
            raise InputError("needs a 'name' column", where=str(path), hint=f"columns: {', '.join(BATCH_COLUMNS)}")
        for i, row in enumerate(table.to_pylist(), start=1):
            rows.append((f"{path}: row {i}", row))
    else:
        raise InputError(
            f"cannot screen a {suffix or 'suffix-less'} file", where=str(path), hint="use .csv or .parquet"
        )
    return rows


@screen_app.command("batch")
def screen_batch(
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet with columns id,name[,country,schema,identifiers,birth_date].")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Results: .jsonl, .csv or .parquet (whole or not at all).")],
    db: DbOpt = None,
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Hits kept per party.")] = 5,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Record each party's result (for re-screening).")
    ] = True,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Processes sharing the index.")] = 1,
    max_age: MaxAgeOpt = None,
) -> None:
    """Screen every row; one result per row (hits with scores, statuses and explanations), with a progress bar."""
    from tiergate.screen.service import party_id

    suffix = out_path.suffix.lower()
    if suffix not in (".jsonl", ".csv", ".parquet"):
        raise InputError(
            f"cannot write {suffix or 'a suffix-less file'}", where=str(out_path), hint="use .jsonl, .csv or .parquet"
        )
    rows = _batch_rows(file)
    queries = []
    for where, row in rows:
        name = _name(str(row.get("name") or ""), f"{where}: name")
        ids = row.get("identifiers") or ""
        query = Query(
            name,
            (str(row.get("schema")).strip() or None) if row.get("schema") else None,
            _country(row.get("country") or None, f"{where}: country"),
            tuple(x.strip() for x in str(ids).split(";") if x.strip()),
            _birth_date(row.get("birth_date"), f"{where}: birth_date"),
        )
        queries.append((where, party_id(query.name, query.country, str(row.get("id") or "")), query))
    from tiergate.screen.index import screen_many
    from tiergate.screen.service import apply_decisions, query_to_dict

    screener = _screener(db, threshold)
    _warn(screener.store, max_age, err)
    standing = screener.decisions()
    results: list[dict[str, Any]] = []
    recorded: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
    with Progress(
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("screen", total=len(queries))
        found = screen_many(
            screener.index, [q for _, _, q in queries], workers=workers, threshold=threshold, limit=limit
        )
        for (where, party, query), outcome in zip(queries, found, strict=True):
            if isinstance(outcome, str):
                raise InputError(outcome, where=f"{where}: name")
            hits = apply_decisions(outcome, party, standing, query)
            hit_rows = [h.to_dict() for h in hits]
            matches = [h for h in hits if h.match and h.status != "cleared"]
            results.append(
                {
                    "id": party,
                    "name": query.name,
                    "country": query.country,
                    "hit": bool(matches),
                    "best_score": round(hits[0].score, 4) if hits else 0.0,
                    "hits": hit_rows,
                }
            )
            if record:
                recorded.append((party, query_to_dict(query), hit_rows))
            progress.advance(task)
    if record:
        screener.store.record_screenings(recorded)
    from tiergate.batch import atomic_output
    from tiergate.interchange import spreadsheet_cell

    if suffix == ".jsonl":
        with atomic_output(out_path) as handle:
            for r in results:
                handle.write(orjson.dumps(r) + b"\n")
    elif suffix == ".csv":
        with atomic_output(out_path, "w") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["id", "name", "country", "hit", "best_score", "best_list", "best_entry", "best_name", "hits"]
            )
            for r in results:
                best = r["hits"][0] if r["hits"] else {}
                cells = [
                    r["id"],
                    r["name"],
                    r["country"] or "",
                    r["hit"],
                    r["best_score"],
                    best.get("list", ""),
                    best.get("entry", ""),
                    best.get("name", ""),
                    _dump(r["hits"], indent=False),
                ]
                writer.writerow([spreadsheet_cell(cell) for cell in cells])
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "id": [r["id"] for r in results],
                "name": [r["name"] for r in results],
                "country": [r["country"] for r in results],
                "hit": [r["hit"] for r in results],
                "best_score": [r["best_score"] for r in results],
                "hits": [_dump(r["hits"], indent=False) for r in results],
            }
        )
        with atomic_output(out_path) as handle:
            pq.write_table(table, handle)
    flagged = sum(1 for r in results if r["hit"])
    err.print(f"screened {len(results):,} part(ies): {flagged:,} with an open match; wrote {out_path}", markup=False)


@screen_app.command("clear")
def screen_clear(
    party: PartyOpt,
    entry: EntryOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why this hit is a false positive.")],
    author: Annotated[str, typer.Option("--author", help="Who decided.")],
    db: DbOpt = None,
    name: NameOpt = None,
    country: CountryOpt = None,
    identifier: IdOpt = None,
) -> None:
    """Clear a hit as a false positive for this (party, entry) pair, and the same party's entries on other lists;
    bound to the party's name, country and identifiers (given, or its recorded screening's) and the entry's
    content: re-opened when any of them changes."""
    _decide(party, entry, "cleared", reason, author, db, name, country, identifier)


@screen_app.command("confirm")
def screen_confirm(
    party: PartyOpt,
    entry: EntryOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why this hit is a true match.")],
    author: Annotated[str, typer.Option("--author", help="Who decided.")],
    db: DbOpt = None,
    name: NameOpt = None,
    country: CountryOpt = None,
    identifier: IdOpt = None,
) -> None:
    """Confirm a hit as a true match for this (party, entry) pair (and the same party's entries on other lists)."""
    _decide(party, entry, "confirmed", reason, author, db, name, country, identifier)


@screen_app.command("reopen")
def screen_reopen(
    party: PartyOpt,
    entry: EntryOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why the decision no longer stands.")],
    author: Annotated[str, typer.Option("--author", help="Who re-opens it.")],
    db: DbOpt = None,
) -> None:
    """Re-open a hit: withdraw the standing clearance or confirmation of this (party, entry) pair (kept in the
    history and the audit trail); the hit is open again until an analyst decides again."""
    from tiergate.screen.store import NoStandingDecision, lists_url, open_store

    store = open_store(lists_url(db)[0])
    store.check()
    from tiergate.screen.service import party_entries

    try:
        decision = store.reopen(party, entry, reason, author)
    except NoStandingDecision as error:
        raise InputError(error.message, where="--party/--entry", hint=error.hint) from None
    found = store.list_entries([entry])
    for sibling in party_entries(store, found[0]) if found else []:  # the same party's other lists, as decided
        try:
            store.reopen(party, sibling, reason, author)
        except NoStandingDecision:
            continue
    out.print(
        f"reopened: {decision.party} / {decision.entry} (withdrew {decision.withdrawn}) by {decision.author}",
        markup=False,
    )


def _decide(
    party: str,
    entry_key: str,
    verdict: str,
    reason: str,
    author: str,
    db: str | None,
    name: str | None = None,
    country: str | None = None,
    identifiers: list[str] | None = None,
) -> None:
    from tiergate.screen.service import decision_binding, party_entries

    store = _store(db)
    store.check()
    entries = store.list_entries([entry_key])
    if not entries:
        raise InputError(
            f"no list entry {entry_key!r}", where="--entry", hint="use the 'entry' value of a hit, DATASET:ID"
        )
    code = _country(country, "--country")
    bound = decision_binding(store, party, _name(name, "--name") if name else None, code, identifiers or ())
    siblings = party_entries(store, entries[0])
    decision = store.decide(party, entries[0], verdict, reason, author, bound_to=bound, siblings=siblings)
    also = f", and {len(siblings)} other list(s) of the same party" if siblings else ""
    out.print(
        f"{verdict}: {party} / {entry_key}{also} (entry hash {decision.entry_hash[:12]}; for {bound}) by {author}",
        markup=False,
    )


@screen_app.command("owners")
def screen_owners(
    file: Annotated[
        Path,
        typer.Argument(help="A party (JSON): {name, country, headquarters, owners: [{name, percent, owners...}]}."),
    ],
    db: DbOpt = None,
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Country groups as of this date (YYYY-MM-DD).")] = None,
) -> None:
    """Ownership flags: owned 50 % or more (directly or in aggregate) by listed parties; headquarters in D:5/Macau."""
    import datetime as dt

    from tiergate.screen.service import Party, d5_macau_test, ownership_flags

    try:
        data = orjson.loads(file.read_bytes())
    except FileNotFoundError:
        raise InputError("no such file", where=str(file)) from None
    except orjson.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", where=str(file)) from None
    party = Party.from_dict(data, str(file))
    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise InputError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None
    flags = ownership_flags(party, _screener(db, threshold), hq_test=d5_macau_test(day))
    out.print(_dump({"party": party.name, "flags": [f.to_dict() for f in flags]}), markup=False)
    if flags:
        raise typer.Exit(1)


@screen_app.command("audit")
def screen_audit(
    db: DbOpt = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write JSON lines here (whole or not at all).")] = None,
) -> None:
    """The screening audit trail: list loads (hash, version), screenings (query, hits, data version) and decisions."""
    entries = list(_store(db).audit_entries())
    text = "".join(_dump(e, indent=False) + "\n" for e in entries)
    if out_path is None:
        sys.stdout.write(text)
        return
    from tiergate.batch import atomic_output

    with atomic_output(out_path, "w") as handle:
        handle.write(text)
    err.print(f"wrote {len(entries)} audit entries to {out_path}", markup=False)


# ---------------------------------------------------------------- hooks for `tiergate decide` and `tiergate ship`

_SCREENERS: dict[tuple[str | None, str | None], Any] = {}


def installed_screener(lists: str | None, ledger: str | None = None) -> Any:
    """The screener of the installed list store (``--lists``, ``$TIERGATE_LISTS``, or the default place; see
    ``tiergate.screen.store.lists_url``), its index from the cache while the lists are unchanged (as for
    ``tiergate screen``: indexing ~20,000 entries takes seconds, every decision and shipment screens). No list
    store at all is an error saying how to install one."""
    from tiergate.screen.index import ScreeningIndex
    from tiergate.screen.service import Screener
    from tiergate.screen.store import NoListStore, installed_store

    key = (lists, ledger)
    if key not in _SCREENERS:
        try:
            store = installed_store(lists, ledger)
        except NoListStore as error:
            hint = f"{error.hint}; to decide without screening, say --no-screening"
            raise NoListStore(error.message, hint=hint) from None
        _SCREENERS[key] = Screener(ScreeningIndex.for_store(store), store, DEFAULT_THRESHOLD)
    return _SCREENERS[key]


def consignee_screening(records: Any, lists: str | None, ledger: str | None = None) -> Any:
    """``tiergate decide``: screen each consignee and adjust its decision (see ``licensing``)."""
    from tiergate.screen.licensing import ConsigneeScreening

    screener = installed_screener(lists, ledger)
    return ConsigneeScreening(records, screener, screener.store.data_version())


def consignee_hits(txn: Any, lists: str | None, ledger: str | None = None) -> tuple[list[Any], str]:
    """``tiergate ship``: the consignee's hits (analyst decisions applied) and the lists' data version."""
    from tiergate.screen.normalize import UnscreenableName, names_no_one
    from tiergate.screen.service import party_id

    c = txn.consignee
    screener = installed_screener(lists, ledger)
    if names_no_one(c.name):  # punctuation alone names no one
        return [], screener.store.data_version()
    try:  # every hit weighs (not the ten a search shows): a cleared hit must not hide an open one below it
        hits = screener.screen(Query(c.name, None, c.country), party=party_id(c.name, c.country, c.id), limit=200)
    except UnscreenableName as error:  # never waved through as "no match"
        raise InputError(f"consignee.name: {error}", hint="give the party's name as written, in letters") from None
    return hits, screener.store.data_version()


ListsOpt = Annotated[
    str | None,
    typer.Option(
        "--lists",
        help="Screen each consignee against this list store (URL; default $TIERGATE_LISTS, else tiergate-lists.db "
        "beside the ledger); hits adjust the outcome.",
    ),
]
NoScreeningOpt = Annotated[
    bool,
    typer.Option(
        "--no-screening",
        help="Do not screen the parties; each decision then says 'parties not screened' in its outcome record.",
    ),
]
