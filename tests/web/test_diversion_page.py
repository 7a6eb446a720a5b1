"""The Diversion page: scan an upload into the queue, open a case (flags with citations, the network as SVG),
act on it as an officer; a viewer sees but cannot act; hostile text comes back escaped."""

from __future__ import annotations

import io
import re
from pathlib import Path

from tiergate.diversion import generate
from tiergate.diversion.generate import PARTY_COLUMNS

from .test_pages import HTML, Api, csrf_of, sign_in, web  # noqa: F401 - the fixture


def test_scan_open_a_case_and_act_on_it(web: Api, tmp_path: Path) -> None:  # noqa: F811
    made = generate(tmp_path / "g", 150, seed=5, instances=1, decoys=1)
    parties = made.parties.read_text()
    hostile = "<script>alert(1)</script> Ltd"
    lines = parties.splitlines()
    first = lines[1].split(",", 2)
    lines[1] = ",".join([first[0], f'"{hostile}"', first[2]])
    assert PARTY_COLUMNS[1] == "name"
    client = sign_in(web)
    page = client.get("/diversion", headers=HTML)
    assert page.status_code == 200 and "No cases" in page.text
    scanned = client.post(
        "/diversion/scan",
        data={"csrf": csrf_of(page.text)},
        files={
            "shipments": ("ship.csv", io.BytesIO(made.shipments.read_bytes()), "text/csv"),
            "parties": ("parties.csv", io.BytesIO("\n".join(lines).encode()), "text/csv"),
        },
        headers=HTML,
    )
    assert scanned.status_code == 200, scanned.text
    assert "case(s) entered the queue" in scanned.text
    ids = re.findall(r'href="/diversion\?case=(C-\d+)"', scanned.text)
    assert ids
    network = None
    for case in ids:
        shown = client.get(f"/diversion?case={case}", headers=HTML)
        assert shown.status_code == 200 and 'id="flags"' in shown.text
        if "<svg" in shown.text:
            network = shown
    assert network is not None and "<line" in network.text and "<script>" not in network.text
    case = ids[0]
    shown = client.get(f"/diversion?case={case}", headers=HTML)
    closed = client.post(
        f"/diversion/cases/{case}", data={"csrf": csrf_of(shown.text), "action": "close", "text": ""}, headers=HTML
    )
    assert closed.status_code == 422 and "needs a reason" in closed.text
    closed = client.post(
        f"/diversion/cases/{case}",
        data={"csrf": csrf_of(shown.text), "action": "close", "text": "licence on file"},
        headers=HTML,
    )
    assert closed.status_code == 200 and "Closed by officer-owner: licence on file" in closed.text
    assert "diversion.case.close" in closed.text

    viewer = sign_in(web, "viewer")
    seen = viewer.get(f"/diversion?case={case}", headers=HTML)
    assert seen.status_code == 200 and 'id="form-close"' not in seen.text
    refused = viewer.post(
        f"/diversion/cases/{case}", data={"csrf": csrf_of(seen.text), "action": "note", "text": "x"}, headers=HTML
    )
    assert refused.status_code == 403
    assert viewer.get("/diversion?case=C-9999", headers=HTML).status_code == 404
