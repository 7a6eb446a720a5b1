"""Bounded work (issue 21, items 4 and 8): uploads capped by rows and decoded size before they are decoded, YAML
aliases refused, answers capped, a time budget per request, work stopped when the client leaves, header and body
timeouts, a connection limit, and large decisions off the event loop.

The socket-level cases run a real uvicorn server (``tiergate serve``'s configuration) in a thread."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tiergate
from tiergate.api import Settings, create_app, create_key
from tiergate.api.server import server_config
from tiergate.api.settings import SAMPLE_LISTS
from tiergate.batch import InputLimits, parquet_footprint, read_records
from tiergate.errors import InputError

from .conftest import TODAY, Api, make_api, sample


@pytest.fixture
def limited(tmp_path: Path, book: tiergate.Rulebook, request: pytest.FixtureRequest) -> Iterator[Api]:
    made = make_api(tmp_path, book, **getattr(request, "param", {}))
    yield made
    made.client.close()
    made.ctx.close()


def _identical_rows(source: pa.Table, rows: int, path: Path, row_group: int = 100_000) -> Path:
    """``rows`` copies of the first row of ``source``: a Parquet file of a few kB (dictionary and run-length
    encoding store a repeated value once)."""
    one = source.slice(0, 1)
    chunk = pa.concat_tables([one] * min(rows, row_group)).combine_chunks()
    with pq.ParquetWriter(path, chunk.schema, compression="zstd") as writer:
        left = rows
        while left > 0:
            part = chunk.slice(0, min(left, chunk.num_rows))
            writer.write_table(part, row_group_size=row_group)
            left -= part.num_rows
    return path


# --------------------------------------------------------------------------- uploads: rows and decoded size


def test_parquet_footprint_reads_the_footer_only(usage_data: tuple[Path, Path], tmp_path: Path) -> None:
    usage = pq.read_table(usage_data[0])
    bomb = _identical_rows(usage, 2_000_000, tmp_path / "bomb.parquet")
    assert bomb.stat().st_size < 300_000
    rows, decoded = parquet_footprint(bomb)
    assert rows == 2_000_000
    assert decoded > 100 * bomb.stat().st_size  # what it would take once decoded, not what it weighs


@pytest.mark.parametrize("limited", [{"max_upload_rows": 1_000}], indirect=True)
def test_a_parquet_of_many_identical_rows_is_refused_before_the_scan(
    limited: Api, usage_data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: 0.94 MB of Parquet holding 20 million identical rows took the server to 11 GB."""
    import tiergate.monitor.scan as scan

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the upload was scanned")

    monkeypatch.setattr(scan, "run_scan", no_scan)
    bomb = _identical_rows(pq.read_table(usage_data[0]), 5_000, tmp_path / "usage.parquet")
    files = {
        "usage": ("usage.parquet", bomb.read_bytes(), "application/octet-stream"),
        "customers": ("customers.parquet", usage_data[1].read_bytes(), "application/octet-stream"),
    }
    response = limited.post("/v1/monitor/alerts", files=files)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["where"] == "body.usage"
    assert "5,000 rows; at most 1,000" in error["message"]
    assert "usage.parquet" in error["message"] and "/tmp" not in error["message"]


def test_the_default_limits_refuse_the_issues_parquet(api: Api, usage_data: tuple[Path, Path], tmp_path: Path) -> None:
    bomb = _identical_rows(pq.read_table(usage_data[0]), 600_000, tmp_path / "usage.parquet")
    files = {"usage": ("usage.parquet", bomb.read_bytes()), "customers": ("c.parquet", usage_data[1].read_bytes())}
    started = time.monotonic()
    response = api.post("/v1/monitor/alerts", files=files)
    assert response.status_code == 413, response.text
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("limited", [{"max_upload_rows": 50}], indirect=True)
def test_a_csv_upload_is_capped_by_rows(limited: Api, usage_data: tuple[Path, Path]) -> None:
    import pyarrow.csv as pc

    sink = io.BytesIO()
    pc.write_csv(pq.read_table(usage_data[0]).slice(0, 120), sink)
    files = {"usage": ("usage.csv", sink.getvalue()), "customers": ("c.parquet", usage_data[1].read_bytes())}
    response = limited.post("/v1/monitor/alerts", files=files)
    assert response.status_code == 413, response.text
    assert "rows; at most 50" in response.json()["error"]["message"]


