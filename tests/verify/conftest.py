"""Shared pieces of the verification tests: the digest's scenarios as data, chip keys on a throw-away database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from tiergate.signing import load_signing_key, public_key_pem
from tiergate.verify.chipkeys import ChipKeys

SCENARIOS = yaml.safe_load((Path(__file__).parent / "scenarios.yaml").read_text(encoding="utf-8"))
DAY = dt.date(2026, 12, 3)
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
SERIAL = "1650924012345"


def rtt_csv(rows: list[list[Any]], signatures: list[tuple[str, str]] | None = None) -> str:
    marks = SCENARIOS["landmarks"]
    head = "landmark,lat,lon,rtt_ms" + (",nonce,signature" if signatures else "")
    lines = [head]
    for index, (name, rtt) in enumerate(rows):
        lat, lon = marks[name]
        line = f"{name},{lat},{lon},{rtt}"
        if signatures:
            nonce, signature = signatures[index]
            line += f",{nonce},{signature}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture
def chip_keys(tmp_path: Path) -> Any:
    keys = ChipKeys(f"sqlite:///{tmp_path / 'ledger.db'}")
    chip = load_signing_key(tmp_path / "chip.pem", create=True)
    other = load_signing_key(tmp_path / "other.pem", create=True)
    keys.register(SERIAL, public_key_pem(chip), by="test", now=NOW)
    yield keys, chip, other
    keys.close()
