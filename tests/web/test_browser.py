"""End to end in headless Chromium (Debian's package, driven by Playwright): sign in with a key, decide a
transaction and read its explanation, ship it and watch the allocation bar move, search a name and clear its
screening hit with a reason, read the monitoring alerts and the projected-crossing chart; a screenshot of every page
is kept under artifacts/screenshots/. The server is uvicorn in a background thread on a free loopback port.
Nothing but 127.0.0.1 may be fetched by the pages (no CDN)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

import tiergate

from ..api.conftest import Api, make_api, sample

CHROMIUM = "/usr/bin/chromium"
LISTED = "China Electronics Technology Group Corporation 13th Research Institute"
"""On the Entity List in the bundled sample of the Consolidated Screening List."""
CETC_ENTRY = "trade-gov-csl-sample-2025:99ed1b052fdb09695fae1ba87516d8a0882b0df04652e07aeb5ce7be"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("Debian's chromium is not installed; .ci/run installs it")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[tuple[Api, str]]:
    api = make_api(tmp_path, book)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning", loop="asyncio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield api, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    api.ctx.close()


def test_sign_in_decide_ship_screen_and_monitor(served: tuple[Api, str], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    api, base = served
    first = api.post("/v1/ship", json=sample("demo-01"))  # an earlier shipment: the bar starts part-full
    assert first.json()["committed"] is True
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            context.set_default_timeout(20_000)

            def guard(route: object) -> None:
                request = route.request  # type: ignore[attr-defined]
                if request.url.startswith(base):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    outside.append(request.url)
                    route.abort()  # type: ignore[attr-defined]

            context.route("**/*", guard)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(f"{base}/decide")
            assert page.url.endswith("/login")
            page.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)
            page.fill("input[name=key]", api.tokens["officer"])
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url(f"{base}/decide")

            page.click("a[href='/decide?sample=demo-01']")
            page.fill("input[name=id]", "e2e-02")
            page.fill("input[name=quantity]", "500")
            page.click("#decide-form button[type=submit]")
            assert page.inner_text("#outcome") == "authorized"
            assert page.inner_text("#authorization") == "LPP"
            explanation = page.inner_text("#explanation")
            assert "TPP = dense TOPS x bit length" in explanation and "LPP" in explanation
            assert "us-diffusion-2025/lpp" in page.inner_text("#rules")
            page.screenshot(path=str(ARTIFACTS / "decide.png"), full_page=True)

            page.goto(f"{base}/allocations")
            bar = "tr[data-account='lpp:IN:example-compute-pvt-ltd:2025'] rect.used"
            before = float(page.get_attribute(bar, "data-pct") or "nan")
            page.go_back()
            page.click("#ship-form button[type=submit]")
            assert "Shipped: allocations drawn." in page.inner_text("#shipment")
            page.click("#shipment a[href='/allocations']")
            page.wait_for_url(f"{base}/allocations")
            after = float(page.get_attribute(bar, "data-pct") or "nan")
            assert before == pytest.approx(100 * 15_831_200 / 26_900_000, abs=0.01)
            assert after == pytest.approx(100 * (15_831_200 + 7_915_600) / 26_900_000, abs=0.01)
            width = page.eval_on_selector(bar, "e => e.getBoundingClientRect().width")
            total = page.eval_on_selector(bar.replace("rect.used", "rect.rest"), "e => e.getBoundingClientRect().width")
            assert width / total == pytest.approx(after / 100, abs=0.02)  # drawn, not only in the markup
            page.screenshot(path=str(ARTIFACTS / "allocations.png"), full_page=True)

            page.click("nav >> text=Packs")
            page.select_option("select[name=from]", "us-2024-12")
            page.select_option("select[name=to]", "us-diffusion-2025")
            page.click("#diff button[type=submit]")
            assert "tier1" in page.inner_text("#diff table")
            page.screenshot(path=str(ARTIFACTS / "packs.png"), full_page=True)

            page.click("nav >> text=Audit")
            assert page.inner_text("#chain").startswith("Chain verified")
            assert "officer-owner" in page.inner_text("table.audit")
            page.screenshot(path=str(ARTIFACTS / "audit.png"), full_page=True)

            page.click("nav >> text=Screening")
            page.fill("#screen-form input[name=name]", LISTED)
            page.fill("#screen-form input[name=country]", "CN")
            page.click("#screen-form button[type=submit]")
            hit = f"article.hit[data-entry='{CETC_ENTRY}']"
            assert page.inner_text(f"{hit} .status").startswith("open")
            explanation = page.inner_text(f"{hit} table.explain")
            assert "name" in explanation and "country" in explanation  # per-feature evidence
            page.fill(
                f"{hit} input[name=reason]", "Different institute: our consignee is a CETC 13 supplier, not CETC 13"
            )
            page.click(f"{hit} button[value=cleared]")
            assert page.inner_text("#screen-notice").startswith("Cleared as a false positive")
            assert page.inner_text(f"{hit} .status") == "cleared"
            assert "officer-owner" in page.inner_text(f"{hit} .decision")
            assert "Different institute" in page.inner_text("#decisions")
            page.screenshot(path=str(ARTIFACTS / "screening.png"), full_page=True)

            page.click("nav >> text=Monitoring")
            assert int(page.inner_text("#alert-count")) > 0
            assert "job-northwind-pretrain" in page.inner_text("#alerts")
            assert page.locator("svg.chart polyline.series").count() > 0
            crossing = page.locator("svg.chart circle.crossing")
            assert crossing.count() == 1
            box = crossing.bounding_box()
            assert box is not None and box["width"] > 0  # drawn, not only in the markup
            page.screenshot(path=str(ARTIFACTS / "monitoring.png"), full_page=True)

            page.click("text=Sign out")
            page.wait_for_url(f"{base}/login")
            page.goto(f"{base}/audit")
            assert page.url.endswith("/login")
        finally:
            context.close()
    assert outside == [], f"pages fetched from outside the server: {outside}"
    print(f"screenshots in {ARTIFACTS}")
    assert shutil.disk_usage(ARTIFACTS).free > 0
