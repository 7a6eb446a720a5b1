"""Signed checkpoints: keys kept outside the database, signatures that catch any change."""

from __future__ import annotations

import dataclasses
import datetime as dt
import stat
from pathlib import Path

import pytest

from tiergate.signing import (
    Checkpoint,
    CheckpointError,
    SigningKeyError,
    key_path,
    load_public_key,
    load_signing_key,
    public_key_pem,
    sign_checkpoint,
    verify_checkpoint,
)

WHEN = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)


def test_key_path_flag_then_environment_then_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERGATE_SIGNING_KEY", str(tmp_path / "env.pem"))
    assert key_path(tmp_path / "flag.pem") == tmp_path / "flag.pem"
    assert key_path() == tmp_path / "env.pem"
    monkeypatch.delenv("TIERGATE_SIGNING_KEY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert key_path() == tmp_path / "cfg" / "tiergate" / "signing-ed25519.pem"


def test_a_key_is_created_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.pem"
    with pytest.raises(SigningKeyError, match="no signing key"):
        load_signing_key(path)
    key = load_signing_key(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_signing_key(path, create=True)
    assert public_key_pem(again) == public_key_pem(key)


def test_not_a_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    with pytest.raises(SigningKeyError, match=r"bad\.pem"):
        load_signing_key(bad)
    with pytest.raises(SigningKeyError):
        load_public_key(bad)


def test_checkpoint_round_trip_and_tampering(tmp_path: Path) -> None:
    key = load_signing_key(tmp_path / "k.pem", create=True)
    cp = sign_checkpoint(key, log="ledger-audit", size=42, root=bytes(range(32)), issued_at=WHEN)
    assert cp.issued_at == "2026-12-03T09:30:00+00:00"
    read = Checkpoint.from_json(cp.to_json())
    assert read == cp
    trusted = load_public_key(tmp_path / "k.pem")
    verify_checkpoint(read, trusted)
    verify_checkpoint(read)
    for change in ({"size": 41}, {"root": "00" * 32}, {"log": "vault"}, {"issued_at": "2027-01-01T00:00:00+00:00"}):
        with pytest.raises(CheckpointError, match="does not verify"):
            verify_checkpoint(dataclasses.replace(cp, **change), trusted)  # type: ignore[arg-type]


def test_a_checkpoint_from_another_key_is_refused(tmp_path: Path) -> None:
    mine = load_signing_key(tmp_path / "mine.pem", create=True)
    theirs = load_signing_key(tmp_path / "theirs.pem", create=True)
    forged = sign_checkpoint(theirs, log="ledger-audit", size=1, root=b"\x00" * 32, issued_at=WHEN)
    verify_checkpoint(forged)  # consistent with itself...
    with pytest.raises(CheckpointError, match="not by the trusted key"):
        verify_checkpoint(forged, mine.public_key())  # ...but not the operator's


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ('{"format": "other"}', "not a checkpoint"),
        ('{"format": "tiergate-checkpoint/1", "log": "x"}', "missing field"),
    ],
)
def test_malformed_checkpoints(text: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.from_json(text, where="cp.json")


def test_naive_time_is_refused(tmp_path: Path) -> None:
    key = load_signing_key(tmp_path / "k.pem", create=True)
    with pytest.raises(ValueError):
        sign_checkpoint(key, log="x", size=0, root=b"", issued_at=dt.datetime(2026, 1, 1))
