"""Screening in decisions and shipments (issues 13, 21 and 14): on by default on every face, 'parties not screened'
in the outcome record when told not to, one final outcome line after screening, a clearance bound to the party it
cleared, and one hit per party listed on several lists. The lists are tests/screen/data/flow (NSF-format files:
Huawei Technologies Co., Ltd. on the Entity List, the FCC covered list, the EO 14032 annex and the CMIC list;
Huawei Technologies Duesseldorf GmbH and CETC 13 on the Entity List)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import tiergate
from tiergate.ledger import open_ledger
from tiergate.screen.ingest import read_lists
from tiergate.screen.model import Query
from tiergate.screen.store import open_store

from ..api.conftest import TODAY, Api, make_api
from ..inprocess import Completed, run_cli
from ..web.test_pages import HTML, csrf_of, sign_in

FLOW = Path(__file__).parent / "data" / "flow"
DAY = TODAY.isoformat()
DUESSELDORF = "Huawei Technologies Duesseldorf GmbH"
HUAWEI = "Huawei Technologies Co., Ltd."
CETC = "China Electronics Technology Group Corporation 13th Research Institute"


def _txn(tid: str, name: str, country: str = "DE", destination: str = "DE", **consignee: Any) -> dict[str, Any]:
    return {
        "id": tid,
        "date": DAY,
        "export_from": "US",
        "destination": destination,
        "items": [{"chip": "nvidia-h100-sxm", "quantity": 10}],
        "consignee": {"name": name, "country": country, "headquarters": country, **consignee},
    }


TRANSACTIONS = [
    _txn("clean", "Rechenzentrum Nord GmbH"),
    _txn("duesseldorf", DUESSELDORF),
    _txn("cetc", CETC),
    _txn("huawei", HUAWEI, "CN", "CN"),
]


def _store(folder: Path, files: Path = FLOW) -> str:
    url = f"sqlite:///{folder / 'lists.db'}"
    store = open_store(url)
    store.init()
    store.load(read_lists(sorted(files.glob("*.json"))))
    store.close()
    return url


def tg(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Completed:
    environment = {**os.environ, "TIERGATE_TODAY": DAY}
    environment.pop("TIERGATE_LISTS", None)  # only the store a test names
    environment.update(env or {})
    return run_cli(args, cwd=cwd, env=environment)


def _outcome_lines(decision: dict[str, Any]) -> list[str]:
    return [line for line in decision["explanation"] if line.startswith("Outcome")]


# ---------------------------------------------------------------- issue 13.2: screening on by default


def test_cli_ship_screens_by_default_and_says_when_it_did_not(tmp_path: Path) -> None:
    """The issue's reproduction: `tiergate ship` to Huawei Technologies Duesseldorf GmbH (DE) without --lists."""
    lists = _store(tmp_path)
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert tg("ledger", "init", "--db", ledger, cwd=tmp_path).returncode == 0
    order = tmp_path / "order.json"
    order.write_text(json.dumps(TRANSACTIONS[1]), encoding="utf-8")
    env = {"TIERGATE_LISTS": lists}  # the installed store, named once for every command

    refused = tg("ship", str(order), "--db", ledger, "--format", "json", cwd=tmp_path, env=env)
    assert refused.returncode == 4, refused
    assert "Entity List" in refused.stderr and DUESSELDORF in refused.stderr
    answer = json.loads(refused.stdout)
    assert answer["committed"] is False and answer["screening"]["screened"] is True
    assert answer["screening"]["hits"][0]["list"] == "EL"
    # the refusal is in the audit log, as on the API and the dashboard (it was not, from the command line)
    audit = list(open_ledger(ledger).audit_entries())
    refusals = [json.loads(e["payload"]) for e in audit if e["action"] == "ship-refused"]
    assert [e["subject"] for e in audit if e["action"] == "ship-refused"] == ["duesseldorf"]
    assert "Entity List" in refusals[0]["reason"] and refusals[0]["outcome"] == "license_required"
    assert "ship" not in [e["action"] for e in audit]

    decided = tg("decide", str(order), "--format", "json", cwd=tmp_path, env=env)
    decision = json.loads(decided.stdout)
    assert decision["outcome"] == "license_required" and decision["screening"]["changed_outcome"] is True
    table = tg("decide", str(order), cwd=tmp_path, env=env).stdout
    assert "screening changed the outcome" in table and "EL Huawei Technologies Duesseldorf GmbH" in table

    unscreened = tg("ship", str(order), "--db", ledger, "--no-screening", "--format", "json", cwd=tmp_path, env=env)
    assert unscreened.returncode == 0, unscreened
    shipped = json.loads(unscreened.stdout)
    assert shipped["committed"] is True
    assert shipped["screening"] == {**shipped["screening"], "screened": False, "note": "parties not screened"}
    plain = json.loads(tg("decide", str(order), "--no-screening", "--format", "json", cwd=tmp_path).stdout)
    assert plain["screening"]["note"] == "parties not screened" and plain["outcome"] != "license_required"
    assert any("parties not screened" in line for line in plain["explanation"])
    assert "parties not screened" in tg("decide", str(order), "--no-screening", cwd=tmp_path).stdout


