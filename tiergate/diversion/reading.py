"""Reading shipments and parties: CSV, JSON lines or Parquet in the documented columns.

Empty values are unknown (a flag that needs them is not assessed; the case says "insufficient data"). A value
that does not parse (a quantity that is not a whole number, a date that is not ISO 8601) makes its row a problem
named by file, line and column, and the row is left out. A file that cannot be read at all, or lacks the ``id``
column, stops the scan with the file named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tiergate.diversion.generate import PARTY_COLUMNS, SHIPMENT_COLUMNS
from tiergate.diversion.model import Problem
from tiergate.errors import InputError

CHECKS = ("passed", "failed", "inconclusive", "none")
ADDRESS_TYPES = ("commercial", "residential", "virtual")
PAYMENT_TERMS = ("prepaid", "cash", "deposit", "letter_of_credit", "open_account", "other")
"""``payment_terms``: how the buyer pays. ``prepaid`` (in full before shipment) and ``cash`` are F19 oddities."""
SUPPORT = ("accepted", "declined", "not_offered")
"""``support``: whether the buyer took the installation, training or maintenance offered. ``declined`` is F19."""
BOOKING_CHANGES = ("none", "consignee", "end_user", "destination", "route", "other")
"""``booking_change``: what changed after the booking (``none``: nothing). Any change is an F15 signal."""
SITE_VISITS = ("installed", "boxed", "absent")
"""Parties' ``site_visit``: what the latest visit to the data-centre site found. ``boxed`` and ``absent`` are F10."""
_CHOICES = {
    "end_use_check": CHECKS,
    "payment_terms": PAYMENT_TERMS,
    "support": SUPPORT,
    "booking_change": BOOKING_CHANGES,
    "site_visit": SITE_VISITS,
}
_INT = ("quantity",)
_FLOAT = ("value_usd", "gross_kg")
_FLAT_FLOAT = _FLOAT


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".txt")):
        return "csv"
    raise InputError(
        "not a .csv, .jsonl or .parquet file", where=str(path), hint="shipments are CSV, JSON lines or Parquet"
    )


