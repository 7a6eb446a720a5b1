"""``tiergate keys create|list|revoke`` and ``tiergate serve``: the server as a subprocess, the other commands
through the command line's entry point in this process (``tests/test_cli.py``'s ``run_in_process``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import BundledLists
from ..inprocess import run_cli
from ..test_cli import Run, run_in_process

TIERGATE = [sys.executable, "-m", "tiergate.cli"]
ENV = {"TIERGATE_ACTOR": "cli-tester", "NO_COLOR": "1", "COLUMNS": "200"}


@pytest.fixture
def here(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    for name in ("TIERGATE_ACTOR", "NO_COLOR", "COLUMNS"):
        monkeypatch.setenv(name, ENV[name])
    return lambda *args: run_in_process(args)


def test_keys_create_list_revoke(tmp_path: Path, here: Callable[..., Run]) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    made = here("keys", "create", "--owner", "dana@example.com", "--role", "officer", "--db", db)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("tg_") and "shown once" in made.stderr
    key_id = token.split("_")[1]
    listed = here("keys", "list", "--db", db)
    assert listed.returncode == 0 and key_id in listed.stdout and "dana@example.com" in listed.stdout
    assert token.split("_", 2)[2] not in listed.stdout
    assert "active" in listed.stdout
    revoked = here("keys", "revoke", key_id, "--db", db)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in here("keys", "list", "--db", db).stdout
    audit = here("audit", "export", "--db", db)
    actions = [(e["action"], e["actor"]) for e in map(json.loads, audit.stdout.splitlines())]
    assert actions == [("api-key-create", "cli-tester"), ("api-key-revoke", "cli-tester")]


def test_keys_bad_input(tmp_path: Path, here: Callable[..., Run]) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    bad_role = here("keys", "create", "--owner", "x", "--role", "root", "--db", db)
    assert bad_role.returncode == 2 and "error: role: 'root' is not a role" in bad_role.stderr
    bad_owner = here("keys", "create", "--owner", "<script>", "--role", "viewer", "--db", db)
    assert bad_owner.returncode == 2 and "owner" in bad_owner.stderr
    past = here("keys", "create", "--owner", "x", "--role", "viewer", "--expires", "2020-01-01", "--db", db)
    assert past.returncode == 2 and "not in the future" in past.stderr
    garbled = here("keys", "create", "--owner", "x", "--role", "viewer", "--expires", "soon", "--db", db)
    assert garbled.returncode == 2 and "--expires" in garbled.stderr
    unknown = here("keys", "revoke", "0123456789ab", "--db", db)
    assert unknown.returncode == 2 and "no API key" in unknown.stderr


def test_serve_answers_on_loopback(tmp_path: Path, bundled_lists: BundledLists) -> None:
    from tiergate.screen.index import index_path
    from tiergate.screen.store import LISTS_FILE

    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = {**os.environ, **ENV}  # as it is now: with the session's index cache (tests/conftest.py)
    # The server fills a fresh list store beside the ledger (tested below), then finds the index of those lists
    # kept as an earlier start would have kept it: building it is tested elsewhere, and takes a minute of the
    # start-up on a busy machine.
    shutil.copyfile(bundled_lists.index, index_path(f"sqlite:///{tmp_path / LISTS_FILE}", bundled_lists.version))
    token = run_cli(["keys", "create", "--owner", "erin", "--role", "viewer", "--db", db], env=env).stdout.strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    errors = log.open("w", encoding="utf-8")  # a file, not a pipe: reading it never waits on the server
    server = subprocess.Popen(
        [*TIERGATE, "serve", "--port", str(port), "--db", db, "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180  # start-up loads the packs and the bundled lists: slow on a busy machine
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    assert json.load(response)["status"] == "ok"
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # a busy machine: the read times out
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    server.wait(timeout=10)
                    raise AssertionError(f"tiergate serve did not start: {log.read_text()}") from None
                time.sleep(0.1)
        request = urllib.request.Request(f"{base}/v1/chips", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert len(json.load(response)) > 10
        lists = urllib.request.Request(f"{base}/v1/screen/lists", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(lists, timeout=5) as response:  # a fresh machine screens the bundled lists
            found = {d["dataset"]: d for d in json.load(response)}
        assert found["ofac-sdn"]["file_date"] == "2024-05-03" and found["ofac-sdn"]["entries"] == 14965
        assert found["nsf-bis-entity-list"]["entries"] > 3000
        assert "ofac-sdn" in found["ofac-sdn"]["warning"]  # the snapshot is stale, and says so
        assert (tmp_path / "tiergate-lists.db").exists()  # beside the ledger
        try:
            urllib.request.urlopen(f"{base}/v1/chips", timeout=5)
            raise AssertionError("no key, yet an answer")
        except urllib.error.HTTPError as error:
            assert error.code == 401 and json.load(error)["error"]["code"] == "unauthenticated"
    finally:
        server.terminate()
        server.wait(timeout=10)
        errors.close()
    assert f"http://127.0.0.1:{port}/" in log.read_text()


def test_serve_bad_monitoring_options(tmp_path: Path, here: Callable[..., Run]) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    alone = here("serve", "--db", db, "--usage", str(tmp_path / "u.parquet"))
    assert alone.returncode == 2 and "--usage and --customers together" in alone.stderr
    missing = here("serve", "--db", db, "--usage", str(tmp_path / "u.parquet"), "--customers", str(tmp_path / "c.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
