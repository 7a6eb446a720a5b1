"""Where a replay's history comes from (a file of transactions, or what was shipped through a ledger) and its
inputs beyond the packs (proposed listings). The I/O edge of the replay."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tiergate.batch import read_records
from tiergate.errors import InputError
from tiergate.interchange import validation_error
from tiergate.replay.engine import HistoryRow, Listing, ReplayResult, file_digest, replay_rows
from tiergate.rules.book import Rulebook

PARQUET = (".parquet", ".pq")


def replay_file(
    book: Rulebook,
    path: Path,
    *,
    regime_from: str,
    regime_to: str,
    effective_dates: bool = False,
    listings: Sequence[Listing] = (),
    today: dt.date,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay a history file: Parquet column-wise, any other format ``decide`` reads row by row."""
    from tiergate.replay.engine import check_regimes

    check_regimes(book, regime_from, regime_to)
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", where=str(path))
    digest = file_digest(path)
    if path.suffix.lower() in PARQUET:
        import pyarrow.parquet as pq

        from tiergate.batch import _check_columns
        from tiergate.replay.columns import replay_table

        try:
            source = pq.ParquetFile(path)
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise InputError(f"not a readable Parquet file: {error}", where=str(path)) from None
        _check_columns(source.schema_arrow.names, path)
        try:
            table = source.read()
        except Exception as error:
            raise InputError(f"damaged Parquet data: {error}", where=str(path)) from None
        return replay_table(
            book,
            table,
            regime_from=regime_from,
            regime_to=regime_to,
            effective_dates=effective_dates,
            listings=listings,
            today=today,
            source=str(path),
            history_digest=digest,
            progress=progress,
        )
    rows = (HistoryRow(r.data, r.where) for r in read_records(path))
    return replay_rows(
        book,
        rows,
        regime_from=regime_from,
        regime_to=regime_to,
        effective_dates=effective_dates,
        listings=listings,
        today=today,
        history_digest=digest,
        history_source=str(path),
        progress=progress,
    )


NO_FACTS = (
    "the ledger entry does not keep the transaction's facts (shipped before the ledger recorded them); "
    "not replayed rather than reconstructed"
)


def ledger_history(url: str) -> tuple[list[HistoryRow], str]:
    """The committed shipments of a ledger, in the order of its audit log, and the audit chain's head hash.
    A shipment whose entry does not keep the transaction is a row that cannot be replayed (its reason)."""
    from tiergate.ledger import open_ledger

    ledger = open_ledger(url)
    rows: list[HistoryRow] = []
    head = ""
    try:
        for entry in ledger.audit_entries():
            head = str(entry["hash"])
            if entry["action"] != "ship":
                continue
            where = f"ledger audit entry {entry['seq']}"
            try:
                payload = orjson.loads(entry["payload"])
            except orjson.JSONDecodeError:
                rows.append(HistoryRow({"id": entry["subject"]}, where, missing="the entry's payload is not JSON"))
                continue
            facts = payload.get("transaction") if isinstance(payload, dict) else None
            if not isinstance(facts, dict):
                rows.append(HistoryRow({"id": entry["subject"]}, where, missing=NO_FACTS))
                continue
            rows.append(HistoryRow(facts, where))
    finally:
        ledger.close()
    return rows, head


def replay_ledger(
    book: Rulebook,
    url: str,
    *,
    regime_from: str,
    regime_to: str,
    effective_dates: bool = False,
    listings: Sequence[Listing] = (),
    today: dt.date,
) -> ReplayResult:
    """Replay what was actually shipped through a ledger (``--from-ledger URL``)."""
    from tiergate.replay.engine import check_regimes

    check_regimes(book, regime_from, regime_to)
    rows, head = ledger_history(url)
    shown = url.split("@")[-1] if "@" in url else url  # never a password in a report
    return replay_rows(
        book,
        rows,
        regime_from=regime_from,
        regime_to=regime_to,
        effective_dates=effective_dates,
        listings=listings,
        today=today,
        history_digest=head,
        history_source=f"ledger {shown} (audit chain head)",
    )


class ListingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    list: Literal["EL", "SDN", "DPL"]
    effective: dt.date
    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    consignee_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    license_policy: Annotated[str, Field(max_length=500)] | None = None


def read_listings(path: Path) -> list[Listing]:
    """Proposed listings (``--listing FILE``): CSV, JSON, YAML or JSON lines with ``list`` (EL, SDN or DPL),
    ``effective`` (a date) and ``name`` (with an optional ``country``) or ``consignee_id``."""
    path = Path(path)
    records: list[tuple[Any, str]]
    if path.suffix.lower() == ".csv":
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as error:
            raise InputError(f"cannot read: {error.strerror}", where=str(path)) from None
        with handle:
            reader = csv.DictReader(handle)
            records = [
                ({k: v for k, v in row.items() if v not in ("", None)}, f"{path}:{reader.line_num}") for row in reader
            ]
    else:
        records = [(r.data, r.where) for r in read_records(path)]
    out = []
    for data, where in records:
        if not isinstance(data, dict):
            raise InputError(f"expected a listing object, got {type(data).__name__}", where=where)
        try:
            item = ListingIn.model_validate(data)
        except ValidationError as error:
            raise validation_error(error, where) from None
        if item.name is None and item.consignee_id is None:
            raise InputError("a listing names the consignee: give name (and country) or consignee_id", where=where)
        out.append(
            Listing(item.list, item.effective, item.name, item.country, item.consignee_id, item.license_policy, where)
        )
    if not out:
        raise InputError("no listing in the file", where=str(path))
    return out
