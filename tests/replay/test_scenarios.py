"""The eight replay scenarios of the research digest (shared/reference/vault_verify_replay.md, C5)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

import tiergate
from tiergate.replay.columns import replay_table
from tiergate.replay.engine import HistoryRow, Listing, ReplayResult, replay_rows
from tiergate.replay.report import build_report, dumps

from .conftest import Proposer

TODAY = dt.date(2026, 6, 1)
H100 = 15831.2


def txn(
    id: str,
    date: str,
    destination: str,
    quantity: int,
    *,
    chip: str = "nvidia-h100-sxm",
    name: str | None = None,
    hq: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": id,
        "date": date,
        "destination": destination,
        "items": [{"chip": chip, "quantity": quantity}],
        "consignee": {"name": name or f"Consignee {id}", "country": destination, "headquarters": hq or destination},
        "end_use": "datacenter",
        **extra,
    }


def replay(
    book: tiergate.Rulebook, history: list[dict[str, Any]], a: str, b: str, **options: Any
) -> tuple[ReplayResult, dict[str, Any]]:
    rows = [HistoryRow(t, f"history.json: record {i + 1}") for i, t in enumerate(history)]
    result = replay_rows(book, rows, regime_from=a, regime_to=b, today=TODAY, **options)
    return result, build_report(result, h100_tpp=H100)


def states(result: ReplayResult, side: str) -> dict[str, tuple[str, str | None, str | None]]:
    templates = result.sides[0 if side == "from" else 1].templates
    return {
        str(i): (t.outcome, t.authorization, t.review_policy)
        for i, t in zip(result.facts.ids, (templates[k] for k in result.templates[side]), strict=True)
    }


def changed(result: ReplayResult) -> set[str]:
    a, b = states(result, "from"), states(result, "to")
    return {k for k in a if a[k] != b[k]}


MIXED = [
    txn("in-1", "2025-02-03", "IN", 600),
    txn("in-2", "2025-03-03", "IN", 5000),
    txn("ae-1", "2025-02-10", "AE", 800),
    txn("de-1", "2025-02-11", "DE", 3000),
    txn("cn-1", "2025-02-12", "CN", 10, chip="nvidia-h20"),
    txn("br-1", "2025-04-01", "BR", 1200),
]


def test_c1_identical_regimes_change_nothing_and_the_matrix_is_diagonal(book: tiergate.Rulebook) -> None:
    _result, report = replay(book, MIXED, "us-diffusion-2025", "us-diffusion-2025")
    assert report["changed"] == 0 and report["total"] == len(MIXED)
    assert all(not t["changed"] and t["from"] == t["to"] for t in report["transitions"])
    assert sum(t["count"] for t in report["transitions"]) == len(MIXED)
    assert report["totals"]["moved"]["tpp"] == 0 and report["by_consignee"] == []


def test_c2_moving_one_country_to_tier_1_changes_only_its_rows_towards_allow(
    book: tiergate.Rulebook, propose: Proposer
) -> None:
    proposed = propose("us-diffusion-2025", add=(("tier1", "IN"),))
    result, report = replay(proposed, MIXED, "us-diffusion-2025", "proposal")
    assert changed(result) == {"in-1", "in-2"}
    before, after = states(result, "from"), states(result, "to")
    assert before["in-1"] == ("authorized", "LPP", None)  # capped
    assert before["in-2"][0] == "license_required"  # over the LPP cap
    assert after["in-1"] == after["in-2"] == ("authorized", "AIA", None)
    for row in report["by_destination"]:
        assert row["changed"] == (2 if row["destination"] == "IN" else 0)


def test_c3_a_smaller_lpp_turns_orders_between_1000_and_1700_h100e_into_licences(
    book: tiergate.Rulebook, propose: Proposer
) -> None:
    proposed = propose("us-diffusion-2025", sets=(("lpp_tpp_per_consignee_year", "1000 * h100_tpp"),))
    sizes = {"q500": 500, "q999": 999, "q1000": 1000, "q1001": 1001, "q1500": 1500, "q1699": 1699, "q1700": 1700}
    history = [txn(k, "2025-03-01", "IN", q) for k, q in sizes.items()]
    result, report = replay(proposed, history, "us-diffusion-2025", "proposal")
    assert changed(result) == {"q1001", "q1500", "q1699"}
    for key in ("q1001", "q1500", "q1699"):
        assert states(result, "from")[key] == ("authorized", "LPP", None)
        assert states(result, "to")[key][0] == "license_required"
    assert states(result, "to")["q1000"] == ("authorized", "LPP", None)  # exactly 1,000 H100e still fits
    moved = report["totals"]["moved"]
    assert moved["tpp"] == round((1001 + 1500 + 1699) * H100, 4)
    assert report["totals"]["licence_applications_added"] == 3


def test_c4_a_country_cap_below_the_shipped_total_turns_later_licences_to_denial_and_shows_the_quarter(
    book: tiergate.Rulebook, propose: Proposer
) -> None:
    proposed = propose("us-diffusion-2025", sets=(("country_cap_tpp_2025_2027", "5000 * h100_tpp"),))
    history = [txn(f"big-{i}", f"2025-{2 + 2 * i:02d}-01", "IN", 2000) for i in range(4)]
    result, report = replay(proposed, history, "us-diffusion-2025", "proposal")
    before, after = states(result, "from"), states(result, "to")
    assert [before[f"big-{i}"] for i in range(4)] == [("license_required", "license", "presumption_of_approval")] * 4
    assert [after[f"big-{i}"][2] for i in range(4)] == [
        "presumption_of_approval",
        "presumption_of_approval",
        "presumption_of_denial",  # 4,000 H100e used; 2,000 more do not fit in 5,000
        "presumption_of_denial",
    ]
    bound = report["binds"]["to"]
    assert [b["allocation"] for b in bound] == ["country:tier2"]
    assert bound[0]["first_date"] == "2025-06-01" and bound[0]["first_quarter"] == "2025Q2"
    assert bound[0]["transactions"] == 2
    used = {a["allocation"]: a for a in report["allocations"]["to"]}["country"]["detail"][0]
    assert used["account"] == "country:IN:2025-2027" and used["tpp_used"] == round(4000 * H100, 4)


def test_c5_a_listing_changes_only_the_transactions_from_its_effective_date(book: tiergate.Rulebook) -> None:
    history = [
        txn("early", "2025-03-01", "DE", 10, name="Target Compute GmbH"),
        txn("late", "2025-09-01", "DE", 10, name="TARGET compute, GmbH"),
        txn("other", "2025-09-01", "DE", 10, name="Other GmbH"),
    ]
    listing = Listing("EL", dt.date(2025, 6, 1), name="Target Compute GmbH", country="DE", where="listing.csv:2")
    result, report = replay(book, history, "us-2025-05", "us-2025-05", listings=[listing])
    assert changed(result) == {"late"}
    assert states(result, "to")["late"] == ("license_required", "license", "presumption_of_denial")
    rules = {r["rule"]: r for r in report["rules"]}
    assert rules["screen/entity-list"]["fires_only_under"] == "to"
    assert report["options"]["listings"][0]["effective"] == "2025-06-01"


def test_c6_a_lower_4e091_threshold_reclassifies_weights_in_between(book: tiergate.Rulebook, propose: Proposer) -> None:
    proposed = propose("us-diffusion-2025", sets=(("weights_ops_threshold", "5e25"),))

    def weights(id: str, ops: float) -> dict[str, Any]:
        item = {"model_weights": {"name": id, "training_ops": ops, "open_weights": False}, "quantity": 1}
        return {**txn(id, "2025-03-01", "IN", 1), "items": [item]}

    history = [weights("w2e25", 2e25), weights("w6e25", 6e25), weights("w9e25", 9.9e25), weights("w2e26", 2e26)]
    result, report = replay(proposed, history, "us-diffusion-2025", "proposal")
    assert changed(result) == {"w6e25", "w9e25"}
    for key in ("w6e25", "w9e25"):
        assert states(result, "from")[key][0] == "no_license_required"
        assert states(result, "to")[key][0] == "license_required"
    to_templates = [result.sides[1].templates[k] for k in result.templates["to"]]
    assert [t.items[0].eccn for t in to_templates] == ["not_controlled", "4E091", "4E091", "4E091"]
    assert report["by_chip"][0]["chip"] in ("w6e25", "w9e25")


def test_c7_rows_missing_facts_are_listed_not_defaulted(book: tiergate.Rulebook, tmp_path: Path) -> None:
    history = [
        txn("ok-1", "2025-03-01", "IN", 10),
        {k: v for k, v in txn("no-hq", "2025-03-02", "IN", 10).items()},
        {k: v for k, v in txn("no-date", "2025-03-03", "IN", 10).items() if k != "date"},
        txn("ok-2", "2025-03-04", "DE", 10),
    ]
    del history[1]["consignee"]["headquarters"]
    _result, report = replay(book, history, "us-2025-05", "us-diffusion-2025")
    assert report["total"] == 2 and report["history"]["records"] == 4
    assert report["unreplayable_count"] == 2
    assert report["unreplayable"] == [
        {
            "id": "no-hq",
            "where": "history.json: record 2",
            "why": "consignee.headquarters: required field is missing",
        },
        {"id": "no-date", "where": "history.json: record 3", "why": "date: required field is missing"},
    ]
    # The same rows as a Parquet table (a flat row without its headquarters or date): the same report.
    flat = [
        {
            "id": t["id"],
            "date": t.get("date"),
            "destination": t["destination"],
            "chip": "nvidia-h100-sxm",
            "quantity": 10,
            "consignee_name": t["consignee"]["name"],
            "consignee_headquarters": t["consignee"].get("headquarters"),
        }
        for t in history
    ]
    table = replay_table(
        book, pa.Table.from_pylist(flat), regime_from="us-2025-05", regime_to="us-diffusion-2025", today=TODAY
    )
    assert [u["id"] for u in table.unreplayable] == ["no-hq", "no-date"]
    assert "consignee.headquarters" in table.unreplayable[0]["why"]


def test_c8_the_same_replay_twice_gives_the_same_bytes_and_merkle_root(book: tiergate.Rulebook) -> None:
    first = dumps(replay(book, MIXED, "us-2025-05", "us-diffusion-2025")[1])
    second = dumps(replay(book, list(MIXED), "us-2025-05", "us-diffusion-2025")[1])
    assert first == second
    shuffled = dumps(replay(book, MIXED[::-1], "us-2025-05", "us-diffusion-2025")[1])
    assert shuffled != first  # input order is part of the record (the Merkle leaves follow it)
