"""``tiergate diversion generate|scan|cases`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiergate.cli import app

from ..conftest import BundledLists
from .conftest import Scanned

runner = CliRunner()


def test_generate_scan_and_work_a_case(
    scanned: Scanned, tmp_path: Path, bundled_lists: BundledLists, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default list store is the working folder's, as a first run leaves it
    bundled_lists.install(tmp_path)
    out = tmp_path / "g"
    made = runner.invoke(app, ["diversion", "generate", "--shipments", "50", "--out", str(out), "--instances", "1"])
    assert made.exit_code == 0, made.output
    assert (out / "shipments.csv").exists() and (out / "labels.csv").exists()

    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    args = ["diversion", "scan", str(scanned.made.shipments), "--parties", str(scanned.made.parties)]
    result = runner.invoke(app, [*args, "--format", "jsonl", "--lists", scanned.lists, "--db", db])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[0]["level"] == "block"
    assert all(c["level"] in ("block", "high", "medium") for c in lines)
    levels = [c["level"] for c in lines]
    assert levels == sorted(levels, key=["block", "high", "medium"].index)

    listed = runner.invoke(app, ["diversion", "cases", "list", "--db", db, "--format", "json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["case"] == lines[0]["case"]
    no_reason = runner.invoke(app, ["diversion", "cases", "close", lines[0]["case"], "--reason", " ", "--db", db])
    assert no_reason.exit_code != 0 and "needs a reason" in str(no_reason.exception)
    closed = runner.invoke(app, ["diversion", "cases", "close", lines[0]["case"], "--reason", "cleared", "--db", db])
    assert closed.exit_code == 0 and json.loads(closed.stdout)["status"] == "closed"
    unknown = runner.invoke(app, ["diversion", "cases", "show", "C-9999", "--db", db])
    assert unknown.exit_code != 0 and "no case" in str(unknown.exception)

    # a flag arm added later (F10's site visit) shows in a case of the queue and on the page, as any flag does
    boxed = next(c for c in lines if any("still boxed" in f["why"] for f in c["flags"]))
    shown = runner.invoke(app, ["diversion", "cases", "show", boxed["case"], "--db", db])
    assert shown.exit_code == 0 and "found the kit still boxed" in shown.stdout

    page = runner.invoke(app, [*args, "--format", "html"])
    assert page.exit_code == 0 and "<svg" in page.stdout and "<script" not in page.stdout
    assert "found the kit still boxed" in page.stdout


def test_scan_names_a_malformed_row(
    tmp_path: Path, bundled_lists: BundledLists, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bundled_lists.install(tmp_path)
    bad = tmp_path / "s.csv"
    bad.write_text("id,date,quantity\nA,2025-01-01,3\nB,2025-01-02,lots\n")
    result = runner.invoke(app, ["diversion", "scan", str(bad), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert f"{bad}:3: quantity: 'lots' is not a whole number" in result.stderr
