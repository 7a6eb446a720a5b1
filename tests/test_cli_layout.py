"""The command line's listings in an 80-column terminal: the values a reader acts on (key ids, outcomes, TPP,
accounts) are printed whole, every line fits, and the listings have ``--format json``. Run in-process with
Typer's CliRunner and ``COLUMNS=80``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiergate import __version__
from tiergate.cli import app

ROOT = Path(__file__).resolve().parents[1]
TRANSACTIONS = ROOT / "tiergate" / "samples" / "transactions.jsonl"
NARROW = {"COLUMNS": "80", "TIERGATE_TODAY": "2026-03-02", "TIERGATE_DB": ""}


def run(*args: str, columns: int = 80) -> str:
    result = CliRunner().invoke(app, list(args), env={**NARROW, "COLUMNS": str(columns)})
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def fits(text: str, columns: int = 80) -> None:
    long = [line for line in text.splitlines() if len(line) > columns and not line.startswith(("http", "  "))]
    assert not long, long


def test_version() -> None:
    assert run("--version").strip() == f"tiergate {__version__}"


def test_keys_list_prints_whole_ids_that_revoke_takes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    owner = "a-very-long-owner-name-of-the-compliance-office@example.com"
    run("keys", "create", "--owner", owner, "--role", "officer", "--db", db)
    run("keys", "create", "--owner", "dana@example.com", "--role", "admin", "--expires", "2027-01-01", "--db", db)
    listed = json.loads(run("keys", "list", "--db", db, "--format", "json"))
    assert {k["owner"] for k in listed} == {owner, "dana@example.com"}
    assert all(re.fullmatch(r"[0-9a-f]{12}", k["id"]) and k["state"] == "active" for k in listed)
    text = run("keys", "list", "--db", db)
    fits(text)
    for key in listed:
        assert re.search(rf"(^|\s){key['id']}(\s|$)", text, re.M), text  # whole, on one line
    assert owner in text
    run("keys", "revoke", listed[0]["id"], "--db", db)
    assert "revoked" in run("keys", "list", "--db", db)


@pytest.mark.parametrize("columns", [80, 200])
def test_decisions_keep_outcome_tpp_and_account_whole(
    columns: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # `decide` screens against the list store of the working folder
    decisions = json.loads(run("decide", str(TRANSACTIONS), "--format", "json"))
    text = run("decide", str(TRANSACTIONS), columns=columns)
    fits(text, columns)
    lines = text.splitlines()
    for d in decisions:
        assert any(d["outcome"] in line.split() for line in lines), d["outcome"]
        assert any(f"{d['tpp_total']:,.0f}" in line or f"{d['tpp_total']:,}" in line for line in lines)
        for allocation in d["allocations"]:
            assert any(allocation["account"] in line for line in lines), allocation["account"]


def test_chip_show_reads_as_a_table_not_python() -> None:
    text = run("chips", "show", "H100")
    fits(text)
    assert "None" not in text and "['" not in text and "True" not in text and "{" not in text
    assert re.search(r"^ECCN\s+3A090\.a", text, re.M) and re.search(r"^aliases\s+H100, ", text, re.M)


def test_chip_list_at_80_columns_keeps_ids_and_tpp() -> None:
    rows = json.loads(run("chips", "list", "--format", "json"))
    text = run("chips", "list")
    fits(text)
    for row in rows:
        assert re.search(rf"(^|\s){re.escape(row['id'])}(\s|$)", text, re.M), row["id"]


def test_ledger_history_names_units_and_balances_take_a_moment(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    run("ledger", "init", "--db", db)
    run("ledger", "installed", "UAE:g42", "AE", "1000", "--db", db)
    moves = json.loads(run("ledger", "history", "--db", db, "--format", "json"))
    assert moves and all(m["unit"] == "TPP" and m["amount"] == 1000 == m["tpp"] for m in moves)
    text = run("ledger", "history", "--db", db)
    fits(text)
    assert "uveu:UAE:g42:AE" in text and re.search(r"\bTPP\b", text)
    assert json.loads(run("ledger", "balances", "--db", db, "--as-of", "2000-01-01T00:00", "--format", "json")) == []
    now = json.loads(run("ledger", "balances", "--db", db, "--as-of", "2999-01-01T12:30+02:00", "--format", "json"))
    assert [b["used"] for b in now] == [1000]
    bad = CliRunner().invoke(app, ["ledger", "balances", "--db", db, "--as-of", "yesterday"], env=NARROW)
    assert bad.exit_code != 0 and "date-time" in str(bad.exception)
