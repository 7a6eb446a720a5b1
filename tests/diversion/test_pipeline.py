"""The per-shipment flags as the scan computes them at scale: F4's hub test reads each leg after the origin once
(a country on the route twice, the end-use hub among them), and a Parquet file read by DuckDB itself gives the
same cases as the same rows read from CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from tiergate.diversion import run_scan
from tiergate.diversion.generate import PARTY_COLUMNS, SHIPMENT_COLUMNS
from tiergate.diversion.reading import duckdb_shipments

from .conftest import write_csv
from .test_flags import PARTY, SHIP, USER


def _f4(tmp_path: Path, route: str, **party: Any) -> int:
    # an inconclusive end-use check (F14) lifts the shipment over the floor, so that F4 alone is read back
    ship = {**SHIP, "route": route, "end_use_check": "inconclusive"}
    s = write_csv(tmp_path / "s.csv", [ship], SHIPMENT_COLUMNS)
    p = write_csv(tmp_path / "p.csv", [{**PARTY, **party}, USER], PARTY_COLUMNS)
    points = [f.points for c in run_scan(s, p).cases for f in c.flags if f.code == "F4-hub-route"]
    return points[0] if points else 0


@pytest.mark.parametrize(
    ("route", "points"),
    [
        ("US>SG", 5),  # the hub is the end-use country
        ("US>SG>SG", 5),  # twice, and still only the end-use country
        ("US>MY>SG", 15),  # another hub on the way
        ("US>SG>MY>SG", 15),
        ("SG>US>SG", 5),  # the origin is not a leg
    ],
)
def test_hub_route_against_the_end_use_country(tmp_path: Path, route: str, points: int) -> None:
    assert _f4(tmp_path, route) == points


def test_hub_route_of_a_consignee_outside_the_hubs(tmp_path: Path) -> None:
    assert _f4(tmp_path, "US>DE", country="DE") == 0
    assert _f4(tmp_path, "SG>DE", country="DE") == 0
    assert _f4(tmp_path, "US>SG>DE", country="DE") == 15


def test_hub_route_with_unknown_end_use(tmp_path: Path) -> None:
    """A forwarding consignee with no end user: the end use is unknown, so any hub on the route is not it."""
    assert _f4(tmp_path, "US>SG", is_forwarder="true") == 15


def test_parquet_read_by_duckdb_gives_the_cases_of_csv(tmp_path: Path) -> None:
    from tiergate.diversion import generate

    made = generate(tmp_path, 400, seed=3, instances=1, decoys=1)
    table = pcsv.read_csv(
        made.shipments,
        convert_options=pcsv.ConvertOptions(
            column_types={
                **{c: pa.string() for c in SHIPMENT_COLUMNS},
                "quantity": pa.int64(),
                "value_usd": pa.float64(),
                "gross_kg": pa.float64(),
                "date": pa.date32(),
            }
        ),
    )
    pq.write_table(table, tmp_path / "s.parquet")
    # the typed file is read by DuckDB itself (the checking pass returns nothing when its query fails, and the
    # rows are then read into Arrow: the same cases, at a fraction of the speed)
    con = duckdb.connect()
    assert duckdb_shipments(con, tmp_path / "s.parquet") is not None
    con.close()
    from_csv = run_scan(made.shipments, made.parties)
    from_parquet = run_scan(tmp_path / "s.parquet", made.parties)
    assert [c.to_dict() for c in from_parquet.cases] == [c.to_dict() for c in from_csv.cases]
    assert from_parquet.notes == from_csv.notes
    assert from_csv.cases
