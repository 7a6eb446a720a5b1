"""Reading transactions and items from files, and writing decisions: the I/O edge of ``decide``.

Inputs: JSON (one object or a list), YAML (same), JSON lines, CSV and Parquet. CSV and Parquet rows
are flat (one item per row, or an ``items`` column holding the JSON list):

    id, date, regime, export_from, destination, chip, quantity, consignee_name, consignee_country,
    consignee_headquarters, consignee_parent_headquarters, consignee_veu, consignee_id, end_use, items,
    value_usd, equipment, origin, us_content_pct, made_with_us_technology

(``equipment`` instead of ``chip`` names a tool of the equipment catalogue; the last three are the
item's origin facts; ``value_usd`` is the transaction's value.)

Every record carries where it came from (file and line, or file and row) for error messages.
Outputs are written to a temporary file and renamed when complete, so a failed run leaves nothing
half-written.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from tiergate.decide.model import Decision
from tiergate.errors import InputError
from tiergate.rules.source import LineDict, LineList, parse_yaml

FLAT_COLUMNS = (
    "id",
    "date",
    "regime",
    "export_from",
    "destination",
    "chip",
    "quantity",
    "consignee_name",
    "consignee_country",
    "consignee_headquarters",
    "consignee_parent_headquarters",
    "consignee_veu",
    "consignee_id",
    "end_use",
    "items",
    "value_usd",
    "equipment",
    "origin",
    "us_content_pct",
    "made_with_us_technology",
)
BATCH_ROWS = 20_000
PARQUET_OPTIONS = {
    "compression": "lz4",
    # Statistics (for readers' predicate push-down) on the scalar columns only; on the list columns
    # they cost a third of the write time and serve no filter.
    "write_statistics": [
        "id",
        "regime",
        "date",
        "outcome",
        "authorization",
        "review_policy",
        "tpp_total",
        "provisional",
    ],
}


@dataclass(frozen=True, slots=True)
class Record:
    data: Any
    where: str
    alone: bool = False
    """The file held this one object (not a list or lines): its decision is printed as an object."""


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    kinds = {
        ".json": "json",
        ".yaml": "yaml",
        ".yml": "yaml",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".csv": "csv",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    if suffix not in kinds:
        raise InputError(
            f"cannot tell the format from the suffix {suffix or '(none)'!r}",
            where=str(path),
            hint="use .json, .yaml, .jsonl, .csv or .parquet",
        )
    return kinds[suffix]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", where=str(path)) from None
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (byte {error.start})", where=str(path)) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", where=str(path)) from None


def _json_records(path: Path) -> Iterator[Record]:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", where=f"{path}:{error.lineno}") from None
    except RecursionError:
        raise InputError("not a transaction file: nested too deeply", where=str(path)) from None
    if isinstance(data, list):
        for i, obj in enumerate(data):
            yield Record(obj, f"{path}: record {i + 1}")
    else:
        yield Record(data, str(path), alone=True)


def _yaml_records(path: Path) -> Iterator[Record]:
    try:
        data = parse_yaml(_read_text(path), str(path))
    except RecursionError:
        raise InputError("not a transaction file: nested too deeply", where=str(path)) from None
    if isinstance(data, LineList):
        for i, obj in enumerate(data):
            yield Record(_plain(obj), f"{path}:{data.item_lines[i]}")
    else:
        yield Record(_plain(data), f"{path}:{getattr(data, 'line', 1)}", alone=True)


def _plain(value: Any) -> Any:
    if isinstance(value, LineDict | dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, LineList | list):
        return [_plain(v) for v in value]
    return value


def _jsonl_records(path: Path) -> Iterator[Record]:
    try:
        handle = path.open("rb")
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", where=str(path)) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield Record(orjson.loads(line), f"{path}:{number}")
            except orjson.JSONDecodeError as error:
                raise InputError(f"not valid JSON: {error.msg}", where=f"{path}:{number}") from None


def flat_to_transaction(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A flat CSV/Parquet row as a transaction object."""

    def value(name: str) -> Any:
        v = row.get(name)
        return None if v is None or v == "" else v

    if value("items") is not None:
        raw = value("items")
        try:
            items = orjson.loads(raw) if isinstance(raw, (str, bytes)) else raw
        except orjson.JSONDecodeError as error:
            raise InputError(f"items: not valid JSON: {error.msg}", where=where) from None
        if value("chip") is not None or value("equipment") is not None:
            raise InputError("give either chip (or equipment) and quantity, or items, not both", where=where)
    else:
        quantity = value("quantity")
        if isinstance(quantity, str):
            try:
                number = float(quantity)
            except ValueError:
                raise InputError(f"quantity: {quantity!r} is not a whole number", where=where) from None
            if not number.is_integer():
                raise InputError(f"quantity: {quantity!r} is not a whole number", where=where)
            quantity = int(number)
        elif isinstance(quantity, float) and quantity.is_integer():
            quantity = int(quantity)
        item: dict[str, Any] = (
            {"equipment": value("equipment")} if value("equipment") is not None else {"chip": value("chip")}
        )
        if value("chip") is not None and value("equipment") is not None:
            raise InputError("give either chip or equipment, not both", where=where)
        if quantity is not None:
            item["quantity"] = quantity
        for name in ("origin", "us_content_pct", "made_with_us_technology"):
            v = value(name)
            if isinstance(v, str) and name == "us_content_pct":
                try:
                    v = float(v)
                except ValueError:
                    raise InputError(f"us_content_pct: {v!r} is not a number", where=where) from None
            if isinstance(v, str) and name == "made_with_us_technology":
                if v.strip().lower() not in ("true", "false"):
                    raise InputError(f"made_with_us_technology: {v!r} is not true or false", where=where)
                v = v.strip().lower() == "true"
            if v is not None:
                item[name] = v
        items = [item]
    consignee = {
        "name": value("consignee_name"),
        "country": value("consignee_country"),
        "headquarters": value("consignee_headquarters"),
        "parent_headquarters": value("consignee_parent_headquarters"),
        "veu": value("consignee_veu"),
        "id": value("consignee_id"),
    }
    txn: dict[str, Any] = {
        "id": value("id"),
        "destination": value("destination"),
        "items": items,
        "consignee": {k: v for k, v in consignee.items() if v is not None},
    }
    for name in ("date", "regime", "export_from", "end_use", "value_usd"):
        v = value(name)
        if v is not None:
            txn[name] = v.isoformat() if isinstance(v, dt.date) else v
    return txn


