"""The replay decides as ``decide`` does and carries allocations forward as the ledger does.

- Where no allowance binds across transactions (every consignee different, quantities far below the caps, no
  UVEU), each side's determination of every transaction is the one ``tiergate decide`` gives under that regime
  (``determine_all``: US law alone, or with the allied law an export from Taiwan, the Netherlands or Japan
  engages).
- Where allowances bind (a few consignees, large orders, UVEUs), each side's determinations are those of
  shipping the same transactions, in date order, through a real ledger (``tiergate.ledger.ship.ship``, with a
  licence for those that need one).
- A Parquet history replayed column-wise gives the report of the same rows replayed one by one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tiergate
from tiergate.alliance import determine_all
from tiergate.batch import flat_to_transaction
from tiergate.decide.model import Decision, Transaction
from tiergate.interchange import parse_transaction
from tiergate.ledger import Ledger
from tiergate.ledger.licence import ECCN, Licence, LicenceLine, LicensedParty
from tiergate.ledger.ship import ship
from tiergate.replay.columns import replay_table
from tiergate.replay.engine import HistoryRow, ReplayResult, replay_rows
from tiergate.replay.report import build_report

TODAY = dt.date(2026, 6, 1)
CHIPS = ["nvidia-h100-sxm", "nvidia-h200", "nvidia-b200", "nvidia-h20", "nvidia-rtx-4090", "amd-mi300x", "nvidia-l4"]
COUNTRIES = ["IN", "DE", "CN", "AE", "SG", "MY", "US", "VN", "GB", "KH", "BR"]
PAIRS = [("us-2025-05", "us-diffusion-2025"), ("us-diffusion-2025", "us-2026-01"), ("us-2024-12", "us-diffusion-2025")]
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _row(draw: Any, index: int, *, names: list[str], veus: list[str | None], big: bool) -> dict[str, Any]:
    destination = draw(st.sampled_from(COUNTRIES))
    return {
        "id": f"t{index:03d}",
        "date": draw(st.dates(dt.date(2025, 1, 13), dt.date(2026, 5, 1))).isoformat(),
        "export_from": draw(st.sampled_from(["US", "US", "US", "SG", "TW", "NL", "JP"])),
        "destination": destination,
        "chip": draw(st.sampled_from(CHIPS)),
        "quantity": draw(st.integers(200, 4000) if big else st.integers(1, 40)),
        "consignee_name": names[index % len(names)] if not big else draw(st.sampled_from(names)),
        "consignee_country": destination,
        "consignee_headquarters": draw(st.sampled_from([destination, destination, "CN", "US"])),
        "consignee_veu": draw(st.sampled_from(veus)),
        "end_use": "datacenter",
    }


@st.composite
def quiet_history(draw: Any) -> list[dict[str, Any]]:
    """Histories where no allowance binds: every consignee different, small quantities, no UVEU."""
    size = draw(st.integers(1, 25))
    names = [f"Consignee {i}" for i in range(size)]
    return [_row(draw, i, names=names, veus=[None, None, "NVEU"], big=False) for i in range(size)]


@st.composite
def busy_history(draw: Any) -> list[dict[str, Any]]:
    """Histories where allowances bind: three consignees, large orders, VEUs."""
    size = draw(st.integers(2, 25))
    return [
        _row(draw, i, names=["Acme", "Beta", "Gamma"], veus=[None, None, "NVEU", "UVEU"], big=True) for i in range(size)
    ]


def _rows(
    book: tiergate.Rulebook, flat: list[dict[str, Any]], a: str, b: str, effective_dates: bool = False
) -> ReplayResult:
    rows = [HistoryRow(flat_to_transaction(r, f"row {i + 1}"), f"row {i + 1}") for i, r in enumerate(flat)]
    return replay_rows(book, rows, regime_from=a, regime_to=b, today=TODAY, effective_dates=effective_dates)


def _states(result: ReplayResult, side: str) -> dict[str, tuple[str, str | None, str | None]]:
    templates = result.sides[0 if side == "from" else 1].templates
    return {
        str(txn_id): (t.outcome, t.authorization, t.review_policy)
        for txn_id, t in zip(result.facts.ids, (templates[i] for i in result.templates[side]), strict=True)
    }


@pytest.mark.parametrize(("regime_from", "regime_to"), PAIRS)
@SETTINGS
@given(flat=quiet_history())
def test_where_no_allowance_binds_each_side_is_decide_under_its_regime(
    book: tiergate.Rulebook, regime_from: str, regime_to: str, flat: list[dict[str, Any]]
) -> None:
    result = _rows(book, flat, regime_from, regime_to)
    assert result.unreplayable == []
    for side, regime in (("from", regime_from), ("to", regime_to)):
        got = _states(result, side)
        for i, row in enumerate(flat):
            txn = parse_transaction(flat_to_transaction(row, "x"), book.catalogue)
            ruleset, _ = book.select(regime, txn.date)
            d = determine_all(txn, book, ruleset, explain=False)
            assert got[row["id"]] == (d.outcome, d.authorization, d.review_policy), (side, i, row)
    assert all(not b for b in (result.sides[0].binds, result.sides[1].binds))


def _covering_licence(ledger: Ledger, txn: Transaction, decision: Decision, n: int) -> str:
    """A licence of the authority that must license ``txn``, for its consignee, destination, item and date."""
    item = decision.items[0]
    kind, named = ("eccn", item.eccn) if ECCN.match(item.eccn) else ("item", item.chip or item.eccn)
    required = [j.jurisdiction for j in decision.jurisdictions if j.reached and j.outcome == "license_required"]
    licence = Licence(
        id=f"L-{n}",
        jurisdiction=(required or ["US"])[0],
        exporter="Example Exporter Inc",
        consignees=(LicensedParty(txn.consignee.name, txn.consignee.country),),
        destination=txn.destination,
        lines=(LicenceLine(named, kind, 10_000_000_000, 1e13),),
        issued=txn.date,
        expires=txn.date,
    )
    ledger.add_licence(licence)
    return licence.id


def _shipped(book: tiergate.Rulebook, flat: list[dict[str, Any]], regime: str, folder: Path) -> dict[str, Any]:
    """Ship the rows in date order through a fresh ledger under ``regime``; each decision's state."""
    ledger = Ledger(f"sqlite:///{folder / (regime + '.db')}", actor="test")
    ledger.init()
    states: dict[str, Any] = {}
    try:
        order = sorted(range(len(flat)), key=lambda i: flat[i]["date"])
        for i in order:
            txn = parse_transaction(flat_to_transaction(flat[i], f"row {i + 1}"), book.catalogue)
            shipment = ship(txn, book, ledger, regime=regime)
            if shipment.decision.outcome == "license_required" and not shipment.committed:
                licence_id = _covering_licence(ledger, txn, shipment.decision, i)
                valued = replace(txn, value_usd=1.0)  # a licence line counts dollars too
                again = ship(valued, book, ledger, regime=regime, licence_id=licence_id)
                assert again.decision == shipment.decision
            d = shipment.decision
            states[flat[i]["id"]] = (d.outcome, d.authorization, d.review_policy)
    finally:
        ledger.close()
    return states


