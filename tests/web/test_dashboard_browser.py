"""The dashboard in headless Chromium (issue 20): a table searched, filtered, sorted, paged and downloaded as CSV;
the audit log's server-side CSV; progress shown while a scan runs; every page at phone width (390 px: nothing
wider than the screen, the navigation wrapped onto it) and in dark mode; the world map's pieces and colours.

Screenshots of each page at 1400 and 390 px, light and dark (``page-width-scheme.png``), are kept under
``$TIERGATE_SCREENSHOTS`` when it is set, else beside the other browser tests' under
``artifacts/screenshots/dashboard/``. One server and one browser serve the whole module."""

from __future__ import annotations

import csv
import io
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn

import tiergate
from tiergate.web.worldmap import WIDTH

from ..api.conftest import Api, make_api, sample
from ..api.conftest import usage_data as usage_data  # the session fixture, shared
from .test_browser import ARGS, ARTIFACTS, CHROMIUM, _free_port

LISTED = "China Electronics Technology Group Corporation 13th Research Institute"
PAGES = {
    "decide": "/decide?sample=demo-01",
    "allocations": "/allocations",
    "screening": f"/screening?name={LISTED.replace(' ', '+')}&country=CN",
    "monitoring": "/monitoring",
    "audit": "/audit",
}
PHONE_ONLY = {
    "vault": "/vault",
    "verify": "/verify",
    "packs": "/packs?from=us-2024-12&to=us-diffusion-2025",
    "denials": "/denials",
    "replay": "/replay",
}
"""Pages checked (and kept as screenshots) at phone width only."""


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, book: tiergate.Rulebook, usage_data: tuple[Path, Path]
) -> Iterator[tuple[Api, str]]:
    usage, customers = usage_data
    api = make_api(tmp_path_factory.mktemp("dashboard"), book, monitor_usage=usage, monitor_customers=customers)
    assert api.post("/v1/ship", json=sample("demo-01")).json()["committed"] is True  # a balance to show
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning", loop="asyncio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield api, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    api.ctx.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser for the module (not the session: Playwright's sync API allows one driver at a time, and the
    other browser tests start their own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def signed_in(served: tuple[Api, str], browser: Any) -> dict[str, Any]:
    """An officer's signed-in browser state, reused by every context."""
    api, base = served
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=key]", api.tokens["officer"])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/decide")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


@pytest.fixture(scope="module")
def screenshots() -> Path:
    wanted = os.environ.get("TIERGATE_SCREENSHOTS")
    folder = Path(wanted) if wanted else ARTIFACTS / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _context(browser: Any, state: dict[str, Any], base: str, width: int = 1400, scheme: str = "light") -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, storage_state=state, accept_downloads=True
    )
    context.set_default_timeout(20_000)
    outside: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    context.outside = outside
    return context


def _batch_file(folder: Path) -> Path:
    """30 transactions: 15 to India for Example Compute, 15 to Germany for Nordlicht, quantities 1..30."""
    lines = []
    for n in range(30):
        txn = sample("demo-01" if n % 2 == 0 else "demo-04")
        txn["id"] = f"row-{n:02d}"
        txn["items"] = [{"chip": "nvidia-h100-sxm", "quantity": n + 1}]
        lines.append(orjson.dumps(txn))
    path = folder / "batch.jsonl"
    path.write_bytes(b"\n".join(lines))
    return path


