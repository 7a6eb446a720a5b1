"""Opening usage records on an engine: Parquet read by the engine itself (with row numbers), CSV
parsed here line by line (values that do not parse are problems naming line and column).

Every engine gets the same table: the issue's columns with their types, plus ``row`` (the 1-based
Parquet row, or the CSV line) and ``file``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tiergate.errors import InputError
from tiergate.monitor.model import USAGE_OPTIONAL, USAGE_REQUIRED, Problem

_INTEGER_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
_FLOAT_TYPES = ("float", "double", "float32", "float64", "halffloat", *_INTEGER_TYPES)


def _parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise InputError("folder holds no .parquet file", where=str(path))
        return files
    return [path]


def check_parquet(path: Path) -> list[str]:
    """The columns of a usage Parquet file (or folder of files), checked; the optional ones present."""
    import pyarrow.parquet as pq

    optional: list[str] = []
    for file in _parquet_files(path):
        try:
            schema = pq.read_schema(file)
        except Exception as error:
            raise InputError(f"not a readable Parquet file: {error}", where=str(file)) from None
        names = schema.names
        missing = [c for c in USAGE_REQUIRED if c not in names]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}",
                where=str(file),
                hint=f"usage records need {', '.join(USAGE_REQUIRED)}",
            )
        for column, kinds, what in (
            ("chip_count", _INTEGER_TYPES, "a whole number"),
            ("start", ("timestamp",), "a timestamp"),
            ("end", ("timestamp",), "a timestamp"),
            ("utilization", _FLOAT_TYPES, "a number"),
            ("declared_flop", _FLOAT_TYPES, "a number"),
        ):
            if column in names:
                kind = str(schema.field(column).type)
                if not any(kind.startswith(k) for k in kinds):
                    raise InputError(f"column {column}: type {kind}, expected {what}", where=str(file))
        optional = [c for c in USAGE_OPTIONAL if c in names]
    return optional


def parquet_latest(path: Path) -> tuple[bool, dt.datetime | None]:
    """The latest ``start`` or ``end`` of the usage records in a Parquet file (or folder), read from the
    files' column statistics, without a pass over the records: (True, the time), (True, None) when no row
    has either, or (False, None) when a row group has no statistics for them, or the records are CSV (the
    records must be read)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_file() and path.suffix.lower() != ".parquet":
        return False, None  # CSV: read by the engine
    latest: dt.datetime | None = None
    for file in _parquet_files(path):
        try:
            meta = pq.ParquetFile(file).metadata
        except Exception as error:
            raise InputError(f"not a readable Parquet file: {error}", where=str(file)) from None
        names = [meta.schema.column(i).path for i in range(meta.num_columns)]
        if "start" not in names or "end" not in names:
            return False, None
        for group in range(meta.num_row_groups):
            for index in (names.index("start"), names.index("end")):
                chunk = meta.row_group(group).column(index)
                stats = chunk.statistics
                if stats is not None and stats.null_count is not None and stats.null_count == chunk.num_values:
                    continue  # every value null
                if stats is None or not stats.has_min_max or type(stats.max) is not dt.datetime:
                    return False, None  # no statistics, or a unit Python's datetime does not hold (ns): read
                value = stats.max if stats.max.tzinfo else stats.max.replace(tzinfo=dt.UTC)
                latest = value if latest is None or value > latest else latest
    return True, latest


def _timestamp(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str | None] | tuple[int, int]]]:
    """The rows of a CSV file with a header naming the ``required`` columns (a byte-order mark allowed), as
    (line, values by column, blanks as None), or (line, (fields found, fields expected)) for a row of the
    wrong length. A file that is not CSV, has no header or lacks a column stops with the file and line."""
    from tiergate.batch import not_utf8, open_text

    file = str(path)
    with open_text(path) as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError("empty file (expected a header line)", where=f"{file}:1") from None
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        except csv.Error as error:
            raise InputError(f"not valid CSV: {error}", where=f"{file}:1") from None
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", where=f"{file}:1")
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise not_utf8(path) from None
            except csv.Error as error:
                raise InputError(f"not valid CSV: {error}", where=f"{file}:{reader.line_num}") from None
            if not values:
                continue
            if len(values) != len(header):
                yield reader.line_num, (len(values), len(header))
                continue
            yield reader.line_num, {h: (v.strip() or None) for h, v in zip(header, values, strict=True)}


