"""Vault tests: a vault on a SQLite file and on a throw-away PostgreSQL database (the ledger tests' fixtures), a
clock the test moves, shard files written to a temporary folder, and screens: a clean one, and one over a real
list store holding the bundled sample of the Consolidated Screening List.

The vault's approver set is alice, bob and carol, two of three needed, approvals valid for 24 hours."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import tiergate
from tests.ledger.conftest import pg_database
from tiergate.vault import Vault
from tiergate.vault.model import ScreeningResult

START = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
SAMPLE_LISTS = Path(__file__).resolve().parents[2] / "tiergate" / "samples" / "trade_gov_csl_sample_2025.csv"
CSL_HEADER = SAMPLE_LISTS.read_text().splitlines()[0]


@dataclass
class Clock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += dt.timedelta(hours=hours)


def clean(name: str, country: str | None) -> ScreeningResult:
    """A screen that finds nothing (the lists hold no match)."""
    return ScreeningResult(f"{country}:{name}", (), "test-lists", 13)


def listed(name: str, country: str | None) -> ScreeningResult:
    """A screen that finds the recipient on the Entity List, unresolved."""
    hit = {"entry": "csl:x", "list": "EL", "name": name, "matched_name": name, "score": 1.0, "status": "open"}
    return ScreeningResult(f"{country}:{name}", (hit,), "test-lists", 13)


@dataclass
class Shards:
    folder: Path
    specs: list[dict[str, Any]] = field(default_factory=list)


def write_shards(folder: Path, count: int = 3, seed: str = "w") -> Shards:
    folder.mkdir(parents=True, exist_ok=True)
    made = Shards(folder)
    for i in range(count):
        data = hashlib.sha256(f"{seed}-{i}".encode()).digest() * (50 + i)
        (folder / f"model-{i:05d}.safetensors").write_bytes(data)
        made.specs.append({"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return made


def artefact(
    ident: str, ops: float, shards: Shards, *, open_weights: bool = False, base: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"id": ident, "name": ident.title(), "training_ops": ops, "open_weights": open_weights}
    if base:
        found["base"] = base
    found["shards"] = shards.specs
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def vault_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vault.db'}"
    else:
        yield from pg_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vault.db'}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_vault(url: str, clock: Clock, book: tiergate.Rulebook, *, threshold: int = 2) -> Vault:
    vault = Vault(url, actor="ops", clock=clock, book=book)
    vault.init("alice,bob,carol", threshold)
    return vault


@pytest.fixture
def vault(vault_url: str, clock: Clock, book: tiergate.Rulebook) -> Iterator[Vault]:
    made = make_vault(vault_url, clock, book)
    yield made
    made.close()


@pytest.fixture
def shards(tmp_path: Path) -> Shards:
    return write_shards(tmp_path / "shards")


def transfer(ident: str = "frontier-1", destination: str = "DE", hq: str | None = None, **more: Any) -> dict[str, Any]:
    found = {
        "artefact": ident,
        "destination": destination,
        "recipient": more.pop("recipient", "Northwind Compute GmbH"),
        "recipient_headquarters": hq or destination,
        "requester": more.pop("requester", "dave"),
    }
    found.update(more)
    return found
