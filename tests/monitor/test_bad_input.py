"""Bad input: bad rows are reported with file, row (or line) and column, counted, and excluded or handled
without aborting the scan; malformed files stop with one error naming the file and what is wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiergate.classify.metrics import fmt
from tiergate.errors import InputError
from tiergate.monitor import ScanResult, run_scan
from tiergate.monitor.model import USAGE_OPTIONAL, USAGE_REQUIRED

HEADER = ",".join((*USAGE_REQUIRED, *USAGE_OPTIONAL))
AS_OF = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
H100_BF16 = 989.4e12

USAGE_LINES = [
    HEADER,  # line 1
    "r1,aws,acct-a,job-big,aws-US-1,US,nvidia-h100-sxm,10000,2026-01-01T00:00:00Z,2026-01-31T00:00:00Z,bf16,0.5,",
    "r2,aws,acct-a,job-2,aws-US-1,US,nvidia-h100-sxm,8,2026-01-05T00:00:00Z,2026-01-04T00:00:00Z,bf16,,",
    "r3,aws,acct-a,job-3,aws-US-1,US,nvidia-h100-sxmm,8,2026-01-05T00:00:00Z,2026-01-06T00:00:00Z,bf16,,",
    "r4,aws,acct-a,job-4,aws-US-1,US,nvidia-h100-sxm,-8,2026-01-05T00:00:00Z,2026-01-06T00:00:00Z,bf16,,",
    "r5,aws,acct-a,job-5,aws-US-1,US,nvidia-h100-sxm,abc,2026-01-05T00:00:00Z,2026-01-06T00:00:00Z,bf16,,",
    "r6,aws,acct-a,job-6,aws-US-1,US,nvidia-a100-sxm,8,2026-01-05T00:00:00Z,2026-01-06T00:00:00Z,fp8,,",
    "r7,aws,acct-a,job-7,aws-US-1,US,nvidia-h100-sxm,8,2026-01-05T00:00:00Z,2026-01-06T00:00:00Z,bf16,1.5,",
    "r8,aws,acct-a,job-8,aws-US-1,US,nvidia-h100-sxm,8",
    "r9,aws,acct-b,job-ov,aws-US-1,US,nvidia-h100-sxm,8,2026-01-01T00:00:00Z,2026-01-03T00:00:00Z,bf16,,",
    "r10,aws,acct-b,job-ov,aws-US-1,US,nvidia-h100-sxm,8,2026-01-02T00:00:00Z,2026-01-04T00:00:00Z,bf16,,",
    "r11,aws,acct-ghost,job-ghost,aws-US-1,US,nvidia-h100-sxm,8,2026-01-02T00:00:00Z,2026-01-04T00:00:00Z,,,",
    "r12,aws,acct-a,job-12,aws-US-1,US,nvidia-h100-sxm,8,yesterday,2026-01-04T00:00:00Z,bf16,,",
]
CUSTOMER_LINES = [
    "account_id,customer_id,name,country,headquarters,parent_id,parent_headquarters,beneficial_owner_id,verified,"
    "payment_country,login_countries",
    "acct-a,cu-a,Alpha Inc,US,US,,,bo-a,true,US,US",
    "acct-b,cu-b,Beta Ltd,GB,GB,cu-c,GB,,true,GB,GB",
    "acct-c,cu-c,Gamma Ltd,GB,GB,cu-b,GB,,true,GB,GB",
    "acct-d,cu-d,Delta SA,XX,FR,,,bo-d,yes,FR,FR",
]
EXPECTED_ROWS = {
    (3, "end"),
    (4, "chip"),
    (5, "chip_count"),
    (6, "chip_count"),
    (7, "precision"),
    (8, "utilization"),
    (9, "(line)"),
    (11, "start"),
    (12, "account_id"),
    (13, "start"),
}


def _write(folder: Path, usage: list[str], customers: list[str] = CUSTOMER_LINES) -> tuple[Path, Path]:
    u, c = folder / "usage.csv", folder / "customers.csv"
    u.write_text("\n".join(usage) + "\n")
    c.write_text("\n".join(customers) + "\n")
    return u, c


@pytest.fixture(scope="module")
def bad_scan(tmp_path_factory: pytest.TempPathFactory, book: Any) -> ScanResult:
    u, c = _write(tmp_path_factory.mktemp("bad"), USAGE_LINES)
    return run_scan(u, c, book=book, as_of=AS_OF)


def test_bad_rows_are_reported_with_line_and_column(bad_scan: ScanResult) -> None:
    usage_problems = {(p.row, p.column) for p in bad_scan.problems if p.file.endswith("usage.csv")}
    assert usage_problems == EXPECTED_ROWS
    by_row = {p.row: p for p in bad_scan.problems if p.file.endswith("usage.csv")}
    assert "did you mean nvidia-h100-sxm" in by_row[4].problem
    assert "negative duration" in by_row[3].problem
    assert "not positive" in by_row[5].problem
    assert "'abc' is not a whole number" in by_row[6].problem
    assert "no dense fp8 rate for nvidia-a100-sxm" in by_row[7].problem
    assert "13 fields, expected" not in by_row[9].problem and "8 fields, expected 13" in by_row[9].problem
    assert "overlap" in by_row[11].problem and by_row[11].action.startswith("kept")
    assert "acct-ghost" in by_row[12].problem and "counted" in by_row[12].action
    assert by_row[4].record_id == "r3"


def test_bad_rows_are_counted_and_the_scan_goes_on(bad_scan: ScanResult) -> None:
    counts = bad_scan.problem_counts
    assert counts["end:before_start"] == 1
    assert counts["chip:unknown"] == 1
    assert counts["chip_count:not_positive"] == 1
    assert counts["precision:no_rate"] == 1
    assert counts["utilization:out_of_range"] == 1
    assert counts["job:overlapping_segments"] == 1
    assert counts["account_id:not_in_customers"] == 1
    assert bad_scan.records == 9 and bad_scan.records_used == 4  # 3 lines never parsed; 5 rows excluded
    big = [a for a in bad_scan.alerts if a.subject_id == "job-big"]
    assert len(big) == 1 and big[0].kind == "threshold_crossed"
    assert big[0].flop == pytest.approx(10000 * 30 * 86400 * H100_BF16 * 0.5, rel=1e-9)


def test_ownership_cycle_and_unknown_account_are_flagged(bad_scan: ScanResult) -> None:
    kyc = {a.subject_id: a for a in bad_scan.alerts if a.kind == "kyc_gap"}
    assert set(kyc) == {"cu-b", "cu-c", "acct-ghost"}
    assert any("ownership chain loops" in r for r in kyc["cu-b"].reasons)
    assert kyc["acct-ghost"].subject_type == "account"
    cycle = [p for p in bad_scan.problems if p.column == "parent_id"]
    assert cycle and "ownership cycle" in cycle[0].problem and cycle[0].file.endswith("customers.csv")
    country = [p for p in bad_scan.problems if p.column == "country"]
    assert country[0].row == 5 and "'XX'" in country[0].problem


def _parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    ts = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [(c, pa.string()) for c in USAGE_REQUIRED if c not in ("chip_count", "start", "end")]
        + [
            ("chip_count", pa.int64()),
            ("start", ts),
            ("end", ts),
            ("precision", pa.string()),
            ("utilization", pa.float64()),
            ("declared_flop", pa.float64()),
        ]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def _row(rid: str, job: str, chips: int, start: str, end: str | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "record_id": rid,
        "provider": "aws",
        "account_id": "acct-a",
        "job_id": job,
        "cluster_id": "aws-US-1",
        "datacenter_country": "US",
        "chip": "nvidia-h100-sxm",
        "chip_count": chips,
        "start": dt.datetime.fromisoformat(start),
        "end": dt.datetime.fromisoformat(end) if end else None,
        "precision": None,
        "utilization": None,
        "declared_flop": None,
    }
    row.update(extra)
    return row


BAD_PARQUET_ROWS = [
    _row("p1", "job-1", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00"),
    _row("p2", "job-2", 8, "2026-01-03T00:00+00:00", "2026-01-02T00:00+00:00"),
    _row("p3", "job-3", 0, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00"),
    _row("p4", "job-4", 8, "2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", chip="h100-sxn"),
]


def test_parquet_rows_are_numbered_from_one(tmp_path: Path, book: Any) -> None:
    usage = _parquet(tmp_path / "usage.parquet", BAD_PARQUET_ROWS)
    _, customers = _write(tmp_path, [HEADER])
    result = run_scan(usage, customers, book=book, as_of=AS_OF)
    assert {(p.row, p.column, p.record_id) for p in result.problems if p.file.endswith("usage.parquet")} == {
        (2, "end", "p2"),
        (3, "chip_count", "p3"),
        (4, "chip", "p4"),
    }
    assert result.records_used == 1


def test_declared_flop_wins_and_default_utilisation_has_a_band(tmp_path: Path, book: Any) -> None:
    rows = [
        _row(
            "d1",
            "job-declared",
            10000,
            "2026-01-01T00:00+00:00",
            "2026-01-31T00:00+00:00",
            declared_flop=2e25,
            utilization=0.5,
        ),
        _row("d2", "job-default", 10000, "2026-01-01T00:00+00:00", "2026-01-31T00:00+00:00"),
        _row(
            "d3", "job-fp8", 5000, "2026-01-01T00:00+00:00", "2026-01-31T00:00+00:00", precision="FP8", utilization=0.5
        ),
    ]
    usage = _parquet(tmp_path / "usage.parquet", rows)
    _, customers = _write(tmp_path, [HEADER])
    result = run_scan(usage, customers, book=book, as_of=AS_OF)
    crossed = {a.subject_id: a for a in result.alerts if a.kind == "threshold_crossed" and a.subject_type == "job"}
    assert crossed["job-declared"].flop == 2e25
    assert "declared 2e+25 FLOP" in crossed["job-declared"].reasons[1]
    seconds = 30 * 86400
    assert crossed["job-default"].flop == pytest.approx(10000 * seconds * H100_BF16 * 0.4, rel=1e-9)
    low, high = 10000 * seconds * H100_BF16 * 0.3, 10000 * seconds * H100_BF16 * 0.5
    assert f"(band {fmt(low)} to {fmt(high)})" in crossed["job-default"].reasons[1]
    assert crossed["job-fp8"].flop == pytest.approx(5000 * seconds * 1978.9e12 * 0.5, rel=1e-9)
    assert not [a for a in result.alerts if a.kind == "declared_gap"]  # 2e25 vs 1.28e25 is within a factor 2


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        (["record_id,provider,account_id"], "missing column(s) job_id"),
        ([], "empty file"),
    ],
)
def test_malformed_usage_csv_names_the_file(tmp_path: Path, book: Any, lines: list[str], fragment: str) -> None:
    u, c = _write(tmp_path, lines)
    if not lines:
        u.write_text("")
    with pytest.raises(InputError) as raised:
        run_scan(u, c, book=book)
    assert str(u) in str(raised.value) and fragment in str(raised.value)


def test_wrong_parquet_types_and_garbage_files(tmp_path: Path, book: Any) -> None:
    _, customers = _write(tmp_path, [HEADER])
    table = pa.Table.from_pylist(BAD_PARQUET_ROWS[:1]).set_column(7, "chip_count", pa.array(["eight"]))
    pq.write_table(table, tmp_path / "typed.parquet")
    with pytest.raises(InputError, match=r"typed\.parquet: column chip_count: type string, expected a whole number"):
        run_scan(tmp_path / "typed.parquet", customers, book=book)
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        run_scan(tmp_path / "garbage.parquet", customers, book=book)
    with pytest.raises(InputError, match="no such file"):
        run_scan(tmp_path / "typed.parquet", tmp_path / "missing.csv", book=book)
    (tmp_path / "customers-bad.csv").write_text("account_id,customer_id\n")
    with pytest.raises(InputError, match="missing column"):
        run_scan(tmp_path / "typed.parquet", tmp_path / "customers-bad.csv", book=book)


def test_cluster_peak_across_midnight_and_long_segments(tmp_path: Path, book: Any) -> None:
    """The pruning bound (day sums of short segments plus long ones as always on) must not hide a peak."""
    rows = [
        _row("c1", "job-long", 30000, "2026-01-01T00:00+00:00", "2026-01-04T00:00+00:00", utilization=0.01),
        _row("c2", "job-night", 30000, "2026-01-02T22:00+00:00", "2026-01-03T02:00+00:00", utilization=0.01),
        _row("c3", "job-apart", 30000, "2026-01-05T22:00+00:00", "2026-01-06T02:00+00:00", utilization=0.01),
    ]
    usage = _parquet(tmp_path / "usage.parquet", rows)
    _, customers = _write(tmp_path, [HEADER])
    result = run_scan(usage, customers, book=book, as_of=AS_OF)
    peaks = [a for a in result.alerts if a.kind == "cluster_threshold"]
    assert len(peaks) == 1 and peaks[0].subject_id == "bo-a"
    assert peaks[0].flop == pytest.approx(60000 * 1978.9e12, rel=1e-9)


def test_cluster_owner_bound_by_period_keeps_concurrent_jobs_and_drops_spread_ones(tmp_path: Path, book: Any) -> None:
    """The owner-level pruning (jobs' largest uses summed per 61-day period) must not hide a peak: a job
    running through many periods beside a short one, and two jobs straddling a period boundary, each pair
    over 10^20 OP/s together. An owner whose jobs add up past it but never run together has no peak."""
    rows = [
        _row("a1", "job-year", 30000, "2025-03-01T00:00+00:00", "2026-02-01T00:00+00:00", utilization=0.01),
        _row("a2", "job-day", 30000, "2025-12-01T00:00+00:00", "2025-12-02T00:00+00:00", utilization=0.01),
    ]
    # The periods end on the scan date (2026-03-01), so one boundary is 61 days before it (2025-12-31).
    for i, (start, end) in enumerate(
        (("2025-12-30T12:00", "2026-01-01T12:00"), ("2025-12-31T06:00", "2025-12-31T18:00"))
    ):
        row = _row(f"d{i}", f"job-edge-{i}", 30000, f"{start}+00:00", f"{end}+00:00", utilization=0.01)
        rows.append({**row, "account_id": "acct-d"})
    for i in range(6):  # 6 x 5.9e19 OP/s in all, a month apart
        row = _row(
            f"b{i}", f"job-apart-{i}", 30000, f"2025-{i + 3:02d}-10T00:00+00:00", f"2025-{i + 3:02d}-11T00:00+00:00"
        )
        rows.append({**row, "account_id": "acct-b", "utilization": 0.01})
    usage = _parquet(tmp_path / "usage.parquet", rows)
    _, customers = _write(tmp_path, [HEADER])
    result = run_scan(usage, customers, book=book, as_of=AS_OF)
    peaks = sorted((a.subject_id, a.flop) for a in result.alerts if a.kind == "cluster_threshold")
    assert [p[0] for p in peaks] == ["bo-a", "bo-d"]
    assert all(p[1] == pytest.approx(60000 * 1978.9e12, rel=1e-9) for p in peaks)


def test_spreadsheet_exports_with_bom_and_crlf_are_read(tmp_path: Path, book: Any) -> None:
    usage, customers = tmp_path / "usage.csv", tmp_path / "customers.csv"
    usage.write_bytes(("\ufeff" + "\r\n".join(USAGE_LINES[:2]) + "\r\n").encode())
    customers.write_bytes(("\ufeff" + "\r\n".join(CUSTOMER_LINES[:2]) + "\r\n").encode())
    result = run_scan(usage, customers, book=book, as_of=AS_OF)
    assert [(a.kind, a.subject_id) for a in result.alerts] == [("threshold_crossed", "job-big")]
    assert result.problems == []


def test_invalid_utf8_names_the_line(tmp_path: Path, book: Any) -> None:
    usage, customers = _write(tmp_path, USAGE_LINES[:2])
    usage.write_bytes(usage.read_bytes() + b"r9,aws,acct-a,\xff\xfe,c,US,nvidia-h100-sxm,8,2026-01-01T00:00:00Z,,,,\n")
    with pytest.raises(InputError, match=r"usage\.csv:\d+: not UTF-8 text"):
        run_scan(usage, customers, book=book, as_of=AS_OF)


def test_a_job_on_two_accounts_is_counted_whole_under_its_first_account(tmp_path: Path, book: Any) -> None:
    """Jobs are grouped by account numbers (sorted), not texts: the job's first account in text order
    (acct-a before acct-d, whatever the row order) takes all of its compute."""
    rows = [
        _row("m1", "job-two", 10000, "2026-01-01T00:00+00:00", "2026-01-16T00:00+00:00", account_id="acct-d"),
        _row("m2", "job-two", 10000, "2026-01-16T00:00+00:00", "2026-01-31T00:00+00:00", account_id="acct-a"),
    ]
    usage = _parquet(tmp_path / "usage.parquet", rows)
    _, customers = _write(tmp_path, [HEADER])
    result = run_scan(usage, customers, book=book, as_of=AS_OF)
    (job,) = [a for a in result.alerts if a.kind == "threshold_crossed" and a.subject_type == "job"]
    assert job.subject_id == "job-two" and "account acct-a, customer cu-a, owner bo-a" in job.reasons
    assert job.flop == pytest.approx(10000 * 30 * 86400 * H100_BF16 * 0.4, rel=1e-9)
    assert [o["owner_id"] for o in result.owners] == ["bo-a"] and result.owners[0]["jobs"] == 1
