"""The dashboard against hostile input (issue 21): a cookie kept from before signing out no longer signs in; an
uploaded batch in Latin-1, a YAML alias bomb or a Parquet file of too many rows is a clear 422 page (Latin-1 gave
a 500), refused before the file is decoded."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import tiergate

from ..api.conftest import Api, make_api
from ..api.test_limits import ALIAS_BOMB
from .test_pages import HTML, csrf_of, sign_in


@pytest.fixture
def web(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    made = make_api(tmp_path, book, key_cache_seconds=0.0)
    yield made
    made.client.close()
    made.ctx.close()


def test_a_cookie_from_before_sign_out_no_longer_signs_in(web: Api) -> None:
    client = sign_in(web)
    kept = client.cookies.get("tiergate_session")
    assert kept and client.get("/decide", headers=HTML).status_code == 200
    page = client.get("/decide", headers=HTML)
    out = client.post("/logout", data={"csrf": csrf_of(page.text)}, headers=HTML, follow_redirects=False)
    assert out.status_code == 303
    replayed = TestClient(web.app, cookies={"tiergate_session": kept})
    response = replayed.get("/decide", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_a_cached_session_is_ended_at_once(tmp_path: Path, book: tiergate.Rulebook) -> None:
    made = make_api(tmp_path, book, key_cache_seconds=60.0)
    try:
        client = sign_in(made)
        kept = client.cookies.get("tiergate_session")
        page = client.get("/decide", headers=HTML)
        client.post("/logout", data={"csrf": csrf_of(page.text)}, headers=HTML, follow_redirects=False)
        replayed = TestClient(made.app, cookies={"tiergate_session": kept})
        assert replayed.get("/decide", headers=HTML, follow_redirects=False).status_code == 303
    finally:
        made.client.close()
        made.ctx.close()


def test_signing_in_twice_in_one_browser_ends_the_first_session(web: Api) -> None:
    client = sign_in(web)
    first = client.cookies.get("tiergate_session")
    page = client.get("/login", headers=HTML)
    again = client.post(
        "/login", data={"key": web.tokens["viewer"], "csrf": csrf_of(page.text)}, headers=HTML, follow_redirects=False
    )
    assert again.status_code == 303
    replayed = TestClient(web.app, cookies={"tiergate_session": first})
    assert replayed.get("/decide", headers=HTML, follow_redirects=False).status_code == 303


def _upload(web: Api, client: TestClient, name: str, content: bytes) -> Any:
    page = client.get("/decide", headers=HTML)
    return client.post(
        "/decide/batch",
        data={"csrf": csrf_of(page.text)},
        files={"file": (name, io.BytesIO(content), "application/octet-stream")},
        headers=HTML,
    )


def test_a_latin1_batch_is_a_clear_error_not_a_500(web: Api) -> None:
    client = sign_in(web)
    content = (
        "id,date,destination,chip,quantity,consignee_name,consignee_country,consignee_headquarters\n"
        "t1,2025-03-03,FR,nvidia-h100-sxm,10,Société Générale,FR,FR\n"
    ).encode("latin-1")
    response = _upload(web, client, "orders.csv", content)
    assert response.status_code == 422, response.text[:500]
    assert "orders.csv:2" in response.text and "not UTF-8 text" in response.text
    assert "tiergate-upload" not in response.text
    utf16 = _upload(web, client, "orders.csv", content.decode("latin-1").encode("utf-16"))
    assert utf16.status_code == 200 and "1 decision(s) from orders.csv" in utf16.text


def test_a_yaml_alias_bomb_upload_is_refused(web: Api) -> None:
    client = sign_in(web)
    response = _upload(web, client, "bomb.yaml", ALIAS_BOMB.encode())
    assert response.status_code == 422, response.text[:500]
    assert "anchors and aliases" in response.text


def test_a_parquet_batch_of_too_many_rows_is_refused_before_decoding(web: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import tiergate.batch as batch

    calls: list[Any] = []
    monkeypatch.setattr(batch, "flat_to_transaction", lambda *a: calls.append(a))
    row = {"id": "t", "date": "2025-03-03", "destination": "IN", "chip": "nvidia-h100-sxm", "quantity": 1}
    table = pa.concat_tables([pa.Table.from_pylist([row])] * 20_000)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    client = sign_in(web)
    response = _upload(web, client, "big.parquet", sink.getvalue())
    assert response.status_code == 422, response.text[:500]
    assert "20,000 rows; at most 10,000" in response.text
    assert calls == []


@pytest.fixture(scope="module")
def monitor_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tiergate.monitor import generate

    made = generate(tmp_path_factory.mktemp("usage"), 20, seed=1)
    return made.usage, made.customers


def test_a_latin1_monitoring_upload_is_a_clear_error(web: Api, monitor_files: tuple[Path, Path]) -> None:
    usage_data = monitor_files
    import pyarrow.csv as pc

    sink = io.BytesIO()
    pc.write_csv(pq.read_table(usage_data[0]).slice(0, 5), sink)
    usage = sink.getvalue().replace(b"\n", " \xe9\n".encode("latin-1"), 2)
    client = sign_in(web)
    page = client.get("/monitoring", headers=HTML)
    response = client.post(
        "/monitoring",
        data={"csrf": csrf_of(page.text)},
        files={"usage": ("usage.csv", usage), "customers": ("customers.parquet", usage_data[1].read_bytes())},
        headers=HTML,
    )
    assert response.status_code == 422, response.text[:500]
    assert "not UTF-8 text" in response.text and "usage.csv" in response.text
