"""Issue 21, items 6 and 7 over HTTP and the dashboard: a scenario or an out-of-window date is refused (422), a
backfill needs an admin key and is audited, and concurrent identical shipments answer alike, never a 500, with
one audit entry; the dashboard shows a repeat as a duplicate."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import tiergate

from ..ledger.conftest import pg_database
from ..web.test_pages import HTML, csrf_of, sign_in
from .conftest import Api, make_api, sample


@pytest.fixture(params=["sqlite", "postgresql"])
def any_api(request: pytest.FixtureRequest, tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    urls = pg_database() if request.param == "postgresql" else iter([None])
    for url in urls:
        made = make_api(tmp_path, book, db=url, key_cache_seconds=0.0)
        try:
            yield made
        finally:
            made.client.close()
            made.ctx.close()


def _ships(api: Api) -> list[dict[str, Any]]:
    return [e for e in api.get("/v1/audit").json() if e["action"] == "ship"]


def test_a_scenario_or_a_date_outside_the_window_is_refused(api: Api) -> None:
    assert api.post("/v1/ship", json=sample("demo-01")).json()["committed"] is True  # the 2025 LPP, today
    for date in ("2024-06-03", "2026-03-02", "2031-01-06"):
        for params in ({"regime": "us-diffusion-2025"}, {}):
            response = api.post("/v1/ship", json={**sample("demo-01"), "id": f"x-{date}", "date": date}, params=params)
            assert response.status_code == 422, (date, params, response.text)
    refused = api.post("/v1/ship", json={**sample("demo-01"), "id": "s"}, params={"regime": "us-2025-05"})
    assert refused.status_code == 422 and "scenario" in refused.json()["error"]["message"]
    accounts = [b["allocation"] for b in api.get("/v1/ledger/balances").json()]
    assert [a for a in accounts if a.startswith("lpp:")] == ["lpp:IN:example-compute-pvt-ltd:2025"]


def test_a_backfill_needs_an_admin_key_and_is_audited(api: Api) -> None:
    old = {**sample("demo-01"), "id": "old", "date": "2025-01-20"}
    assert api.post("/v1/ship", json=old).status_code == 422
    assert api.post("/v1/ship", json=old, params={"backfill": "true"}).status_code == 403
    shipped = api.post("/v1/ship", json=old, params={"backfill": "true"}, role="admin")
    assert shipped.status_code == 200 and shipped.json()["committed"] is True, shipped.text
    backfills = [e for e in api.get("/v1/audit").json() if e["action"] == "backfill"]
    assert len(backfills) == 1 and backfills[0]["actor"].startswith("admin-owner")


def test_concurrent_identical_shipments_answer_alike_and_are_logged_once(any_api: Api) -> None:
    txn = sample("demo-01")
    workers = 12
    start = threading.Barrier(workers)
    answers: list[Any] = [None] * workers

    def post(slot: int) -> None:
        start.wait()
        answers[slot] = any_api.post("/v1/ship", json=txn)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * workers, [a.text for a in answers if a.status_code != 200]
    bodies = [a.json() for a in answers]
    assert sorted(b["duplicate"] for b in bodies) == [False] + [True] * (workers - 1), [
        (b["committed"], b["duplicate"], b["reason"]) for b in bodies
    ]
    assert all(b["committed"] for b in bodies) and len({tuple(b["reservations"]) for b in bodies}) == 1
    assert len(_ships(any_api)) == 1
    assert any_api.get("/v1/audit/verify").json()["intact"] is True


def test_the_dashboard_shows_a_double_submit_as_a_duplicate(api: Api) -> None:
    client = sign_in(api)
    text = orjson.dumps(sample("demo-01")).decode()
    pages = []
    for _ in range(2):
        page = client.get("/decide", headers=HTML)
        pages.append(
            client.post(
                "/decide/ship", data={"csrf": csrf_of(page.text), "transaction": text, "regime": ""}, headers=HTML
            )
        )
    assert [p.status_code for p in pages] == [200, 200]
    assert "Shipped: allocations drawn." in pages[0].text
    assert "Already shipped: a duplicate" in pages[1].text
    assert len(_ships(api)) == 1


def test_the_same_id_with_other_content_is_a_conflict(api: Api) -> None:
    assert api.post("/v1/ship", json=sample("demo-01")).json()["committed"] is True
    other = api.post("/v1/ship", json={**sample("demo-01"), "items": [{"chip": "nvidia-h100-sxm", "quantity": 5}]})
    assert other.status_code == 409 and "other content" in other.json()["error"]["message"], other.text
    assert len(_ships(api)) == 1
