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


def test_spark_runs_the_new_flags_as_duckdb_does(tmp_path: Path) -> None:
    """F9's third-party payer, F19's oddities and F11's prior (from an imports file) on both engines; and the
    Spark scan runs its queries on Spark (an expression of in-memory tables alone would run on DuckDB)."""
    pytest.importorskip("pyspark")
    from tiergate.diversion.generate import PARTY_COLUMNS, SHIPMENT_COLUMNS
    from tiergate.monitor.scan import spark_session

    from .conftest import write_csv
    from .test_flags import PARTY, SHIP, USER

    ships = [
        {**SHIP, "id": "A", "route": "US>MY>SG", "payer_name": "Bright Harbour Holdings", "payer_country": "HK"},
        {**SHIP, "id": "B", "route": "US>HK>SG>HK", "payment_terms": "prepaid", "date": "2025-07-01"},
        {**SHIP, "id": "C", "payment_terms": "", "consignee_id": "U1", "route": "US>MY"},
    ]
    s = write_csv(tmp_path / "s.csv", ships, SHIPMENT_COLUMNS)
    p = write_csv(tmp_path / "p.csv", [PARTY, USER], PARTY_COLUMNS)
    imports = write_csv(
        tmp_path / "i.csv",
        [{"country": "MY", "month": "2025-06", "value_usd": "600000000", "documented_h100e": "1000"}],
        ("country", "month", "value_usd", "documented_h100e"),
    )
    session = spark_session()
    jobs = len(session.sparkContext.statusTracker().getJobIdsForGroup())
    spark = run_scan(s, p, engine="spark", spark=session, imports=imports)
    assert len(session.sparkContext.statusTracker().getJobIdsForGroup()) > jobs
    duck = run_scan(s, p, engine="duckdb", imports=imports)
    assert [c.to_dict() for c in duck.cases] == [c.to_dict() for c in spark.cases]
    assert duck.notes == spark.notes
    codes = {(f.code, f.points) for c in duck.cases for f in c.flags}
    assert {("F9-payer-mismatch", 25), ("F11-mirror-gap", 8), ("F19-commercial-oddities", 5)} <= codes
