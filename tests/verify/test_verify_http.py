"""``/v1/verify/*`` and the Verification page: the same verdicts as the CLI, roles, one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tiergate
from tiergate.signing import load_signing_key, public_key_pem
from tiergate.verify.chipkeys import respond

from ..api.conftest import Api, make_api
from ..web.test_pages import HTML, csrf_of, sign_in

SAMPLES = [
    {"landmark": "SIN", "lat": 1.3521, "lon": 103.8198, "rtt_ms": 2.0},
    {"landmark": "KUL", "lat": 3.139, "lon": 101.6869, "rtt_ms": 4.5},
]


@pytest.fixture
def api(tmp_path: Path, book: tiergate.Rulebook) -> Iterator[Api]:
    made = make_api(tmp_path, book, key_cache_seconds=0.0)
    yield made
    made.client.close()
    made.ctx.close()


def test_locate_and_probe(api: Api) -> None:
    found = api.post("/v1/verify/locate", role="viewer", json={"claim": "SG", "samples": SAMPLES})
    assert found.status_code == 200, found.text
    assert found.json()["verdict"] == "consistent_unsigned"
    far = api.post(
        "/v1/verify/locate",
        role="viewer",
        json={"claim": "SG", "samples": [{"landmark": "HKG", "lat": 22.3193, "lon": 114.1694, "rtt_ms": 1.5}]},
    )
    assert far.json()["verdict"] == "ruled_out"
    probed = api.post("/v1/verify/probe", role="viewer", json={"declared": "H20", "measured": {"bf16": 796.8}})
    assert probed.json()["verdict"] == "inconsistent"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"claim": "SG", "samples": [{**SAMPLES[0], "rtt_ms": 0}]}, "samples[0].rtt_ms"),
        ({"claim": "SG", "samples": [{**SAMPLES[0], "lat": 95}]}, "samples[0].lat"),
        ({"claim": "SG", "samples": []}, "samples"),
        ({"claim": "SG", "samples": SAMPLES, "speed": 1}, "speed"),
        ({"claim": "ZZ", "samples": SAMPLES}, "claim"),
    ],
)
def test_bad_locate_bodies(api: Api, body: dict[str, Any], where: str) -> None:
    found = api.post("/v1/verify/locate", role="viewer", json=body)
    assert found.status_code == 422, found.text
    error = found.json()["error"]
    assert where in (error.get("where") or "") + error["message"], error


def test_bad_probe_and_unknown_chip(api: Api) -> None:
    assert api.post("/v1/verify/probe", json={"declared": "H20", "measured": {"bf16": -1}}).status_code == 422
    unknown = api.post("/v1/verify/probe", json={"declared": "H2O", "measured": {"bf16": 1}})
    assert unknown.status_code == 422 and "unknown chip" in unknown.json()["error"]["message"]


def test_roles_keys_challenge_and_signed_locate(api: Api, tmp_path: Path) -> None:
    assert api.client.post("/v1/verify/locate", json={"claim": "SG", "samples": SAMPLES}).status_code == 401
    chip = load_signing_key(tmp_path / "chip.pem", create=True)
    body = {"serial": "SN-9", "public_key": public_key_pem(chip)}
    assert api.post("/v1/verify/keys", role="officer", json=body).status_code == 403
    assert api.post("/v1/verify/keys", role="admin", json=body).status_code == 200
    assert api.get("/v1/verify/keys").json()[0]["registered_by"] == "admin-owner"
    assert api.post("/v1/verify/challenge", role="viewer", json={"serial": "SN-9"}).status_code == 403
    samples = []
    for sample in SAMPLES:
        challenge = api.post("/v1/verify/challenge", role="officer", json={"serial": "SN-9"}).json()
        answer = respond(challenge, chip)
        samples.append({**sample, "nonce": answer["nonce"], "signature": answer["signature"]})
    found = api.post("/v1/verify/locate", json={"claim": "SG", "serial": "SN-9", "samples": samples})
    assert found.json()["verdict"] == "consistent" and found.json()["signed"] is True
    replayed = api.post(
        "/v1/verify/locate", json={"claim": "SG", "serial": "SN-9", "samples": [samples[0], samples[0]]}
    )
    assert replayed.json()["verdict"] == "rejected"


def test_fleet_csv(api: Api) -> None:
    text = "serial,declared,claim,landmark,lat,lon,rtt_ms\nC3,H100,SG,HKG,22.3193,114.1694,1.5\n"
    found = api.post("/v1/verify/fleet", content=text.encode(), headers={"content-type": "text/csv"})
    assert found.status_code == 200 and found.json()[0]["status"] == "ruled_out"
    wrong = api.post("/v1/verify/fleet", content=b"{}", headers={"content-type": "application/json"})
    assert wrong.status_code == 415
    latin = api.post(
        "/v1/verify/fleet",
        content="serial,declared,claim\nS\xe3,H100,SG\n".encode("latin-1"),
        headers={"content-type": "text/csv"},
    )
    assert latin.status_code == 422 and "not UTF-8" in latin.json()["error"]["message"]


def test_the_verification_page(api: Api) -> None:
    client = sign_in(api, "viewer")
    page = client.get("/verify", headers=HTML)
    assert page.status_code == 200 and 'action="/verify/locate"' in page.text
    rtt = "landmark,lat,lon,rtt_ms\nSIN,1.3521,103.8198,2.0\nHKG<script>,22.3193,114.1694,30\n"
    found = client.post("/verify/locate", data={"csrf": csrf_of(page.text), "claim": "SG", "rtt": rtt}, headers=HTML)
    assert found.status_code == 200, found.text
    assert 'id="location-verdict"' in found.text and "consistent unsigned" in found.text
    assert "<svg" in found.text and 'class="disk-c"' in found.text
    assert "HKG<script>" not in found.text and "HKG&lt;script&gt;" in found.text
    bad = client.post(
        "/verify/locate",
        data={"csrf": csrf_of(page.text), "claim": "SG", "rtt": "landmark,lat,lon,rtt_ms\nSIN,1,1,0\n"},
        headers=HTML,
    )
    assert bad.status_code == 422 and "rtt_ms" in bad.text
    probed = client.post(
        "/verify/probe", data={"csrf": csrf_of(page.text), "declared": "H20", "measured": "bf16=796.8"}, headers=HTML
    )
    assert 'id="probe-verdict"' in probed.text and "inconsistent" in probed.text
    forged = client.post("/verify/probe", data={"csrf": "nope", "declared": "H20", "measured": "bf16=1"}, headers=HTML)
    assert forged.status_code == 403