def test_read_records_with_limits_refuses_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tiergate.batch as batch

    txn = sample("demo-02")
    row = {
        "id": "t",
        "date": txn["date"],
        "destination": txn["destination"],
        "chip": "nvidia-h100-sxm",
        "quantity": 1,
        "consignee_name": "Acme",
        "consignee_country": txn["destination"],
    }
    path = _identical_rows(pa.Table.from_pylist([row]), 20_000, tmp_path / "batch.parquet")
    calls = []
    monkeypatch.setattr(batch, "flat_to_transaction", lambda *a: calls.append(a))
    with pytest.raises(InputError, match=r"20,000 rows; at most 10,000"):
        list(read_records(path, InputLimits(rows=10_000, decoded_bytes=1 << 30)))
    assert calls == []
    jsonl = tmp_path / "batch.jsonl"
    jsonl.write_bytes(b"{}\n" * 30)
    with pytest.raises(InputError, match="30 rows; at most 20"):
        list(read_records(jsonl, InputLimits(rows=20, decoded_bytes=1 << 30)))


# --------------------------------------------------------------------------- YAML aliases

ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *[
            f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ],
    ]
)


def test_the_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    """Issue 21: 436 bytes of nested aliases cost 59 s and 2.4 GB in ``tiergate decide``."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB + "\n")
    assert len(bomb.read_bytes()) < 500
    started = time.monotonic()
    with pytest.raises(tiergate.TiergateError, match=r"bomb\.yaml:1: not valid YAML: anchors and aliases"):
        list(read_records(bomb))
    assert time.monotonic() - started < 1
    one = tmp_path / "one.yaml"
    one.write_text("base: &base {name: A}\nother: *base\n")
    with pytest.raises(tiergate.TiergateError, match="anchors and aliases"):
        list(read_records(one))


# --------------------------------------------------------------------------- answers, budgets


def _batch(count: int) -> list[dict[str, Any]]:
    return [{**sample("demo-02"), "id": f"t{i}"} for i in range(count)]


@pytest.mark.parametrize("limited", [{"max_response_bytes": 20_000}], indirect=True)
def test_a_batch_answer_is_capped(limited: Api) -> None:
    """Issue 21: a 14.5 MB batch produced an 896 MB answer."""
    response = limited.post("/v1/decide/batch", json=_batch(40))
    assert response.status_code == 413, response.text[:300]
    error = response.json()["error"]
    assert "larger than 20,000 bytes" in error["message"] and "explain=false" in error["hint"]
    fewer = limited.post("/v1/decide/batch?explain=false", json=_batch(4))
    assert fewer.status_code == 200 and len(fewer.json()) == 4
    names = [{"name": f"Huawei Technologies {i}", "country": "CN"} for i in range(200)]
    screened = limited.post("/v1/screen/batch", role="viewer", json=names)
    assert screened.status_code == 413, screened.text[:300]


@pytest.mark.parametrize("limited", [{"request_timeout_seconds": 0.0}], indirect=True)
def test_a_batch_over_its_time_budget_is_stopped(limited: Api) -> None:
    response = limited.post("/v1/decide/batch", json=_batch(3))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "timeout"
    names = [{"name": "Huawei Technologies", "country": "CN"}] * 3
    screened = limited.post("/v1/screen/batch", role="viewer", json=names)
    assert screened.status_code == 503 and screened.json()["error"]["code"] == "timeout"


def test_json_lines_past_the_batch_limit_are_refused_before_they_are_parsed(tmp_path: Path, book: Any) -> None:
    made = make_api(tmp_path, book, max_batch_records=5)
    try:
        body = b"".join(orjson.dumps(t) + b"\n" for t in _batch(5)) + b"not json\n"
        response = made.post("/v1/decide/batch", content=body, headers={"content-type": "application/x-ndjson"})
        assert response.status_code == 413, response.text
    finally:
        made.client.close()
        made.ctx.close()


def test_large_and_screened_decisions_run_off_the_event_loop(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21: decisions of up to 32 kB ran on the event loop (p50 1.2 s for an unrelated GET meanwhile)."""
    import tiergate.api.decide as decide

    seen: list[bool] = []
    original = decide.decide_records

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return original(*args, **kwargs)

    monkeypatch.setattr(decide, "decide_records", spy)
    big = {**sample("demo-02"), "items": [{"chip": "nvidia-h100-sxm", "quantity": i + 1} for i in range(300)]}
    assert 8_000 < len(orjson.dumps(big)) < 32_768
    assert api.post("/v1/decide", json=big).status_code == 200
    assert api.post("/v1/decide", json=sample("demo-02")).status_code == 200  # screened: the lists are loaded
    assert seen == [False, False]


