"""Declared FLOP must be a finite number (issue 21, item 9): NaN, inf or a figure that overflows is a problem
naming the file, row and column, and never a job's FLOP (before, an infinite declared figure was taken as the
job's compute)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tiergate.monitor import run_scan

from .test_bad_input import AS_OF, HEADER, _parquet, _row, _write

BIG = "r1,aws,acct-a,job-big,aws-US-1,US,nvidia-h100-sxm,10000,2026-01-01T00:00:00Z,2026-01-31T00:00:00Z,bf16,0.5,"


@pytest.mark.parametrize("written", ["nan", "NaN", "inf", "Infinity", "1e999", "-inf"])
def test_a_csv_declared_flop_that_is_not_finite_names_the_line(tmp_path: Path, book: Any, written: str) -> None:
    usage, customers = _write(tmp_path, [HEADER, BIG, BIG.replace("r1", "r2").replace("job-big", "job-x") + written])
    result = run_scan(usage, customers, book=book, as_of=AS_OF)
    usage_problems = [p for p in result.problems if p.file.endswith("usage.csv")]
    found = [(p.row, p.column, p.record_id) for p in usage_problems]
    assert found == [(3, "declared_flop", "r2")], found
    problem = usage_problems[0]
    assert problem.action == "excluded"
    expected = "negative" if written.startswith("-") else "not a finite number"
    assert expected in problem.problem
    assert all(a.flop is None or math.isfinite(a.flop) for a in result.alerts)
    assert "job-x" not in {a.subject_id for a in result.alerts}


def test_a_parquet_declared_flop_that_is_not_finite_names_the_row(tmp_path: Path, book: Any) -> None:
    rows = [
        _row("p1", "job-1", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", declared_flop=1e20),
        _row("p2", "job-2", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", declared_flop=math.inf),
        _row("p3", "job-3", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", declared_flop=math.nan),
    ]
    usage = _parquet(tmp_path / "usage.parquet", rows)
    _, customers = _write(tmp_path, [HEADER])
    result = run_scan(usage, customers, book=book, as_of=AS_OF)
    assert {(p.row, p.column, p.record_id) for p in result.problems if p.file.endswith("usage.parquet")} == {
        (2, "declared_flop", "p2"),
        (3, "declared_flop", "p3"),
    }
    assert result.problem_counts.get("declared_flop:not_finite") == 2
    assert result.records_used == 1


def test_spark_finds_the_same_not_finite_rows(spark: Any, tmp_path: Path, book: Any) -> None:
    rows = [
        _row("p1", "job-1", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", declared_flop=1e20),
        _row("p2", "job-2", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", declared_flop=math.inf),
        _row("p3", "job-3", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", declared_flop=math.nan),
        _row("p4", "job-4", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", utilization=math.nan),
    ]
    usage = _parquet(tmp_path / "usage.parquet", rows)
    _, customers = _write(tmp_path, [HEADER])
    on_duckdb = run_scan(usage, customers, book=book, as_of=AS_OF)
    on_spark = run_scan(usage, customers, engine="spark", spark=spark, book=book, as_of=AS_OF)
    assert [p.to_dict() for p in on_spark.problems] == [p.to_dict() for p in on_duckdb.problems]
    assert on_spark.problem_counts == on_duckdb.problem_counts
    assert on_duckdb.problem_counts["utilization:out_of_range"] == 1
    assert on_duckdb.problem_counts["declared_flop:not_finite"] == 2
