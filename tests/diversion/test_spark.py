"""The same Ibis analytics on PySpark give the same cases as on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiergate.diversion import generate, run_scan


def test_spark_and_duckdb_give_identical_cases(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    made = generate(tmp_path, 150, seed=5, instances=1, decoys=1)
    duck = run_scan(made.shipments, made.parties, engine="duckdb")
    spark = run_scan(made.shipments, made.parties, engine="spark")
    assert [c.to_dict() for c in duck.cases] == [c.to_dict() for c in spark.cases]
    assert duck.notes == spark.notes
    assert any(c.level == "high" for c in duck.cases)