def _records(
    path: Path, columns: tuple[str, ...], required: tuple[str, ...] = ("id",)
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line, values by column) per row; (line, why) for a row that is not a record at all."""
    if not path.exists():
        raise InputError("no such file", where=str(path))
    if path.is_dir():
        raise InputError("a folder, not a file", where=str(path))
    kind = _suffix(path)
    if kind == "csv":
        from tiergate.monitor.usage import csv_rows

        for line, raw in csv_rows(path, required):
            if isinstance(raw, tuple):
                yield line, f"{raw[0]} fields, expected {raw[1]}"
            else:
                yield line, raw
    elif kind == "jsonl":
        from tiergate.batch import not_utf8

        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        for number, line_text in enumerate(text.splitlines(), start=1):
            if not line_text.strip():
                continue
            try:
                value = orjson.loads(line_text)
            except orjson.JSONDecodeError as error:
                yield number, f"not valid JSON: {error.msg}"
                continue
            if not isinstance(value, dict):
                yield number, "a line must hold one JSON object"
                continue
            yield number, value
    else:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as error:
            raise InputError(f"not a readable Parquet file: {error}", where=str(path)) from None
        absent = [c for c in required if c not in table.column_names]
        if absent:
            raise InputError(f"missing column(s) {', '.join(absent)}", where=str(path))
        names = [c for c in columns if c in table.column_names]
        for number, row in enumerate(table.select(names).to_pylist(), start=1):
            yield number, row


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value).strip()
    return text or None


def _parse(column: str, value: Any) -> Any:
    """The typed value, or raises ValueError with what was expected."""
    text = _text(value)
    if text is None:
        return None
    if column in _INT:
        if isinstance(value, bool):
            raise ValueError("a whole number")
        try:
            number = float(text) if not text.lstrip("-").isdigit() else int(text)
        except ValueError:
            raise ValueError("a whole number") from None
        if isinstance(number, float) and (not number.is_integer()):
            raise ValueError("a whole number")
        if int(number) < 0:
            raise ValueError("a whole number, not negative")
        return int(number)
    if column in _FLOAT:
        try:
            number = float(text.replace(",", "")) if not isinstance(value, (int, float)) else float(value)
        except ValueError:
            raise ValueError("a number") from None
        if number != number or number in (float("inf"), float("-inf")) or number < 0:
            raise ValueError("a finite number, not negative")
        return number
    if column == "date" or column == "incorporated":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            raise ValueError("an ISO 8601 date (YYYY-MM-DD)") from None
    if column in _CHOICES:
        low = text.lower()
        if low not in _CHOICES[column]:
            raise ValueError(f"one of {', '.join(_CHOICES[column])}")
        return low
    if column in ("exporter_country", "payer_country", "country", "parent_country"):
        code = text.upper()
        if len(code) != 2 or not code.isalpha():
            raise ValueError("an ISO 3166-1 alpha-2 country code")
        return code
    if column == "route":
        legs = [leg.strip().upper() for leg in text.split(">")]
        if any(len(leg) != 2 or not leg.isalpha() for leg in legs):
            raise ValueError("ISO country codes joined by '>' (e.g. US>SG>HK)")
        return ">".join(legs)
    if column == "hs_code":
        digits = text.replace(".", "").replace(" ", "")
        if not digits.isdigit() or len(digits) < 4:
            raise ValueError("an HS code of digits (6 or more)")
        return digits
    if column == "site_mw":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("a number of megawatts") from None
        if number != number or number < 0 or number == float("inf"):
            raise ValueError("a finite number of megawatts, not negative")
        return number
    if column == "is_forwarder":
        low = text.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError("true or false")
    if column == "address_type":
        low = text.lower()
        if low not in ADDRESS_TYPES:
            raise ValueError(f"one of {', '.join(ADDRESS_TYPES)}")
        return low
    return text


def _fast(path: Path) -> Any:
    """The shipments read and checked column by column (Arrow), or None when any value does not pass (then the
    rows are read one by one, to name each bad one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = _suffix(path)
    if kind == "jsonl" or not path.is_file():
        return None
    try:
        if kind == "csv":
            import csv

            import pyarrow.csv as pcsv

            with path.open(encoding="utf-8-sig", newline="") as handle:
                names = [h.strip() for h in next(csv.reader(handle), [])]
            table = pcsv.read_csv(
                path,
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in names}, strings_can_be_null=False
                ),
            )
            first_line = 2
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            first_line = 1
    except Exception:
        return None
    if "id" not in table.column_names:
        return None
    n = table.num_rows
    columns: dict[str, Any] = {}
    for name in SHIPMENT_COLUMNS:
        if name not in table.column_names:
            columns[name] = pa.nulls(
                n,
                pa.int64()
                if name == "quantity"
                else pa.float64()
                if name in _FLOAT
                else pa.date32()
                if name == "date"
                else pa.string(),
            )
            continue
        col = table.column(name).combine_chunks()
        try:
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                col = pc.utf8_trim_whitespace(col.cast(pa.string()))
                col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
            if name == "quantity":
                col = col.cast(pa.int64())
                if pc.any(pc.less(col, 0)).as_py():
                    return None
            elif name in _FLAT_FLOAT:
                col = col.cast(pa.float64())
                if pc.any(pc.or_(pc.less(col, 0), pc.invert(pc.is_finite(col)))).as_py():
                    return None
            elif name == "date":
                col = col.cast(pa.date32())
            else:
                col = col.cast(pa.string())
                if name in ("exporter_country", "payer_country"):
                    col = pc.utf8_upper(col)
                    if pc.any(pc.invert(pc.match_substring_regex(col, "^[A-Z]{2}$"))).as_py():
                        return None
                elif name == "route":
                    col = pc.utf8_upper(pc.replace_substring(col, " ", ""))
                    if pc.any(pc.invert(pc.match_substring_regex(col, "^[A-Z]{2}(>[A-Z]{2})*$"))).as_py():
                        return None
                elif name == "hs_code":
                    col = pc.replace_substring_regex(col, "[. ]", "")
                    if pc.any(pc.invert(pc.match_substring_regex(col, "^[0-9]{4,}$"))).as_py():
                        return None
                elif name in _CHOICES:
                    col = pc.utf8_lower(col)
                    outside = pc.invert(pc.is_in(col, pa.array(_CHOICES[name])))
                    if pc.any(pc.and_(pc.is_valid(col), outside)).as_py():  # empty is unknown, not bad
                        return None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None
        columns[name] = col
    ids = columns["id"]
    if ids.null_count or len(pc.unique(ids)) != n:
        return None
    columns["line"] = pa.array(range(first_line, first_line + n), pa.int64())
    return pa.table(columns)


