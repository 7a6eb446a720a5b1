"""The dashboard through its HTML: sign-in by key, session cookie flags, CSRF, escaping of hostile text,
each page's content, and the pages' roles."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import tiergate
from tiergate.api import revoke_key

from ..api.conftest import Api, make_api, sample
from ..licences import record

HTML = {"accept": "text/html"}


@pytest.fixture
def web(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    made = make_api(tmp_path, book, key_cache_seconds=0.0)
    yield made
    made.client.close()
    made.ctx.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(web: Api, role: str = "officer") -> TestClient:
    client = TestClient(web.app, raise_server_exceptions=False)
    page = client.get("/login", headers=HTML)
    response = client.post(
        "/login", data={"key": web.tokens[role], "csrf": csrf_of(page.text)}, headers=HTML, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


def decide_form(client: TestClient, **fields: str) -> Any:
    page = client.get("/decide", headers=HTML)
    data = {"csrf": csrf_of(page.text), **fields}
    return client.post("/decide", data=data, headers=HTML)


def form_of(txn: dict[str, Any]) -> dict[str, str]:
    item = txn["items"][0]
    consignee = txn["consignee"]
    return {
        "id": txn["id"],
        "date": txn["date"],
        "destination": txn["destination"],
        "chip": item["chip"],
        "quantity": str(item["quantity"]),
        "consignee_name": consignee["name"],
        "headquarters": consignee["headquarters"],
        "end_use": txn.get("end_use", ""),
    }


def test_pages_need_a_session(web: Api) -> None:
    client = TestClient(web.app)
    for path in ("/decide", "/allocations", "/packs", "/audit", "/"):
        response = client.get(path, headers=HTML, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", path


def test_sign_in_sets_a_signed_http_only_same_site_cookie(web: Api) -> None:
    client = TestClient(web.app)
    page = client.get("/login", headers=HTML)
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "DENY"
    response = client.post(
        "/login", data={"key": web.tokens["viewer"], "csrf": csrf_of(page.text)}, headers=HTML, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert web.tokens["viewer"].split("_", 2)[2] not in cookie  # the secret never goes into the cookie
    assert response.headers["location"] == "/allocations"  # a viewer cannot decide
    value = cookie.split(";")[0].split("=", 1)[1]
    assert client.get("/audit", headers=HTML, follow_redirects=False).status_code == 200
    tampered = value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB")
    forged = TestClient(web.app, cookies={"tiergate_session": tampered})
    assert forged.get("/audit", headers=HTML, follow_redirects=False).status_code == 303  # not signed: signed out


def test_sign_in_refuses_bad_keys_and_missing_csrf(web: Api) -> None:
    client = TestClient(web.app)
    page = client.get("/login", headers=HTML)
    wrong = client.post("/login", data={"key": "tg_000000000000_nope", "csrf": csrf_of(page.text)}, headers=HTML)
    assert wrong.status_code == 401 and "unknown API key" in wrong.text
    no_csrf = client.post("/login", data={"key": web.tokens["admin"]}, headers=HTML)
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    other_site = client.post(
        "/login",
        data={"key": web.tokens["admin"], "csrf": csrf_of(page.text)},
        headers={**HTML, "origin": "https://evil.example"},
    )
    assert other_site.status_code == 403


def test_decide_page_shows_outcome_authorisation_explanation_and_citations(web: Api) -> None:
    client = sign_in(web)
    response = decide_form(client, **form_of(sample("demo-01")))
    assert response.status_code == 200, response.text
    html = response.text
    assert 'id="outcome">authorized<' in html
    assert 'id="authorization">LPP<' in html
    assert "us-diffusion-2025/lpp" in html
    assert 'id="explanation"' in html and "TPP = dense TOPS x bit length" in html
    assert "90 FR 4544" in html  # a citation of the rule that fired


def test_decide_page_from_a_sample_and_as_json(web: Api) -> None:
    client = sign_in(web)
    page = client.get("/decide?sample=demo-04", headers=HTML)
    assert 'value="Nordlicht AI GmbH"' in page.text
    assert client.get("/decide?sample=nope", headers=HTML).status_code == 404
    txn = sample("demo-11")  # several items, one a chip spec: the JSON box
    response = decide_form(client, advanced=json.dumps(txn))
    assert response.status_code == 200 and "Custom X1" in response.text


def test_decide_form_errors_name_the_field(web: Api) -> None:
    client = sign_in(web)
    fields = form_of(sample("demo-01"))
    response = decide_form(client, **{**fields, "quantity": "ten"})
    assert response.status_code == 422 and 'id="error-quantity"' in response.text
    response = decide_form(client, **{**fields, "destination": "QQ"})  # the parser's error, on its field
    assert response.status_code == 422 and 'id="error-destination"' in response.text
    # Every field's problem at once, each on its field
    response = decide_form(client, **{**fields, "quantity": "-3", "headquarters": "", "consignee_name": " "})
    assert response.status_code == 422 and "3 field(s) need attention" in response.text
    for name in ("quantity", "headquarters", "consignee_name"):
        assert f'id="error-{name}"' in response.text, name
    no_csrf = client.post("/decide", data=fields, headers=HTML)
    assert no_csrf.status_code == 403


HOSTILE = "<script>alert('x')</script>\"'><img src=x onerror=alert(1)>"


def test_hostile_text_comes_back_escaped(web: Api) -> None:
    client = sign_in(web)
    fields = {**form_of(sample("demo-01")), "id": HOSTILE, "consignee_name": HOSTILE, "end_use": "<b>x</b>"}
    response = decide_form(client, **fields)
    assert response.status_code == 200, response.text
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    assert "&lt;script&gt;alert(" in response.text
    # Shipped, the hostile id is in the ledger and the audit log; the Audit page escapes it too.
    page = client.get("/decide", headers=HTML)
    shipped = client.post(
        "/decide/ship",
        data={"csrf": csrf_of(page.text), "transaction": _txn_json(response.text), "regime": ""},
        headers=HTML,
    )
    assert 'id="shipment"' in shipped.text and "Shipped" in shipped.text
    audit = client.get("/audit", headers=HTML)
    assert "<script>alert" not in audit.text and "&lt;script&gt;" in audit.text
    bad = decide_form(client, **{**fields, "destination": "<svg onload=alert(1)>"})
    assert "<svg onload" not in bad.text and "&lt;svg onload" in bad.text


def _txn_json(html: str) -> str:
    found = re.search(r'name="transaction" value="([^"]*)"', html)
    assert found
    import html as html_module

    return html_module.unescape(found.group(1))


def test_ship_moves_the_allocation_bar(web: Api) -> None:
    client = sign_in(web)
    before = client.get("/allocations", headers=HTML).text
    assert "No per consignee accounts" in before
    decided = decide_form(client, **form_of(sample("demo-01")))
    page = client.get("/decide", headers=HTML)
    shipped = client.post(
        "/decide/ship",
        data={"csrf": csrf_of(page.text), "transaction": _txn_json(decided.text), "regime": ""},
        headers=HTML,
    )
    assert "Shipped: allocations drawn." in shipped.text
    after = client.get("/allocations", headers=HTML).text
    consignees = after.split('id="section-consignee"')[1].split("</section>")[0]
    assert 'data-account="lpp:IN:example-compute-pvt-ltd:2025"' in consignees
    row = re.search(r'data-account="lpp:IN:example-compute-pvt-ltd:2025".*?data-pct="([\d.]+)"', after, re.S)
    assert row is not None
    assert float(row.group(1)) == pytest.approx(100 * 15_831_200 / 26_900_000, abs=0.01)


def test_batch_upload(web: Api) -> None:
    client = sign_in(web)
    page = client.get("/decide", headers=HTML)
    lines = Path(tiergate.__file__).parent.joinpath("samples", "transactions.jsonl").read_bytes()
    response = client.post(
        "/decide/batch",
        data={"csrf": csrf_of(page.text), "regime": ""},
        files={"file": ("sample.jsonl", io.BytesIO(lines), "application/x-ndjson")},
        headers=HTML,
    )
    assert response.status_code == 200, response.text
    assert f"{len(lines.splitlines())} decision(s) from sample.jsonl" in response.text
    broken = lines.splitlines()[0] + b"\n{oops\n"
    response = client.post(
        "/decide/batch",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("broken.jsonl", io.BytesIO(broken), "application/x-ndjson")},
        headers=HTML,
    )
    assert response.status_code == 422 and "broken.jsonl:2" in response.text and "tiergate-upload" not in response.text
    response = client.post(
        "/decide/batch",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("evil.exe", io.BytesIO(b"MZ"), "application/octet-stream")},
        headers=HTML,
    )
    assert response.status_code == 422 and "upload JSON" in response.text
    too_big = io.BytesIO(b" " * (web.ctx.settings.max_batch_bytes + 10))
    response = client.post(
        "/decide/batch", data={"csrf": csrf_of(page.text)}, files={"file": ("big.json", too_big)}, headers=HTML
    )
    assert response.status_code == 413


def test_roles_of_pages_and_a_revoked_key_ends_the_session(web: Api) -> None:
    client = sign_in(web, "viewer")
    assert client.get("/decide", headers=HTML).status_code == 403
    nav = client.get("/allocations", headers=HTML).text
    assert 'href="/decide"' not in nav and 'href="/packs"' in nav
    for path in ("/allocations", "/packs", "/audit"):
        assert client.get(path, headers=HTML).status_code == 200, path
    revoke_key(web.ctx.ledger, web.tokens["viewer"].split("_")[1], who="test")
    web.ctx.forget_keys()
    assert client.get("/audit", headers=HTML, follow_redirects=False).status_code == 303


def test_packs_page_diff_side_by_side(web: Api) -> None:
    client = sign_in(web, "viewer")
    html = client.get("/packs?from=us-2024-12&to=us-diffusion-2025", headers=HTML).text
    assert "What changed from <code>us-2024-12</code> to <code>us-diffusion-2025</code>" in html
    assert re.search(r"<td><code>tier1</code></td>", html)
    assert client.get("/packs?from=nope&to=us-2024-12", headers=HTML).status_code == 404


def test_audit_page_badge(web: Api) -> None:
    web.post("/v1/ship", json=sample("demo-01"))
    client = sign_in(web, "viewer")
    assert "Chain verified" in client.get("/audit", headers=HTML).text
    with web.ctx.ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_audit SET payload = '{}' WHERE seq = 4"))
    assert "Chain broken at entry 4" in client.get("/audit", headers=HTML).text


def test_allocations_map_is_coloured_by_tier(web: Api) -> None:
    client = sign_in(web, "viewer")
    html = client.get("/allocations?regime=us-diffusion-2025", headers=HTML).text
    assert re.search(r'class="g0" d="[^"]+" data-country="DE"', html)  # Germany: Tier 1
    assert re.search(r'class="g1" d="[^"]+" data-country="IN"', html)  # India: Tier 2
    assert re.search(r'class="g2" d="[^"]+" data-country="CN"', html)  # China: Tier 3
    controls = client.get("/allocations?regime=us-2026-01", headers=HTML).text
    assert "D:5 (arms-embargoed)" in controls
    assert orjson.loads(orjson.dumps(controls.count("<path"))) > 150


def test_html_errors_for_browsers_json_for_clients(web: Api) -> None:
    client = TestClient(web.app)
    assert client.get("/nope", headers=HTML).headers["content-type"].startswith("text/html")
    assert client.get("/nope").json()["error"]["status"] == 404


@pytest.mark.parametrize(
    "field", ["id", "consignee_name", "end_use", "destination", "chip", "headquarters", "consignee_country", "date"]
)
def test_hostile_text_in_each_form_field_is_escaped(web: Api, field: str) -> None:
    client = sign_in(web)
    response = decide_form(client, **{**form_of(sample("demo-01")), field: HOSTILE})
    assert response.status_code in (200, 422)
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    assert "&lt;script&gt;" in response.text or "&lt;img" in response.text or response.status_code == 422


def test_hostile_query_strings_are_escaped(web: Api) -> None:
    client = sign_in(web)
    for path in (f"/packs?from={HOSTILE}&to=us-2024-12", f"/allocations?regime={HOSTILE}", f"/decide?sample={HOSTILE}"):
        response = client.get(path, headers=HTML)
        assert "<script>alert" not in response.text and "<img src=x" not in response.text, path


def test_a_licensed_shipment_shows_in_the_country_and_licence_sections_and_on_the_map(web: Api) -> None:
    line = {"item": "nvidia-h100-sxm", "quantity": 5000, "value_usd": 150_000_000}
    record(web.ctx.ledger, "L-2025-001", lines=[line])
    order = {**sample("demo-02"), "value_usd": 60_000_000}
    shipped = web.post("/v1/ship", json=order, params={"licence": "L-2025-001"}).json()
    assert shipped["committed"] is True and shipped["reason"] == "shipped under licence L-2025-001"
    client = sign_in(web, "viewer")
    html = client.get("/allocations?regime=us-diffusion-2025", headers=HTML).text
    country = html.split('id="section-country"')[1].split("</section>")[0]
    licence = html.split('id="section-licence"')[1].split("</section>")[0]
    assert 'data-account="country:IN:2025-2027"' in country
    assert 'data-account="licence:L-2025-001:1:quantity"' in licence
    assert re.search(r'class="g1 allocated" d="[^"]+" data-country="IN"', html)


def test_no_server_error_on_arbitrary_form_input(web: Api) -> None:
    """Hypothesis fills the dashboard's forms with arbitrary text: every answer is a page, never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client = sign_in(web)
    csrf = csrf_of(client.get("/decide", headers=HTML).text)
    text = st.text(max_size=40)
    fields = st.fixed_dictionaries(
        {
            name: text
            for name in (
                "id",
                "date",
                "destination",
                "chip",
                "quantity",
                "consignee_name",
                "headquarters",
                "veu",
                "regime",
            )
        }
    )
    json_text = st.one_of(
        text,
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
            max_leaves=8,
        ).map(json.dumps),
    )

    examples = int(os.environ.get("TIERGATE_FORM_EXAMPLES", "40"))

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(fields, json_text, text)
    def check(values: dict[str, str], transaction: str, licence: str) -> None:
        responses = [
            client.post("/decide", data={"csrf": csrf, **values}, headers=HTML),
            client.post("/decide", data={"csrf": csrf, "advanced": transaction}, headers=HTML),
            client.post(
                "/decide/ship", data={"csrf": csrf, "transaction": transaction, "licence": licence}, headers=HTML
            ),
            client.post(
                "/decide/batch", data={"csrf": csrf}, files={"file": ("t.json", transaction.encode())}, headers=HTML
            ),
        ]
        for response in responses:
            assert response.status_code < 500, response.text[:300]
            assert response.headers["content-type"].startswith("text/html")

    check()


