"""The list store: all-or-nothing loads, the 10 % drop refusal, analyst decisions re-applied and re-opened,
re-screening only what a list update touches, ownership flags and the licence-decision adjustment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ledger.conftest import pg_database
from tiergate.screen import ListFileError, ListStore, ListStoreError, Party, Query, Screener, read_lists, rescreen
from tiergate.screen import open_store as _open_store
from tiergate.screen.licensing import apply_screening
from tiergate.screen.service import Owner, d5_macau_test, ownership_flags, query_form

DATA = Path(__file__).parent / "data" / "lists"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh list store on a SQLite file and on a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lists.db'}"
    else:
        yield from pg_database()


@pytest.fixture()
def open_store(url: str) -> Iterator[Callable[[str], ListStore]]:
    """``open_store`` whose stores are closed when the test ends (before its database is dropped)."""
    opened: list[ListStore] = []

    def opener(where: str) -> ListStore:
        opened.append(_open_store(where))
        return opened[-1]

    yield opener
    for store in opened:
        store.close()


def _nsf(tmp: Path, entities: list[dict[str, object]]) -> Path:
    path = tmp / "nsfreg_bis_entity_list.json"
    path.write_text(
        json.dumps(
            {"list_id": "bis-entity-list", "extracted": "2026-07-09", "count": len(entities), "entities": entities}
        ),
        encoding="utf-8",
    )
    return path


def _entity(name: str, country: str = "China", notes: str = "For all items subject to the EAR.") -> dict[str, object]:
    return {
        "name": name,
        "aliases": [],
        "country": country,
        "address": None,
        "status": None,
        "effective_date": None,
        "federal_register": "89 FR 1",
        "notes": notes,
    }


NAMES = [
    f"Entity Number {word} Technology"
    for word in ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "Indigo", "Juliet"]
]


@pytest.fixture()
def store(url: str, open_store: Callable[[str], ListStore]) -> ListStore:
    s = open_store(url)
    s.load(read_lists(sorted(DATA.glob("*.*"))))
    return s


def test_load_status_and_unchanged_reload(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    status = {r["dataset"]: r for r in store.status()}
    assert status["ofac-sdn"]["entries"] == 5 and status["ofac-sdn"]["version"] == 1
    assert status["un-consolidated"]["file_date"] == "2026-02-27" and len(status["un-consolidated"]["sha256"]) == 64
    again = store.load(read_lists(sorted(DATA.glob("*.*"))))
    assert all(r.unchanged_file for r in again)
    assert {r["dataset"]: r["version"] for r in store.status()}["ofac-sdn"] == 1


def test_a_drop_over_ten_percent_is_refused_unless_forced(
    tmp_path: Path, url: str, open_store: Callable[[str], ListStore]
) -> None:
    s = open_store(url)
    s.load(read_lists([_nsf(tmp_path, [_entity(n) for n in NAMES])]))
    fewer = read_lists([_nsf(tmp_path, [_entity(n) for n in NAMES[:8]])])
    with pytest.raises(ListStoreError, match="drop of 20%"):
        s.load(fewer)
    assert s.status()[0]["entries"] == 10
    nine = read_lists([_nsf(tmp_path, [_entity(n) for n in NAMES[:9]])])
    assert s.load(nine)[0].removed  # 10 % exactly is allowed
    (report,) = s.load(fewer, force=True)
    assert report.forced and s.status()[0]["entries"] == 8


def test_a_bad_file_loads_nothing(tmp_path: Path, url: str, open_store: Callable[[str], ListStore]) -> None:
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(DATA / "un_consolidated.xml", good)
    bad = good / "entities.ftm.json"
    bad.write_text('{"id": "x", "schema": "Person", "properties": {"name": ["A"]}}\n{"id": "y", "sch', encoding="utf-8")
    s = open_store(url)
    with pytest.raises(ListFileError, match=r"entities\.ftm\.json:2"):
        s.load(read_lists(sorted(good.iterdir())))
    with pytest.raises(ListStoreError, match="holds no restricted-party lists"):
        s.status()


def test_decisions_reapply_and_reopen_when_the_entry_changes(
    tmp_path: Path, url: str, open_store: Callable[[str], ListStore]
) -> None:
    s = open_store(url)
    s.load(read_lists([_nsf(tmp_path, [_entity(n) for n in NAMES])]))
    query = Query("Entity Number Alpha Technologies", country="CN")
    hits = Screener.from_store(s).screen(query, party="p1")
    assert hits[0].match and hits[0].status == "open"
    with pytest.raises(ListStoreError, match="reason"):
        s.decide("p1", hits[0].entry, "cleared", " ", "ana")
    s.decide(
        "p1", hits[0].entry, "cleared", "different company, registration checked", "ana", bound_to=query_form(query)
    )
    again = Screener.from_store(s).screen(query, party="p1")
    assert again[0].status == "cleared" and again[0].decision and again[0].decision["author"] == "ana"
    assert Screener.from_store(s).screen(query, party="p2")[0].status == "open"  # per (party, entry)
    changed = [_entity(n) for n in NAMES]
    changed[0] = _entity(NAMES[0], notes="For all items subject to the EAR. Policy of denial.")
    s.load(read_lists([_nsf(tmp_path, changed)]))
    reopened = Screener.from_store(s).screen(query, party="p1")
    assert reopened[0].status == "open" and reopened[0].decision and "reopened" in reopened[0].decision


def test_rescreen_touches_only_parties_whose_results_could_change(
    tmp_path: Path, url: str, open_store: Callable[[str], ListStore]
) -> None:
    s = open_store(url)
    s.load(read_lists([_nsf(tmp_path, [_entity(n) for n in NAMES])]))
    screener = Screener.from_store(s)
    screener.screen_and_record(Query("Entity Number Alpha Technology"), "alpha")
    screener.screen_and_record(Query("Quantum Widgets Ltd"), "quantum")
    screener.screen_and_record(Query("Unrelated Bakery"), "bakery")
    reports = s.load(read_lists([_nsf(tmp_path, [*(_entity(n) for n in NAMES), _entity("Quantum Widgets Limited")])]))
    result = rescreen(Screener.from_store(s), s, reports)
    assert result.screened == ["quantum"] and result.skipped == 2
    assert [h["party"] for h in result.new_hits] == ["quantum"]
    assert result.new_hits[0]["hit"]["name"] == "Quantum Widgets Limited"
    actions = [a["action"] for a in s.audit_entries()]
    assert actions.count("load") == 2 and actions.count("screen") == 4


def test_ownership_in_aggregate_and_headquarters(store) -> None:  # type: ignore[no-untyped-def]
    screener = Screener.from_store(store)
    d5 = d5_macau_test(dt.date(2026, 3, 2))
    clean = Party("Northwind Data Centres", country="IN")
    assert ownership_flags(clean, screener, hq_test=d5) == []
    aggregate = Party(
        "Northwind Data Centres",
        country="IN",
        owners=(
            Owner(Party("Huawei Technologies Co., Ltd.", country="CN"), 30.0),
            Owner(Party("Sberbank of Russia", country="RU"), 25.0),
            Owner(Party("Pension Fund of Norway", country="NO"), 45.0),
        ),
    )
    flags = ownership_flags(aggregate, screener)
    assert [f.kind for f in flags] == ["owned_by_listed"] and flags[0].percent == 55.0
    indirect = Party(
        "Northwind",
        country="IN",
        owners=(
            Owner(Party("Holdco", country="SG", owners=(Owner(Party("Huawei Technologies Co., Ltd."), 60.0),)), 50.0),
        ),
    )
    assert {f.party for f in ownership_flags(indirect, screener)} == {"Holdco", "Northwind"}
    below = Party("Northwind", country="IN", owners=(Owner(Party("Sberbank of Russia"), 49.9),))
    assert ownership_flags(below, screener) == []
    for hq in ("CN", "MO", "HK"):
        assert [
            f.kind for f in ownership_flags(Party("Plain Co", country="IN", headquarters=hq), screener, hq_test=d5)
        ] == ["headquarters_d5_macau"]


def test_screening_adjusts_the_licence_decision(store, book) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import transaction
    from tiergate.decide import decide
    from tiergate.interchange import parse_transaction

    txn = parse_transaction(transaction(destination="IN", date="2026-03-02"), book.catalogue, where="t")
    ruleset, _ = book.select(None, txn.date)
    decision = decide(txn, ruleset)
    screener = Screener.from_store(store)
    el_hits = screener.screen(Query("China Electronics Technology Group Corporation 13th Research Institute"))
    el = apply_screening(decision, el_hits)
    assert el.outcome == "license_required" and el.review_policy == "presumption_of_denial"
    assert "screen/entity-list" in el.rules and any("Entity List" in c for c in el.citations)
    assert all(i.outcome == "license_required" and "screen/entity-list" in i.rules for i in el.items)
    assert any("trade-gov-csl:99ed1b05" in line for line in el.explanation)
    sdn = apply_screening(decision, screener.screen(Query("Banco Nacional de Cuba")))
    assert sdn.outcome == "prohibited" and sdn.authorization is None
    cleared = [dataclasses.replace(h, status="cleared") for h in el_hits]
    unchanged = apply_screening(decision, cleared)
    assert dataclasses.replace(unchanged, explanation=decision.explanation, screening=None) == decision
    assert unchanged.screening is not None and unchanged.screening.note == "parties screened: no match"
    prohibited = dataclasses.replace(decision, outcome="prohibited", authorization=None, review_policy=None)
    assert apply_screening(prohibited, el_hits).outcome == "prohibited"  # never relaxed


def test_a_merged_file_that_loses_one_list_is_refused(
    tmp_path: Path, url: str, open_store: Callable[[str], ListStore]
) -> None:
    header = "_id,source,name\n"
    el = "".join(f"el{i},Entity List (EL) - Bureau of Industry and Security,Entity Company {i}\n" for i in range(100))
    meu = "".join(
        f"meu{i},Military End User (MEU) List - Bureau of Industry and Security,MEU Works {i}\n" for i in range(30)
    )
    path = tmp_path / "consolidated.csv"
    path.write_text(header + el + meu, encoding="utf-8")
    s = open_store(url)
    s.load(read_lists([path]))
    path.write_text(header + el + meu[: meu.index("meu20,")], encoding="utf-8")  # 130 -> 120 entries: -8 % overall
    with pytest.raises(ListStoreError, match="list MEU has 20 entries against 30"):
        s.load(read_lists([path]))
    assert s.load(read_lists([path]), force=True)[0].removed == [f"meu{i}" for i in range(20, 30)]


def test_concurrent_writers_wait_for_each_other(url: str, open_store: Callable[[str], ListStore]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    first = open_store(url)
    first.load(read_lists(sorted(DATA.glob("*.*"))))

    def work(n: int) -> None:
        store = open_store(url)
        for k in range(10):
            store.record_screening(f"party-{n}-{k}", {"name": f"Party {n} {k}"}, [])

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(work, range(6)))
    assert len(first.screened_parties()) == 60
    assert sum(1 for a in first.audit_entries() if a["action"] == "screen") == 60


def test_reopen_withdraws_the_standing_decision_keeps_history_and_audits(
    tmp_path: Path, url: str, open_store: Callable[[str], ListStore]
) -> None:
    from tiergate.screen import NoStandingDecision

    s = open_store(url)
    s.load(read_lists([_nsf(tmp_path, [_entity(n) for n in NAMES])]))
    query = Query("Entity Number Alpha Technologies", country="CN")
    entry = Screener.from_store(s).screen(query, party="p1")[0].entry
    with pytest.raises(NoStandingDecision, match="no standing decision"):
        s.reopen("p1", entry, "recheck", "ana")  # nothing to withdraw: nothing changes
    assert s.decision_history("p1", entry.key) == []
    s.decide("p1", entry, "cleared", "different company", "ana", bound_to=query_form(query))
    with pytest.raises(ListStoreError, match="reason"):
        s.reopen("p1", entry, "  ", "ben")
    reopened = s.reopen(" p1 ", entry.key, "new adverse media", "ben", actor="ben (api key k1)")
    assert (reopened.verdict, reopened.withdrawn, reopened.author) == ("reopened", "cleared", "ben")
    assert reopened.to_dict()["withdrawn"] == "cleared" and reopened.entry_hash == entry.content_hash
    hit = Screener.from_store(s).screen(query, party="p1")[0]
    assert hit.status == "open" and hit.decision is None  # counts again
    assert s.decisions() == {}
    history = s.decision_history("p1", entry.key)
    assert [(d.verdict, d.author, d.reason) for d in history] == [
        ("cleared", "ana", "different company"),
        ("reopened", "ben", "new adverse media"),
    ]
    with pytest.raises(NoStandingDecision):
        s.reopen("p1", entry, "again", "ben")  # a re-opening is not a decision to withdraw
    (trail,) = [a for a in s.audit_entries() if a["action"] == "reopen"]
    assert trail["actor"] == "ben (api key k1)" and trail["subject"] == f"p1 / {entry.key}"
    assert trail["detail"] == {
        "entry_hash": entry.content_hash,
        "reason": "new adverse media",
        "author": "ben",
        "withdrawn": "cleared",
    }
    s.decide("p1", entry, "confirmed", "same registration number", "cy", bound_to=query_form(query))  # again
    assert Screener.from_store(s).screen(query, party="p1")[0].status == "confirmed"
    assert [d.verdict for d in s.decision_history("p1", entry.key)] == ["cleared", "reopened", "confirmed"]
    assert s.reopen("p1", entry, "recheck", "dee").withdrawn == "confirmed"


def test_the_trail_names_the_given_actor_else_the_process_user(
    tmp_path: Path, url: str, open_store: Callable[[str], ListStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_ACTOR", "process-user")
    s = open_store(url)
    s.load(read_lists([_nsf(tmp_path, [_entity(n) for n in NAMES])]), actor="alice (api key a1)")
    s.record_screenings([("p1", {"name": "Entity Number Alpha Technology"}, [])], actor="alice (api key a1)")
    screener = Screener.from_store(s)
    entry = screener.screen(Query("Entity Number Alpha Technology"), party="p1")[0].entry
    s.decide("p1", entry, "cleared", "not them", "alice", actor="alice (api key a1)")
    s.decide("p2", entry, "cleared", "not them", "bob")
    s.record_screening("p2", {"name": "Entity Number Alpha Technology"}, [])
    reports = s.load(read_lists([_nsf(tmp_path, [*(_entity(n) for n in NAMES), _entity("Entity Number Alpha Tech")])]))
    rescreen(Screener.from_store(s), s, reports, actor="carol (api key c1)")
    trail = [(a["action"], a["subject"], a["actor"]) for a in s.audit_entries()]
    assert trail == [
        ("load", "nsf-bis-entity-list", "alice (api key a1)"),
        ("screen", "p1", "alice (api key a1)"),
        ("cleared", f"p1 / {entry.key}", "alice (api key a1)"),
        ("cleared", f"p2 / {entry.key}", "process-user"),
        ("screen", "p2", "process-user"),
        ("load", "nsf-bis-entity-list", "process-user"),
        ("screen", "p1", "carol (api key c1)"),
        ("screen", "p2", "carol (api key c1)"),
    ]
    assert [r["loaded_by"] for r in s.status(paths=True)] == ["process-user"]


def test_entries_name_their_file_and_dataset_version_not_a_path(store: ListStore) -> None:
    status = {r["dataset"]: r for r in store.status()}
    assert status["ofac-sdn"]["files"] == ["ofac_sdn_2024-05-03.csv"] and "paths" not in status["ofac-sdn"]
    operators = {r["dataset"]: r for r in store.status(paths=True)}
    assert operators["ofac-sdn"]["paths"] == [str(DATA / "ofac_sdn_2024-05-03.csv")]  # the load record keeps it
    for entry in store.list_entries():
        assert entry.source_file == Path(entry.source_file).name and entry.source_line > 0
        assert entry.dataset_sha256 == status[entry.dataset]["sha256"]
        assert entry.dataset_date == status[entry.dataset]["file_date"]
    hit = Screener.from_store(store).screen(Query("Banco Nacional de Cuba"))[0].to_dict()
    assert hit["source"].startswith("ofac_sdn_2024-05-03.csv:") and hit["source"].split(":")[1].isdigit()
    assert hit["dataset_sha256"] == status["ofac-sdn"]["sha256"] and hit["dataset_date"]
    loads = [a for a in store.audit_entries() if a["action"] == "load"]
    assert str(DATA) not in json.dumps(loads) and str(DATA) not in json.dumps(hit)


def test_an_entry_stored_with_a_path_is_reported_without_it(store: ListStore) -> None:
    """A store written before entries named only their file: the path is not reported, the dataset's version is."""
    import orjson
    import sqlalchemy as sa

    from tiergate.screen import store as tables

    with store.transaction() as conn:
        rows = conn.execute(sa.select(tables.entries.c.entry_id, tables.entries.c.data)).all()
        for entry_id, data in rows:
            old = orjson.loads(data)
            old["source_file"] = f"/srv/secret/lists/{old['source_file']}"
            del old["dataset_sha256"], old["dataset_date"]
            conn.execute(
                tables.entries.update()
                .where(tables.entries.c.entry_id == entry_id)
                .values(data=orjson.dumps(old).decode())
            )
        conn.execute(tables.datasets.update().values(files='["/srv/secret/lists/old.csv"]'))
    store._entries_cache = None
    hit = Screener.from_store(store).screen(Query("Banco Nacional de Cuba"))[0]
    assert "/srv" not in json.dumps(hit.to_dict()) and hit.to_dict()["dataset_sha256"]
    assert "/srv" not in json.dumps(store.status())


