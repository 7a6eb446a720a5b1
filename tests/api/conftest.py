"""An app on a fresh SQLite ledger (and list store, holding the bundled sample of the Consolidated Screening
List) per test, with one key per role; "today" is 2025-03-03 (Diffusion rule)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import tiergate
from tiergate.api import Settings, create_app, create_key
from tiergate.api.context import ApiContext
from tiergate.api.settings import SAMPLE_LISTS

TODAY = dt.date(2025, 3, 3)
SAMPLES = Path(__file__).resolve().parents[2] / "tiergate" / "samples" / "transactions.jsonl"


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    db: str

    @property
    def ctx(self) -> ApiContext:
        found = self.app.state.tiergate
        assert isinstance(found, ApiContext)
        return found

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str = "viewer", **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers(role), **kwargs)

    def post(self, path: str, role: str = "officer", **kwargs: Any) -> Any:
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)


def make_api(tmp_path: Path, book: tiergate.Rulebook, db: str | None = None, **settings: Any) -> Api:
    db = db or f"sqlite:///{tmp_path / 'ledger.db'}"
    settings.setdefault("lists", f"sqlite:///{tmp_path / 'lists.db'}")
    settings.setdefault("sample_lists", SAMPLE_LISTS)  # 13 records: fast; the bundled lists have their own tests
    app = create_app(Settings(db=db, today=lambda: TODAY, **settings), book=book)
    ctx = app.state.tiergate
    tokens = {role: create_key(ctx.ledger, f"{role}-owner", role, who="test-setup")[0] for role in tiergate_roles()}
    return Api(app, TestClient(app, raise_server_exceptions=False), tokens, db)


def tiergate_roles() -> tuple[str, ...]:
    from tiergate.api import ROLES

    return tuple(ROLES)


@pytest.fixture(scope="session")
def usage_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Tiny monitoring data (200 clean usage records and the planted cases), shared by the session."""
    from tiergate.monitor import generate

    made = generate(tmp_path_factory.mktemp("usage"), 200, seed=1)
    return made.usage, made.customers


@pytest.fixture
def api(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    made = make_api(tmp_path, book)
    yield made
    made.client.close()
    made.ctx.close()


def sample(ident: str) -> dict[str, Any]:
    import json

    for line in SAMPLES.read_text().splitlines():
        record = json.loads(line)
        if record["id"] == ident:
            return dict(record)
    raise KeyError(ident)
