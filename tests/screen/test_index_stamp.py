"""Issue 14 item 5: the kept screening index is not trusted when it is stale. It is named by the lists' content
and by the code that builds it, so a list that changes, or a normalisation that changes without its format
being bumped, makes the next command build it again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tiergate.screen import Query, ScreeningIndex
from tiergate.screen import index as index_module
from tiergate.screen.ingest import read_lists
from tiergate.screen.normalize import name_form
from tiergate.screen.store import open_store

from .test_screen_cli import DATA

SOURCES = Path(index_module.__file__).parent


def test_the_code_stamp_changes_with_any_stamped_source(tmp_path: Path) -> None:
    for name in index_module.STAMPED_SOURCES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SOURCES / name, tmp_path / name)
    first = index_module.code_stamp.__wrapped__(tmp_path)
    assert first == index_module.code_stamp.__wrapped__(tmp_path)  # the same code, the same stamp
    assert first == index_module.code_stamp()  # the copies are the package's own files
    for name in index_module.STAMPED_SOURCES:
        kept = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(kept + b"\n")
        assert index_module.code_stamp.__wrapped__(tmp_path) != first, name
        (tmp_path / name).unlink()
        assert index_module.code_stamp.__wrapped__(tmp_path) != first, f"{name} missing"
        (tmp_path / name).write_bytes(kept)
    assert index_module.code_stamp.__wrapped__(tmp_path) == first


def test_the_normalisation_and_readings_are_stamped() -> None:
    """Every module the index imports its keys from is among the stamped sources."""
    stamped = set(index_module.STAMPED_SOURCES)
    for module in ("index", "match", "normalize", "cjk", "arabic", "confusables", "model"):
        assert f"{module}.py" in stamped
    assert any(name.startswith("readings/") for name in stamped)


def test_an_index_kept_by_other_code_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'lists.db'}")
    store.init()
    store.load(read_lists([DATA / "lists" / "nsfreg_bis_entity_list.json"]))
    cache = tmp_path / "cache"
    ScreeningIndex.for_store(store, cache)
    (kept,) = cache.glob("screen-index-*.npz")
    built: list[int] = []
    real_build = ScreeningIndex.build.__func__  # type: ignore[attr-defined]

    def counting_build(cls: type[ScreeningIndex], entries: object) -> ScreeningIndex:
        built.append(1)
        return real_build(cls, entries)  # type: ignore[no-any-return]

    monkeypatch.setattr(ScreeningIndex, "build", classmethod(counting_build))
    ScreeningIndex.for_store(store, cache)
    assert built == []  # same lists, same code: loaded
    monkeypatch.setattr(index_module, "code_stamp", lambda: "other code")
    again = ScreeningIndex.for_store(store, cache)
    assert built == [1]  # the normalisation changed: built anew
    (now,) = cache.glob("screen-index-*.npz")
    assert now != kept  # and the stale one is gone
    assert again.screen(Query("Huawei Technologies"))
    ScreeningIndex.for_store(store, cache)
    assert built == [1]  # kept for the new code


def test_the_kept_file_holds_the_forms_the_index_was_built_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch against the kept index scores its candidates with the list names' forms read from the file, the
    very forms the index was built with (not normalised again in every process)."""
    entries = [
        e
        for ds in read_lists([DATA / "lists" / "nsfreg_bis_entity_list.json", DATA / "lists" / "trade_gov_csl.csv"])
        for e in ds.entries
    ]
    built = ScreeningIndex.build(entries)
    built.save(tmp_path / "kept.npz")
    forms = [built.entry_forms(p) for p in range(len(built))]
    assert any(f.legal for fs in forms for f in fs) and any(f.weights for fs in forms for f in fs)

    def no_normalising(*_: object, **__: object) -> None:
        raise AssertionError("a list name was normalised again")

    monkeypatch.setattr(index_module, "name_form", no_normalising)
    loaded = ScreeningIndex.load(tmp_path / "kept.npz")
    assert [loaded.entry_forms(p) for p in range(len(loaded))] == forms
    monkeypatch.undo()
    query = Query("Huawei Technologies Co Ltd")
    assert [h.to_dict() for h in loaded.screen(query)] == [h.to_dict() for h in built.screen(query)]
    for position, kept in enumerate(forms):  # the forms are those normalising gives
        entry = loaded.entries[position]
        assert kept == tuple(name_form(n, entry.schema == "Person") for n in entry.names)
