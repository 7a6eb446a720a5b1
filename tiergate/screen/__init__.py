"""Restricted-party screening: list ingestion, name normalisation and matching, an index, analyst decisions,
re-screening, ownership flags, and the adjustment of a licence decision by screening hits.

The names below are imported on first use, so that ``tiergate`` commands that do not screen do not pay
for loading the matcher and the store."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiergate.screen.index import ScreeningIndex, build_index
    from tiergate.screen.ingest import read_lists
    from tiergate.screen.licensing import apply_screening
    from tiergate.screen.match import compare_names, score_names
    from tiergate.screen.model import (
        DEFAULT_THRESHOLD,
        Dataset,
        Feature,
        Hit,
        Identifier,
        ListEntry,
        ListFileError,
        ListStoreError,
        Query,
    )
    from tiergate.screen.normalize import name_form
    from tiergate.screen.service import Party, Screener, d5_macau_test, ownership_flags, party_id, rescreen
    from tiergate.screen.store import ListStore, NoStandingDecision, open_store

_WHERE = {
    "ScreeningIndex": "index",
    "build_index": "index",
    "read_lists": "ingest",
    "apply_screening": "licensing",
    "compare_names": "match",
    "score_names": "match",
    "DEFAULT_THRESHOLD": "model",
    "Dataset": "model",
    "Feature": "model",
    "Hit": "model",
    "Identifier": "model",
    "ListEntry": "model",
    "ListFileError": "model",
    "ListStoreError": "model",
    "Query": "model",
    "name_form": "normalize",
    "Party": "service",
    "Screener": "service",
    "d5_macau_test": "service",
    "ownership_flags": "service",
    "party_id": "service",
    "rescreen": "service",
    "ListStore": "store",
    "NoStandingDecision": "store",
    "open_store": "store",
}
__all__ = [
    "DEFAULT_THRESHOLD",
    "Dataset",
    "Feature",
    "Hit",
    "Identifier",
    "ListEntry",
    "ListFileError",
    "ListStore",
    "ListStoreError",
    "NoStandingDecision",
    "Party",
    "Query",
    "Screener",
    "ScreeningIndex",
    "apply_screening",
    "build_index",
    "compare_names",
    "d5_macau_test",
    "name_form",
    "open_store",
    "ownership_flags",
    "party_id",
    "read_lists",
    "rescreen",
    "score_names",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tiergate.screen' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tiergate.screen.{module}"), name)
