"""``tiergate vault ...`` end to end: JSON on standard output, exit 0 / 1 (log or proof fails) / 2 (bad input,
nothing written) / 3 (refused, logged). Most commands run in-process through ``tiergate.cli.main`` (a second
each as subprocesses is too slow for this many); one test runs the installed entry point as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.vault.conftest import SAMPLE_LISTS, Clock, Shards, artefact, write_shards
from tiergate.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    capsys: pytest.CaptureFixture[str]
    folder: Path
    clock: Clock
    shards: Shards

    def __call__(self, *args: str) -> Run:
        saved = sys.argv
        sys.argv = ["tiergate", *args]
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        finally:
            sys.argv = saved
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def file(self, name: str, content: Any) -> str:
        path = self.folder / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    import tiergate.vault.cli as vault_cli
    from tiergate.screen.ingest import read_lists
    from tiergate.screen.store import open_store

    clock = Clock()
    monkeypatch.setattr(vault_cli, "clock", clock)
    monkeypatch.setenv("TIERGATE_DB", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("TIERGATE_LISTS", f"sqlite:///{tmp_path / 'lists.db'}")
    monkeypatch.setenv("TIERGATE_SIGNING_KEY", str(tmp_path / "operator.pem"))
    monkeypatch.setenv("TIERGATE_ACTOR", "ops")
    store = open_store(f"sqlite:///{tmp_path / 'lists.db'}")
    store.init()
    store.load(read_lists([SAMPLE_LISTS]))
    store.close()
    return Cli(capsys, tmp_path, clock, write_shards(tmp_path / "shards"))


def _setup(cli: Cli) -> str:
    assert cli("vault", "init", "--approvers", "alice,bob,carol", "--threshold", "2", "--create-key").code == 0
    made = cli("vault", "register", cli.file("frontier.json", artefact("frontier-1", 3.5e26, cli.shards)))
    assert made.code == 0, made.err
    requested = cli(
        "vault", "request", "frontier-1", "--destination", "DE", "--recipient", "Northwind Compute GmbH",
        "--recipient-headquarters", "DE", "--requester", "dave",
    )  # fmt: skip
    assert requested.code == 0, requested.err
    return str(requested.json()["request"])


def test_the_whole_flow(cli: Cli) -> None:
    rid = _setup(cli)
    assert cli("vault", "status", rid).json()["status"] == "pending"
    assert cli("vault", "approve", rid, "--approver", "alice").json()["status"] == "pending"
    again = cli("vault", "approve", rid, "--approver", "alice")
    assert again.code == 3 and again.json()["approval_reason"] == "already_approved"
    assert cli("vault", "approve", rid, "--approver", "bob").json()["status"] == "eligible"
    released = cli("vault", "release", rid, "--shards", str(cli.shards.folder))
    assert released.code == 0 and released.json()["status"] == "released"
    summary = cli("vault", "status").json()
    assert summary["requests"][0]["status"] == "released" and summary["artefacts"][0]["eccn"] == "4E091"

    kept = cli.folder / "checkpoint.json"
    signed = cli("vault", "log", "checkpoint", "--out", str(kept))
    assert signed.code == 0 and json.loads(kept.read_text())["size"] == signed.json()["size"] == 7
    assert cli("vault", "log", "verify").json()["ok"] is True
    proof = cli.folder / "proof.json"
    assert cli("vault", "log", "prove", "3", "--out", str(proof)).code == 0
    public = cli.folder / "operator.pub"
    from tiergate.signing import load_signing_key, public_key_pem

    public.write_text(public_key_pem(load_signing_key(cli.folder / "operator.pem")))
    checked = cli("vault", "log", "check", str(proof), "--public-key", str(public))
    assert checked.code == 0 and checked.json()["index"] == 3
    cli("vault", "request", "frontier-1", "--destination", "CN", "--recipient", "X", "--recipient-headquarters", "CN",
        "--requester", "dave")  # fmt: skip
    consistent = cli("vault", "log", "consistency", "7", "--out", str(cli.folder / "c.json"))
    assert consistent.code == 0 and consistent.json()["new_size"] == 8
    assert cli("vault", "log", "check", str(cli.folder / "c.json")).json()["proof"] == "consistency"
    entries = cli("vault", "log", "entries", "--from", "7").json()
    assert [e["kind"] for e in entries] == ["request"] and entries[0]["data"]["status"] == "denied"


def test_verify_exits_1_naming_the_entry(cli: Cli) -> None:
    import sqlalchemy as sa

    rid = _setup(cli)
    cli("vault", "approve", rid, "--approver", "alice")
    assert cli("vault", "log", "checkpoint").code == 0
    engine = sa.create_engine(os.environ["TIERGATE_DB"])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE vault_log SET entry = replace(entry, 'alice', 'bob') WHERE seq = 3"))
    engine.dispose()
    found = cli("vault", "log", "verify")
    assert found.code == 1
    assert found.json()["problems"][0]["entry"] == 3
    assert found.err.startswith("error: the vault's log does not verify: entry 3")
    proof = cli("vault", "log", "prove", "3")
    assert proof.code == 1 and "entry 3 is not in the log" in proof.err
    refused = cli("vault", "log", "checkpoint")
    assert refused.code == 1 and "refusing to sign: entry 3" in refused.err


def test_verify_against_a_kept_checkpoint(cli: Cli) -> None:
    import sqlalchemy as sa

    _setup(cli)
    kept = cli.folder / "kept.json"
    cli("vault", "log", "checkpoint", "--out", str(kept))
    engine = sa.create_engine(os.environ["TIERGATE_DB"])
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM vault_log WHERE seq >= 2"))
        conn.execute(sa.text("DELETE FROM vault_checkpoints"))
    engine.dispose()
    assert cli("vault", "log", "verify").code == 0
    found = cli("vault", "log", "verify", "--checkpoint", str(kept))
    assert found.code == 1 and found.json()["problems"][0]["entry"] == 2


def test_expiry_through_the_cli_clock(cli: Cli) -> None:
    rid = _setup(cli)
    cli("vault", "approve", rid, "--approver", "alice")
    cli("vault", "approve", rid, "--approver", "bob")
    cli.clock.advance(24)
    assert cli("vault", "status", rid).json()["status"] == "pending"
    blocked = cli("vault", "release", rid, "--shards", str(cli.shards.folder))
    assert blocked.code == 3 and blocked.json()["refusal"] == "not_eligible"


def test_a_rotation_through_init(cli: Cli) -> None:
    _setup(cli)
    proposed = cli("vault", "init", "--approvers", "alice,erin", "--threshold", "1")
    assert proposed.code == 0 and proposed.json()["kind"] == "rotation"
    rid = proposed.json()["request"]
    assert cli("vault", "approve", rid, "--approver", "erin").code == 2
    assert cli("vault", "approve", rid, "--approver", "carol").json()["status"] == "pending"
    assert cli("vault", "approve", rid, "--approver", "bob").json()["status"] == "applied"
    assert cli("vault", "status").json()["approver_set"]["approvers"] == ["alice", "erin"]


def test_datacentres(cli: Cli) -> None:
    _setup(cli)
    centre = {
        "id": "mumbai-1",
        "name": "Mumbai 1",
        "country": "IN",
        "operator": "Op",
        "veu": "UVEU",
        "attestation": {"fedramp_high_equivalent": True, "dedicated_devices": True, "attested_on": "2026-11-01"},
    }
    assert cli("vault", "datacentre", "add", cli.file("dc.json", centre)).code == 0
    assert cli("vault", "datacentre", "list").json()[0]["veu"] == "UVEU"
    made = cli(
        "vault", "request", "frontier-1", "--destination", "IN", "--recipient", "Mumbai Labs",
        "--recipient-headquarters", "US", "--requester", "dave", "--data-centre", "mumbai-1",
    )  # fmt: skip
    assert made.json()["status"] == "pending"


def test_the_installed_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TIERGATE_DB": f"sqlite:///{tmp_path / 'v.db'}",
        "TIERGATE_SIGNING_KEY": str(tmp_path / "k.pem"),
    }
    run = subprocess.run(
        [sys.executable, "-m", "tiergate.cli", "vault", "init", "--approvers", "a,b", "--threshold", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip() == (
        "error: --threshold: 3 is not between 1 and the 2 approver(s) named (K of N: at least 1, at most the "
        "number of approvers)"
    )
    assert not (tmp_path / "v.db").exists() or "vault_config" not in (tmp_path / "v.db").read_bytes().decode("latin1")
