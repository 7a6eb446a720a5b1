"""``tiergate lists`` and ``tiergate screen`` end to end, as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"


def tg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from tiergate.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_load_screen_compare_batch_clear_audit(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lists.db'}"
    loaded = tg("lists", "load", str(DATA / "lists"), "--db", db, "--format", "json", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert {r["dataset"] for r in json.loads(loaded.stdout)["loaded"]} >= {"ofac-sdn", "un-consolidated"}
    status = tg("lists", "status", "--db", db, "--format", "json", cwd=tmp_path)
    assert any(r["dataset"] == "ofac-sdn" and r["entries"] == 5 for r in json.loads(status.stdout))

    hit = tg("screen", "name", "华为技术有限公司", "--country", "CN", "--db", db, "--format", "json", cwd=tmp_path)
    assert hit.returncode == 1, hit.stderr  # an open match
    result = json.loads(hit.stdout)
    top = result["hits"][0]
    assert "Huawei" in top["name"] and top["match"] and "country_match" in top["explanation"]
    assert result["data_version"]
    clean = tg("screen", "name", "Northwind Data Centres", "--db", db, "--format", "json", cwd=tmp_path)
    assert clean.returncode == 0 and json.loads(clean.stdout)["hits"] == []

    recorded = tg(
        "screen", "name", "Huawei Technologies", "--party", "cust-9", "--db", db, "--format", "json", cwd=tmp_path
    )
    entry = json.loads(recorded.stdout)["hits"][0]["entry"]
    cleared = tg(
        "screen",
        "clear",
        "--party",
        "cust-9",
        "--entry",
        entry,
        "--reason",
        "a US reseller, not Huawei",
        "--author",
        "ana",
        "--db",
        db,
        cwd=tmp_path,
    )
    assert cleared.returncode == 0, cleared.stderr
    again = tg(
        "screen",
        "name",
        "Huawei Technologies",
        "--party",
        "cust-9",
        "--db",
        db,
        "--format",
        "json",
        "--limit",
        "1",
        cwd=tmp_path,
    )
    assert json.loads(again.stdout)["hits"][0]["status"] == "cleared"

    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "name1,name2,schema\nVladimir Putin,Владимир Путин,Person\nAcme Ltd,Zenith Ltd,\n", encoding="utf-8"
    )
    compared = tg("screen", "compare", "--pairs", str(pairs), "--format", "json", cwd=tmp_path)
    lines = [json.loads(x) for x in compared.stdout.splitlines()]
    assert [x["match"] for x in lines] == [True, False] and [x["line"] for x in lines] == [2, 3]

    batch = tmp_path / "parties.csv"
    batch.write_text("id,name,country\nc1,Banco Nacional de Cuba,CU\nc2,Northwind,IN\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    done = tg("screen", "batch", str(batch), "--out", str(out), "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["hit"] for r in rows] == [True, False]

    audit = tg("screen", "audit", "--db", db, cwd=tmp_path)
    actions = [json.loads(x)["action"] for x in audit.stdout.splitlines()]
    assert "load" in actions and "cleared" in actions and "screen" in actions


def test_bad_input_is_one_error_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lists.db'}"
    broken = tmp_path / "sdn.csv"
    broken.write_text('36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA"\r\n', encoding="utf-8")
    bad = tg("lists", "load", str(broken), "--db", db, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "sdn.csv:1" in bad.stderr
    assert not (tmp_path / "lists.db").exists() or "holds no" in tg("lists", "status", "--db", db, cwd=tmp_path).stderr
    tg("lists", "load", str(DATA / "lists"), "--db", db, cwd=tmp_path)
    for name in ("", "\x01\x02", "A" * 10_000):
        r = tg("screen", "name", name, "--db", db, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.startswith("error: name: "), r.stderr
    r = tg("screen", "name", "Acme", "--country", "XX", "--db", db, cwd=tmp_path)
    assert r.returncode == 2 and "--country" in r.stderr
