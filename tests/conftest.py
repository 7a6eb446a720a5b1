"""Shared fixtures. Tests build what they need from the packaged packs and catalogue; nothing is
fetched. A rulebook takes ~0.3 s to load, so it is shared per session (it is read-only apart
from its memo of pure results)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest

import tiergate


@pytest.fixture(scope="session", autouse=True)
def _index_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Screening indexes kept on disk go to a temporary folder, not the user's cache (``tiergate screen``)."""
    os.environ["TIERGATE_INDEX_CACHE"] = str(tmp_path_factory.mktemp("index-cache"))


@pytest.fixture(scope="session")
def book() -> tiergate.Rulebook:
    return tiergate.load_rulebook()


def transaction(
    chip: Any = "nvidia-h100-sxm",
    quantity: int = 1,
    destination: str = "IN",
    *,
    date: str = "2025-03-03",
    headquarters: str | None = None,
    parent: str | None = None,
    export_from: str = "US",
    veu: str | None = None,
    end_use: str | None = None,
    name: str = "Acme Compute Ltd",
) -> dict[str, Any]:
    consignee: dict[str, Any] = {"name": name, "country": destination, "headquarters": headquarters or destination}
    if parent:
        consignee["parent_headquarters"] = parent
    if veu:
        consignee["veu"] = veu
    txn: dict[str, Any] = {
        "id": "t",
        "date": date,
        "export_from": export_from,
        "destination": destination,
        "items": [{"chip": chip, "quantity": quantity}],
        "consignee": consignee,
    }
    if end_use:
        txn["end_use"] = end_use
    return txn


def decide_dict(book: tiergate.Rulebook, txn: dict[str, Any], **kwargs: Any) -> tiergate.Decision:
    parsed = tiergate.parse_transaction(txn, book.catalogue)
    as_of = kwargs.pop("as_of", None)
    return tiergate.determine(parsed, book, as_of=dt.date.fromisoformat(as_of) if as_of else None, **kwargs)
