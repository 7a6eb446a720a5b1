"""Benchmark of the HTTP API's ``/v1/decide`` (issue 6).

    python bench/api.py [--concurrency 16] [--requests 20000] [--seconds 20] [--explain/--no-explain]
                        [--screening/--no-screening]

Starts ``tiergate serve`` (uvicorn, one process, on a free loopback port, a throw-away SQLite ledger) and
drives ``POST /v1/decide`` with a keep-alive HTTP/1.1 load generator on asyncio (uvloop) at a fixed
concurrency, for at most --requests requests or --seconds seconds, whichever comes first. Then it times the
pure in-process ``tiergate.decide.decide`` on the same (pre-parsed) transaction, and prints throughput and
p50/p99 latency of both and the ratio. Target (issue 6): >= 1,000 decisions/s via HTTP with p99 <= 50 ms.
Only 127.0.0.1 is ever contacted; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "tiergate" / "samples" / "transactions.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def load(
    port: int, request: bytes, concurrency: int, total: int, seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal issued, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while issued < total and time.perf_counter() < deadline:
                issued += 1
                start = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


def in_process(txn_data: dict[str, Any], explain: bool, seconds: float) -> tuple[list[float], float]:
    import tiergate
    from tiergate.decide import decide

    book = tiergate.load_rulebook()
    txn = tiergate.parse_transaction(txn_data, book.catalogue)
    ruleset, selection = book.select(txn.regime, txn.date)
    described = selection.describe()
    latencies = []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        start = time.perf_counter()
        decide(txn, ruleset, selection=described, explain=explain)
        latencies.append(time.perf_counter() - start)
    return latencies, time.perf_counter() - began


def in_process_round_trip(body: bytes, explain: bool, seconds: float) -> float:
    """Decisions/s of what a request adds around decide() without HTTP: JSON parse, interchange parsing,
    decide, the interchange dict and JSON rendering (for where the time goes)."""
    import tiergate
    from tiergate.decide import decide

    book = tiergate.load_rulebook()
    count = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        txn = tiergate.parse_transaction(orjson.loads(body), book.catalogue)
        ruleset, selection = book.select(txn.regime, txn.date)
        decision = decide(txn, ruleset, selection=selection.describe(), explain=explain)
        orjson.dumps(tiergate.decision_to_dict(decision, explain=explain))
        count += 1
    return count / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--explain", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--sample", default="demo-01", help="Which bundled sample transaction to decide.")
    parser.add_argument(
        "--screening",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Serve with consignee screening (the default: the bundled sample lists) or --no-screening.",
    )
    args = parser.parse_args()

    txn = next(t for t in map(orjson.loads, SAMPLE.read_bytes().splitlines()) if t["id"] == args.sample)
    body = orjson.dumps(txn)
    with tempfile.TemporaryDirectory(prefix="tiergate-bench-api-") as folder:
        db = f"sqlite:///{folder}/ledger.db"
        tiergate = [sys.executable, "-m", "tiergate.cli"]
        env = {**os.environ, "TIERGATE_ACTOR": "bench"}
        token = subprocess.run(
            [*tiergate, "keys", "create", "--owner", "bench", "--role", "officer", "--db", db],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        ).stdout.strip()
        port = free_port()
        server = subprocess.Popen(
            [*tiergate, "serve", "--port", str(port), "--db", db, "--log-level", "warning"]
            + ([] if args.screening else ["--no-screening"]),
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise SystemExit("the server did not start")
            path = "/v1/decide" + ("" if args.explain else "?explain=false")
            request = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            try:
                import uvloop

                uvloop.install()
            except ImportError:
                pass
            asyncio.run(load(port, request, args.concurrency, 500, 5.0))  # warm-up
            latencies, errors, elapsed = asyncio.run(load(port, request, args.concurrency, args.requests, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=10)
    base, base_elapsed = in_process(txn, args.explain, 3.0)
    http_rate = len(latencies) / elapsed
    base_rate = len(base) / base_elapsed
    print(
        f"HTTP POST {path} ({args.sample}, explain={args.explain}), concurrency {args.concurrency}, "
        f"{len(latencies):,} requests in {elapsed:.1f} s, {errors} non-200"
    )
    print(
        f"  throughput {http_rate:,.0f} decisions/s; latency p50 {percentile(latencies, 0.5) * 1e3:.2f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1e3:.2f} ms, mean {statistics.fmean(latencies) * 1e3:.2f} ms"
    )
    print(
        f"in-process decide(): {base_rate:,.0f} decisions/s; p50 {percentile(base, 0.5) * 1e6:.0f} us, "
        f"p99 {percentile(base, 0.99) * 1e6:.0f} us"
    )
    print(f"ratio HTTP / in-process throughput: {http_rate / base_rate:.3f}")
    round_trip = in_process_round_trip(body, args.explain, 2.0)
    print(
        f"(in-process JSON -> parse -> decide -> JSON, no HTTP: {round_trip:,.0f} decisions/s; "
        f"HTTP / that: {http_rate / round_trip:.3f})"
    )
    target = http_rate >= 1000 and percentile(latencies, 0.99) <= 0.050
    print(f"target >= 1,000 decisions/s with p99 <= 50 ms: {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
