"""``tiergate lists`` and ``tiergate screen`` end to end (in this process: tests/inprocess.py)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from ..inprocess import Completed, run_cli

DATA = Path(__file__).parent / "data"
TODAY = "2026-03-02"  # the shipments' date: a fixed today, so the tests never depend on the calendar


def tg(*args: str, cwd: Path) -> Completed:
    return run_cli(args, cwd=cwd, env={**os.environ, "TIERGATE_TODAY": TODAY})


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
    # To CSV, a party name written as a formula is shown as text by a spreadsheet (CSV injection).
    batch.write_text('id,name,country\nc3,"=HYPERLINK(""http://x.example"")",IN\n', encoding="utf-8")
    out_csv = tmp_path / "out.csv"
    done = tg("screen", "batch", str(batch), "--out", str(out_csv), "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (written,) = csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"), newline=""))
    assert written["name"] == '\'=HYPERLINK("http://x.example")'

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
    r = tg("screen", "name", "Acme", "--dob", "12/03/1970", "--db", db, cwd=tmp_path)
    assert r.returncode == 2 and "--dob" in r.stderr and "YYYY-MM-DD" in r.stderr


def _outcome(decision: dict[str, object]) -> dict[str, object]:
    """A decision without its explanation and screening record (what the licence rules decided)."""
    return {k: v for k, v in decision.items() if k not in ("explanation", "screening")}


def test_decide_and_ship_take_screening_into_account(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lists.db'}"
    assert tg("lists", "load", str(DATA / "lists"), "--db", db, cwd=tmp_path).returncode == 0
    txns = tmp_path / "txns.jsonl"
    base = {"date": "2026-03-02", "destination": "DE", "items": [{"chip": "nvidia-h100-sxm", "quantity": 10}]}
    rows = [
        {
            **base,
            "id": "clean",
            "consignee": {"name": "Rechenzentrum Nord GmbH", "country": "DE", "headquarters": "DE"},
        },
        {
            **base,
            "id": "el",
            "consignee": {
                "name": "China Electronics Technology Group Corporation 13th Research Institute",
                "country": "DE",
                "headquarters": "DE",
            },
        },
        {**base, "id": "sdn", "consignee": {"name": "Banco Nacional de Cuba", "country": "DE", "headquarters": "DE"}},
    ]
    txns.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    plain = tg("decide", str(txns), "--format", "jsonl", "--no-screening", cwd=tmp_path)
    screened = tg("decide", str(txns), "--format", "jsonl", "--lists", db, cwd=tmp_path)
    assert plain.returncode == 0 and screened.returncode == 0, screened.stderr
    before = {d["id"]: d for d in map(json.loads, plain.stdout.splitlines())}
    after = {d["id"]: d for d in map(json.loads, screened.stdout.splitlines())}
    assert _outcome(after["clean"]) == _outcome(before["clean"])
    assert before["clean"]["screening"]["note"] == "parties not screened"
    assert after["clean"]["screening"] == {**after["clean"]["screening"], "screened": True, "hits": []}
    assert before["el"]["outcome"] != "license_required"
    assert after["el"]["outcome"] == "license_required" and after["el"]["review_policy"] == "presumption_of_denial"
    assert any("Entity List" in line or "EL entry" in line for line in after["el"]["explanation"])
    assert after["sdn"]["outcome"] == "prohibited" and "screen/sdn" in after["sdn"]["rules"]

    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert tg("ledger", "init", "--db", ledger, cwd=tmp_path).returncode == 0
    sdn_only = tmp_path / "sdn.json"
    sdn_only.write_text(json.dumps(rows[2]), encoding="utf-8")
    shipped = tg("ship", str(sdn_only), "--db", ledger, "--lists", db, cwd=tmp_path)
    assert shipped.returncode == 4 and "SDN" in shipped.stderr and "not committed" in shipped.stderr


def test_ownership_flags_from_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lists.db'}"
    assert tg("lists", "load", str(DATA / "lists"), "--db", db, cwd=tmp_path).returncode == 0
    party = tmp_path / "party.json"
    party.write_text(
        json.dumps(
            {
                "name": "Northwind Compute Pte Ltd",
                "country": "SG",
                "headquarters": "SG",
                "owners": [
                    {"name": "Huawei Technologies Co., Ltd.", "country": "CN", "percent": 30},
                    {"name": "Banco Nacional de Cuba", "country": "CU", "percent": 20},
                    {"name": "Temasek Holdings", "country": "SG", "percent": 50},
                ],
            }
        ),
        encoding="utf-8",
    )
    flagged = tg("screen", "owners", str(party), "--db", db, "--as-of", "2026-03-02", cwd=tmp_path)
    assert flagged.returncode == 1, flagged.stderr
    flags = json.loads(flagged.stdout)["flags"]
    owned = [f for f in flags if f["flag"] == "owned_by_listed"]
    assert owned and owned[0]["party"] == "Northwind Compute Pte Ltd" and owned[0]["percent"] == 50
    assert {f["party"] for f in flags if f["flag"] == "headquarters_d5_macau"} == {
        "Huawei Technologies Co., Ltd.",
        "Banco Nacional de Cuba",
    }
    party.write_text(json.dumps({"name": "X", "owners": [{"name": "Y", "percent": 140}]}), encoding="utf-8")
    bad = tg("screen", "owners", str(party), "--db", db, cwd=tmp_path)
    assert bad.returncode == 2 and "owners[0]" in bad.stderr and "percent" in bad.stderr


ODD_NAME = "  china\u00adelectronics   TECHNOLOGY group corporation,, ＣＥＴＣ 13th\u200b research   institute "
"""The Entity List's CETC 13, as an order form might carry it: soft hyphen, odd spacing and case, doubled commas,
full-width letters, a zero-width space (the raw and the cleaned name make different slugs)."""


def test_a_hit_cleared_from_screen_name_is_cleared_in_decide_lists_and_can_be_reopened(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lists.db'}"
    assert tg("lists", "load", str(DATA / "lists"), "--db", db, cwd=tmp_path).returncode == 0
    screened = tg("screen", "name", ODD_NAME, "--country", "cn", "--db", db, "--format", "json", cwd=tmp_path)
    assert screened.returncode == 1, screened.stderr
    result = json.loads(screened.stdout)
    party = result["query"]["party"]
    assert party == "CN:chinaelectronics-technology-group-corporation-cetc-13th-research-institute"
    entry = next(h["entry"] for h in result["hits"] if h["list"] == "EL" and h["match"])

    txns = tmp_path / "txns.jsonl"
    consignee = {"name": ODD_NAME, "country": "CN", "headquarters": "CN"}
    row = {"id": "odd", "date": "2026-03-02", "destination": "CN", "consignee": consignee}
    row["items"] = [{"chip": "nvidia-a100-sxm", "quantity": 8}]
    txns.write_text(json.dumps(row) + "\n", encoding="utf-8")

    def decided() -> dict[str, object]:
        done = tg("decide", str(txns), "--format", "jsonl", "--lists", db, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    plain = tg("decide", str(txns), "--format", "jsonl", "--no-screening", cwd=tmp_path)
    open_hit = decided()
    assert "screen/entity-list" in open_hit["rules"]  # type: ignore[operator]
    clear = ("--party", party, "--entry", entry, "--reason", "another institute", "--author", "ana", "--db", db)
    assert tg("screen", "clear", *clear, cwd=tmp_path).returncode == 0
    assert _outcome(decided()) == _outcome(json.loads(plain.stdout))  # the clearance holds in `decide --lists`

    reopen = ("--party", party, "--entry", entry, "--reason", "new information", "--author", "ben", "--db", db)
    reopened = tg("screen", "reopen", *reopen, cwd=tmp_path)
    assert reopened.returncode == 0, reopened.stderr
    assert "withdrew cleared" in reopened.stdout and "by ben" in reopened.stdout
    assert decided() == open_hit  # open again: it counts
    again = tg("screen", "reopen", *reopen, cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "no standing decision" in again.stderr
    trail = [json.loads(x) for x in tg("screen", "audit", "--db", db, cwd=tmp_path).stdout.splitlines()]
    reopens = [a for a in trail if a["action"] == "reopen"]
    assert len(reopens) == 1 and reopens[0]["detail"]["withdrawn"] == "cleared"
    assert reopens[0]["detail"]["author"] == "ben" and reopens[0]["detail"]["reason"] == "new information"


def test_lists_status_shows_operators_the_paths_loaded(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lists.db'}"
    assert tg("lists", "load", str(DATA / "lists"), "--db", db, cwd=tmp_path).returncode == 0
    rows = {
        r["dataset"]: r for r in json.loads(tg("lists", "status", "--db", db, "--format", "json", cwd=tmp_path).stdout)
    }
    assert rows["ofac-sdn"]["files"] == ["ofac_sdn_2024-05-03.csv"]
    assert (
        rows["ofac-sdn"]["paths"] == [str(DATA / "lists" / "ofac_sdn_2024-05-03.csv")] and rows["ofac-sdn"]["loaded_by"]
    )
    table = tg("lists", "status", "--db", db, cwd=tmp_path).stdout
    assert f"ofac-sdn: {DATA / 'lists' / 'ofac_sdn_2024-05-03.csv'}" in table and "loaded by" in table
    hit = json.loads(
        tg("screen", "name", "Banco Nacional de Cuba", "--db", db, "--format", "json", cwd=tmp_path).stdout
    )
    assert str(DATA) not in json.dumps(hit) and hit["hits"][0]["source"].startswith("ofac_sdn_2024-05-03.csv:")