def test_no_list_store_says_so_and_how_to_install_one(tmp_path: Path) -> None:
    order = tmp_path / "order.json"
    order.write_text(json.dumps(TRANSACTIONS[0]), encoding="utf-8")
    empty = f"sqlite:///{tmp_path / 'none.db'}"
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert tg("ledger", "init", "--db", ledger, cwd=tmp_path).returncode == 0
    for args in (("decide", str(order)), ("ship", str(order), "--db", ledger)):
        done = tg(*args, "--lists", empty, cwd=tmp_path)
        assert done.returncode == 2, done
        assert "no list store" in done.stderr and "tiergate lists load" in done.stderr
        assert "--no-screening" in done.stderr
    env = tg("decide", str(order), cwd=tmp_path, env={"TIERGATE_LISTS": empty})
    assert env.returncode == 2 and "no list store" in env.stderr


def test_decisions_screen_with_the_index_kept_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`decide` and `ship` build the lists' index once and then load it (as `tiergate screen` does), until the
    lists change."""
    from tiergate.screen import index as index_module
    from tiergate.screen.cli import _SCREENERS, installed_screener

    monkeypatch.setenv("TIERGATE_INDEX_CACHE", str(tmp_path / "cache"))
    lists = _store(tmp_path)
    saved = dict(_SCREENERS)  # restored below: the test leaves no screener behind
    _SCREENERS.clear()
    try:
        first = installed_screener(lists)
        kept = index_module.index_path(lists, first.store.data_version())
        assert [p.name for p in (tmp_path / "cache").iterdir()] == [kept.name]
        first.store.close()
        _SCREENERS.clear()

        def no_build(entries: Any) -> Any:
            raise AssertionError("the index was built again")

        monkeypatch.setattr(index_module.ScreeningIndex, "build", staticmethod(no_build))
        again = installed_screener(lists)
        hits = again.screen(Query(DUESSELDORF, None, "DE"))
        assert any(h.match and h.entry.list_code == "EL" for h in hits)
        again.store.close()
    finally:
        _SCREENERS.clear()
        _SCREENERS.update(saved)


# ---------------------------------------------------------------- every face, the same answer


def _dashboard_batch(api: Api, rows: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    client = sign_in(api)
    page = client.get("/decide", headers=HTML)
    upload = "".join(json.dumps(r) + "\n" for r in rows).encode()
    answer = client.post(
        "/decide/batch",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("batch.jsonl", upload, "application/x-ndjson")},
        headers=HTML,
    )
    assert answer.status_code == 200, answer.text[:2000]
    table = answer.text[answer.text.index('id="batch"') :]
    found = []
    for row in table.split("<tr>")[2:]:  # the header row, then one row per decision
        ident = re.search(r'class="decision-link">([\w-]+)</a>', row)
        outcome = re.search(r'<span class="outcome (\w+)">', row)
        note = re.search(r'<td class="screening">(.*?)</td>', row, re.S)
        assert ident and outcome and note, row
        found.append((ident.group(1), outcome.group(1), note.group(1)))
    client.close()
    return {tid: (outcome, html.unescape(re.sub(r"<[^>]+>", "", note)).strip()) for tid, outcome, note in found}


def test_one_set_of_transactions_gets_one_answer_on_every_face(tmp_path: Path, book: tiergate.Rulebook) -> None:
    lists = _store(tmp_path)
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in TRANSACTIONS), encoding="utf-8")
    printed = tg("decide", str(batch), "--lists", lists, "--format", "jsonl", cwd=tmp_path)
    cli = [json.loads(line) for line in printed.stdout.splitlines()]
    api = make_api(tmp_path, book, lists=lists)
    try:
        http = api.post("/v1/decide/batch", json=TRANSACTIONS).json()
        one = api.post("/v1/decide", json=TRANSACTIONS[1], params={"live": "true"}).json()
        dashboard = _dashboard_batch(api, TRANSACTIONS)
    finally:
        api.client.close()
        api.ctx.close()

    def answers(decisions: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
        return {d["id"]: (d["outcome"], d["screening"]["note"]) for d in decisions}

    assert answers(cli) == answers(http) == dashboard, (answers(cli), answers(http), dashboard)
    assert answers(cli)["clean"][1] == "parties screened: no match"
    for tid in ("duesseldorf", "cetc", "huawei"):
        assert answers(cli)[tid][0] == "license_required", tid
    assert (one["outcome"], one["screening"]["note"]) == answers(cli)["duesseldorf"]
    for d in (*cli, *http, one):  # one true outcome line, after screening, and the hit first when it changed it
        lines = _outcome_lines(d)
        assert len(lines) == 1, d["explanation"]
        at = d["explanation"].index(lines[0])
        assert all(i < at for i, line in enumerate(d["explanation"]) if line.startswith("Screening:")), d["explanation"]
        if d["screening"]["changed_outcome"]:
            assert d["explanation"][0].startswith("Screening changed the outcome to license required")
            assert "Licence required" in lines[0] and "after screening" in lines[0]


# ---------------------------------------------------------------- issue 13.5: a live decision states its balances


def test_a_live_decision_states_the_balances_it_used(tmp_path: Path, book: tiergate.Rulebook) -> None:
    api = make_api(tmp_path, book)
    try:
        txn = _txn("lpp", "Example Compute Pvt Ltd", "IN", "IN")
        live = api.post("/v1/decide", json=txn, params={"live": "true"}).json()
        cold = api.post("/v1/decide", json=txn).json()
    finally:
        api.client.close()
        api.ctx.close()
    assert live["allocations"] and all(a["remaining"] is not None for a in live["allocations"]), live["allocations"]
    assert not any("not consulted" in line for line in live["explanation"]), live["explanation"]
    assert any("remaining balance" in line for line in live["explanation"])
    assert cold["allocations"][0]["remaining"] is None  # without live balances: the caps only, and it says so
    assert any("not consulted" in line for line in cold["explanation"])


# ---------------------------------------------------------------- issue 21.2: a clearance follows the party


def test_a_clearance_of_a_caller_id_never_carries_to_another_name(tmp_path: Path, book: tiergate.Rulebook) -> None:
    lists = _store(tmp_path)
    api = make_api(tmp_path, book, lists=lists)
    try:
        similar = {"name": "Huawei Technologies Duesseldorf Services GmbH", "country": "DE", "id": "cust-88"}
        screened = api.post("/v1/screen", json={**similar, "record": True}).json()
        hits = [h for h in screened["hits"] if h["match"]]
        assert hits, screened
        for hit in hits:
            cleared = api.post(
                "/v1/screen/decisions",
                json={"party": "cust-88", "entry": hit["entry"], "verdict": "cleared", "reason": "a reseller"},
            )
            assert cleared.status_code == 201, cleared.text
            assert cleared.json()["bound_to"].startswith("DE:huawei-technologies-duesseldorf-services-gmbh")
        again = api.post("/v1/screen", json=similar).json()
        assert all(h["status"] == "cleared" for h in again["hits"] if h["match"])  # the cleared party stays cleared

        exploit = _txn("x", DUESSELDORF, id="cust-88")
        shipped = api.post("/v1/ship", json=exploit).json()
        assert shipped["committed"] is False and "Entity List" in shipped["reason"], shipped
        decided = api.post("/v1/decide", json=exploit).json()
        assert decided["outcome"] == "license_required"
        reopened = api.post("/v1/screen", json={"name": DUESSELDORF, "country": "DE", "id": "cust-88"}).json()
        top = reopened["hits"][0]
        assert top["status"] == "open" and "not for" in top["decision"]["reopened"]
        moved = api.post("/v1/screen", json={**similar, "country": "AT"}).json()  # a change of country re-opens it
        assert all(h["status"] == "open" for h in moved["hits"] if h["match"])
    finally:
        api.client.close()
        api.ctx.close()


def test_the_cli_refuses_a_clearance_that_does_not_say_whom_it_clears(tmp_path: Path) -> None:
    lists = _store(tmp_path)
    store = open_store(lists)
    entry = next(e for e in store.list_entries() if e.name == DUESSELDORF)
    store.close()
    clear = ("screen", "clear", "--party", "cust-88", "--entry", entry.key, "--reason", "r", "--author", "ana")
    refused = tg(*clear, "--db", lists, cwd=tmp_path)
    assert refused.returncode == 2 and "no recorded screening" in refused.stderr, refused
    named = tg(*clear, "--db", lists, "--name", "Huawei Duesseldorf Services", "--country", "DE", cwd=tmp_path)
    assert named.returncode == 0 and "for DE:huawei-duesseldorf-services" in named.stdout, named
    order = tmp_path / "order.json"
    order.write_text(json.dumps(_txn("x", DUESSELDORF, id="cust-88")), encoding="utf-8")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert tg("ledger", "init", "--db", ledger, cwd=tmp_path).returncode == 0
    shipped = tg("ship", str(order), "--db", ledger, "--lists", lists, cwd=tmp_path)
    assert shipped.returncode == 4 and "Entity List" in shipped.stderr, shipped


# ---------------------------------------------------------------- issue 14.3: one party, one hit


def test_one_party_on_four_lists_is_one_hit_cleared_once_and_reopened_per_list(
    tmp_path: Path, book: tiergate.Rulebook
) -> None:
    files = tmp_path / "lists"
    shutil.copytree(FLOW, files)
    lists = _store(tmp_path, files)
    api = make_api(tmp_path, book, lists=lists)
    try:
        body = api.post("/v1/screen", json={"name": HUAWEI, "country": "CN"}).json()
        huawei = [h for h in body["hits"] if h["name"] == HUAWEI]
        assert len(huawei) == 1, body["hits"]  # one hit ...
        assert sorted(huawei[0]["lists"]) == ["CMIC", "EL", "EO14032", "FCC"]  # ... with its list memberships
        party = body["query"]["party"]
        cleared = api.post(
            "/v1/screen/decisions",
            json={"party": party, "entry": huawei[0]["entry"], "verdict": "cleared", "reason": "test of grouping"},
        )
        assert cleared.status_code == 201, cleared.text
        after = api.post("/v1/screen", json={"name": HUAWEI, "country": "CN"}).json()["hits"][0]
        assert after["status"] == "cleared" and {m["status"] for m in after["memberships"]} == {"cleared"}
        assert len(api.get("/v1/screen/decisions", params={"party": party}).json()) == 4  # cleared for all four

        fcc = files / "nsfreg_fcc_covered.json"  # the FCC list changes its entry
        data = json.loads(fcc.read_text(encoding="utf-8"))
        data["entities"][0]["notes"] = "Covered equipment and services (amended)"
        fcc.write_text(json.dumps(data), encoding="utf-8")
        with fcc.open("rb") as handle:
            loaded = api.post("/v1/screen/lists", role="admin", files={"files": (fcc.name, handle.read())})
        assert loaded.status_code == 200, loaded.text
        changed = api.post("/v1/screen", json={"name": HUAWEI, "country": "CN"}).json()["hits"][0]
        states = {m["list"]: m["status"] for m in changed["memberships"]}
        assert states == {"EL": "cleared", "FCC": "open", "EO14032": "cleared", "CMIC": "cleared"}, states
        assert changed["status"] == "open"
        decided = api.post("/v1/decide", json=_txn("h", HUAWEI, "CN", "CN")).json()  # the FCC list changes no licence
        assert "screen/entity-list" not in decided["rules"]
    finally:
        api.client.close()
        api.ctx.close()


# ---------------------------------------------------------------- a licence never waives an Entity List hit


def test_a_licence_for_someone_else_never_ships_to_an_entity_list_consignee(
    tmp_path: Path, book: tiergate.Rulebook
) -> None:
    """An Entity List consignee needs a licence that covers it, even where the licence rules alone say NLR (H100s
    to Germany): naming any recorded licence (one issued for an Indian consignee) must not commit the shipment.
    Both faces screen the live decision before the ledger is drawn."""
    lists = _store(tmp_path)
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert tg("ledger", "init", "--db", ledger, cwd=tmp_path).returncode == 0
    licence = {
        "id": "D7000001",
        "jurisdiction": "US",
        "exporter": "Example Exporter Inc",
        "consignees": [{"name": "Example Compute Pvt Ltd", "country": "IN"}],
        "destination": "IN",
        "lines": [{"item": "nvidia-h100-sxm", "quantity": 1000, "value_usd": 30000000}],
        "issued": "2025-01-01",
        "expires": "2030-01-01",
    }
    (tmp_path / "licence.json").write_text(json.dumps(licence), encoding="utf-8")
    assert tg("ledger", "license", "add", "licence.json", "--db", ledger, cwd=tmp_path).returncode == 0
    order = tmp_path / "order.json"
    order.write_text(json.dumps(TRANSACTIONS[1]), encoding="utf-8")
    env = {"TIERGATE_LISTS": lists}
    cli = tg("ship", str(order), "--db", ledger, "--license", "D7000001", "--format", "json", cwd=tmp_path, env=env)
    assert cli.returncode == 4, cli
    answer = json.loads(cli.stdout)
    assert answer["committed"] is False and answer["outcome"] == "license_required"
    assert "does not cover" in answer["reason"] and "consignee" in answer["reason"]

    (tmp_path / "api").mkdir()
    api = make_api(tmp_path / "api", book, lists=lists)
    try:
        assert api.post("/v1/ledger/licences", json=licence).status_code == 201
        shipped = api.post("/v1/ship", json=TRANSACTIONS[1], params={"license": "D7000001"}).json()
    finally:
        api.client.close()
        api.ctx.close()
    assert shipped["committed"] is False and shipped["outcome"] == "license_required", shipped
    assert "does not cover" in shipped["reason"]


def test_an_entity_list_consignee_needs_a_us_licence_not_another_countrys(
    tmp_path: Path, book: tiergate.Rulebook
) -> None:
    """Exported from Germany, German law alone says no licence; the consignee's Entity List entry makes a BIS
    licence necessary, so a Japanese licence naming the same consignee and items does not cover it."""
    lists = _store(tmp_path)
    licence = {
        "id": "JP-1",
        "jurisdiction": "JP",
        "exporter": "X GmbH",
        "consignees": [{"name": DUESSELDORF, "country": "DE"}],
        "destination": "DE",
        "lines": [{"item": "nvidia-h100-sxm", "quantity": 2000, "value_usd": 60000000}],
        "issued": "2025-01-01",
        "expires": "2030-01-01",
    }
    api = make_api(tmp_path, book, lists=lists)
    try:
        assert api.post("/v1/ledger/licences", json=licence).status_code == 201
        order = {**TRANSACTIONS[1], "export_from": "DE", "value_usd": 100000}
        shipped = api.post("/v1/ship", json=order, params={"license": "JP-1"}).json()
    finally:
        api.client.close()
        api.ctx.close()
    assert shipped["committed"] is False, shipped
    assert "a licence of US is required" in shipped["reason"]


def test_a_name_in_enclosed_letters_is_screened_never_waved_through(tmp_path: Path, book: tiergate.Rulebook) -> None:
    """Letters written as symbols (circled, squared) are not "a name without a letter": such a consignee is screened
    and refused, or refused as unscreenable; never shipped as "no match". A name of punctuation alone has no hits."""
    lists = _store(tmp_path)
    circled = "ⒽⓊⒶⓌⒺⒾ ⓉⒺⒸⒽⓃⓄⓁⓄⒼⒾⒺⓈ ⒹⓊⓈⓈⒺⓁⒹⓄⓇⒻ ⒼⓂⒷⒽ"
    squared = "🅗🅤🅐🅦🅔🅘 🅣🅔🅒🅗🅝🅞🅛🅞🅖🅘🅔🅢"
    api = make_api(tmp_path, book, lists=lists)
    try:
        for name in (circled, squared):
            answer = api.post("/v1/ship", json=_txn(f"x-{len(name)}", name))
            assert answer.status_code in (200, 422), answer.text
            if answer.status_code == 200:
                assert answer.json()["committed"] is False, answer.json()
        assert api.post("/v1/decide", json=_txn("p", "--- ...")).status_code == 200
    finally:
        api.client.close()
        api.ctx.close()
    order = tmp_path / "squared.json"
    order.write_text(json.dumps(_txn("sq", squared)), encoding="utf-8")
    ledger = f"sqlite:///{tmp_path / 'cli-ledger.db'}"
    assert tg("ledger", "init", "--db", ledger, cwd=tmp_path).returncode == 0
    shipped = tg("ship", str(order), "--db", ledger, cwd=tmp_path, env={"TIERGATE_LISTS": lists})
    assert shipped.returncode in (2, 4) and "internal error" not in shipped.stderr, shipped


def test_the_dashboard_refuses_a_look_alike_or_reversed_listed_name(tmp_path: Path, book: tiergate.Rulebook) -> None:
    """Issue 21: a listed name written with Cyrillic look-alikes, or reversed inside a right-to-left override, is
    refused by the dashboard's Ship button as it is by the CLI and the API."""
    lists = _store(tmp_path)
    look_alike = CETC.replace("c", "\u0441").replace("p", "\u0440")  # Cyrillic es and er
    reversed_ = "\u202e" + DUESSELDORF[::-1] + "\u202c"
    api = make_api(tmp_path, book, lists=lists)
    try:
        client = sign_in(api)
        for tid, name in (("cyr", look_alike), ("rlo", reversed_)):
            page = client.get("/decide", headers=HTML)
            text = json.dumps(_txn(tid, name))
            shipped = client.post(
                "/decide/ship", data={"csrf": csrf_of(page.text), "transaction": text, "regime": ""}, headers=HTML
            )
            assert shipped.status_code == 200, shipped.text[:500]
            assert "Shipped: allocations drawn." not in shipped.text
            assert "Entity List" in html.unescape(shipped.text)
        assert api.get("/v1/ledger/balances").json() == [] or all(
            b["used"] == 0 for b in api.get("/v1/ledger/balances").json()
        )
    finally:
        api.client.close()
        api.ctx.close()