def read_shipments(path: Path) -> tuple[Any, list[Problem]]:
    """The shipments as an Arrow table of the documented columns (typed) plus ``file`` and ``line``; the rows
    that did not parse as problems."""
    import pyarrow as pa

    path = Path(path)
    fast = _fast(path)
    if fast is not None:
        return fast, []
    file = str(path)
    problems: list[Problem] = []
    columns: dict[str, list[Any]] = {c: [] for c in (*SHIPMENT_COLUMNS, "line")}
    seen: set[str] = set()
    for line, raw in _records(path, SHIPMENT_COLUMNS):
        if isinstance(raw, str):
            problems.append(Problem(file, line, "(line)", raw))
            continue
        ident = _text(raw.get("id"))
        parsed: dict[str, Any] = {}
        bad = False
        for column in SHIPMENT_COLUMNS:
            try:
                parsed[column] = _parse(column, raw.get(column))
            except ValueError as error:
                problems.append(Problem(file, line, column, f"{_text(raw.get(column))!r} is not {error}", ident))
                bad = True
                break
        if bad:
            continue
        if ident is None:
            parsed["id"] = f"{path.name}:{line}"
        if parsed["id"] in seen:
            problems.append(
                Problem(file, line, "id", f"{parsed['id']!r} appears twice; the later row is left out", ident)
            )
            continue
        seen.add(parsed["id"])
        for column, value in parsed.items():
            columns[column].append(value)
        columns["line"].append(line)
    types = {"quantity": pa.int64(), "value_usd": pa.float64(), "gross_kg": pa.float64(), "date": pa.date32()}
    table = pa.table(
        {
            **{c: pa.array(columns[c], type=types.get(c, pa.string())) for c in SHIPMENT_COLUMNS},
            "line": pa.array(columns["line"], pa.int64()),
        }
    )
    return table, problems


def read_parties(path: Path) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """Parties by id (typed values; empty = unknown); rows that did not parse as problems."""
    path = Path(path)
    file = str(path)
    problems: list[Problem] = []
    out: dict[str, dict[str, Any]] = {}
    for line, raw in _records(path, PARTY_COLUMNS):
        if isinstance(raw, str):
            problems.append(Problem(file, line, "(line)", raw))
            continue
        ident = _text(raw.get("id"))
        if ident is None:
            problems.append(Problem(file, line, "id", "missing: a party needs an id"))
            continue
        parsed: dict[str, Any] = {}
        bad = False
        for column in PARTY_COLUMNS:
            try:
                parsed[column] = _parse(column, raw.get(column))
            except ValueError as error:
                problems.append(Problem(file, line, column, f"{_text(raw.get(column))!r} is not {error}", ident))
                bad = True
                break
        if not bad:
            out[ident] = parsed
    return out, problems


_WHITESPACE = " \t\n\r\x0b\x0c"
_DUCK_INT = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT")
_DUCK_FLOAT = ("DOUBLE", "FLOAT")
_OPTIONAL = ("payment_terms", "support", "notify_party", "invoice_party", "booking_change")