def test_decide_page_answers_in_every_jurisdiction_for_a_tool(web: Api) -> None:
    client = sign_in(web)
    response = decide_form(
        client,
        date="2025-06-01",
        export_from="NL",
        destination="CN",
        equipment="asml-nxt-2000i",
        quantity="1",
        consignee_name="Hua Hong <b>Foundry</b> Co",
        headquarters="CN",
    )
    assert response.status_code == 200, response.text
    html = response.text
    assert 'id="jurisdictions"' in html and 'data-jurisdiction="NL"' in html and 'data-jurisdiction="US"' in html
    assert "nl-2023-09/immersion-duv-critical" in html and "<b>Foundry</b>" not in html


def test_denials_page_lists_and_keeps_a_notice(web: Api) -> None:
    client = sign_in(web)
    page = client.get("/denials", headers=HTML)
    assert page.status_code == 200 and "No denial notices held" in page.text
    fields = {
        "id": "NL-1",
        "jurisdiction": "NL",
        "date": "2024-06-01",
        "items": "3B001.f.1, lithography.euv",
        "destination": "CN",
        "end_user": "Hua Hong Foundry Co",
        "reason": "<script>x</script>",
    }
    kept = client.post("/denials", data={"csrf": csrf_of(page.text), **fields}, headers=HTML)
    assert kept.status_code == 200 and 'id="denial-kept"' in kept.text
    assert "NL-1" in kept.text and "<script>x</script>" not in kept.text
    bad = client.post(
        "/denials", data={"csrf": csrf_of(page.text), **fields, "id": "X", "jurisdiction": "QQ"}, headers=HTML
    )
    assert bad.status_code == 422 and "unknown jurisdiction" in bad.text
