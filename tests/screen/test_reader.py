"""``tiergate screen name`` reads a SQLite list store without SQLAlchemy (``tiergate.screen.reader``): what it reads
is exactly what the store itself returns, it steps aside for anything it does not read, and a cold command that
only screens does not import SQLAlchemy at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiergate.screen import Query, ScreeningIndex
from tiergate.screen.ingest import read_lists
from tiergate.screen.reader import open_lists, sqlite_file
from tiergate.screen.service import Screener, query_form
from tiergate.screen.store import ListStore, open_store

DATA = Path(__file__).parent / "data" / "lists"
ROOT = Path(__file__).resolve().parents[2]


def _store(tmp_path: Path) -> tuple[str, ListStore]:
    url = f"sqlite:///{tmp_path / 'lists.db'}"
    store = open_store(url)
    store.init()
    store.load(read_lists([DATA / "nsfreg_bis_entity_list.json", DATA / "trade_gov_csl.csv"]))
    return url, store


def test_the_reader_returns_what_the_store_returns(tmp_path: Path) -> None:
    url, store = _store(tmp_path)
    index = ScreeningIndex.build(store.list_entries())
    entries = store.list_entries()[:3]
    query = Query(entries[0].name, None, "CN")
    store.decide("p1", entries[0], "cleared", "another company", "ana", bound_to=query_form(query))
    store.decide("p1", entries[1], "confirmed", "same registration", "ben")  # bound to no form
    store.decide("p2", entries[2], "cleared", "not them", "cy")
    store.reopen("p2", entries[2].key, "new adverse media", "dee")  # withdrawn: no standing decision
    store.decide("p3", entries[2], "cleared", "first", "eve")
    store.decide("p3", entries[2], "confirmed", "second thoughts", "eve")  # supersedes the first
    lists = open_lists(url)
    assert lists is not None
    assert lists.url == store.url
    assert lists.status() == store.status()
    assert lists.data_version() == store.data_version()
    assert lists.decisions() == store.decisions()
    assert len(lists.decisions()) == 3
    assert lists.decisions("p3") == store.decisions("p3")
    assert [e.key for e in lists.list_entries()] == [e.key for e in store.list_entries()]
    # the hits with decisions applied are the same whichever answers
    decided = 0
    for q in (query, Query(entries[0].name), Query(entries[1].name), Query(entries[2].name, None, "US")):
        for party in ("p1", "p2", "p3", None):
            by_store = Screener(index, store).screen(q, party=party, limit=5)
            by_reader = Screener(index, lists).screen(q, party=party, limit=5)  # type: ignore[arg-type]
            assert [h.to_dict() for h in by_reader] == [h.to_dict() for h in by_store]
            decided += sum(1 for h in by_store if h.decision is not None)
    assert decided >= 3  # the comparison met decisions, standing and re-opened


def test_what_the_reader_leaves_to_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIERGATE_LISTS", raising=False)
    for url in (
        "postgresql://localhost/lists",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///lists.db?mode=ro",
        "sqlite:///my%20lists.db",
        "sqlite+pysqlite:///lists.db",
    ):
        assert sqlite_file(url) is None, url
        assert open_lists(url) is None, url
    assert sqlite_file("sqlite:///lists.db") == Path("lists.db")
    assert sqlite_file("sqlite:////abs/lists.db") == Path("/abs/lists.db")
    assert open_lists(f"sqlite:///{tmp_path / 'none.db'}") is None  # no such file: nothing is created
    assert not (tmp_path / "none.db").exists()
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert open_lists(f"sqlite:///{tmp_path / 'junk.db'}") is None
    empty = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    empty.init()
    assert open_lists(f"sqlite:///{tmp_path / 'empty.db'}") is None  # no lists: the store says how to load some
    url, _ = _store(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert open_lists("sqlite:///lists.db") is not None  # relative to the working folder, as the store reads it
    monkeypatch.setenv("TIERGATE_LISTS", url)
    found = open_lists(None)
    assert found is not None and found.url == url


def test_a_cold_screen_name_does_not_load_sqlalchemy(tmp_path: Path, installed_lists: str) -> None:
    script = (
        "import sys, tiergate.launch as launch\n"
        f"sys.argv = ['tiergate', 'screen', 'name', 'Huawei Technologies', '--db', {installed_lists!r},"
        " '--format', 'json']\n"
        "try:\n    launch.main()\nexcept SystemExit:\n    pass\n"
        "print('SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'NO-SQLALCHEMY', file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert done.stderr.strip().splitlines()[-1] == "NO-SQLALCHEMY", done.stderr
    result = json.loads(done.stdout)
    assert any("Huawei" in h["name"] for h in result["hits"])
    # recording the screening (--party) writes through the store
    script = script.replace("'--format', 'json'", "'--format', 'json', '--party', 'p9'")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert done.stderr.strip().splitlines()[-1] == "SQLALCHEMY", done.stderr
    assert open_store(installed_lists).screened_query("p9") is not None