def _check_columns(columns: Iterable[str], path: Path) -> None:
    unknown = [c for c in columns if c not in FLAT_COLUMNS]
    if unknown:
        raise InputError(
            f"unknown column(s) {', '.join(map(repr, unknown))}",
            where=str(path),
            hint=f"columns are {', '.join(FLAT_COLUMNS)}",
        )


def _csv_records(path: Path) -> Iterator[Record]:
    try:
        # a byte-order mark (Excel's "CSV UTF-8") is not part of the header
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", where=str(path)) from None
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise InputError("empty CSV file (no header row)", where=str(path))
        _check_columns(reader.fieldnames, path)
        try:
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if None in row:
                    raise InputError("more fields than the header has", where=where)
                yield Record(flat_to_transaction(row, where), where)
        except UnicodeDecodeError as error:
            raise InputError(f"not UTF-8 text (byte {error.start})", where=str(path)) from None
        except csv.Error as error:
            raise InputError(f"malformed CSV: {error}", where=f"{path}:{reader.line_num}") from None


def parquet_batches(path: Path, batch_rows: int = BATCH_ROWS) -> Iterator[list[dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except FileNotFoundError:
        raise InputError("no such file", where=str(path)) from None
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise InputError(f"not a readable Parquet file: {error}", where=str(path)) from None
    _check_columns(source.schema_arrow.names, path)
    done = 0
    try:
        for batch in source.iter_batches(batch_size=batch_rows):
            try:
                rows = batch.to_pylist()
            except (OverflowError, ValueError) as error:  # e.g. a date32 outside Python's dates
                raise InputError(
                    f"a value cannot be read: {error}", where=f"{path}: rows {done + 1}-{done + batch.num_rows}"
                ) from None
            done += batch.num_rows
            yield rows
    except OSError as error:
        raise InputError(f"damaged Parquet data: {error}", where=f"{path}: after row {done}") from None


def _parquet_records(path: Path) -> Iterator[Record]:
    row = 0
    for batch in parquet_batches(path):
        for data in batch:
            row += 1
            where = f"{path}: row {row}"
            yield Record(flat_to_transaction(data, where), where)


def read_records(path: Path) -> Iterator[Record]:
    """The transaction (or item) records of a file, lazily, each with its location."""
    kind = _kind(path)
    if kind in ("csv", "parquet") and not path.exists():
        raise InputError("no such file", where=str(path))
    readers: dict[str, Callable[[Path], Iterator[Record]]] = {
        "json": _json_records,
        "yaml": _yaml_records,
        "jsonl": _jsonl_records,
        "csv": _csv_records,
        "parquet": _parquet_records,
    }
    return readers[kind](path)


def read_item_records(path: Path) -> Iterator[Record]:
    kind = _kind(path)
    if kind in ("csv", "parquet"):
        raise InputError("items are read from JSON, YAML or JSON lines", where=str(path))
    return read_records(path)


@contextmanager
def atomic_output(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """A file that appears at ``path`` only if the block completes."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        handle = tmp.open(mode)
    except OSError as error:
        raise InputError(f"cannot write: {error.strerror}", where=str(path)) from None
    try:
        with handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_parquet(path: Path, rows: Iterable[Decision], *, explain: bool) -> int:
    """Decisions to Parquet with the typed schema of ``columnar.decision_schema`` (full precision)."""
    import pyarrow.parquet as pq

    from tiergate.columnar import decision_schema, rows_to_table

    count = 0
    with atomic_output(path) as handle, pq.ParquetWriter(handle, decision_schema(explain), **PARQUET_OPTIONS) as writer:
        chunk: list[Decision] = []
        for decision in rows:
            chunk.append(decision)
            count += 1
            if len(chunk) >= BATCH_ROWS:
                writer.write_table(rows_to_table(chunk, explain))
                chunk.clear()
        if chunk:
            writer.write_table(rows_to_table(chunk, explain))
    return count


def decide_parquet_columnar(
    path: Path,
    out: Path,
    book: Any,
    *,
    regime: str | None,
    as_of: dt.date | None,
    today: dt.date,
    progress: Callable[[int], None] | None = None,
    slice_rows: int = 1_000_000,
    workers: int | None = None,
) -> int:
    """Decide a flat Parquet file column-wise (see ``tiergate.columnar``) and write Parquet decisions."""
    import pyarrow.parquet as pq

    from tiergate.columnar import decide_table, decision_schema

    done = 0
    first = True
    with atomic_output(out) as handle, pq.ParquetWriter(handle, decision_schema(False), **PARQUET_OPTIONS) as writer:
        for batch in _parquet_tables(path, slice_rows):
            offset = done

            def fallback(indices: list[int], batch: Any = batch, offset: int = offset) -> list[Decision]:
                rows = batch.take(indices).to_pylist()
                records = [
                    Record(flat_to_transaction(row, f"{path}: row {offset + i + 1}"), f"{path}: row {offset + i + 1}")
                    for i, row in zip(indices, rows, strict=True)
                ]
                return list(decide_stream(records, book, regime=regime, as_of=as_of, today=today, explain=False))

            writer.write_table(
                decide_table(
                    batch,
                    book,
                    regime=regime,
                    as_of=as_of,
                    today=today,
                    row_fallback=fallback,
                    workers=workers if workers is not None else 1,
                )
            )
            done += batch.num_rows
            first = False
            if progress is not None:
                progress(done)
        if first:
            writer.write_table(decision_schema(False).empty_table())
    return done


def _parquet_tables(path: Path, slice_rows: int) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except FileNotFoundError:
        raise InputError("no such file", where=str(path)) from None
    except Exception as error:
        raise InputError(f"not a readable Parquet file: {error}", where=str(path)) from None
    _check_columns(source.schema_arrow.names, path)
    pending: list[Any] = []
    rows = done = 0
    batches = source.iter_batches(batch_size=min(slice_rows, 262_144))
    while True:
        try:
            batch = next(batches, None)
        except (OSError, pa.ArrowException) as error:
            raise InputError(f"damaged Parquet data: {error}", where=f"{path}: after row {done}") from None
        if batch is None:
            break
        pending.append(batch)
        rows += batch.num_rows
        done += batch.num_rows
        if rows >= slice_rows:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def decide_stream(
    records: Iterable[Record],
    book: Any,
    *,
    regime: str | None,
    as_of: dt.date | None,
    today: dt.date,
    balances: Mapping[str, float] | None = None,
    explain: bool = True,
    denials: Sequence[Any] = (),
    listings_of: Callable[[Record], Sequence[Any]] | None = None,
) -> Iterator[Decision]:
    """Parse and decide each record, yielding decisions in input order (``explain=False``: no explanation).

    Every law the transaction engages answers (``tiergate.alliance.determine_all``); ``denials`` are the
    denial notices held, ``listings_of(record)`` the allied-list entries screening found for its consignee.
    The first bad record raises its error (naming file and line or row); nothing after it is decided.
    """
    from dataclasses import replace

    from tiergate.alliance import determine_all
    from tiergate.errors import TiergateError
    from tiergate.interchange import parse_transaction

    catalogue = book.catalogue
    selections: dict[tuple[str | None, dt.date], tuple[Any, str]] = {}
    for record in records:
        txn = parse_transaction(record.data, catalogue, where=record.where, default_date=as_of or today)
        if as_of is not None and txn.date != as_of:
            txn = replace(txn, date=as_of)
        key = (regime or txn.regime, txn.date)
        chosen = selections.get(key)
        try:
            if chosen is None:
                ruleset, selection = book.select(*key)
                chosen = selections[key] = (ruleset, selection.describe())
            decision = determine_all(
                txn,
                book,
                chosen[0],
                balances=balances,
                selection=chosen[1],
                explain=explain,
                listings=listings_of(record) if listings_of is not None else (),
                denials=denials,
            )
        except TiergateError as error:
            if error.where is None:
                error = type(error)(error.message, where=record.where, hint=error.hint)
            raise error from None
        yield decision


def count_rows(path: Path) -> int | None:
    """Rows in a Parquet file (from its footer), for a progress bar; None for other formats."""
    if _kind(path) != "parquet":
        return None
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:
        return None