# --------------------------------------------------------------------------- a real server


class Served:
    def __init__(self, app: Any, settings: Settings) -> None:
        import uvicorn

        self.server = uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def served(tmp_path: Path, book: tiergate.Rulebook, request: pytest.FixtureRequest) -> Iterator[tuple[Served, str]]:
    settings = Settings(
        db=f"sqlite:///{tmp_path / 'ledger.db'}",
        lists=f"sqlite:///{tmp_path / 'lists.db'}",
        sample_lists=SAMPLE_LISTS,  # 13 records, as make_api's: filling the bundled lists takes seconds per server
        today=lambda: TODAY,
        **getattr(request, "param", {}),
    )
    app = create_app(settings, book=book, dashboard=False)
    token, _ = create_key(app.state.tiergate.ledger, "officer-owner", "officer", who="test")
    running = Served(app, settings)
    yield running, token
    running.stop()
    app.state.tiergate.close()


@pytest.mark.parametrize("served", [{"header_timeout_seconds": 0.5}], indirect=True)
def test_slow_headers_are_timed_out(served: tuple[Served, str]) -> None:
    server, _ = served
    with server.connect() as sock:
        started = time.monotonic()
        sock.sendall(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"code":"request_timeout"' in answer
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("served", [{"body_timeout_seconds": 0.5}], indirect=True)
def test_a_slow_body_is_timed_out(served: tuple[Served, str]) -> None:
    server, token = served
    with server.connect() as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: 500\r\n\r\n".encode()
            + b'{"id": "t"'
        )
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 408 "), head[:300]
    assert b"did not arrive within 0.5 s" in head
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("served", [{"max_connections": 2, "header_timeout_seconds": 5}], indirect=True)
def test_connections_beyond_the_limit_are_refused(served: tuple[Served, str]) -> None:
    server, _ = served
    idle = [server.connect(), server.connect()]
    try:
        time.sleep(0.2)
        with server.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
    finally:
        for sock in idle:
            sock.close()


def test_an_abandoned_screening_batch_stops(served: tuple[Served, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21: an abandoned 10,000-name screening batch kept a core busy 4.5 minutes after the client left."""
    from tiergate.api.screening import ServerLists

    server, token = served
    screened = []
    original = ServerLists.screen

    def slow_screen(self: ServerLists, *args: Any, **kwargs: Any) -> Any:
        screened.append(1)
        time.sleep(0.002)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ServerLists, "screen", slow_screen)
    body = orjson.dumps([{"name": f"Huawei Technologies {i}", "country": "CN"} for i in range(10_000)])
    with server.connect() as sock:
        sock.sendall(
            b"POST /v1/screen/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 30
        while not screened:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.2)
    left_at = len(screened)
    time.sleep(1.0)
    stopped_at = len(screened)
    time.sleep(0.5)
    assert len(screened) == stopped_at, "the work went on after the client left"
    assert stopped_at < 10_000
    assert stopped_at - left_at < 500