def read_csv(path: Path) -> tuple[Any, list[Problem]]:
    """A usage CSV as an Arrow table of the canonical columns; unparseable values are problems."""
    import pyarrow as pa

    file = str(path)
    problems: list[Problem] = []
    columns: dict[str, list[Any]] = {c: [] for c in (*USAGE_REQUIRED, *USAGE_OPTIONAL, "row")}
    for line, raw in csv_rows(path, USAGE_REQUIRED):
        if isinstance(raw, tuple):
            problems.append(Problem(file, line, "(line)", f"{raw[0]} fields, expected {raw[1]}", "excluded"))
            continue
        parsed: dict[str, Any] = {}
        bad = False
        for column in (*USAGE_REQUIRED, *USAGE_OPTIONAL):
            value = raw.get(column)
            try:
                if value is None:
                    parsed[column] = None
                elif column == "chip_count":
                    parsed[column] = int(value)
                elif column in ("start", "end"):
                    parsed[column] = _timestamp(value)
                elif column in ("utilization", "declared_flop"):
                    parsed[column] = float(value)
                else:
                    parsed[column] = value
            except ValueError:
                expected = {"chip_count": "a whole number", "start": "an ISO 8601 time", "end": "an ISO 8601 time"}
                problems.append(
                    Problem(
                        file,
                        line,
                        column,
                        f"{value!r} is not {expected.get(column, 'a number')}",
                        "excluded",
                        raw.get("record_id"),
                    )
                )
                bad = True
                break
        if bad:
            continue
        for column, value in parsed.items():
            columns[column].append(value)
        columns["row"].append(line)
    ts = pa.timestamp("us", tz="UTC")
    types = {
        "chip_count": pa.int64(),
        "start": ts,
        "end": ts,
        "utilization": pa.float64(),
        "declared_flop": pa.float64(),
        "row": pa.int64(),
    }
    table = pa.table({c: pa.array(v, type=types.get(c, pa.string())) for c, v in columns.items()})
    return table, problems


def open_usage(con: Any, engine: str, path: Path, spark: Any = None) -> tuple[Any, list[Problem]]:
    """The usage table on ``con`` with ``row`` and ``file``; the problems found while parsing (CSV)."""
    import ibis

    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", where=str(path))
    if path.is_file() and path.suffix.lower() in (".csv", ".txt"):
        table, problems = read_csv(path)
        t = ibis.memtable(table)
        return t.mutate(file=ibis.literal(str(path))), problems
    if path.is_file() and path.suffix.lower() != ".parquet":
        raise InputError(
            "usage records must be a .parquet or .csv file, or a folder of .parquet files", where=str(path)
        )
    optional = check_parquet(path)
    files = _parquet_files(path)
    if engine == "duckdb":
        # A view with times as plain UTC timestamps: made from the microsecond count, which costs nothing,
        # where casting TIMESTAMPTZ to TIMESTAMP goes through the time-zone library (slow).
        name = f"usage_{abs(hash(tuple(str(f) for f in files)))}"
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        times = 'make_timestamp(epoch_us("start")) AS "start", make_timestamp(epoch_us("end")) AS "end"'
        source = f"read_parquet([{listed}], file_row_number = true, filename = true)"
        query = f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number, filename) REPLACE ({times}), file_row_number + 1 AS row, filename AS file FROM {source}"  # noqa: E501, S608 - quoted file names only
        con.raw_sql(query)
        t = con.table(name)
    else:
        df = spark.read.parquet(*[str(f) for f in files]).select("*", "_metadata.row_index", "_metadata.file_path")
        name = f"usage_{abs(hash(tuple(str(f) for f in files)))}"
        df.createOrReplaceTempView(name)
        t = con.table(name)
        t = t.mutate(row=t.row_index + 1, file=t.file_path).drop("row_index", "file_path")
    for column in USAGE_OPTIONAL:
        if column not in optional:
            kind = "string" if column == "precision" else "float64"
            t = t.mutate(**{column: ibis.null(kind)})
    return t, []
