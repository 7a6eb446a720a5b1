"""The lists bundled with Tiergate (a fresh install screens against real, dated lists), the stale-list warnings of
every face, and ``tiergate lists update`` against a local HTTP server serving fixture files."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

import tiergate
from tiergate.screen.model import ListFileError, ListStoreError, Query
from tiergate.screen.service import Screener
from tiergate.screen.store import (
    BUNDLED_FOLDER,
    BUNDLED_LISTS,
    fill,
    lists_url,
    open_store,
    stale_lists,
)
from tiergate.screen.update import update

from ..inprocess import Completed, run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CSL = ROOT / "tiergate" / "samples" / "trade_gov_csl_sample_2025.csv"
DATES = {
    "ofac-sdn": "2024-05-03",
    "ofac-nonsdn-cons": "2025-12-19",
    "nsf-bis-entity-list": "2026-07-09",
    "nsf-bis-meu": "2026-07-09",
    "nsf-bis-dpl": "2026-04-14",
    "un-sc-consolidated": "2026-02-27",
}


@pytest.fixture(scope="session")
def bundled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A list store filled from the bundled lists (once per session; tests copy it). It starts as a store of an
    earlier version, filled with the 13-record demo sample: the bundled lists replace that sample. Its screening
    index is built once too, beside it (:func:`_copy` puts it where the copy's would be kept; building an index
    from the store is tested by :func:`test_fresh_store_holds_real_dated_lists`)."""
    from tiergate.screen.index import ScreeningIndex
    from tiergate.screen.ingest import read_lists

    path = tmp_path_factory.mktemp("bundled") / "lists.db"
    store = open_store(f"sqlite:///{path}")
    store.load(read_lists([SAMPLE_CSL]))
    reports = fill(store)
    assert {r.dataset for r in reports} == {*DATES, "trade-gov-csl-sample-2025"}
    assert fill(store) == []  # filled once
    version = store.data_version()
    ScreeningIndex.for_store(store, path.parent, version)
    store.close()
    (path.parent / "version.txt").write_text(version, encoding="utf-8")
    return path


def _copy(bundled_db: Path, target: Path) -> str:
    """A copy of the store at ``target`` with its screening index kept (in the session's index cache) as a first
    screening of the copy would keep it; returns the copy's URL."""
    from tiergate.screen.index import index_path
    from tiergate.screen.store import DEFAULT_LISTS_URL, LISTS_FILE

    shutil.copyfile(bundled_db, target)
    url = f"sqlite:///{target}"
    version = (bundled_db.parent / "version.txt").read_text(encoding="utf-8")
    built = index_path(f"sqlite:///{bundled_db}", version, bundled_db.parent)
    for named in (url, DEFAULT_LISTS_URL) if target.name == LISTS_FILE else (url,):
        kept = index_path(named, version)
        if not kept.exists():
            shutil.copyfile(built, kept)
    return url


def test_bundled_files_are_the_documented_ones() -> None:
    manifest = json.loads((BUNDLED_FOLDER / "lists.json").read_text())
    assert sorted(item["file"] for item in manifest["files"]) == sorted(p.name for p in BUNDLED_LISTS)
    for item in manifest["files"]:
        digest = hashlib.sha256(gzip.decompress((BUNDLED_FOLDER / item["file"]).read_bytes())).hexdigest()
        assert digest.startswith(item["sha256"]), item["file"]
        assert item["official_url"].startswith("https://") and item["licence"]
    provenance = (BUNDLED_FOLDER / "PROVENANCE.md").read_text()
    assert all(p.name.split("_")[0] in provenance for p in BUNDLED_LISTS)
    assert not any("opensanctions" in p.name or "ftm" in p.name for p in BUNDLED_LISTS)  # CC BY-NC: not bundled
    assert sum(p.stat().st_size for p in BUNDLED_LISTS) < 2_000_000


def test_fresh_store_holds_real_dated_lists(bundled_db: Path) -> None:
    store = open_store(f"sqlite:///{bundled_db}")
    status = {r["dataset"]: r for r in store.status()}
    assert {d: r["file_date"] for d, r in status.items()} == DATES  # each list's own date, not the load day
    assert status["ofac-sdn"]["entries"] == 14965 and status["nsf-bis-entity-list"]["entries"] == 3409
    assert status["un-sc-consolidated"]["entries"] == 1003
    screener = Screener.from_store(store)
    for name in ("华为技术有限公司", "Huawei Technologies Co., Ltd."):
        hits = screener.screen(Query(name, None, "CN"))
        assert any(h.entry.list_code == "EL" and "huawei" in h.entry.name.lower() and h.match for h in hits), name
    sdn = [h for h in screener.screen(Query("Islamic Revolutionary Guard Corps", None, None)) if h.match]
    assert any(h.entry.list_code == "SDN" and h.entry.dataset_date == "2024-05-03" for h in sdn)
    store.close()


