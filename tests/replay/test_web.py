"""The Replay page of the dashboard: upload a history, pick two regimes, read the report (transitions, map,
monthly charts, consignees), download it as JSON or offline HTML; errors on the page; the officer role; and in
Chromium, the page and the downloaded HTML report load nothing from outside (the report opens offline)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import tiergate

from ..api.conftest import SAMPLES, Api, make_api
from ..web.test_pages import HTML, csrf_of, sign_in


@pytest.fixture
def web(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    made = make_api(tmp_path, book, key_cache_seconds=0.0)
    yield made
    made.client.close()
    made.ctx.close()


def _post(client: object, **fields: str) -> object:
    page = client.get("/replay", headers=HTML)  # type: ignore[attr-defined]
    data = {"csrf": csrf_of(page.text), "from": "us-2025-05", "to": "us-diffusion-2025", **fields}
    files = {"history": ("orders.jsonl", io.BytesIO(SAMPLES.read_bytes()), "application/x-ndjson")}
    return client.post("/replay", data=data, files=files, headers=HTML)  # type: ignore[attr-defined]


def test_upload_a_history_and_read_the_report(web: Api) -> None:
    client = sign_in(web)
    page = client.get("/replay", headers=HTML)
    assert page.status_code == 200 and 'name="history"' in page.text
    response = _post(client, format="page")
    assert response.status_code == 200, response.text
    text = response.text
    assert re.search(r'id="changed-count">8<', text) and 'id="licences-added">1<' in text
    assert 'data-country="IN"' in text and 'class="r5"' in text  # India moved the most TPP
    assert "The ten most affected consignees" in text and "Example Compute Pvt Ltd (IN)" in text
    assert "<script" not in text.split("<main>", 1)[1]  # no script on the page (CSP: script-src 'self')


def test_download_json_and_offline_html(web: Api) -> None:
    client = sign_in(web)
    as_json = _post(client, format="json")
    assert as_json.status_code == 200 and json.loads(as_json.text)["history"]["source"] == "upload orders.jsonl"
    as_html = _post(client, format="html")
    assert as_html.status_code == 200 and "attachment" in as_html.headers["content-disposition"]
    assert "Plotly.newPlot" in as_html.text


def test_errors_show_on_the_page(web: Api) -> None:
    client = sign_in(web)
    response = _post(client, to="us-3000")
    assert response.status_code == 422 and "unknown regime &#39;us-3000&#39;" in response.text
    page = client.get("/replay", headers=HTML)
    response = client.post("/replay", data={"csrf": csrf_of(page.text), "from": "us-2025-05"}, headers=HTML)
    assert response.status_code == 422 and "choose a history file" in response.text
    response = client.post("/replay", data={"csrf": "stale"}, headers=HTML)
    assert response.status_code == 403


def test_a_viewer_cannot_open_the_page(web: Api) -> None:
    client = sign_in(web, "viewer")
    assert client.get("/replay", headers=HTML).status_code == 403
    nav = client.get("/decide", headers=HTML).text
    assert 'href="/replay"' not in nav


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_the_html_report_opens_offline_in_chromium(web: Api, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    client = sign_in(web)
    report = tmp_path / "replay.html"
    report.write_bytes(_post(client, format="html").content)
    fetched: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def guard(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            if url.startswith("file://"):
                route.continue_()  # type: ignore[attr-defined]
            else:
                fetched.append(url)
                route.abort()  # type: ignore[attr-defined]

        page.route("**/*", guard)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(report.as_uri())
        page.wait_for_selector(".sankey", timeout=20_000)
        page.wait_for_selector(".choroplethlayer path", timeout=20_000)
        assert page.locator(".plotly-graph-div").count() == 5
        shots = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "replay-report.png"), full_page=True)
        browser.close()
    assert fetched == [] and errors == []
