"""``/v1/monitor/alerts``: the alerts of ``tiergate monitor scan --format json`` for the server's data (by default
a generated sample) and for uploaded files; bad uploads are a clear 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import tiergate

from ..inprocess import run_cli
from .conftest import Api, make_api
from .test_api import assert_error


@pytest.fixture
def monitored(tmp_path: Path, book: tiergate.Rulebook, usage_data: tuple[Path, Path]) -> Iterator[Api]:
    usage, customers = usage_data
    made = make_api(tmp_path, book, monitor_usage=usage, monitor_customers=customers)
    yield made
    made.client.close()
    made.ctx.close()


def _cli_alerts(usage: Path, customers: Path, *extra: str) -> list[dict[str, object]]:
    printed = run_cli(["monitor", "scan", "--usage", str(usage), "--customers", str(customers), *extra])
    assert printed.returncode == 0, printed.stderr
    return list(json.loads(printed.stdout))


def test_alerts_of_the_servers_data_are_the_clis(monitored: Api, usage_data: tuple[Path, Path]) -> None:
    answer = monitored.get("/v1/monitor/alerts")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "configured" and body["records"] == body["records_used"] > 200
    assert body["alerts"] == _cli_alerts(*usage_data)
    kinds = {a["kind"] for a in body["alerts"]}
    assert {"threshold_crossed", "projected_crossing", "kyc_gap", "prohibited_use"} <= kinds
    again = monitored.get("/v1/monitor/alerts")
    assert again.json() == body  # kept while the files are unchanged
    scenario = monitored.get("/v1/monitor/alerts", params={"regime": "us-diffusion-2025", "as_of": "2026-10-30"})
    assert scenario.status_code == 200
    assert scenario.json()["regime"] == "us-diffusion-2025" and scenario.json()["as_of"].startswith("2026-10-30")
    assert scenario.json()["alerts"] == _cli_alerts(
        *usage_data, "--regime", "us-diffusion-2025", "--as-of", "2026-10-30"
    )


def test_bad_query_and_roles(monitored: Api) -> None:
    assert_error(monitored.get("/v1/monitor/alerts", params={"regime": "no-such"}), 422, "unknown regime")
    assert_error(monitored.get("/v1/monitor/alerts", params={"as_of": "<script>"}), 422, "as_of")
    assert_error(monitored.client.get("/v1/monitor/alerts"), 401)


def test_uploaded_files_give_the_same_alerts(monitored: Api, usage_data: tuple[Path, Path]) -> None:
    usage, customers = usage_data
    files = {
        "usage": ("usage.parquet", usage.read_bytes()),
        "customers": ("customers.parquet", customers.read_bytes()),
    }
    answer = monitored.post("/v1/monitor/alerts", files=files)
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "upload"
    assert answer.json()["alerts"] == monitored.get("/v1/monitor/alerts").json()["alerts"]
    assert_error(monitored.post("/v1/monitor/alerts", role="viewer", files=files), 403, "officer")


def test_bad_uploads_are_a_clear_4xx(monitored: Api, usage_data: tuple[Path, Path]) -> None:
    _, customers = usage_data
    good_customers = ("customers.parquet", customers.read_bytes())
    garbage = monitored.post(
        "/v1/monitor/alerts", files={"usage": ("u.parquet", b"PAR1 not parquet"), "customers": good_customers}
    )
    assert_error(garbage, 422)
    csv = b"record_id,account_id\n1,a\n"
    short = monitored.post("/v1/monitor/alerts", files={"usage": ('evil"<b>.csv', csv), "customers": good_customers})
    error = assert_error(short, 422)
    assert "tiergate-monitor-upload" not in json.dumps(error)  # the server's paths are not shown
    assert_error(
        monitored.post("/v1/monitor/alerts", files={"usage": ("u.exe", b"x"), "customers": good_customers}), 415
    )
    assert_error(monitored.post("/v1/monitor/alerts", files={"usage": ("u.csv", csv)}), 422, "customers")
    assert_error(monitored.post("/v1/monitor/alerts", json={"usage": "x"}), 415)


def test_the_default_is_a_generated_sample(api: Api) -> None:
    body = api.get("/v1/monitor/alerts").json()
    assert body["source"] == "sample"
    assert any(a["kind"] == "projected_crossing" for a in body["alerts"])