def test_stale_lists_name_each_list_and_its_age() -> None:
    import datetime as dt

    rows = [
        {"dataset": "a", "title": "List A", "file_date": "2026-12-01"},
        {"dataset": "b", "title": "List B", "file_date": "2024-05-03"},
        {"dataset": "c", "title": "List C", "file_date": None},
    ]
    found = stale_lists(rows, dt.date(2026, 12, 3), 7)
    assert [w["dataset"] for w in found] == ["b", "c"]
    assert found[0]["age_days"] == 944 and "2024-05-03" in found[0]["message"] and "List B" in found[0]["message"]
    assert "date unknown" in found[1]["message"]
    assert stale_lists(rows[:2], dt.date(2026, 12, 3), 1000) == []


def test_store_location_is_one_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIERGATE_LISTS", raising=False)
    assert lists_url() == ("sqlite:///tiergate-lists.db", False)
    assert lists_url(None, "sqlite:////data/ledger.db") == ("sqlite:////data/tiergate-lists.db", False)
    monkeypatch.setenv("TIERGATE_LISTS", "sqlite:////x/env.db")
    assert lists_url(None, "sqlite:////data/ledger.db") == ("sqlite:////x/env.db", True)
    assert lists_url("sqlite:////x/flag.db") == ("sqlite:////x/flag.db", True)


