"""The dashboard's working features through their HTML (issue 20): batch rows that show consignee and destination
and open their decision, the whole audit log as CSV, the cause beside an outcome, every form error on its field,
screening results as one card per entity above the folded lists, alert triage (severity, assignee, dismissed with
a reason, escalated) and the map (no piece across the antimeridian; Antarctica and Greenland not Tier 2)."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import tiergate
from tiergate.web.worldmap import WIDTH, antimeridian_pieces, country_polygons, country_shapes

from ..api.conftest import Api, make_api, sample
from ..api.conftest import usage_data as usage_data  # the session fixture, shared
from ..licences import record
from .test_pages import HOSTILE, HTML, csrf_of, decide_form, form_of, sign_in

LINE = {"item": "nvidia-h100-sxm", "quantity": 5000, "value_usd": 150_000_000}

LISTED = "China Electronics Technology Group Corporation 13th Research Institute"


@pytest.fixture
def web(tmp_path: Path, book: tiergate.Rulebook, usage_data: tuple[Path, Path]) -> Iterator[Api]:
    usage, customers = usage_data
    made = make_api(tmp_path, book, key_cache_seconds=0.0, monitor_usage=usage, monitor_customers=customers)
    yield made
    made.client.close()
    made.ctx.close()


def test_batch_rows_show_consignee_and_destination_and_open_their_decision(web: Api) -> None:
    client = sign_in(web)
    lines = [orjson.dumps(sample(f"demo-0{n}")) for n in (1, 3, 4)]
    page = client.get("/decide", headers=HTML).text
    response = client.post(
        "/decide/batch",
        data={"csrf": csrf_of(page)},
        files={"file": ("batch.jsonl", b"\n".join(lines))},
        headers=HTML,
    )
    assert response.status_code == 200, response.text[:2000]
    table = response.text.split('id="batch-table"')[1].split("</table>")[0]
    assert "Example Compute Pvt Ltd</td><td>IN</td>" in table
    assert "Nordlicht AI GmbH</td><td>DE</td>" in table
    links = [html.unescape(link) for link in re.findall(r'<a href="([^"]+)" class="decision-link">', table)]
    assert len(links) == 3
    opened = client.get(links[0], headers=HTML)  # the decision's page: the transaction alone, explained
    assert opened.status_code == 200
    assert 'id="outcome">authorized<' in opened.text and 'id="explanation"' in opened.text
    assert "demo-01" in opened.text.split('id="decision"')[1]
    hostile = client.get("/decide", params={"transaction": HOSTILE}, headers=HTML)
    assert hostile.status_code == 422 and "<script>alert" not in hostile.text and "not valid JSON" in hostile.text


def test_the_whole_audit_log_downloads_as_csv(web: Api) -> None:
    client = sign_in(web, "viewer")
    assert web.post("/v1/ship", json=sample("demo-01")).json()["committed"]
    response = client.get("/audit.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    entries = web.get("/v1/audit").json()
    assert len(rows) == len(entries) >= 1
    assert [r["hash"] for r in rows] == [e["hash"] for e in entries]
    assert 'data-csv-href="/audit.csv"' in client.get("/audit", headers=HTML).text
    anonymous = web.client.get("/audit.csv", headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303  # to the sign-in page


def test_every_form_error_is_shown_on_its_field(web: Api) -> None:
    client = sign_in(web)
    fields = {**form_of(sample("demo-01")), "quantity": "1.5", "destination": "India", "date": "3/3/2025"}
    response = decide_form(client, **{**fields, "consignee_name": "", "chip": ""})
    assert response.status_code == 422
    for name in ("quantity", "destination", "date", "consignee_name", "chip"):
        assert re.search(rf'<label class="invalid">[^<]*<input name="{name}"', response.text), name
        assert f'id="error-{name}"' in response.text
    assert "5 field(s) need attention" in response.text
    assert 'value="India"' in response.text  # what was typed stays, to be corrected


def test_a_decision_changed_by_screening_shows_the_cause_beside_its_outcome(web: Api) -> None:
    client = sign_in(web)
    plain = decide_form(client, **form_of(sample("demo-01")))
    assert 'id="cause"' not in plain.text
    listed = {**form_of(sample("demo-01")), "consignee_name": LISTED, "headquarters": "CN", "destination": "CN"}
    response = decide_form(client, **listed)
    assert response.status_code == 200, response.text[:2000]
    verdict = response.text.split('class="verdict"')[1].split("</p>")[0]
    cause = re.search(r'<span class="cause" id="cause">([^<]*)</span>', verdict)
    assert cause is not None and cause.group(1).startswith("screening: EL entry"), verdict
    record(web.ctx.ledger, "L-2025-001", lines=[LINE])  # shipped under a licence: the licence is the cause
    decided = decide_form(client, **form_of(sample("demo-02")), value_usd="60,000,000")
    transaction = html.unescape(re.search(r'name="transaction" value="([^"]*)"', decided.text).group(1))  # type: ignore[union-attr]
    shipped = client.post(
        "/decide/ship",
        data={"csrf": csrf_of(decided.text), "transaction": transaction, "licence": "L-2025-001"},
        headers=HTML,
    )
    assert '<span class="cause" id="cause">licence L-2025-001</span>' in shipped.text, shipped.text[:3000]


def test_screening_results_come_first_one_card_per_entity(web: Api) -> None:
    client = sign_in(web, "viewer")
    page = client.get("/screening", params={"name": LISTED, "country": "CN"}, headers=HTML).text
    assert page.index('id="results"') < page.index('id="lists"')
    assert '<details class="card" id="lists">' in page  # folded away once lists are loaded
    cards = re.findall(r'<section class="entity" data-entity="([^"]+)">(.*?)</section>', page, re.S)
    assert cards and html.unescape(cards[0][0]).startswith(LISTED)
    memberships = re.search(r'<ul class="memberships"[^>]*>(.*?)</ul>', cards[0][1], re.S)
    assert memberships is not None and "<li>EL</li>" in memberships.group(1)
    assert len({name for name, _ in cards}) == len(cards)  # one card per entity
    assert 'data-table="screening-hits"' in page


def test_alerts_are_triaged_with_severity_assignee_and_a_reason(web: Api) -> None:
    officer = sign_in(web, "officer")
    page = officer.get("/monitoring", headers=HTML).text
    assert page.index('id="alerts"') < page.index('id="near"')  # the report puts the alerts first
    keys = [html.unescape(k) for k in re.findall(r'<tr class="\w+" data-alert="([^"]+)">', page)]
    assert len(keys) >= 2
    assert re.search(r'<span class="severity (high|medium|low)">', page)
    assert re.search(r'class="threshold-label"[^>]*>[^<]*: 1e\+26 FLOP', page)  # threshold lines labelled

    def step(key: str, action: str, **extra: str) -> object:
        data = {"csrf": csrf_of(page), "alert": key, "action": action, **extra}
        return officer.post("/monitoring/alert", data=data, headers=HTML, follow_redirects=False)

    no_reason = step(keys[0], "dismissed", reason=" ")
    assert no_reason.status_code == 422 and "a reason is required" in no_reason.text  # type: ignore[attr-defined]
    assert step(keys[0], "dismissed", reason="Known research cluster, <b>cleared</b> in 2025").status_code == 303  # type: ignore[attr-defined]
    assert step(keys[1], "escalated", reason="Export counsel to review").status_code == 303  # type: ignore[attr-defined]
    assert step(keys[1], "assigned", assignee="dana").status_code == 303  # type: ignore[attr-defined]
    after = officer.get("/monitoring", headers=HTML).text

    def row(key: str) -> str:
        found = re.search(rf'data-alert="{re.escape(html.escape(key))}">(.*?)</tr>', after, re.S)
        assert found, key
        return found.group(1)

    assert '<span class="status dismissed">' in row(keys[0])
    assert "Known research cluster, &lt;b&gt;cleared&lt;/b&gt; in 2025" in row(keys[0])
    assert '<span class="status escalated">' in row(keys[1]) and '<td class="assignee">dana</td>' in row(keys[1])
    assert step(keys[0], "reopened", reason="New usage since").status_code == 303  # type: ignore[attr-defined]
    assert '<span class="status open">' in row(keys[0]) or "status open" in officer.get("/monitoring").text
    actions = [e["action"] for e in web.get("/v1/audit").json()]
    assert actions.count("alert-dismissed") == 1 and "alert-escalated" in actions and "alert-assigned" in actions
    viewer = sign_in(web, "viewer")
    viewer_page = viewer.get("/monitoring", headers=HTML).text
    assert "/monitoring/alert" not in viewer_page
    refused = viewer.post(
        "/monitoring/alert",
        data={"csrf": csrf_of(viewer_page), "alert": keys[0], "action": "escalated", "reason": "x"},
        headers=HTML,
    )
    assert refused.status_code == 403
    assert step(keys[0], "deleted", reason="x").status_code == 422  # type: ignore[attr-defined]


def _subpath_spans(path: str) -> list[float]:
    spans = []
    for sub in re.findall(r"M[^Z]*Z", path):
        xs = [float(x) for x in re.findall(r"[ML](-?[\d.]+),", sub)]
        spans.append(max(xs) - min(xs))
    return spans


def test_no_country_piece_is_drawn_across_the_antimeridian() -> None:
    for shape in country_shapes():
        assert all(span <= WIDTH / 2 for span in _subpath_spans(shape.path)), shape.code
    russia = next(s for s in country_shapes() if s.code == "RU")
    chukotka = [sub for sub in re.findall(r"M[^Z]*Z", russia.path) if float(sub[1:].split(",")[0]) < WIDTH / 4]
    assert chukotka  # east of 180°: drawn at the map's western edge, as its own closed piece
    for code, polygons in country_polygons().items():
        for polygon in polygons:
            lons = [lon for lon, _ in polygon[0]]
            assert min(lons) >= -180 and max(lons) <= 180 and max(lons) - min(lons) <= 180, code
    # A square across 180°: two closed pieces, one each side
    square = [(170.0, 10.0), (-170.0, 10.0), (-170.0, 20.0), (170.0, 20.0), (170.0, 10.0)]
    pieces = antimeridian_pieces(square)
    assert sorted((min(x for x, _ in p), max(x for x, _ in p)) for p in pieces) == [(-180, -170), (170, 180)]


def test_antarctica_and_greenland_are_not_coloured_as_tier_2(web: Api) -> None:
    client = sign_in(web, "viewer")
    page = client.get("/allocations", params={"regime": "us-diffusion-2025"}, headers=HTML).text
    paths = re.findall(r'<path class="([\w ]+)" d="[^"]+" data-country="(\w+)"', page)
    classes = {code: cls for cls, code in paths}
    assert classes["IN"] == "g1"  # Tier 2
    assert classes["AQ"] == "other" and classes["GL"] == "other"
    assert re.search(r'data-country="GL"><title>[^<]*a territory of DK \(Tier 1\)', page)
    record(web.ctx.ledger, "L-2025-001", lines=[LINE])  # a licensed shipment to India draws its country allocation
    order = {**sample("demo-02"), "value_usd": 60_000_000}
    assert web.post("/v1/ship", json=order, params={"licence": "L-2025-001"}).json()["committed"]
    use = client.get("/allocations", params={"view": "use"}, headers=HTML).text
    assert "Allocation use per country" in use and "% drawn" in use
    india = re.search(r'<path class="(r\d) allocated" d="[^"]+" data-country="IN"><title>([^<]*)</title>', use)
    assert india is not None and "% of its country allocation drawn" in india.group(2), use[-5000:]
    assert re.search(r'<path class="none" d="[^"]+" data-country="DE">', use)