@pytest.mark.parametrize(("regime_from", "regime_to"), PAIRS[:2])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(flat=busy_history())
def test_where_allowances_bind_each_side_is_the_ledger_shipping_in_date_order(
    book: tiergate.Rulebook, tmp_path_factory: pytest.TempPathFactory, regime_from: str, regime_to: str,
    flat: list[dict[str, Any]],
) -> None:  # fmt: skip
    folder = tmp_path_factory.mktemp("ledgers")
    result = _rows(book, flat, regime_from, regime_to)
    for side, regime in (("from", regime_from), ("to", regime_to)):
        assert _states(result, side) == _shipped(book, flat, regime, folder), side


def test_a_second_lpp_order_in_a_year_that_only_fits_without_the_first(book: tiergate.Rulebook) -> None:
    """LPP allows 26.9 million TPP per consignee per calendar year (1,699 H100): 1,000 H100 fit twice only apart."""
    order = {
        "destination": "IN",
        "chip": "nvidia-h100-sxm",
        "quantity": 1000,
        "consignee_name": "Example Compute Pvt Ltd",
        "consignee_headquarters": "IN",
    }
    flat = [
        {**order, "id": "second", "date": "2025-08-01"},
        {**order, "id": "first", "date": "2025-02-01"},
        {**order, "id": "next-year", "date": "2026-01-05"},
    ]
    result = _rows(book, flat, "us-2025-05", "us-diffusion-2025")
    to = _states(result, "to")
    assert to["first"] == ("authorized", "LPP", None)
    assert to["second"][0] == "license_required"  # alone it would be LPP: the first used the allowance
    assert to["next-year"] == ("authorized", "LPP", None)
    alone = _rows(book, [flat[0]], "us-2025-05", "us-diffusion-2025")
    assert _states(alone, "to")["second"] == ("authorized", "LPP", None)
    binds = result.sides[1].binds
    assert [(b.allocation, b.account, b.day.isoformat()) for b in binds] == [
        ("lpp:consignee", "lpp:IN:example-compute-pvt-ltd:2025", "2025-08-01")
    ]
    report = build_report(result)
    assert report["binds"]["to"][0]["first_quarter"] == "2025Q3"
    assert report["binds"]["from"] == []


def _report(result: ReplayResult) -> dict[str, Any]:
    report = build_report(result, h100_tpp=15831.2)
    report["history"].pop("path")
    report["history"].pop("source")
    report["provenance"].pop("report_sha256")
    return report


def _table_rows(draw: Any) -> list[dict[str, Any]]:
    size = draw(st.integers(1, 30))
    rows = []
    for i in range(size):
        row = _row(
            draw, i, names=["Acme", "Beta", " Gamma  Co "], veus=[None, None, "NVEU", "UVEU"], big=draw(st.booleans())
        )
        spoil = draw(st.sampled_from([None] * 8 + ["date", "chip", "headquarters", "quantity"]))
        if spoil == "date":
            row["date"] = None  # never defaulted: unreplayable
        elif spoil == "chip":
            row["chip"] = "nvidia-h100-sxn"
        elif spoil == "headquarters":
            row["consignee_headquarters"] = None
        elif spoil == "quantity":
            row["quantity"] = -3
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("regime_from", "regime_to", "effective_dates"), [(*PAIRS[0], False), (*PAIRS[1], False), (*PAIRS[1], True)]
)
@SETTINGS
@given(data=st.data())
def test_a_parquet_history_replayed_column_wise_gives_the_report_of_the_rows_one_by_one(
    book: tiergate.Rulebook, regime_from: str, regime_to: str, effective_dates: bool, data: st.DataObject
) -> None:
    flat = _table_rows(data.draw)
    by_rows = _rows(book, flat, regime_from, regime_to, effective_dates)
    by_columns = replay_table(
        book,
        pa.Table.from_pylist(flat),
        regime_from=regime_from,
        regime_to=regime_to,
        effective_dates=effective_dates,
        today=TODAY,
        source="history",
    )
    assert by_columns.path == "columns"
    for result in (by_rows, by_columns):
        for u in result.unreplayable:
            u["where"] = u["where"].removeprefix("history: ")
    assert _report(by_columns) == _report(by_rows)
