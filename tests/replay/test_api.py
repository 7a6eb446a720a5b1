"""``/v1/replay`` over HTTP: a JSON history or an uploaded file, the same report as the CLI, errors in the one
shape (unknown regime, bad listing, wrong content type, a viewer's key), an undecidable row listed."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tiergate

from ..api.conftest import SAMPLES, Api, make_api


@pytest.fixture
def api(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    made = make_api(tmp_path, book)
    yield made
    made.client.close()
    made.ctx.close()


def history() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLES.read_text().splitlines()]


def test_a_json_history_gives_the_replay_report(api: Api) -> None:
    body = {"from": "us-2025-05", "to": "us-diffusion-2025", "transactions": history()}
    response = api.post("/v1/replay", json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["total"] == 12 and report["changed"] == 8
    assert report["history"]["source"] == "request body"
    assert report["transitions"][0]["changed"] is True
    html = api.post("/v1/replay?format=html", json=body)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "attachment" in html.headers["content-disposition"] and "Plotly.newPlot" in html.text


def test_an_undecidable_row_is_listed_and_the_replay_goes_on(api: Api) -> None:
    rows = history()
    rows[2] = {**rows[2], "destination": "XX"}
    report = api.post("/v1/replay", json={"from": "us-2025-05", "to": "us-2026-01", "transactions": rows}).json()
    assert report["total"] == 11 and report["unreplayable_count"] == 1
    assert report["unreplayable"][0]["where"] == "body: transactions[2]"
    assert "destination" in report["unreplayable"][0]["why"]


def test_a_listing_in_the_body_applies_from_its_date(api: Api) -> None:
    body = {
        "from": "us-2025-05",
        "to": "us-2025-05",
        "transactions": history(),
        "listings": [{"list": "SDN", "name": "Example Compute Pvt Ltd", "country": "IN", "effective": "2025-01-01"}],
    }
    report = api.post("/v1/replay", json=body).json()
    assert report["changed"] >= 1
    assert any(t["to"] == "prohibited" and t["changed"] for t in report["transitions"])


def test_an_uploaded_parquet_history_is_replayed_column_wise(api: Api) -> None:
    rows = [
        {"id": f"r{i}", "date": "2025-03-01", "destination": "IN", "chip": "nvidia-h100-sxm", "quantity": 1000,
         "consignee_name": "Acme" if i < 2 else f"Other {i}", "consignee_headquarters": "IN"}
        for i in range(4)
    ]  # fmt: skip
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    response = api.post(
        "/v1/replay/upload?from=us-2025-05&to=us-diffusion-2025",
        files={"history": ("orders.parquet", buffer.getvalue(), "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["history"]["path"] == "columns" and report["history"]["source"] == "upload orders.parquet"
    assert report["binds"]["to"][0]["allocation"] == "lpp:consignee"  # Acme's second order of the year


@pytest.mark.parametrize(
    ("call", "status", "where"),
    [
        (lambda api: api.post("/v1/replay", json={"from": "us-1999", "to": "us-2026-01", "transactions": [{}]}),
         422, "body.from"),
        (lambda api: api.post("/v1/replay", json={"from": "us-2025-05", "to": "us-2026-01", "transactions": []}),
         422, "body.transactions"),
        (lambda api: api.post("/v1/replay", json={"from": "us-2025-05", "to": "us-2026-01", "transactions": [{}],
                                                  "listings": [{"list": "XYZ", "effective": "2025-01-01"}]}),
         422, "body.listings[0].list"),
        (lambda api: api.post("/v1/replay", content=b"from=x", headers={"content-type": "text/plain"}), 415, None),
        (lambda api: api.post("/v1/replay", role="viewer", json={}), 403, None),
        (lambda api: api.post("/v1/replay/upload?from=us-2025-05&to=us-2026-01",
                              files={"history": ("orders.xlsx", b"x", "application/octet-stream")}),
         422, "body.history"),
        (lambda api: api.post("/v1/replay/upload?from=us-2025-05&to=nope",
                              files={"history": ("orders.csv", b"id\n", "text/csv")}),
         422, "query.to"),
    ],
)  # fmt: skip
def test_bad_requests_get_the_one_error_shape(api: Api, call: Any, status: int, where: str | None) -> None:
    response = call(api)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status
    if where is not None:
        assert error["where"] == where, error


def test_a_bad_uploaded_file_is_named_by_its_upload_name(api: Api) -> None:
    response = api.post(
        "/v1/replay/upload?from=us-2025-05&to=us-2026-01",
        files={"history": ("orders.csv", b"id,date,colour\n1,2025-01-01,red\n", "text/csv")},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["where"] == "body.history", error
    assert error["message"].startswith("upload orders.csv") and "unknown column(s) 'colour'" in error["message"]