@dataclass(frozen=True, slots=True)
class EngineShipments:
    """Shipments a DuckDB engine reads straight from a Parquet file (never held in Python), and the few facts the
    scan needs before the analytics run."""

    sql: str
    """A SELECT of the documented columns, cleaned as :func:`read_shipments` cleans them."""
    rows: int
    last_date: dt.date | None
    products: list[str]
    parties: set[str]
    """Every consignee and end user named."""
    present: frozenset[str]
    """The optional columns (``payment_terms``, ``support``) with a value in some row."""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_shipments(con: Any, path: Path) -> EngineShipments | None:
    """A Parquet file of the documented column types, checked and cleaned by DuckDB column by column (``con``, a
    DuckDB connection) in one pass; None for any other file, or when a value does not pass: then
    :func:`read_shipments` reads it (and names each bad row)."""
    path = Path(path)
    if not path.is_file() or _suffix(path) != "parquet":
        return None
    source = f"read_parquet({_quote(str(path))})"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()  # noqa: S608 - a quoted path
    except Exception:
        return None
    types = {str(name): str(kind).upper() for name, kind, *_ in described}
    if "id" not in types:
        return None
    ws = _quote(_WHITESPACE)
    values: dict[str, str] = {}
    bad: list[str] = []
    cleaned: list[str] = []
    """The string columns whose values cleaning would change (trimmed, emptied, upper- or lower-cased)."""
    for name in SHIPMENT_COLUMNS:
        kind = types.get(name)
        column = '"' + name + '"'
        if kind is None:
            null_type = (
                "BIGINT" if name in _INT else "DOUBLE" if name in _FLOAT else "DATE" if name == "date" else "VARCHAR"
            )
            values[name] = f"CAST(NULL AS {null_type})"
            continue
        if name in _INT:
            if kind not in _DUCK_INT:
                return None
            values[name] = f"CAST({column} AS BIGINT)"
            bad.append(f"{column} < 0")
        elif name in _FLOAT:
            if kind not in _DUCK_FLOAT:
                return None
            values[name] = f"CAST({column} AS DOUBLE)"
            bad.append(f"({column} < 0 OR NOT isfinite({column}))")
        elif name == "date":
            if kind != "DATE":
                return None
            values[name] = column
        else:
            if kind != "VARCHAR":
                return None
            clean = f"NULLIF(TRIM({column}, {ws}), '')"
            if name in ("exporter_country", "payer_country"):
                value = f"UPPER({clean})"
                bad.append(f"NOT regexp_full_match({value}, '[A-Z]{{2}}')")
            elif name == "route":
                value = f"UPPER(REPLACE({clean}, ' ', ''))"
                bad.append(f"NOT regexp_full_match({value}, '[A-Z]{{2}}(>[A-Z]{{2}})*')")
            elif name == "hs_code":
                value = f"regexp_replace({clean}, '[. ]', '', 'g')"
                bad.append(f"NOT regexp_full_match({value}, '[0-9]{{4,}}')")
            elif name in _CHOICES:
                value = f"LOWER({clean})"
                bad.append(f"{value} NOT IN ({', '.join(_quote(c) for c in _CHOICES[name])})")
            else:
                value = clean
            values[name] = value
            cleaned.append(name)
    # each value is cleaned once, in a projection of its own, and the checks read the cleaned columns (DuckDB
    # would otherwise clean a value again for each test that uses it inside OR and COALESCE)
    v = {name: f'"v_{name}"' for name in SHIPMENT_COLUMNS}
    for name in SHIPMENT_COLUMNS:
        bad = [b.replace(values[name], v[name]) if values[name] != f'"{name}"' else b for b in bad]
    inner = ", ".join(f"{values[n]} AS {v[n]}" for n in SHIPMENT_COLUMNS)
    any_bad = " OR ".join(f"coalesce({b}, false)" for b in bad) or "false"
    changes = [f'coalesce(bool_or("{n}" IS DISTINCT FROM {v[n]}), false)' for n in cleaned]
    check = (
        f"SELECT count(*), count(DISTINCT {v['id']}), count({v['id']}), "  # noqa: S608 - column names
        f"coalesce(bool_or({any_bad}), false), max({v['date']}), "
        f"list(DISTINCT {v['product']}) FILTER (WHERE {v['product']} IS NOT NULL), "
        f"list(DISTINCT {v['consignee_id']}) FILTER (WHERE {v['consignee_id']} IS NOT NULL), "
        f"list(DISTINCT {v['end_user_id']}) FILTER (WHERE {v['end_user_id']} IS NOT NULL), "
        f"[{', '.join(changes)}]::BOOLEAN[], "
        f"[{', '.join(f'count({v[n]})' for n in _OPTIONAL)}]::BIGINT[] "
        f"FROM (SELECT *, {inner} FROM {source})"
    )
    try:
        found = con.execute(check).fetchone()
    except Exception:
        return None
    if found is None:
        return None
    rows, distinct_ids, ids, any_bad_value, last_date, products, consignees, users, changed, known = found
    if any_bad_value or ids != rows or distinct_ids != rows:
        return None
    # a column already clean is read as it is (cleaning every value of every column is most of a scan's reading)
    keep = {name for name, change in zip(cleaned, changed or [], strict=True) if not change}
    select = ", ".join(
        f'"{name}"' if name in keep or values[name] == f'"{name}"' else f'{values[name]} AS "{name}"'
        for name in SHIPMENT_COLUMNS
    )
    sql = f"SELECT {select} FROM {source}"  # noqa: S608 - fixed column names, a quoted path
    present = frozenset(n for n, count in zip(_OPTIONAL, known or [], strict=True) if count)
    return EngineShipments(
        sql, int(rows), last_date, list(products or []), {*(consignees or []), *(users or [])}, present
    )
