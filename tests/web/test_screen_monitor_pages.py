"""The Screening and Monitoring pages through their HTML: search and per-feature explanation, clearing and
re-opening a hit (CSRF, a reason, officers only), the alerts and the projected-crossing chart, uploads, hostile text
escaped in every new field, and no 500 on arbitrary form input."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tiergate

from ..api.conftest import Api, make_api
from ..api.conftest import usage_data as usage_data  # the session fixture, shared
from .test_pages import HOSTILE, HTML, csrf_of, sign_in

LISTED = "China Electronics Technology Group Corporation 13th Research Institute"
CETC = "trade-gov-csl-sample-2025:99ed1b052fdb09695fae1ba87516d8a0882b0df04652e07aeb5ce7be"


@pytest.fixture
def web(tmp_path: Path, book: tiergate.Rulebook, usage_data: tuple[Path, Path]) -> Iterator[Api]:
    usage, customers = usage_data
    made = make_api(tmp_path, book, key_cache_seconds=0.0, monitor_usage=usage, monitor_customers=customers)
    yield made
    made.client.close()
    made.ctx.close()


def _hit(page: str, entry: str = CETC) -> str:
    found = re.search(rf'<article class="hit (\w+)" data-entry="{re.escape(entry)}">(.*?)</article>', page, re.S)
    assert found, page[:3000]
    return found.group(0)


def search(client: TestClient, name: str = LISTED, country: str = "CN") -> str:
    response = client.get("/screening", params={"name": name, "country": country}, headers=HTML)
    assert response.status_code == 200, response.text[:2000]
    return response.text


def decide(client: TestClient, page: str, verdict: str, reason: str, **extra: str) -> object:
    party = html.unescape(re.search(r'name="party" value="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    data = {
        "csrf": csrf_of(page),
        "party": party,
        "entry": CETC,
        "verdict": verdict,
        "reason": reason,
        "name": LISTED,
        "country": "CN",
        **extra,
    }
    return client.post("/screening/decide", data=data, headers=HTML)


def test_search_shows_hits_with_each_features_evidence(web: Api) -> None:
    client = sign_in(web, "viewer")
    page = search(client)
    hit = _hit(page)
    assert 'class="status open"' in hit and "<strong>EL</strong>" in hit
    assert "<td>name</td>" in hit and "<td>country_match</td>" in hit and "CN is a country of the entry" in hit
    assert "trade-gov-csl-sample-2025" in page.split('id="lists"')[1]  # which lists were searched
    assert "/screening/decide" not in page  # a viewer reads; officers decide
    empty = search(client, name="Example Compute Pvt Ltd", country="IN")
    assert 'id="no-hits"' in empty


def test_clear_and_reopen_a_hit_with_a_reason(web: Api) -> None:
    client = sign_in(web, "officer")
    page = search(client)
    cleared = decide(client, page, "cleared", "A namesake: different address")
    text = cleared.text  # type: ignore[attr-defined]
    assert cleared.status_code == 200  # type: ignore[attr-defined]
    assert "Cleared as a false positive" in text and 'class="status cleared"' in _hit(text)
    assert "A namesake: different address" in text.split('id="decisions"')[1]
    assert 'class="status cleared"' in _hit(search(client))  # kept for this party
    reopened = decide(client, search(client), "reopened", "New evidence")
    assert "Re-opened" in reopened.text and 'class="status open"' in _hit(reopened.text)  # type: ignore[attr-defined]
    audit = web.get("/v1/audit").json()
    assert [e["action"] for e in audit if e["action"].startswith("screen-")] == ["screen-cleared", "screen-reopened"]
    # The list store's own trail names the signed-in key's owner too, not the server's process user.
    owner = f"officer-owner (api key {web.tokens['officer'].split('_')[1]})"
    trail = [e for e in web.ctx.list_store().store.audit_entries() if e["action"] in ("cleared", "reopen")]
    assert [(e["action"], e["actor"], e["detail"]["author"]) for e in trail] == [
        ("cleared", owner, owner),
        ("reopen", owner, owner),
    ]


def test_the_screening_page_reveals_no_server_path(web: Api, tmp_path: Path) -> None:
    from tiergate.api.settings import SAMPLE_LISTS

    client = sign_in(web, "officer")
    page = search(client)
    for folder in (str(SAMPLE_LISTS[0].parent), str(tmp_path), str(web.ctx.list_store().files_folder())):
        assert folder not in page
    assert "trade-gov-csl-sample-2025" in page.split('id="lists"')[1]
    source = re.search(r'<code class="source">([^<]*)</code>', _hit(page))
    assert source and re.fullmatch(r"trade_gov_csl_sample_2025\.csv:\d+", source.group(1))  # the file, not its path


def test_deciding_needs_csrf_a_reason_and_an_officer(web: Api) -> None:
    client = sign_in(web, "officer")
    page = search(client)
    forged = decide(client, page, "cleared", "x", csrf="forged")
    assert forged.status_code == 403  # type: ignore[attr-defined]
    blank = decide(client, page, "cleared", "   ")
    assert blank.status_code == 422 and "reason" in blank.text  # type: ignore[attr-defined]
    assert 'class="status open"' in _hit(blank.text)  # type: ignore[attr-defined]
    reopen_nothing = decide(client, page, "reopened", "why")
    assert reopen_nothing.status_code == 422 and "no standing decision" in reopen_nothing.text  # type: ignore[attr-defined]
    viewer = sign_in(web, "viewer")
    page = search(viewer)
    refused = viewer.post(
        "/screening/decide",
        data={"csrf": csrf_of(page), "party": "p", "entry": CETC, "verdict": "cleared", "reason": "r"},
        headers=HTML,
    )
    assert refused.status_code == 403


def test_bad_search_input_is_a_page_not_a_500(web: Api) -> None:
    client = sign_in(web, "viewer")
    for params, fragment in (
        ({"name": "x" * 10_000}, "at most 1000 characters"),
        ({"name": "\x00\x01\x7f"}, "empty name"),
        ({"name": LISTED, "country": "ZZ"}, "country"),
        ({"name": LISTED, "threshold": "lots"}, "threshold"),
        ({"name": LISTED, "schema": "Planet"}, "schema"),
    ):
        response = client.get("/screening", params=params, headers=HTML)
        assert response.status_code == 422, params
        assert fragment in response.text and 'id="screen-error"' in response.text


@pytest.mark.parametrize("field", ["name", "country", "schema", "threshold"])
def test_hostile_text_in_each_search_field_is_escaped(web: Api, field: str) -> None:
    client = sign_in(web, "officer")
    params = {"name": f"{HOSTILE} Trading", "country": "", "schema": "", "threshold": "", field: HOSTILE}
    response = client.get("/screening", params=params, headers=HTML)
    assert response.status_code in (200, 422)
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;" in response.text or "&lt;img" in response.text


def test_hostile_reason_and_party_are_escaped_everywhere(web: Api) -> None:
    client = sign_in(web, "officer")
    page = search(client)
    unknown = decide(client, page, "cleared", "r", entry=HOSTILE)
    assert unknown.status_code == 422 and "no list entry" in unknown.text  # type: ignore[attr-defined]
    assert "<script>alert" not in unknown.text and "&lt;script&gt;" in unknown.text  # type: ignore[attr-defined]
    response = decide(client, page, "cleared", HOSTILE, party=HOSTILE)
    assert response.status_code == 200  # type: ignore[attr-defined]
    for text in (response.text, client.get("/audit", headers=HTML).text):  # type: ignore[attr-defined]
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;alert(" in text


def test_monitoring_page_alerts_owners_and_chart(web: Api) -> None:
    client = sign_in(web, "viewer")
    page = client.get("/monitoring", headers=HTML)
    assert page.status_code == 200
    text = page.text
    body = web.get("/v1/monitor/alerts").json()
    assert f'<strong id="alert-count">{len(body["alerts"])}</strong>' in text
    assert "job-northwind-pretrain" in text.split('id="alerts"')[1]
    near = text.split('id="near"')[1].split("</section>")[0]
    assert 'data-owner="bo-northwind"' in near and "projected_crossing" in near
    chart = re.search(r'<svg class="chart".*?</svg>', near, re.S)
    assert chart is not None
    assert 'class="threshold"' in chart.group(0) and '<circle class="crossing"' in chart.group(0)
    assert "projected to reach 1e+26 FLOP at 2026-11-" in chart.group(0)
    assert 'class="series s0"' in chart.group(0)
    assert 'id="monitor-upload"' not in text  # viewers do not upload
    scenario = client.get("/monitoring", params={"regime": "us-diffusion-2025"}, headers=HTML)
    assert "under <strong>us-diffusion-2025</strong>" in scenario.text


def test_monitoring_upload_and_bad_input(web: Api, usage_data: tuple[Path, Path]) -> None:
    usage, customers = usage_data
    client = sign_in(web, "officer")
    page = client.get("/monitoring", headers=HTML).text
    files = {"usage": ("usage.parquet", usage.read_bytes()), "customers": ("customers.parquet", customers.read_bytes())}
    uploaded = client.post("/monitoring", data={"csrf": csrf_of(page)}, files=files, headers=HTML)
    assert uploaded.status_code == 200, uploaded.text[:2000]
    assert "Uploaded files" in uploaded.text and "job-northwind-pretrain" in uploaded.text
    assert client.post("/monitoring", data={"csrf": "no"}, files=files, headers=HTML).status_code == 403
    bad = {"usage": (f"{HOSTILE}.csv", b"a,b\n1,2\n"), "customers": files["customers"]}
    refused = client.post("/monitoring", data={"csrf": csrf_of(page)}, files=bad, headers=HTML)
    assert refused.status_code == 422 and "missing column" in refused.text
    assert "<script>alert" not in refused.text
    one = client.post("/monitoring", data={"csrf": csrf_of(page)}, files={"usage": files["usage"]}, headers=HTML)
    assert one.status_code == 422 and "choose a usage file and a customers file" in one.text
    for params in ({"regime": HOSTILE}, {"as_of": HOSTILE}):
        response = client.get("/monitoring", params=params, headers=HTML)
        assert response.status_code == 422
        assert "<script>alert" not in response.text and "&lt;script&gt;" in response.text


def test_pages_need_a_session_and_are_in_the_navigation(web: Api) -> None:
    anonymous = TestClient(web.app)
    for path in ("/screening", "/monitoring"):
        response = anonymous.get(path, headers=HTML, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    nav = sign_in(web, "viewer").get("/screening", headers=HTML).text.split("</nav>")[0]
    assert 'href="/screening"' in nav and 'href="/monitoring"' in nav


def test_no_server_error_on_arbitrary_screening_form_input(web: Api) -> None:
    """Hypothesis fills the Screening forms with arbitrary text: every answer is a page, never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client = sign_in(web, "officer")
    csrf = csrf_of(client.get("/screening", headers=HTML).text)
    text = st.text(max_size=40)
    fields = st.fixed_dictionaries(
        {name: text for name in ("name", "country", "schema", "threshold", "party", "entry", "verdict", "reason")}
    )
    examples = int(os.environ.get("TIERGATE_FORM_EXAMPLES", "40"))

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(fields)
    def check(values: dict[str, str]) -> None:
        search_values = {k: values[k] for k in ("name", "country", "schema", "threshold")}
        responses = [
            client.get("/screening", params=search_values, headers=HTML),
            client.post("/screening/decide", data={"csrf": csrf, **values}, headers=HTML),
            client.get("/monitoring", params={"regime": values["name"], "as_of": values["reason"]}, headers=HTML),
        ]
        for response in responses:
            assert response.status_code < 500, response.text[:300]
            assert response.headers["content-type"].startswith("text/html")

    check()
