"""Smaller hardening of the HTTP API (issue 21, item 9): the key is checked before anything of the request is
validated (``/v1/screen`` validated the body first, so a caller without a key learned what it got wrong); key owners
cannot look like one another in the audit log."""

from __future__ import annotations

import pytest

from tiergate.api.keys import check_owner, owner_skeletons
from tiergate.errors import InputError

from .conftest import Api

JUNK = [
    (b"{not json", "application/json"),
    (b'{"unknown": 1, "record": true, "name": ""}', "application/json"),
    (b"--x\r\n", "multipart/form-data; boundary=x"),
    (b"\xff\xfe", "text/plain"),
]


def test_every_operation_checks_the_key_before_the_request(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        url = path.replace("{", "").replace("}", "") + "?limit=-5&threshold=7&as_of=never&regime=" + "x" * 300
        for method in operations:
            for body, media in JUNK:
                for headers in ({}, {"Authorization": "Bearer tg_000000000000_forged"}, {"Authorization": "Basic x"}):
                    response = api.client.request(
                        method.upper(), url, content=body, headers={"content-type": media, **headers}
                    )
                    assert response.status_code == 401, (method, path, media, headers, response.text[:200])
                    assert response.headers["www-authenticate"] == "Bearer"
                    assert response.json()["error"]["code"] == "unauthenticated"
                    checked += 1
    assert checked >= 25 * len(JUNK) * 3


def test_screen_with_a_key_but_a_bad_body_is_a_422_then(api: Api) -> None:
    response = api.post(
        "/v1/screen", role="viewer", content=b'{"nme": "x"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    recording = api.post("/v1/screen", role="viewer", json={"name": "Huawei", "record": True})
    assert recording.status_code == 403


@pytest.mark.parametrize(
    "owner",
    [
        "аdmin",  # Cyrillic а
        "admin\u200b",  # zero-width space
        "ad\u202emin",  # right-to-left override
        "José",  # not ASCII: an ASCII spelling is asked for
        "<script>",
        " ",
        "-leading",
    ],
)
def test_owners_outside_the_plain_set_are_refused(api: Api, owner: str) -> None:
    response = api.post("/v1/keys", role="admin", json={"owner": owner, "role": "viewer"})
    assert response.status_code == 422, response.text
    assert "owner" in response.json()["error"]["message"]


@pytest.mark.parametrize("lookalike", ["VIEWER-OWNER", "Viewer-0wner", "vievver-owner", "vIewer-owner"])
def test_an_owner_that_looks_like_another_is_refused(api: Api, lookalike: str) -> None:
    response = api.post("/v1/keys", role="admin", json={"owner": lookalike, "role": "viewer"})
    assert response.status_code == 422, response.text
    assert "looks like the existing owner 'viewer-owner'" in response.json()["error"]["message"]
    same = api.post("/v1/keys", role="admin", json={"owner": "viewer-owner", "role": "officer"})
    assert same.status_code == 201, same.text  # a second key of the same owner is fine


def _alike(a: str, b: str) -> bool:
    return bool(owner_skeletons(a) & owner_skeletons(b))


def test_owner_skeletons() -> None:
    assert _alike("Ian", "lan") and _alike("1an", "lan") and _alike("Ian", "1an")
    assert _alike("modern", "modem") and _alike("Bob  Smith", "bob smith") and _alike("B0B", "bob")
    assert not _alike("alice", "alicia") and not _alike("vlewer", "viewer") and not _alike("IAN", "lan")
    assert check_owner("ｂｏｂ") == "bob"  # NFKC: full-width letters are the ASCII ones
    with pytest.raises(InputError, match="looks like"):
        check_owner("rnallory", ["mallory"])