@pytest.mark.parametrize(
    ("noisy", "plain"),
    [
        ("  huawei   TECHNOLOGIES co., ltd. ", "Huawei Technologies Co., Ltd."),
        ("Huawei\u00adTechnologies\t Co.,\u200b Ltd.", "HuaweiTechnologies Co., Ltd."),
        ("ＨＵＡＷＥＩ Technologies Co., Ltd.", "Huawei Technologies Co Ltd"),
        ("Huawei\x00 Technologies Co. Ltd.", "huawei technologies co ltd"),
    ],
)
def test_one_party_id_whatever_the_spacing_case_punctuation_or_unicode_form(noisy: str, plain: str) -> None:
    from tiergate.screen import party_id
    from tiergate.screen.normalize import clean_text
    from tiergate.screen.service import Party, party_key

    assert party_id(noisy, " cn") == party_id(plain, "CN") == party_id(clean_text(noisy), "CN")
    assert party_id(noisy, "CN").startswith("CN:") and party_key(Query(noisy, country="CN")) == party_id(plain, "CN")
    assert Party(noisy, country="CN").key == party_id(plain, "CN")
    assert party_id(noisy, "CN", given=" cust-9 ") == "cust-9" and party_id(noisy, "CN", given=" ") != " "


def test_party_ids_of_names_in_other_scripts_are_distinct() -> None:
    from tiergate.screen import party_id

    ids = {party_id(name, "CN") for name in ("华为技术有限公司", "中兴通讯股份有限公司", "Хуавэй", "華為")}
    assert len(ids) == 4 and "CN:party" not in ids  # not one shared id that a clearance would follow
    assert party_id("Acme Trading", "US") == "US:acme-trading" and party_id("...", None) == "-:party"