def test_a_table_is_searched_filtered_sorted_paged_and_downloaded(
    served: tuple[Api, str], browser: Any, signed_in: dict[str, Any], tmp_path: Path
) -> None:
    _, base = served
    context = _context(browser, signed_in, base)
    try:
        page = context.new_page()
        page.goto(f"{base}/decide")
        page.set_input_files("#batch-form input[name=file]", str(_batch_file(tmp_path)))
        page.click("#batch-form button[type=submit]")
        table = "#batch-table"
        shown = f"{table} tbody tr:not([hidden])"
        page.wait_for_selector("#batch .table-tools")
        assert page.locator(shown).count() == 25
        assert page.inner_text("#batch .table-page") == "rows 1–25 of 30"
        page.click("#batch .table-next")
        assert page.locator(shown).count() == 5 and page.inner_text("#batch .table-page") == "rows 26–30 of 30"

        page.fill("#batch .table-search", "nordlicht")
        assert page.inner_text("#batch .table-count") == "15 of 30 row(s)"
        assert all("Nordlicht" in t for t in page.locator(f"{shown} td:nth-child(2)").all_inner_texts())
        page.fill("#batch .table-search", "")
        page.select_option("#batch select.table-filter[aria-label='Filter by Destination']", "IN")
        assert page.inner_text("#batch .table-count") == "15 of 30 row(s)"

        tpp = page.locator(f"{table} thead th", has_text="TPP total").locator("button")
        tpp.click()
        tpp.click()  # descending
        assert page.get_attribute(f"{table} thead th:nth-child(9)", "aria-sort") == "descending"
        totals = [float(v) for v in page.eval_on_selector_all(shown, "rows => rows.map(r => r.cells[8].dataset.sort)")]
        assert totals == sorted(totals, reverse=True) and len(totals) == 15

        with page.expect_download() as download:
            page.click("#batch button.table-csv")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
        assert rows[0][:3] == ["Id", "Consignee", "Destination"]
        assert len(rows) == 16 and {r[2] for r in rows[1:]} == {"IN"}  # the rows filtered, all pages
        ids = page.eval_on_selector_all(shown, "rows => rows.map(r => r.cells[0].textContent.trim())")
        assert [r[0] for r in rows[1:]] == ids  # in the order shown

        page.click(f"{shown} a.decision-link >> nth=0")  # a row opens its decision's page
        assert page.inner_text("#outcome") in ("authorized", "license required", "no license required")
        assert page.locator("#explanation").count() == 1

        page.goto(f"{base}/audit")  # the audit log: the server's CSV, the whole log
        with page.expect_download() as download:
            page.click("a.table-csv")
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("seq,at,actor,action") and len(text.splitlines()) >= 2

        page.goto(f"{base}/monitoring")  # progress while the scan runs
        hidden = page.evaluate(
            """() => { const form = document.querySelector('form[data-progress]'); form.requestSubmit();
                       return document.getElementById(form.dataset.progress).hidden; }"""
        )
        assert hidden is False
        page.wait_for_load_state()
        assert context.outside == []
    finally:
        context.close()


def test_every_page_at_phone_width_and_in_dark_mode(
    served: tuple[Api, str], browser: Any, signed_in: dict[str, Any], screenshots: Path
) -> None:
    _, base = served
    backgrounds: dict[str, str] = {}
    for width in (1400, 390):
        for scheme in ("light", "dark"):
            context = _context(browser, signed_in, base, width, scheme)
            try:
                page = context.new_page()
                for name, path in {**PAGES, **(PHONE_ONLY if width == 390 else {})}.items():
                    page.goto(base + path)
                    page.wait_for_load_state()
                    page.screenshot(path=str(screenshots / f"{name}-{width}-{scheme}.png"), full_page=True)
                    if width == 390:
                        scroll = page.evaluate("document.documentElement.scrollWidth")
                        assert scroll <= 390, f"{name} in {scheme}: {scroll} px wide"
                        rights = page.eval_on_selector_all(
                            "header.top nav a", "links => links.map(a => a.getBoundingClientRect().right)"
                        )
                        assert rights and max(rights) <= 390, f"{name}: navigation off-screen"
                backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert context.outside == []
            finally:
                context.close()
    assert backgrounds["light"] != backgrounds["dark"]
    for name in {**PAGES, **PHONE_ONLY}:
        assert (screenshots / f"{name}-390-dark.png").stat().st_size > 0


def test_the_map_has_no_piece_across_the_antimeridian_and_no_tier_2_polar_land(
    served: tuple[Api, str], browser: Any, signed_in: dict[str, Any]
) -> None:
    _, base = served
    context = _context(browser, signed_in, base)
    try:
        page = context.new_page()
        page.goto(f"{base}/allocations?regime=us-diffusion-2025")
        shapes = page.eval_on_selector_all(
            "svg.worldmap path",
            "paths => paths.map(p => [p.dataset.country, p.getAttribute('d'), getComputedStyle(p).fill])",
        )
        fills = {code: fill for code, _, fill in shapes}
        for code, d, _ in shapes:
            for sub in re.findall(r"M[^Z]*Z", d):
                xs = [float(x) for x in re.findall(r"[ML](-?[\d.]+),", sub)]
                assert max(xs) - min(xs) <= WIDTH / 2, f"{code}: a piece spans more than 180° of longitude"
        assert fills["IN"] != fills["DE"] != fills["CN"]  # Tier 2, 1, 3
        assert fills["AQ"] != fills["IN"] and fills["GL"] != fills["IN"]
        page.select_option("select[name=view]", "use")
        page.click("#map button[type=submit]")
        assert page.inner_text("#map h2") == "Allocation use per country"
    finally:
        context.close()
