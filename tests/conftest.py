"""Shared fixtures. Tests build what they need from the packaged packs and catalogue; nothing is
fetched. A rulebook takes ~0.3 s to load, so it is shared per session (it is read-only apart
from its memo of pure results). So are the bundled restricted-party lists, filled into a list store and indexed
once per session (:func:`bundled_lists`): filling ~20,000 entries and indexing them takes tens of seconds, and
every ``decide`` and ``ship`` screens against them in a fresh working folder."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tiergate

try:
    import fcntl
except ImportError:  # Windows: there each pytest-xdist worker fills its own lists
    fcntl = None  # type: ignore[assignment]


@pytest.fixture(scope="session", autouse=True)
def _index_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Screening indexes kept on disk go to a temporary folder, not the user's cache (``tiergate screen``)."""
    os.environ["TIERGATE_INDEX_CACHE"] = str(tmp_path_factory.mktemp("index-cache"))


@dataclass(frozen=True)
class BundledLists:
    """A list store filled from the bundled lists (as a first run fills one) and its screening index."""

    db: Path
    index: Path
    version: str

    def install(self, folder: Path) -> str:
        """Put a copy of the filled store at ``folder``'s default place (``tiergate-lists.db``, where the first
        ``decide`` or ``ship`` run there would fill it, and beside a ledger file in ``folder``), with its index in
        the session's index cache under each URL a command may name it by; returns the store's URL."""
        from tiergate.screen.index import index_path
        from tiergate.screen.store import DEFAULT_LISTS_URL, LISTS_FILE

        target = folder / LISTS_FILE
        shutil.copyfile(self.db, target)
        url = f"sqlite:///{target}"
        for named in (url, DEFAULT_LISTS_URL):
            path = index_path(named, self.version)
            if not path.exists():
                try:
                    os.link(self.index, path)
                except OSError:  # another file system
                    shutil.copyfile(self.index, path)
        return url


def _fill_bundled_lists(folder: Path) -> BundledLists:
    """Fill a list store in ``folder`` from the bundled lists and build its index there."""
    from tiergate.screen.index import ScreeningIndex, index_path
    from tiergate.screen.store import fill, open_store

    db = folder / "tiergate-lists.db"
    store = open_store(f"sqlite:///{db}")
    fill(store)
    version = store.data_version()
    index = index_path(f"sqlite:///{db}", version, folder)
    ScreeningIndex.for_store(store, folder, version)
    store.close()
    assert index.exists()
    return BundledLists(db, index, version)


@pytest.fixture(scope="session")
def bundled_lists(_index_cache: None, tmp_path_factory: pytest.TempPathFactory) -> BundledLists:
    """Filled once per run. Under pytest-xdist the first worker to need it fills it in the run's shared temporary
    folder while the others wait on a lock, then each copies it (:meth:`BundledLists.install`); nothing writes to
    it after."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or fcntl is None:
        return _fill_bundled_lists(tmp_path_factory.mktemp("bundled-lists"))
    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, above each worker's own
    folder = shared / "bundled-lists"
    with (shared / "bundled-lists.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        done = folder / "filled.json"
        if done.exists():
            made = json.loads(done.read_text())
            return BundledLists(Path(made["db"]), Path(made["index"]), made["version"])
        folder.mkdir(exist_ok=True)
        filled = _fill_bundled_lists(folder)
        done.write_text(json.dumps({"db": str(filled.db), "index": str(filled.index), "version": filled.version}))
        return filled


@pytest.fixture
def installed_lists(tmp_path: Path, bundled_lists: BundledLists) -> str:
    """The bundled lists installed in ``tmp_path`` (see :meth:`BundledLists.install`), for a test that runs
    ``decide`` or ``ship`` there and is not about filling a fresh store; returns the store's URL."""
    return bundled_lists.install(tmp_path)


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


# Tests that start Spark (a JVM, ~10 s and 2 GB each) run on one pytest-xdist worker, so one Spark starts per run.
SHARED_SCOPES = {
    "tests/diversion/test_spark.py": "spark",
    "tests/monitor/test_spark.py": "spark",
    "tests/monitor/test_declared_flop.py": "spark",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schemathesis gives the tests of every operation one node id, the function's (``tests/api/test_schema.py``);
    pytest-xdist's ``--dist loadscope`` keys its work by node id and would run one of them, silently. Each such
    test gets the node id its name says (``...::test_x[GET /v1/chips]``)."""
    counts = Counter(item.nodeid for item in items)
    for item in items:
        if counts[item.nodeid] > 1 and not item.nodeid.endswith("::" + item.name) and item.parent is not None:
            if hasattr(item, "_id"):  # pytest 9: a structured id
                item._id = item.parent.id.child(item.name)
            else:  # pytest 8
                item._nodeid = f"{item.parent.nodeid}::{item.name}"
    renamed = Counter(item.nodeid for item in items)
    assert max(renamed.values(), default=1) == 1, [n for n, c in renamed.items() if c > 1][:5]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` (the default, pyproject.toml), by test module rather than by test: each module's
    module-scoped fixtures (tests/test_cli.py runs every command it checks in one) are made on one worker only;
    the modules of :data:`SHARED_SCOPES` go together. Other ``--dist`` modes are pytest-xdist's own."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return SHARED_SCOPES.get(module, module)

    return ModuleScheduling(config, log)