def _tiergate(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Completed:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TIERGATE_") or k == "TIERGATE_INDEX_CACHE"}
    environ["TIERGATE_TODAY"] = "2026-12-03"
    environ.update(env or {})
    environ["COLUMNS"] = "250"
    return run_cli(args, cwd=cwd, env=environ)


def test_cli_screens_a_fresh_install_and_warns_of_stale_lists(bundled_db: Path, tmp_path: Path) -> None:
    _copy(bundled_db, tmp_path / "tiergate-lists.db")  # the default place, as a first run leaves it
    done = _tiergate("screen", "name", "华为技术有限公司", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # an open match
    answer = json.loads(done.stdout)
    assert any(h["list"] == "EL" for h in answer["hits"])
    stale = {w["dataset"]: w for w in answer["list_warnings"]}
    assert stale["ofac-sdn"]["file_date"] == "2024-05-03" and stale["ofac-sdn"]["age_days"] == 944
    table = _tiergate(
        "screen", "name", "Huawei Technologies Duesseldorf GmbH", cwd=tmp_path, env={"TIERGATE_MAX_LIST_AGE": "300"}
    )
    assert table.returncode == 1 and re.search(r"WARNING stale list: .*\(ofac-sdn\): data of 2024-05-03", table.stdout)
    warned = set(re.findall(r"WARNING stale list: .*?\(([\w-]+)\): data of", table.stdout))
    assert warned == {"ofac-sdn", "ofac-nonsdn-cons"}  # over 300 days old on 2026-12-03; the UN list is not
    status = _tiergate("lists", "status", "--max-list-age", "100000", "--format", "json", cwd=tmp_path)
    assert [r["warning"] for r in json.loads(status.stdout)] == [None] * 6


def test_http_answers_warn_of_stale_lists(bundled_db: Path, tmp_path: Path, book: tiergate.Rulebook) -> None:
    from tests.api.conftest import make_api

    api = make_api(tmp_path, book, lists=_copy(bundled_db, tmp_path / "lists.db"))
    viewer = {"Authorization": f"Bearer {api.tokens['viewer']}"}
    found = api.client.post("/v1/screen", json={"name": "华为技术有限公司"}, headers=viewer)
    assert found.status_code == 200, found.text
    body = found.json()
    assert any(h["list"] == "EL" for h in body["hits"])
    assert {w["dataset"]: w["file_date"] for w in body["list_warnings"]}["ofac-sdn"] == "2024-05-03"
    lists = {r["dataset"]: r for r in api.client.get("/v1/screen/lists", headers=viewer).json()}
    assert lists["ofac-sdn"]["file_date"] == "2024-05-03" and "ofac-sdn" in lists["ofac-sdn"]["warning"]
    batch = api.client.post("/v1/screen/batch", json=[{"name": "Huawei Technologies Co., Ltd."}], headers=viewer)
    assert batch.status_code == 200 and "ofac-sdn (2024-05-03)" in batch.headers["Tiergate-Stale-Lists"]
    from tests.web.test_pages import HTML, sign_in

    page = sign_in(api, "viewer").get("/screening", params={"name": "华为技术有限公司"}, headers=HTML).text
    banner = re.search(r'<div class="stale" role="alert" id="stale-lists">(.*?)</div>', page, re.S)
    assert banner and re.search(r"\d list\(s\) older than 7 days", banner.group(1)), page[:3000]
    assert re.search(r"<li>OFAC Specially Designated Nationals \(SDN\) list \(ofac-sdn\): data of 2024-05-03", page)
    assert 'data-entry="nsf-bis-entity-list:' in page  # the Entity List hit
    api.app.state.tiergate.close()


# ---------------------------------------------------------------- tiergate lists update


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


CSL_MODIFIED = 1796126400  # 2026-12-01T12:00Z: the Last-Modified the server sends for the CSL


@pytest.fixture
def served_lists(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server of fixture files under their official names: a trade.gov CSL (the 13-record sample,
    Last-Modified 2026-12-01) and the UN list (the bundled one, dated 2026-11-30 in the file)."""
    folder = tmp_path / "served" / "lists"
    folder.mkdir(parents=True)
    shutil.copyfile(SAMPLE_CSL, folder / "consolidated.csv")
    os.utime(folder / "consolidated.csv", (CSL_MODIFIED, CSL_MODIFIED))
    un = gzip.decompress((BUNDLED_FOLDER / "un_sc_consolidated.xml.gz").read_bytes())
    (folder / "consolidated.xml").write_bytes(un.replace(b'dateGenerated="2026-02-27', b'dateGenerated="2026-11-30', 1))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/lists", folder
    server.shutdown()
    server.server_close()


def test_update_swaps_in_the_official_files_with_their_dates(
    bundled_db: Path, tmp_path: Path, served_lists: tuple[str, Path]
) -> None:
    url, _ = served_lists
    store = open_store(_copy(bundled_db, tmp_path / "lists.db"))
    before = store.status()
    with pytest.raises(ListStoreError, match=r"list \w+ would have \d+ entries against [\d,]+ in the lists replaced"):
        update(store, url)  # a CSL far smaller than the lists it replaces: refused
    assert store.status() == before  # nothing changed
    reports = update(store, url, force=True)
    status = {r["dataset"]: r for r in store.status()}
    assert set(status) == {"trade-gov-csl", "un-sc-consolidated"}  # the bundled US lists retired
    assert status["un-sc-consolidated"]["file_date"] == "2026-11-30"  # stated in the file
    assert status["un-sc-consolidated"]["version"] == 2
    assert status["trade-gov-csl"]["file_date"] == "2026-12-01"  # the publisher's Last-Modified
    assert {r.dataset for r in reports if r.entries == 0} >= {"ofac-sdn", "nsf-bis-entity-list"}
    codes = {e.list_code for e in store.list_entries() if e.dataset == "trade-gov-csl"}
    assert {"EL", "UVL", "MEU", "DPL", "SDN"} <= codes
    store.close()


def test_update_refuses_a_malformed_file_and_keeps_the_store(
    bundled_db: Path, tmp_path: Path, served_lists: tuple[str, Path]
) -> None:
    url, folder = served_lists
    store = open_store(_copy(bundled_db, tmp_path / "lists.db"))
    before = store.status()
    xml = (folder / "consolidated.xml").read_bytes()
    (folder / "consolidated.xml").write_bytes(xml[: len(xml) // 2])  # cut off mid-file
    with pytest.raises(ListFileError, match=r"malformed XML") as caught:
        update(store, url, force=True)
    assert caught.value.where is not None and caught.value.where.startswith(f"{url}/consolidated.xml:")
    assert store.status() == before
    (folder / "consolidated.xml").write_bytes(xml)
    lines = SAMPLE_CSL.read_text().splitlines(keepends=True)
    (folder / "consolidated.csv").write_text("".join(lines[:3]) + lines[3][:40] + "\n")  # a truncated row
    with pytest.raises(ListFileError, match="fields"):
        update(store, url, force=True)
    (folder / "consolidated.csv").unlink()
    with pytest.raises(ListFileError, match="HTTP 404"):
        update(store, url, force=True)
    with pytest.raises(ListFileError, match="not a folder or an http"):
        update(store, str(tmp_path / "nowhere"), force=True)
    assert store.status() == before


def test_update_cli_against_a_local_server(bundled_db: Path, tmp_path: Path, served_lists: tuple[str, Path]) -> None:
    url, _ = served_lists
    db = _copy(bundled_db, tmp_path / "lists.db")
    done = _tiergate("lists", "update", "--source", url, "--db", db, "--force", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    dates = {r["dataset"]: r["file_date"] for r in answer["loaded"] if not r["retired"]}
    assert dates == {"trade-gov-csl": "2026-12-01", "un-sc-consolidated": "2026-11-30"}
    assert answer["list_warnings"] == []  # both within 7 days of 2026-12-03
    aged = _tiergate("screen", "name", "Huawei", "--db", db, cwd=tmp_path, env={"TIERGATE_TODAY": "2026-12-09"})
    assert (
        "WARNING stale list: UN Security Council Consolidated List (un-sc-consolidated): data of 2026-11-30, 9 days"
        in aged.stdout
    )
