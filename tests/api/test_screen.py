"""``/v1/screen``: the CLI's answers over HTTP, officers' decisions on hits (audited under the key's owner), the
screening of consignees in ``/v1/decide`` and ``/v1/ship``, admin loading of lists, and hostile input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

import tiergate
from tiergate.api.settings import SAMPLE_LISTS

from ..inprocess import run_cli
from .conftest import Api, make_api, sample
from .test_api import assert_error

LISTED = "China Electronics Technology Group Corporation 13th Research Institute"
CETC = "trade-gov-csl-sample-2025:99ed1b052fdb09695fae1ba87516d8a0882b0df04652e07aeb5ce7be"
CETC_PARTY = "CN:china-electronics-technology-group-corporation-13th-research-institute"
SDN_NAME = "RIM, Ryong Nam"
INJECTIONS = ["'; DROP TABLE screen_decisions; --", "<script>alert(1)</script>", '" OR 1=1 --', "{{7*7}}"]


def screen(api: Api, role: str = "viewer", **body: Any) -> Any:
    return api.post("/v1/screen", role=role, json=body)


def cetc_hit(answer: dict[str, Any]) -> dict[str, Any]:
    found = [h for h in answer["hits"] if h["entry"] == CETC]
    assert found, answer
    return dict(found[0])


def _actions(api: Api) -> list[dict[str, Any]]:
    return list(api.get("/v1/audit").json())


def test_screen_gives_the_clis_answer(api: Api, tmp_path: Path) -> None:
    answer = screen(api, name=LISTED, country="CN")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    hit = cetc_hit(body)
    assert hit["list"] == "EL" and hit["match"] is True and hit["status"] == "open" and 0.7 <= hit["score"] <= 1
    assert set(hit["explanation"]) >= {"name", "country_match"}
    assert all(set(f) == {"score", "detail"} for f in hit["explanation"].values())
    assert body["query"]["party"] == CETC_PARTY
    assert body["data_version"].startswith("trade-gov-csl-sample-2025@1:")
    db = f"sqlite:///{tmp_path / 'cli-lists.db'}"
    loaded = run_cli(["lists", "load", str(SAMPLE_LISTS[0]), "--db", db])
    assert loaded.returncode == 0, loaded.stderr
    printed = run_cli(["screen", "name", LISTED, "--country", "CN", "--db", db, "--format", "json"])
    assert printed.returncode == 1, printed.stderr  # an open match
    assert json.loads(printed.stdout)["hits"] == body["hits"]


def test_threshold_and_limit(api: Api) -> None:
    assert screen(api, name=LISTED, country="CN", threshold=0.99).json()["hits"] == []
    loose = screen(api, name="China Technology Institute", threshold=0.3, limit=1).json()
    assert len(loose["hits"]) <= 1
    assert_error(screen(api, name=LISTED, threshold=1.5), 422, "threshold")
    assert_error(screen(api, name=LISTED, country="XX"), 422, "country")
    assert_error(screen(api, name=LISTED, schema="Planet"), 422, "schema")
    assert_error(screen(api, name=LISTED, colour="red"), 422, "unknown field")


def test_roles(api: Api) -> None:
    assert_error(api.client.post("/v1/screen", json={"name": LISTED}), 401)
    assert_error(screen(api, name=LISTED, record=True), 403, "officer")
    assert screen(api, "officer", name=LISTED, record=True).status_code == 200
    decision = {"party": CETC_PARTY, "entry": CETC, "verdict": "cleared", "reason": "not them"}
    assert_error(api.post("/v1/screen/decisions", role="viewer", json=decision), 403)
    files = {"files": ("l.csv", SAMPLE_LISTS[0].read_bytes())}
    assert_error(api.post("/v1/screen/lists", role="officer", files=files), 403, "admin")
    assert api.get("/v1/screen/lists").json()[0]["entries"] == 13


def test_clear_reopen_and_confirm_a_hit_audited_under_the_keys_owner(api: Api) -> None:
    key_id = api.tokens["officer"].split("_")[1]
    actor = f"officer-owner (api key {key_id})"
    cleared = api.post(
        "/v1/screen/decisions",
        json={"party": CETC_PARTY, "entry": CETC, "verdict": "cleared", "reason": "  another institute  "},
    )
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["author"] == actor and cleared.json()["reason"] == "another institute"
    hit = cetc_hit(screen(api, name=LISTED, country="CN").json())
    assert hit["status"] == "cleared" and hit["decision"]["reason"] == "another institute"
    # The decision is for this party only: the same name as another party (no country) is still open.
    assert cetc_hit(screen(api, name=LISTED).json())["status"] == "open"
    assert [d["verdict"] for d in api.get("/v1/screen/decisions", params={"party": CETC_PARTY}).json()] == ["cleared"]
    reopened = api.post(
        "/v1/screen/decisions", json={"party": CETC_PARTY, "entry": CETC, "verdict": "reopened", "reason": "recheck"}
    )
    assert reopened.status_code == 201 and reopened.json()["withdrawn"] == "cleared"
    assert cetc_hit(screen(api, name=LISTED, country="CN").json())["status"] == "open"
    assert api.get("/v1/screen/decisions").json() == []
    again = {"party": CETC_PARTY, "entry": CETC, "verdict": "reopened", "reason": "again"}
    assert_error(api.post("/v1/screen/decisions", json=again), 409, "no standing decision")
    confirmed = {"party": CETC_PARTY, "entry": CETC, "verdict": "confirmed", "reason": "same address"}
    assert api.post("/v1/screen/decisions", json=confirmed).status_code == 201
    assert cetc_hit(screen(api, name=LISTED, country="CN").json())["status"] == "confirmed"
    writes = [e for e in _actions(api) if e["action"].startswith("screen-")]
    assert [e["action"] for e in writes] == ["screen-cleared", "screen-reopened", "screen-confirmed"]
    assert {e["actor"] for e in writes} == {actor}
    assert all(e["subject"] == f"{CETC_PARTY} / {CETC}" for e in writes)
    trail = [e for e in api.ctx.list_store().store.audit_entries() if e["action"] in ("cleared", "reopen")]
    assert [e["detail"]["author"] for e in trail] == [actor, actor]


def test_decision_errors(api: Api) -> None:
    base = {"party": CETC_PARTY, "entry": CETC, "verdict": "cleared", "reason": "x"}
    assert_error(api.post("/v1/screen/decisions", json={**base, "entry": "nope:1"}), 404, "no list entry")
    assert_error(api.post("/v1/screen/decisions", json={**base, "reason": "   "}), 422, "reason")
    assert_error(api.post("/v1/screen/decisions", json={**base, "verdict": "maybe"}), 422, "verdict")
    assert_error(api.post("/v1/screen/decisions", json={**base, "party": "p" * 301}), 422, "party")
    assert_error(api.post("/v1/screen/decisions", content=b"{", headers={"content-type": "application/json"}), 400)


def without_screening(decision: dict[str, Any]) -> dict[str, Any]:
    """A decision without its screening record and screening lines (what the licence rules alone decided)."""
    lines = [line for line in decision.get("explanation", []) if not line.startswith("Screening:")]
    return {**{k: v for k, v in decision.items() if k != "screening"}, "explanation": lines}


def test_decide_and_ship_screen_the_consignee(api: Api, book: tiergate.Rulebook) -> None:
    txn = {
        "id": "cetc-1",
        "date": "2025-03-03",
        "destination": "CN",
        "items": [{"chip": "nvidia-a100-sxm", "quantity": 8}],
        "consignee": {"name": LISTED, "country": "CN", "headquarters": "CN"},
    }
    plain = orjson.loads(
        orjson.dumps(
            tiergate.interchange.decision_to_dict(
                tiergate.determine(tiergate.parse_transaction(txn, book.catalogue), book)
            )
        )
    )
    screened = api.post("/v1/decide", json=txn).json()
    assert "screen/entity-list" in screened["rules"]
    assert screened["outcome"] in ("license_required", "prohibited")
    assert any(
        line.startswith("Screening: consignee") and "matches EL entry" in line for line in screened["explanation"]
    )
    batch = api.post("/v1/decide/batch", json=[sample("demo-01"), txn]).json()
    assert batch[1] == screened and "screen/entity-list" not in batch[0]["rules"]
    clear = {"party": CETC_PARTY, "entry": CETC, "verdict": "cleared", "reason": "a namesake"}
    assert api.post("/v1/screen/decisions", json=clear).status_code == 201
    cleared = api.post("/v1/decide", json=txn).json()
    assert without_screening(cleared) == without_screening(plain)  # cleared: the decision without screening
    assert cleared["screening"]["note"] == "parties screened: no match"

    sdn = {**sample("demo-03"), "id": "sdn-1", "consignee": {"name": SDN_NAME, "country": "DE", "headquarters": "DE"}}
    before = api.get("/v1/ledger/balances").json()
    refused = api.post("/v1/ship", json=sdn)
    assert refused.status_code == 200, refused.text
    body = refused.json()
    assert body["committed"] is False and body["outcome"] == "prohibited" and "SDN" in body["reason"]
    assert body["reservations"] == [] and "screen/sdn" in body["rules"]
    assert api.get("/v1/ledger/balances").json() == before
    entry = [e for e in _actions(api) if e["action"] == "ship-refused"][-1]
    assert entry["subject"] == "sdn-1" and entry["actor"].startswith("officer-owner")
    # A consignee whose name has no letter or digit matches no entry; an over-long one is refused, not passed.
    assert (
        api.post("/v1/decide", json={**txn, "consignee": {**txn["consignee"], "name": "\u202e\x00"}}).status_code == 200
    )
    long_name = SDN_NAME + " and partners" * 100
    assert_error(api.post("/v1/ship", json={**sdn, "consignee": {**sdn["consignee"], "name": long_name}}), 422, "name")


def test_batch_screening_in_order_json_and_json_lines(api: Api) -> None:
    parties = [{"id": "p1", "name": SDN_NAME}, {"name": "Example Compute Pvt Ltd", "country": "IN"}, {"name": LISTED}]
    listed = api.post("/v1/screen/batch", role="viewer", json=parties)
    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert [r["id"] for r in rows] == ["p1", "IN:example-compute-pvt-ltd", "-:" + CETC_PARTY[3:]]
    assert [r["hit"] for r in rows] == [True, False, True]
    lines = b"".join(orjson.dumps(p) + b"\n" for p in parties)
    streamed = api.post(
        "/v1/screen/batch", role="viewer", content=lines, headers={"content-type": "application/x-ndjson"}
    )
    assert [json.loads(line) for line in streamed.text.splitlines()] == rows
    assert_error(api.post("/v1/screen/batch", role="viewer", json=[parties[0], {"nom": "x"}]), 422, "body[1]")
    assert_error(api.post("/v1/screen/batch", role="viewer", json=[{"name": "x" * 5000}]), 422, "body[0]")
    assert_error(api.post("/v1/screen/batch", role="viewer", json=[]), 422, "empty")
    assert_error(api.post("/v1/screen/batch", role="viewer", json=parties, params={"record": "true"}), 403)
    recorded = api.post("/v1/screen/batch", json=parties, params={"record": "true"})
    assert recorded.status_code == 200
    assert {p for p, _, _ in api.ctx.list_store().store.screened_parties()} == {r["id"] for r in rows}


def test_admin_loads_lists_all_or_nothing_and_rescreens(api: Api) -> None:
    original = SAMPLE_LISTS[0].read_bytes()
    assert (
        api.post("/v1/screen", role="officer", json={"name": SDN_NAME, "id": "rim", "record": True}).status_code == 200
    )
    lines = original.decode().splitlines(keepends=True)
    changed = "".join(line.replace("Pyongyang, KP", "Pyongyang, KP; Dandong, CN") for line in lines)
    files = {"files": ("trade_gov_csl_sample_2025.csv", changed.encode())}
    loaded = api.post("/v1/screen/lists", role="admin", files=files)
    assert loaded.status_code == 200, loaded.text
    report = loaded.json()
    assert report["loaded"][0]["changed"] == 1 and report["loaded"][0]["version"] == 2
    assert [h["party"] for h in report["rescreen"]["new_hits"]] == ["rim"]  # its entry changed
    status = api.get("/v1/screen/lists").json()[0]
    assert status["version"] == 2 and status["files"] == ["trade_gov_csl_sample_2025.csv"]  # a name, not a path
    assert "paths" not in status
    # The kept copy, readable, is in the store's load record for operators (`tiergate lists status`).
    (stored,) = api.ctx.list_store().store.status(paths=True)
    kept = Path(stored["paths"][0])
    assert kept.is_absolute() and kept.read_bytes() == changed.encode()
    assert stored["loaded_by"].startswith("admin-owner (api key ")
    cut = {"files": ("trade_gov_csl_sample_2025.csv", "".join(lines[:5]).encode())}
    assert_error(api.post("/v1/screen/lists", role="admin", files=cut), 409, "nothing was loaded")
    assert api.get("/v1/screen/lists").json()[0]["entries"] == 13
    forced = api.post("/v1/screen/lists", role="admin", files=cut, params={"force": "true"})
    assert forced.status_code == 200 and api.get("/v1/screen/lists").json()[0]["entries"] == 4
    garbage = {"files": ("evil<script>.xml", b"<not a list")}
    error = assert_error(api.post("/v1/screen/lists", role="admin", files=garbage), 422)
    assert "tmp" not in json.dumps(error) or "tiergate-lists-files" not in json.dumps(error)
    assert_error(api.post("/v1/screen/lists", role="admin", json={"files": []}), 415)
    assert_error(api.post("/v1/screen/lists", role="admin", files={"other": ("a.csv", b"x")}), 422, "files")
    loads = [e for e in _actions(api) if e["action"] == "lists-load"]
    assert len(loads) == 2 and all(e["actor"].startswith("admin-owner") for e in loads)


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_are_data(api: Api, text: str) -> None:
    answer = screen(api, "officer", name=f"{text} Trading", id=text, record=True)
    assert answer.status_code == 200, answer.text
    assert answer.json()["query"]["name"] == f"{text} Trading" and answer.json()["query"]["party"] == text
    decision = {"party": text, "entry": CETC, "verdict": "cleared", "reason": text}
    made = api.post("/v1/screen/decisions", json=decision)
    assert made.status_code == 201 and made.json()["reason"] == text.strip()
    assert api.get("/v1/screen/decisions", params={"party": text}).json()[0]["reason"] == text.strip()
    with api.ctx.list_store().store.engine.connect() as conn:
        assert sa.inspect(conn).has_table("screen_decisions")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("x" * 10_000, "at most 1000 characters"),
        ("\x00\x01\x1b\x7f\x9b", "empty name"),
        ("   ", "name"),
        ("\u202e\u200b", "empty name"),
    ],
)
def test_hostile_names_are_a_clear_4xx(api: Api, name: str, fragment: str) -> None:
    assert_error(screen(api, name=name), 422, fragment)
    assert_error(api.post("/v1/screen/batch", role="viewer", json=[{"name": name}]), 422, fragment)


def test_control_characters_around_a_name_are_screened(api: Api) -> None:
    hit = cetc_hit(screen(api, name=f"\x00{LISTED}\x1b\t", country="CN").json())
    assert hit["match"] is True


def test_screening_off(tmp_path: Path, book: tiergate.Rulebook) -> None:
    api = make_api(tmp_path, book, screening=False)
    try:
        assert_error(screen(api, name=LISTED), 404, "does not screen")
        txn = {**sample("demo-03"), "consignee": {"name": SDN_NAME, "country": "DE", "headquarters": "DE"}}
        assert "screen/sdn" not in api.post("/v1/decide", json=txn).json()["rules"]
    finally:
        api.client.close()
        api.ctx.close()


def test_an_empty_list_store_is_a_409(tmp_path: Path, book: tiergate.Rulebook) -> None:
    api = make_api(tmp_path, book, sample_lists=())
    try:
        assert_error(screen(api, name=LISTED), 409, "holds no lists")
        assert api.post("/v1/decide", json=sample("demo-01")).status_code == 200  # nothing to screen against
        files = {"files": ("trade_gov_csl_sample_2025.csv", SAMPLE_LISTS[0].read_bytes())}
        assert api.post("/v1/screen/lists", role="admin", files=files).status_code == 200
        assert cetc_hit(screen(api, name=LISTED).json())["match"] is True
    finally:
        api.client.close()
        api.ctx.close()


def test_lists_loaded_by_another_process_are_picked_up(tmp_path: Path, book: tiergate.Rulebook) -> None:
    """A load by `tiergate lists load` into the server's store: the index is rebuilt in the background (the old one
    answers meanwhile) and the new entry is found within moments."""
    from tiergate.screen.ingest import read_lists
    from tiergate.screen.store import open_store

    api = make_api(tmp_path, book, key_cache_seconds=0.0)
    try:
        assert screen(api, name="Zebulon Quantum Foundry").json()["hits"] == []
        lines = SAMPLE_LISTS[0].read_text().splitlines(keepends=True)
        cetc = next(line for line in lines if "(CETC 13)" in line)
        extra = cetc.replace(
            "China Electronics Technology Group Corporation 13th Research Institute (CETC 13)", "Zebulon"
        )
        extra = extra.replace("CETC 13", "Quantum Foundry").replace("Zebulon", "Zebulon Quantum Foundry")
        extra = extra.replace("99ed1b052fdb", "0000000000aa")
        assert "Zebulon Quantum Foundry" in extra
        changed = tmp_path / "trade_gov_csl_sample_2025.csv"
        changed.write_text("".join(line.rstrip("\r\n") + "\n" for line in [*lines, extra]))
        other = open_store(api.ctx.list_store().url)
        other.load(read_lists([changed]))
        other.close()
        import time

        deadline = time.monotonic() + 10
        while not screen(api, name="Zebulon Quantum Foundry").json()["hits"]:
            assert time.monotonic() < deadline, "the new entry was not picked up"
            time.sleep(0.05)
        assert (
            screen(api, name="Zebulon Quantum Foundry")
            .json()["data_version"]
            .startswith("trade-gov-csl-sample-2025@2:")
        )
    finally:
        api.client.close()
        api.ctx.close()


def test_the_list_stores_trail_names_the_keys_owner(api: Api) -> None:
    owner = {role: f"{role}-owner (api key {api.tokens[role].split('_')[1]})" for role in ("officer", "admin")}
    assert screen(api, "officer", name=SDN_NAME, id="rim", record=True).status_code == 200
    batch = [{"id": "b1", "name": LISTED}]
    assert api.post("/v1/screen/batch", json=batch, params={"record": "true"}).status_code == 200
    decision = {"party": CETC_PARTY, "entry": CETC, "verdict": "cleared", "reason": "another institute"}
    assert api.post("/v1/screen/decisions", json=decision).status_code == 201
    assert api.post("/v1/screen/decisions", json={**decision, "verdict": "reopened"}).status_code == 201
    lines = SAMPLE_LISTS[0].read_text().splitlines(keepends=True)
    changed = "".join(line.replace("Pyongyang, KP", "Pyongyang, KP; Dandong, CN") for line in lines)
    files = {"files": ("trade_gov_csl_sample_2025.csv", changed.encode())}
    loaded = api.post("/v1/screen/lists", role="admin", files=files)
    assert loaded.status_code == 200 and loaded.json()["rescreen"]["screened"] == ["rim"]
    store = api.ctx.list_store().store
    trail = [(e["action"], e["subject"], e["actor"]) for e in store.audit_entries()][1:]  # after the sample's load
    assert trail == [
        ("screen", "rim", owner["officer"]),
        ("screen", "b1", owner["officer"]),
        ("cleared", f"{CETC_PARTY} / {CETC}", owner["officer"]),
        ("reopen", f"{CETC_PARTY} / {CETC}", owner["officer"]),
        ("load", "trade-gov-csl-sample-2025", owner["admin"]),
        ("screen", "rim", owner["admin"]),  # the re-screening the admin's load caused
    ]
    history = store.decision_history(CETC_PARTY, CETC)
    assert [(d.verdict, d.author) for d in history] == [("cleared", owner["officer"]), ("reopened", owner["officer"])]


ODD_LISTED = "  china\u00adelectronics   TECHNOLOGY group corporation,, 13th\u200b research   institute ＣＥＴＣ "


def test_a_hit_cleared_for_a_screened_name_is_cleared_for_that_consignee(api: Api) -> None:
    """The party id of /v1/screen and of a consignee in /v1/decide is the same for a name with odd spacing, case,
    punctuation and Unicode forms: the clearance made on the one holds in the other."""
    answer = screen(api, name=ODD_LISTED, country="cn").json()
    party = answer["query"]["party"]
    assert party == "CN:chinaelectronics-technology-group-corporation-13th-research-institute-cetc"
    assert cetc_hit(answer)["match"] is True
    txn = {
        "id": "odd-1",
        "date": "2025-03-03",
        "destination": "CN",
        "items": [{"chip": "nvidia-a100-sxm", "quantity": 8}],
        "consignee": {"name": ODD_LISTED, "country": "CN", "headquarters": "CN"},
    }
    assert "screen/entity-list" in api.post("/v1/decide", json=txn).json()["rules"]
    clear = {"party": party, "entry": CETC, "verdict": "cleared", "reason": "a namesake"}
    assert api.post("/v1/screen/decisions", json=clear).status_code == 201
    assert "screen/entity-list" not in api.post("/v1/decide", json=txn).json()["rules"]
    assert cetc_hit(screen(api, name=ODD_LISTED.strip().upper(), country="CN").json())["status"] == "cleared"


def test_responses_reveal_no_server_path(api: Api, tmp_path: Path) -> None:
    """A hit names its list file and line and the dataset's hash and date; no answer carries where the server keeps
    its files (the bundled sample's folder, the folder of uploaded lists)."""
    folders = [str(SAMPLE_LISTS[0].parent), str(tmp_path), str(api.ctx.list_store().files_folder())]

    def assert_no_path(response: Any) -> None:
        assert response.status_code in (200, 201), response.text
        assert not [f for f in folders if f in response.text], response.text[:2000]

    answer = screen(api, "officer", name=SDN_NAME, id="rim", record=True)
    assert_no_path(answer)
    hit = answer.json()["hits"][0]
    assert hit["source"].startswith("trade_gov_csl_sample_2025.csv:") and hit["source"].split(":")[1].isdigit()
    status = api.get("/v1/screen/lists").json()[0]
    assert (hit["dataset_sha256"], hit["dataset_date"]) == (status["sha256"], status["file_date"])
    assert_no_path(api.post("/v1/screen/batch", role="viewer", json=[{"name": LISTED}, {"name": SDN_NAME}]))
    txn = {**sample("demo-03"), "consignee": {"name": LISTED, "country": "DE", "headquarters": "DE"}}
    decided = api.post("/v1/decide", json=txn)
    assert_no_path(decided)
    assert any("trade_gov_csl_sample_2025.csv:" in line for line in decided.json()["explanation"])
    assert_no_path(api.post("/v1/decide/batch", json=[txn]))
    assert_no_path(
        api.post(
            "/v1/ship",
            json={**sample("demo-03"), "consignee": {"name": SDN_NAME, "country": "DE", "headquarters": "DE"}},
        )
    )
    assert_no_path(
        api.post("/v1/screen/decisions", json={"party": "rim", "entry": CETC, "verdict": "cleared", "reason": "x"})
    )
    assert_no_path(api.get("/v1/screen/decisions"))
    changed = SAMPLE_LISTS[0].read_text().replace("Pyongyang, KP", "Pyongyang, KP; Dandong, CN")
    uploaded = api.post("/v1/screen/lists", role="admin", files={"files": ("csl.csv", changed.encode())})
    assert_no_path(uploaded)
    assert uploaded.json()["rescreen"]["new_hits"][0]["hit"]["source"].startswith("csl.csv:")
    assert_no_path(api.get("/v1/screen/lists"))
    assert api.get("/v1/screen/lists").json()[0]["files"] == ["csl.csv"]


def test_the_server_answers_from_the_kept_index(
    tmp_path: Path, book: tiergate.Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's index is the one the command line keeps on disk (``ScreeningIndex.for_store``): built once per
    list content, loaded by a server started again on the same lists, built anew when a load changes them."""
    from tiergate.screen.index import ScreeningIndex

    cache = tmp_path / "index-cache"
    monkeypatch.setenv("TIERGATE_INDEX_CACHE", str(cache))
    builds: list[int] = []
    build = ScreeningIndex.build.__func__  # type: ignore[attr-defined]

    def counted(cls: type[ScreeningIndex], entries: Any) -> ScreeningIndex:
        index: ScreeningIndex = build(cls, list(entries))
        builds.append(len(index))
        return index

    monkeypatch.setattr(ScreeningIndex, "build", classmethod(counted))
    api = make_api(tmp_path, book)
    try:
        first = screen(api, name=LISTED, country="CN").json()["hits"]
        assert builds == [13]
        kept = list(cache.glob("screen-index-*.npz"))
        assert len(kept) == 1
    finally:
        api.client.close()
        api.ctx.close()
    again = make_api(tmp_path, book, db=api.db)
    try:
        assert screen(api=again, name=LISTED, country="CN").json()["hits"] == first
        assert builds == [13]  # loaded from the cache, not built
        lines = SAMPLE_LISTS[0].read_text().splitlines(keepends=True)
        files = {"files": ("trade_gov_csl_sample_2025.csv", "".join(lines[:-1]).encode())}
        assert again.post("/v1/screen/lists", role="admin", files=files, params={"force": "true"}).status_code == 200
        assert again.get("/v1/screen/lists").json()[0]["entries"] == 12
        screen(api=again, name=LISTED)
        assert builds == [13, 12]
        now = list(cache.glob("screen-index-*.npz"))
        assert len(now) == 1 and now != kept
    finally:
        again.client.close()
        again.ctx.close()
