"""The Spark engine runs the same Ibis code and must give identical alerts and bad-input reports.

Spark starts once per session (the ``spark`` fixture); the test is skipped only when Java is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiergate.monitor import ScanResult, run_scan
from tiergate.monitor.generate import Generated

from .test_bad_input import AS_OF, BAD_PARQUET_ROWS, HEADER, USAGE_LINES, _parquet, _write
from .test_scan import PLANTED_ALERTS


def _same(a: ScanResult, b: ScanResult) -> None:
    assert [x.to_dict() for x in a.alerts] == [x.to_dict() for x in b.alerts]
    assert [p.to_dict() for p in a.problems] == [p.to_dict() for p in b.problems]
    assert a.problem_counts == b.problem_counts
    assert (a.records, a.records_used, a.as_of, a.regime) == (b.records, b.records_used, b.as_of, b.regime)


def test_spark_gives_identical_alerts(spark: Any, dataset: Generated, scan: ScanResult, book: Any) -> None:
    on_spark = run_scan(dataset.usage, dataset.customers, engine="spark", spark=spark, book=book)
    assert on_spark.engine == "spark"
    assert {(a.kind, a.subject_type, a.subject_id) for a in on_spark.alerts} == PLANTED_ALERTS
    _same(scan, on_spark)


def test_spark_reports_bad_rows_identically(spark: Any, tmp_path: Path, book: Any) -> None:
    usage_csv, customers = _write(tmp_path, USAGE_LINES)
    _same(
        run_scan(usage_csv, customers, book=book, as_of=AS_OF),
        run_scan(usage_csv, customers, engine="spark", spark=spark, book=book, as_of=AS_OF),
    )
    usage_parquet = _parquet(tmp_path / "usage.parquet", BAD_PARQUET_ROWS)
    _, customers = _write(tmp_path / ".", [HEADER])
    _same(
        run_scan(usage_parquet, customers, book=book, as_of=AS_OF, regime="us-diffusion-2025"),
        run_scan(
            usage_parquet, customers, engine="spark", spark=spark, book=book, as_of=AS_OF, regime="us-diffusion-2025"
        ),
    )
