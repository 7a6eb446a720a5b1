"""``tiergate monitor ...`` end to end (generate, scan, clusters, report, errors), in this process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ..inprocess import Completed, run_cli
from .test_scan import PLANTED_ALERTS


def tiergate(*args: str, cwd: Path) -> Completed:
    env = {**os.environ, "TIERGATE_TODAY": "2025-03-01"}
    return run_cli(args, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    run = tiergate("monitor", "generate", "--records", "2000", "--out", str(folder / "data"), "--seed", "5", cwd=folder)
    assert run.returncode == 0, run.stderr
    assert "usage records" in run.stdout
    return folder


def test_generate_then_scan_prints_the_alert_format(generated: Path) -> None:
    data = generated / "data"
    run = tiergate(
        "monitor",
        "scan",
        "--usage",
        str(data / "usage.parquet"),
        "--customers",
        str(data / "customers.parquet"),
        "--format",
        "json",
        cwd=generated,
    )
    assert run.returncode == 0, run.stderr
    alerts = json.loads(run.stdout)
    assert {(a["kind"], a["subject_type"], a["subject_id"]) for a in alerts} == PLANTED_ALERTS
    for alert in alerts:
        assert list(alert) == [
            "kind",
            "subject_id",
            "subject_type",
            "flop",
            "threshold",
            "projected_crossing",
            "reasons",
        ]
        assert alert["reasons"] and all(isinstance(r, str) for r in alert["reasons"])
    assert run.stderr == ""


def test_scan_with_bad_rows_warns_and_writes_every_problem(generated: Path) -> None:
    usage = generated / "bad.csv"
    usage.write_text(
        "record_id,provider,account_id,job_id,cluster_id,datacenter_country,chip,chip_count,start,end\n"
        "r1,aws,acct-x,j1,c1,US,nvidia-h100-sxm,8,2026-01-02T00:00:00Z,2026-01-01T00:00:00Z\n"
        "r2,aws,acct-x,j2,c1,US,H100-SXM5,8,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z\n"
    )
    problems = generated / "problems.jsonl"
    run = tiergate(
        "monitor",
        "scan",
        "--usage",
        str(usage),
        "--customers",
        str(generated / "data" / "customers.parquet"),
        "--problems",
        str(problems),
        cwd=generated,
    )
    assert run.returncode == 0, run.stderr
    assert "warning: bad input" in run.stderr
    assert "bad.csv:row 2 (record r1): end:" in run.stderr
    rows = [json.loads(line) for line in problems.read_text().splitlines()]
    assert {(r["row"], r["column"]) for r in rows} == {(2, "end"), (3, "account_id")}
    alerts = json.loads(run.stdout)
    # Usage alerts come from the records; customer-table alerts (prohibited use, KYC) stand regardless of usage.
    assert [(a["kind"], a["subject_id"]) for a in alerts if a["subject_type"] != "customer"] == [("kyc_gap", "acct-x")]


def test_scan_errors_are_one_line_and_exit_2(generated: Path) -> None:
    run = tiergate(
        "monitor",
        "scan",
        "--usage",
        str(generated / "nope.parquet"),
        "--customers",
        str(generated / "data" / "customers.parquet"),
        cwd=generated,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("error: ") and "nope.parquet" in run.stderr and run.stderr.count("\n") == 1
    run = tiergate(
        "monitor",
        "scan",
        "--usage",
        str(generated / "data" / "usage.parquet"),
        "--customers",
        str(generated / "data" / "customers.parquet"),
        "--regime",
        "us-1999",
        cwd=generated,
    )
    assert run.returncode == 2 and "unknown regime" in run.stderr


def test_report_is_self_contained_html(generated: Path) -> None:
    data = generated / "data"
    out = generated / "report.html"
    run = tiergate(
        "monitor",
        "report",
        "--usage",
        str(data / "usage.parquet"),
        "--customers",
        str(data / "customers.parquet"),
        "--out",
        str(out),
        cwd=generated,
    )
    assert run.returncode == 0, run.stderr
    page = out.read_text()
    assert "<script src=" not in page  # plotly.js is inlined: nothing is fetched when the page opens
    assert "Plotly.newPlot" in page
    assert "EU AI Act systemic-risk presumption" in page and "bo-ember" in page
    assert page.index('<h2 id="alerts">') < page.index("Plotly.newPlot")  # the alerts first
    assert '<tr class="high"><td>high</td><td>threshold_crossed</td>' in page
    assert ": 1e+25 FLOP (" in page  # each threshold line is labelled with its value
    bad = tiergate(
        "monitor",
        "report",
        "--usage",
        str(data / "usage.parquet"),
        "--customers",
        str(data / "customers.parquet"),
        "--out",
        str(generated / "report.pdf"),
        cwd=generated,
    )
    assert bad.returncode == 2 and not (generated / "report.pdf").exists()


def test_clusters_per_tier_under_the_diffusion_regime(tmp_path: Path) -> None:
    run = tiergate("monitor", "clusters", "--regime", "us-diffusion-2025", "--format", "json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    registry = json.loads(run.stdout)
    tiers = {t["key"]: t for t in registry["by_tier"]}
    assert {"tier1", "tier2", "tier3"} <= set(tiers)
    countries = {c["key"]: c for c in registry["by_country"]}
    assert countries["CN"]["tier"] == "tier3" and countries["US"]["tier"] == "tier1"
    assert countries["IN"]["tier"] == "tier2"
    assert sum(t["tpp"] for t in tiers.values()) == pytest.approx(sum(c["tpp"] for c in countries.values()))
    assert "NVIDIA V100" in registry["unmapped_chips"]
    table = tiergate("monitor", "clusters", cwd=tmp_path)  # today (2025-03-01) is under the Diffusion rule
    assert table.returncode == 0 and "tier3" in table.stdout
