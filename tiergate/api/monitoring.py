"""The server's monitoring data: the usage records and customers it scans (``tiergate.monitor.run_scan``, as
``tiergate monitor scan``), by default a sample generated with the planted cases (``tiergate monitor generate``,
seed 0) on first use, and scans of uploaded files. Scans of the server's data are kept until the files change."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tiergate.api.errors import ApiError
from tiergate.api.limits import check_budget
from tiergate.api.settings import Settings
from tiergate.batch import InputTooLarge, check_footprint
from tiergate.errors import TiergateError

if TYPE_CHECKING:
    import datetime as dt

    from tiergate.monitor.model import ScanResult
    from tiergate.rules import Rulebook

log = logging.getLogger("tiergate.api")
UPLOAD_SUFFIXES = (".csv", ".parquet", ".pq")
PROBLEMS_SHOWN = 100
"""Bad input rows listed in an answer (all are counted in ``problem_counts``)."""


class MonitorData:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._sample: Path | None = None
        self._scans: dict[tuple[Any, ...], ScanResult] = {}

    def close(self) -> None:
        if self._sample is not None:
            shutil.rmtree(self._sample, ignore_errors=True)
            self._sample = None

    def files(self) -> tuple[Path, Path, str]:
        """(usage, customers, what they are): the configured files, else the generated sample."""
        s = self.settings
        if s.monitor_usage is not None and s.monitor_customers is not None:
            return s.monitor_usage, s.monitor_customers, "configured"
        with self._lock:
            if self._sample is None:
                from tiergate.monitor.generate import generate

                folder = Path(tempfile.mkdtemp(prefix="tiergate-monitor-sample-"))
                generate(folder, s.monitor_sample_records, seed=0, planted=True)
                self._sample = folder
            return self._sample / "usage.parquet", self._sample / "customers.parquet", "sample"

    def scan(self, book: Rulebook, regime: str | None, as_of: dt.datetime | None) -> tuple[ScanResult, str]:
        """A scan of the server's data (kept while the files are unchanged)."""
        usage, customers, source = self.files()
        stamp = tuple((p.stat().st_mtime_ns, p.stat().st_size) if p.is_file() else None for p in (usage, customers))
        key = (str(usage), str(customers), stamp, regime, as_of, id(book))
        with self._lock:
            found = self._scans.get(key)
        if found is not None:
            return found, source
        result = self._run(book, usage, customers, regime, as_of)
        with self._lock:
            if len(self._scans) > 32:
                self._scans.clear()
            self._scans[key] = result
        return result, source

    def scan_upload(
        self,
        book: Rulebook,
        usage: tuple[str, bytes],
        customers: tuple[str, bytes],
        regime: str | None,
        as_of: dt.datetime | None,
        with_owners: bool = False,
    ) -> dict[str, Any]:
        """The answer for uploaded usage records and customers (files named as uploaded in every message); with
        ``owners`` and ``owner_days`` (the report's aggregates, for the dashboard) when ``with_owners``."""
        with tempfile.TemporaryDirectory(prefix="tiergate-monitor-upload-") as folder:
            paths = []
            for field, (name, content) in (("usage", usage), ("customers", customers)):
                suffix = Path(name).suffix.lower()
                if suffix not in UPLOAD_SUFFIXES:
                    raise ApiError(
                        415, f"{name[:100]!r}: upload a .csv or .parquet file", where=f"body.{field}", hint=field
                    )
                path = Path(folder) / f"{field}{suffix}"
                path.write_bytes(content)
                try:  # before the engine decodes a value: a few kB of Parquet can hold millions of rows
                    check_footprint(path, self.settings.upload_limits())
                except TiergateError as error:
                    raise ApiError(
                        413 if isinstance(error, InputTooLarge) else 422,
                        f"{_named(error.where, folder, usage[0], customers[0])}: {error.message}",
                        where=f"body.{field}",
                        hint=error.hint,
                    ) from None
                paths.append(path)
            try:
                result = self._run(book, paths[0], paths[1], regime, as_of)
            except TiergateError as error:
                place = _named(error.where, folder, usage[0], customers[0])
                field = "customers" if error.where and f"{folder}/customers" in error.where else "usage"
                message = _named(error.message, folder, usage[0], customers[0]) or "bad input"
                raise ApiError(
                    422,
                    f"{place}: {message}" if place else message,
                    where=f"body.{field}" if error.where and folder in error.where else "body",
                    hint=error.hint,
                ) from None
            answer = scan_to_dict(result, "upload")
            if with_owners:
                answer["owners"] = result.owners
                answer["owner_days"] = result.owner_days
            return dict(orjson.loads(_named(orjson.dumps(answer).decode(), folder, usage[0], customers[0]) or "{}"))

    def _run(
        self, book: Rulebook, usage: Path, customers: Path, regime: str | None, as_of: dt.datetime | None
    ) -> ScanResult:
        from tiergate.monitor.scan import run_scan

        with self._scan_lock:  # one scan at a time: each one uses the machine's cores
            check_budget()  # the client may have left, or the budget passed, while the scan waited its turn
            try:
                return run_scan(usage, customers, regime=regime, as_of=as_of, book=book, with_report_data=True)
            except TiergateError:
                raise
            except Exception:  # a file the engine could not read at all (e.g. random bytes named .parquet)
                incident = uuid.uuid4().hex[:12]
                log.exception("monitoring scan failed %s on %s, %s", incident, usage, customers)
                raise ApiError(
                    422,
                    f"the files could not be read as usage records and customers (incident {incident})",
                    where="body",
                    hint="usage records and customers: .parquet or .csv files with their columns "
                    "(docs/http-api.md, monitoring)",
                ) from None


def _named(text: str | None, folder: str, usage: str, customers: str) -> str | None:
    """``text`` with the temporary files' paths replaced by the uploads' names (made plain: letters, digits,
    ``._- ``), so that it is safe inside JSON and tells the user which file is meant."""
    if text is None:
        return None
    for field, name in (("usage", usage), ("customers", customers)):
        plain = re.sub(r"[^\w.\- ]", "_", Path(name).name)[:200] or field
        for suffix in UPLOAD_SUFFIXES:
            text = text.replace(f"{folder}/{field}{suffix}", plain)
    return text.replace(folder, "upload")


def scan_to_dict(result: ScanResult, source: str) -> dict[str, Any]:
    """A scan for clients: the alerts exactly as ``tiergate monitor scan --format json`` prints them, with what
    was scanned and the bad input (counted; the first rows listed)."""
    return {
        "source": source,
        "as_of": result.as_of.isoformat(),
        "regime": result.regime,
        "engine": result.engine,
        "records": result.records,
        "records_used": result.records_used,
        "problem_counts": result.problem_counts,
        "problems": [p.to_dict() for p in result.problems[:PROBLEMS_SHOWN]],
        "thresholds": result.thresholds,
        "alerts": [a.to_dict() for a in result.alerts],
    }
