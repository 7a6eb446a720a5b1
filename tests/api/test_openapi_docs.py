"""The API's documentation pages (issue 20): ``/docs`` (Swagger UI) and ``/redoc`` are served from vendored assets,
with their licences, and render in Chromium without a CDN, without an inline script and without a CSP violation."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

import tiergate
from tiergate.api.docs import ASSETS

from .conftest import Api, make_api

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def test_the_pages_and_assets_are_served_without_a_cdn(api: Api) -> None:
    for path in ("/docs", "/redoc"):
        page = api.client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "http" not in page.text.replace("http-equiv", "")  # every asset from this server
        assert "<script>" not in page.text  # no inline script: the CSP stays script-src 'self'
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for asset in [part.split('"')[0] for part in page.text.split('src="')[1:]]:
            assert api.client.get(asset).status_code == 200, asset
    assert "'unsafe-inline'" not in api.client.get("/docs").headers["content-security-policy"]
    for licence in ("LICENSE-swagger-ui.txt", "NOTICE-swagger-ui.txt", "LICENSE-redoc.txt", "PROVENANCE.md"):
        assert (ASSETS / licence).stat().st_size > 50


def test_the_assets_are_package_data() -> None:
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"docs_assets/*"' in text


@pytest.fixture
def served(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[str]:
    api = make_api(tmp_path, book)
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    api.ctx.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="no Debian chromium")
def test_swagger_ui_and_redoc_render_in_chromium(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    problems: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"], headless=True
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(30_000)

            def guard(route: object) -> None:
                request = route.request  # type: ignore[attr-defined]
                if request.url.startswith(served) or request.url.startswith(("data:", "blob:")):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    outside.append(request.url)
                    route.abort()  # type: ignore[attr-defined]

            context.route("**/*", guard)
            page = context.new_page()
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type == "error" and "source map" not in m.text.lower() else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{served}/docs")
            page.wait_for_selector('.opblock-summary-path[data-path="/v1/decide/batch"]')
            assert page.locator(".opblock").count() > 20
            page.screenshot(path=str(ARTIFACTS / "api-docs-swagger.png"))
            page.goto(f"{served}/redoc")
            page.get_by_role("heading", name="Decide a batch of transactions").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "api-docs-redoc.png"))
        finally:
            browser.close()
    assert outside == []
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == [], problems
    assert problems == [], problems
