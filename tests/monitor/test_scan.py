"""The scan finds every planted case, and nothing else: clean customers raise no alert."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tiergate.monitor import PLANTED, ScanResult, generate, run_scan
from tiergate.monitor.generate import Generated

PLANTED_ALERTS = {
    ("prohibited_use", "customer", "cu-falcon"),
    ("threshold_crossed", "beneficial_owner", "bo-ember"),
    ("threshold_crossed", "job", "job-northwind-pretrain"),
    ("threshold_possible", "job", "job-northwind-pretrain"),
    ("projected_crossing", "job", "job-northwind-pretrain"),
    ("cluster_threshold", "beneficial_owner", "bo-bluefin"),
    ("declared_gap", "job", "job-quartz-ft"),
    ("kyc_gap", "customer", "cu-heron"),
    ("kyc_gap", "customer", "cu-lumen"),
    ("kyc_gap", "customer", "cu-tamarack"),
}


def _kinds(result: ScanResult) -> set[tuple[str, str, str]]:
    return {(a.kind, a.subject_type, a.subject_id) for a in result.alerts}


def _one(result: ScanResult, kind: str, subject: str, threshold: float | None = None) -> Any:
    found = [
        a
        for a in result.alerts
        if a.kind == kind and a.subject_id == subject and (threshold is None or a.threshold == threshold)
    ]
    assert len(found) == 1, (kind, subject, [a.to_dict() for a in result.alerts])
    return found[0]


def test_exactly_the_planted_cases_raise_alerts(scan: ScanResult) -> None:
    assert scan.regime == "us-2026-01"
    assert scan.as_of == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert _kinds(scan) == PLANTED_ALERTS
    assert scan.problem_counts == {}
    assert scan.records == scan.records_used


def test_split_run_is_found_at_the_beneficial_owner_only(scan: ScanResult) -> None:
    alert = _one(scan, "threshold_crossed", PLANTED["split_owner"])
    assert alert.threshold == 1e25
    # 3 accounts x 2048 H100 x 72 days x 989.4 TFLOP/s x 0.4
    expected = 3 * 2048 * 72 * 86400 * 989.4e12 * 0.4
    assert alert.flop == pytest.approx(expected, rel=1e-9)
    assert "3 job(s) of 3 customer(s) (3 account(s)) of this beneficial owner" in alert.reasons[1]
    assert "no single job crosses" in alert.reasons[1]
    assert not any(a.subject_id.startswith(("job-ember", "acct-ember", "cu-ember")) for a in scan.alerts)


def test_running_job_projected_to_cross_1e26_within_a_week(scan: ScanResult) -> None:
    alert = _one(scan, "projected_crossing", PLANTED["crossing_job"])
    assert alert.threshold == 1e26
    assert alert.projected_crossing is not None
    when = dt.datetime.strptime(alert.projected_crossing, "%Y-%m-%dT%H:%MZ").replace(tzinfo=dt.UTC)
    assert scan.as_of < when < scan.as_of + dt.timedelta(days=7)
    # 24,576 H100 x 113 days so far at 0.4; rate 24,576 x 989.4e12 x 0.4 FLOP/s
    done = 24576 * 113 * 86400 * 989.4e12 * 0.4
    rate = 24576 * 989.4e12 * 0.4
    expected = scan.as_of + dt.timedelta(seconds=(1e26 - done) / rate)
    assert abs((when - expected).total_seconds()) <= 60
    assert "not binding" in alert.reasons[0]  # the US 1e26 reporting threshold is not in force in 2026


def test_tier3_parent_is_prohibited_use(scan: ScanResult) -> None:
    alert = _one(scan, "prohibited_use", PLANTED["tier3_parent_customer"])
    assert "parent ext-8841 is headquartered in CN" in alert.reasons[0]
    assert "15 CFR 744.23(a)(3)" in alert.reasons[1]


def test_kyc_gaps(scan: ScanResult) -> None:
    assert any("logins from IR" in r for r in _one(scan, "kyc_gap", "cu-heron").reasons)
    lumen = _one(scan, "kyc_gap", "cu-lumen").reasons
    assert any("not verified" in r for r in lumen)
    assert any("no beneficial owner" in r for r in lumen)
    assert any("payment from VE" in r for r in _one(scan, "kyc_gap", "cu-tamarack").reasons)


def test_cluster_peak_ops(scan: ScanResult) -> None:
    alert = _one(scan, "cluster_threshold", PLANTED["cluster_owner"])
    assert alert.flop == pytest.approx(3 * 20480 * 1978.9e12, rel=1e-9)
    assert "61,440 chips" in alert.reasons[1]


def test_declared_flop_far_from_estimate(scan: ScanResult) -> None:
    alert = _one(scan, "declared_gap", PLANTED["declared_gap_job"])
    assert alert.flop == 8.75e23


def test_caps_apply_under_a_regime_that_has_them(dataset: Generated, book: Any) -> None:
    result = run_scan(dataset.usage, dataset.customers, book=book, regime="us-diffusion-2025")
    cap = _one(result, "cap_exceeded", PLANTED["cap_customer"])
    assert cap.threshold == pytest.approx(26_900_000 / (1978.9 * 8) * 8760, rel=1e-6)
    assert "tier2" in cap.reasons[0] and "740.29" in cap.reasons[1]
    # The 4E091 threshold exists only under the Diffusion regime.
    assert any("4E091" in a.reasons[0] for a in result.alerts if a.kind == "projected_crossing")
    assert "tier3" in _one(result, "prohibited_use", "cu-falcon").reasons[0]
    assert {(k, t, s) for k, t, s in _kinds(result) if k == "cap_exceeded"} == {
        ("cap_exceeded", "customer", "cu-saffron")
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_clean_population_raises_nothing(tmp_path: Path, book: Any, seed: int) -> None:
    made = generate(tmp_path, 4000, seed=seed, planted=False)
    result = run_scan(made.usage, made.customers, book=book, regime="us-diffusion-2025")
    assert result.alerts == []
    assert result.records == 4000


@pytest.mark.parametrize("seed", [11, 12])
def test_other_seeds_find_the_same_planted_cases(tmp_path: Path, book: Any, seed: int) -> None:
    made = generate(tmp_path, 2500, seed=seed)
    assert _kinds(run_scan(made.usage, made.customers, book=book)) == PLANTED_ALERTS


def test_generator_is_deterministic(tmp_path: Path, dataset: Generated) -> None:
    again = generate(tmp_path, 3000, seed=7)
    assert pq.read_table(again.usage).equals(pq.read_table(dataset.usage))
    assert pq.read_table(again.customers).equals(pq.read_table(dataset.customers))
    other = generate(tmp_path / "other", 3000, seed=8)
    assert not pq.read_table(other.usage).equals(pq.read_table(dataset.usage))


def test_scan_date_from_the_files_statistics_or_from_the_records_alike(
    tmp_path: Path, dataset: Generated, scan: ScanResult, book: Any
) -> None:
    """Without a scan date, the latest start or end is the scan date: read from the Parquet files' column
    statistics when they have them (no pass over the records), else from the records; both scan alike."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from tiergate.monitor.usage import parquet_latest

    nanos = pa.timestamp("ns", tz="UTC")
    table = pq.read_table(dataset.usage)
    latest = max(pc.max(table.column("start")).as_py(), pc.max(table.column("end")).as_py())
    assert parquet_latest(dataset.usage) == (True, latest)
    assert scan.as_of == latest
    bare = tmp_path / "no-statistics.parquet"
    pq.write_table(table, bare, write_statistics=False)
    assert parquet_latest(bare) == (False, None)
    nano = tmp_path / "nanoseconds.parquet"
    pq.write_table(table.select(["start", "end"]).cast(pa.schema([("start", nanos), ("end", nanos)])), nano)
    assert parquet_latest(nano) == (False, None)  # times Python's datetime does not hold: read
    again = run_scan(bare, dataset.customers, book=book)
    assert again.as_of == scan.as_of
    assert [a.to_dict() for a in again.alerts] == [a.to_dict() for a in scan.alerts]
