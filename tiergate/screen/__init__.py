"""Restricted-party screening: list ingestion, name normalisation and matching, an index, analyst decisions,
re-screening, ownership flags, and the adjustment of a licence decision by screening hits."""

from tiergate.screen.index import ScreeningIndex, build_index
from tiergate.screen.ingest import read_lists
from tiergate.screen.licensing import apply_screening
from tiergate.screen.match import DEFAULT_THRESHOLD, compare_names, score_names
from tiergate.screen.model import Dataset, Feature, Hit, Identifier, ListEntry, ListFileError, ListStoreError, Query
from tiergate.screen.normalize import name_form
from tiergate.screen.service import Party, Screener, d5_macau_test, ownership_flags, rescreen
from tiergate.screen.store import ListStore, open_store

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
    "read_lists",
    "rescreen",
    "score_names",
]
