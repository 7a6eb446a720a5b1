"""``tiergate verify``: locate, probe, fleet, measure, and the signed challenge round trip, through the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiergate.cli import app
from tiergate.errors import InputError
from tiergate.signing import load_signing_key, public_key_pem
from tiergate.verify import gemm

from .conftest import rtt_csv

runner = CliRunner()
ENV = {"TIERGATE_TODAY": "2026-12-03"}


def run(*args: str) -> object:
    return runner.invoke(app, ["verify", *args], env=ENV)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "sg.csv").write_text(rtt_csv([["SIN", 2.0], ["SIN", 9.0], ["KUL", 4.5], ["BKK", 16]]))
    (tmp_path / "hk.csv").write_text(rtt_csv([["HKG", 1.5]]))
    return tmp_path


def test_locate_table_json_and_html(files: Path) -> None:
    table = run("locate", "--claim", "SG", "--rtt", str(files / "sg.csv"))
    assert table.exit_code == 0, table.output
    assert "verdict: consistent_unsigned" in table.output and "299.8" in table.output
    found = run("locate", "--claim", "SG", "--rtt", str(files / "sg.csv"), "--format", "json")
    data = json.loads(found.stdout)
    assert data["verdict"] == "consistent_unsigned"
    assert [m["min_rtt_ms"] for m in data["landmarks"] if m["landmark"] == "SIN"] == [2.0]
    assert data["tier3_touched"]["c"] == [] and "SG" in data["region_touches"]["c"]
    page = files / "map.html"
    drawn = run("locate", "--claim", "SG", "--rtt", str(files / "sg.csv"), "--format", "html", "--out", str(page))
    assert drawn.exit_code == 0
    html = page.read_text()
    assert "<svg" in html and html.count('class="disk-c"') == 3 and "Verdict: consistent unsigned" in html


def test_a_ruled_out_claim_exits_1(files: Path) -> None:
    found = run("locate", "--claim", "SG", "--rtt", str(files / "hk.csv"), "--format", "json")
    assert found.exit_code == 1
    assert json.loads(found.stdout)["verdict"] == "ruled_out"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("landmark,lat,lon,rtt_ms\nSIN,1.35,103.8,0\n", "rtt_ms: 0 is not a round trip"),
        ("landmark,lat,lon,rtt_ms\nSIN,1.35,103.8,-3\n", "rtt_ms: -3 is not a round trip"),
        ("landmark,lat,lon,rtt_ms\nSIN,1.35,103.8,nan\n", "rtt_ms: nan is out of range"),
        ("landmark,lat,lon,rtt_ms\nSIN,1.35,103.8,fast\n", "rtt_ms: 'fast' is not a number"),
        ("landmark,lat,lon,rtt_ms\nSIN,91,103.8,2\n", "lat: 91 is out of range"),
        ("landmark,lat,lon,rtt_ms\nSIN,1.35,200,2\n", "lon: 200 is out of range"),
        ("landmark,lat,lon,rtt_ms\n,1.35,103.8,2\n", "landmark: empty"),
        ("landmark,lat,lon\nSIN,1.35,103.8\n", "missing column(s) rtt_ms"),
        ("landmark,lat,lon,rtt_ms,speed\nSIN,1,1,1,2\n", "unknown column(s) 'speed'"),
        ("", "empty file"),
        ("landmark,lat,lon,rtt_ms\n", "no round-trip samples"),
        ("landmark,lat,lon,rtt_ms\nSIN,1.35,103.8,2\nSIN,1.40,103.8,3\n", "landmark 'SIN' is at 1.4, 103.8 here"),
        ("landmark,lat,lon,rtt_ms\nSIN,1.35,103.8,2,9\n", "5 fields where the header has 4"),
    ],
)
def test_bad_round_trips_name_the_row(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    found = run("locate", "--claim", "SG", "--rtt", str(path))
    assert isinstance(found.exception, InputError), found.output
    assert message in str(found.exception)
    if "\n" in content.strip():
        assert "bad.csv:" in str(found.exception)


def test_bad_claims_and_encodings(files: Path, tmp_path: Path) -> None:
    unknown = run("locate", "--claim", "XX", "--rtt", str(files / "sg.csv"))
    assert "'XX' is not an ISO 3166-1 alpha-2 country code" in str(unknown.exception)
    named = run("locate", "--claim", "Singapur", "--rtt", str(files / "sg.csv"))
    assert "did you mean SG (Singapore)" in str(named.exception)
    far = run("locate", "--claim", "95,10", "--rtt", str(files / "sg.csv"))
    assert "latitude: 95 is out of range" in str(far.exception)
    tiny = run("locate", "--claim", "GI", "--rtt", str(files / "sg.csv"))
    assert "no shape on the bundled map" in str(tiny.exception) and "LAT,LON" in str(tiny.exception)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("landmark,lat,lon,rtt_ms\nS\xe3o Paulo,-23.5,-46.6,2\n".encode("latin-1"))
    found = run("locate", "--claim", "BR", "--rtt", str(latin))
    assert "not UTF-8 text" in str(found.exception) and "latin.csv" in str(found.exception)
    missing = run("locate", "--claim", "SG", "--rtt", str(tmp_path / "none.csv"))
    assert "no such file" in str(missing.exception)


def test_a_user_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("landmark,lat,lon,rtt_ms\nSIN,1.35,103.8,0\n")
    done = subprocess.run(
        [sys.executable, "-m", "tiergate.cli", "verify", "locate", "--claim", "SG", "--rtt", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "bad.csv:2" in done.stderr and "rtt_ms" in done.stderr


def test_probe_measured_and_exit_codes() -> None:
    found = run("probe", "--declared", "H20", "--measured", "bf16=796.8", "--format", "json")
    assert found.exit_code == 1
    data = json.loads(found.stdout)
    assert data["verdict"] == "inconsistent" and data["measured_tpp"] == pytest.approx(12748.8)
    ok = run("probe", "--declared", "H200", "--measured", "bf16=796.8", "--measured", "fp8=1458")
    assert ok.exit_code == 0 and "verdict: consistent" in ok.output
    unknown = run("probe", "--declared", "H2OO", "--measured", "bf16=1")
    assert "unknown chip 'H2OO'" in str(unknown.exception) and "did you mean" in str(unknown.exception)
    for bad, message in (
        ("bf16", "not PRECISION=TFLOPS"),
        ("bf16=-1", "above 0"),
        ("bf16=inf", "finite"),
        ("fp9=100", "unknown precision 'fp9'"),
    ):
        found = run("probe", "--declared", "H100", "--measured", bad)
        assert message in str(found.exception), bad
    both = run("probe", "--declared", "H100")
    assert "give either --measured" in str(both.exception)


def test_probe_run_on_the_cpu_says_so() -> None:
    found = run("probe", "--declared", "H100", "--run", "--size", "128", "--format", "json")
    data = json.loads(found.stdout)
    assert data["environment"]["engine"] == ("torch-cuda" if gemm.gpu_available() else "numpy-cpu")
    if not gemm.gpu_available():
        assert (
            data["verdict"] == "inconclusive" and "say nothing about the declared chip" in data["environment"]["note"]
        )
        assert data["measured_tflops"]["fp32"] > 0


@pytest.mark.skipif(not gemm.gpu_available(), reason="no CUDA accelerator on this machine (PyTorch sees none)")
def test_probe_run_on_the_accelerator() -> None:
    rates, environment = gemm.run_gpu(4096, repeats=3)
    assert rates["bf16"] > 10 and environment["device_count"] >= 1


@pytest.fixture
def landmark_servers() -> Iterator[list[int]]:
    servers = []
    for _ in range(2):
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(5)
        servers.append(server)

    def accept(server: socket.socket) -> None:
        try:
            while True:
                conn, _ = server.accept()
                conn.close()
        except OSError:
            return

    threads = [threading.Thread(target=accept, args=(s,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield [s.getsockname()[1] for s in servers]
    for server in servers:
        server.close()


def test_measure_times_tcp_connects(tmp_path: Path, landmark_servers: list[int]) -> None:
    free = socket.create_server(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()
    spec = tmp_path / "landmarks.csv"
    spec.write_text(
        "landmark,lat,lon,host,port\n"
        f"A,1.35,103.82,127.0.0.1,{landmark_servers[0]}\n"
        f"B,1.351,103.821,127.0.0.1,{landmark_servers[1]}\n"
        f"C,13.75,100.50,127.0.0.1,{closed_port}\n"
    )
    out = tmp_path / "rtt.csv"
    found = run("measure", "--landmarks", str(spec), "--samples", "3", "--timeout", "1", "--out", str(out))
    assert found.exit_code == 0, found.output
    rows = out.read_text().splitlines()
    assert rows[0] == "landmark,lat,lon,rtt_ms" and len(rows) == 7
    assert all(0 < float(r.split(",")[3]) < 1000 for r in rows[1:])
    assert "no answer from C" in found.output
    located = run("locate", "--claim", "1.35,103.82", "--rtt", str(out), "--format", "json")
    data = json.loads(located.stdout)  # loopback is fast, but its exact speed depends on the machine's load
    assert data["claim_inside"]["c"] == "yes" and data["verdict"] in ("consistent_unsigned", "inconclusive")
    bad = tmp_path / "bad.csv"
    bad.write_text("landmark,lat,lon,host,port\nA,1,1,127.0.0.1,99999\n")
    assert "port: 99999 is not a TCP port" in str(run("measure", "--landmarks", str(bad)).exception)


def test_signed_round_trips_through_the_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    chip = load_signing_key(tmp_path / "chip.pem", create=True)
    (tmp_path / "chip.pub").write_text(public_key_pem(chip))
    load_signing_key(tmp_path / "relay.pem", create=True)
    added = run("keys", "add", "SN-1", str(tmp_path / "chip.pub"), "--db", db)
    assert added.exit_code == 0, added.output
    assert json.loads(run("keys", "list", "--db", db).stdout)[0]["serial"] == "SN-1"

    def signed_rows(key: str) -> Path:
        answers = []
        for _ in range(2):
            challenge = tmp_path / "challenge.json"
            challenge.write_text(run("challenge", "--serial", "SN-1", "--db", db).output)
            answers.append(json.loads(run("respond", str(challenge), "--key", str(tmp_path / key)).stdout))
        path = tmp_path / f"{key}.csv"
        path.write_text(rtt_csv([["SIN", 2.0], ["KUL", 4.5]], [(a["nonce"], a["signature"]) for a in answers]))
        return path

    good = run(
        "locate",
        "--claim",
        "SG",
        "--rtt",
        str(signed_rows("chip.pem")),
        "--serial",
        "SN-1",
        "--db",
        db,
        "--format",
        "json",
    )
    assert json.loads(good.stdout)["verdict"] == "consistent"
    relayed = run(
        "locate",
        "--claim",
        "SG",
        "--rtt",
        str(signed_rows("relay.pem")),
        "--serial",
        "SN-1",
        "--db",
        db,
        "--format",
        "json",
    )
    assert relayed.exit_code == 1
    data = json.loads(relayed.stdout)
    assert data["verdict"] == "rejected" and "relay or proxy" in data["reasons"][-1]
    unsigned_serial = run("locate", "--claim", "SG", "--rtt", str(signed_rows("chip.pem")), "--db", db)
    assert "no chip serial was given" in str(unsigned_serial.exception)
    unknown = run("challenge", "--serial", "SN-404", "--db", db)
    assert "no key is registered for serial 'SN-404'" in str(unknown.exception)
    assert run("keys", "revoke", "SN-1", "--db", db).exit_code == 0


def test_fleet(tmp_path: Path) -> None:
    path = tmp_path / "fleet.csv"
    path.write_text(
        "serial,declared,claim,landmark,lat,lon,rtt_ms,precision,tflops\n"
        "A1,H100,SG,SIN,1.3521,103.8198,2.0,,\n"
        "A1,H100,SG,,,,,bf16,790\n"
        "B2,H20,SG,SIN,1.3521,103.8198,2.1,,\n"
        "B2,H20,SG,,,,,bf16,796.8\n"
        "C3,H100,SG,HKG,22.3193,114.1694,1.5,,\n"
        "D4,H100,MY,,,,,bf16,700\n"
    )
    found = run("fleet", str(path), "--format", "json")
    assert found.exit_code == 1
    rows = {r["serial"]: r for r in json.loads(found.stdout)}
    assert [r["serial"] for r in json.loads(found.stdout)][:2] == ["C3", "B2"]
    assert rows["C3"]["status"] == "ruled_out" and rows["B2"]["status"] == "inconsistent"
    assert rows["A1"]["status"] == "unverified" and rows["A1"]["location"] == "consistent_unsigned"
    assert rows["D4"]["status"] == "unverified" and "no round trips" in rows["D4"]["why"]
    html = tmp_path / "fleet.html"
    assert run("fleet", str(path), "--format", "html", "--out", str(html)).exit_code == 1
    assert "4 of 4 chip(s)" in html.read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text("serial,declared,claim\nA1,H100,SG\nA1,H200,SG\n")
    assert "serial 'A1' is declared 'H200'" in str(run("fleet", str(bad)).exception)
