"""Thresholds that track the frontier: ``frontier_tpp`` is taken as of the decision date, over the catalogue
chips released by then, so that a threshold written as ``0.5 * frontier_tpp`` moves with no new pack."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

import tiergate
from tiergate.batch import Record, decide_stream, flat_to_transaction
from tiergate.columnar import decide_table, rows_to_table
from tiergate.errors import PackError
from tiergate.replay.timeline import threshold_timeline
from tiergate.rules.compile import frontier_chip

from .conftest import Proposer

HALF_FRONTIER = (("tpp_a1_min", "0.5 * frontier_tpp"),)


@pytest.mark.parametrize(
    ("day", "chip", "value"),
    [
        ("2020-06-01", "nvidia-a100-sxm", 4992),
        ("2022-09-20", "nvidia-h100-sxm", 15831.2),  # released that day
        ("2024-01-01", "amd-mi300x", 20919.2),
        ("2024-11-15", "nvidia-b200", 36000),
        ("2025-09-01", "nvidia-gb300", 60000),
    ],
)
def test_the_frontier_is_the_strongest_chip_released_by_the_date(
    book: tiergate.Rulebook, day: str, chip: str, value: float
) -> None:
    found = frontier_chip(book.catalogue, book.full("us-2026-01").bit_lengths, dt.date.fromisoformat(day))
    assert found is not None and found[1] == chip and found[0] == pytest.approx(value, abs=0.1)


def test_no_packaged_regime_reads_a_date_dependent_quantity(book: tiergate.Rulebook) -> None:
    """The existing packs and golden cases are unchanged: none of them uses frontier_tpp (h100_tpp is a fixed unit)."""
    assert book.dated is False and book.release_dates() == []
    for name in book.regimes:
        assert "frontier_tpp" not in book.full(name).quantities_used
    assert "h100_tpp" in book.full("us-diffusion-2025").quantities_used


def test_a_threshold_over_the_frontier_moves_with_the_decision_date(propose: Proposer) -> None:
    book = propose("us-2026-01", sets=HALF_FRONTIER)
    assert book.dated
    before, chosen = book.select("proposal", dt.date(2024, 6, 1))
    after, _ = book.select("proposal", dt.date(2025, 1, 1))
    assert before.parameters["tpp_a1_min"] == pytest.approx(0.5 * 20919.2, abs=0.1)
    assert after.parameters["tpp_a1_min"] == pytest.approx(18000)
    assert "frontier_tpp = 2.092e+04" in chosen.describe()
    h100 = book.catalogue.resolve("nvidia-h100-sxm")
    assert tiergate.classify(h100, before).paragraph == "3A090.a.1"
    assert tiergate.classify(h100, after).paragraph == "3A090.a.2"  # TPP 15,831 < 18,000; PD 19.45 >= 5.92
    assert book.full("proposal").parameters["tpp_a1_min"] == pytest.approx(30000)  # the whole catalogue


def test_before_the_first_release_the_frontier_is_not_defined(propose: Proposer) -> None:
    book = propose("us-2026-01", sets=HALF_FRONTIER)
    with pytest.raises(PackError, match="frontier_tpp is not defined on 2019-12-31"):
        book.select("proposal", dt.date(2019, 12, 31))


def test_columnar_batch_equals_row_by_row_across_release_dates(propose: Proposer) -> None:
    book = propose("us-2026-01", sets=HALF_FRONTIER)
    rows = [
        {
            "id": f"r{i}",
            "date": day,
            "destination": "DE",
            "chip": "nvidia-h100-sxm",
            "quantity": 8,
            "consignee_name": "Acme",
            "consignee_headquarters": "DE",
        }
        for i, day in enumerate(["2024-11-14", "2024-11-15", "2023-12-05", "2023-12-06", "2026-01-20"])
    ]
    today = dt.date(2026, 3, 1)
    records = [Record(flat_to_transaction(r, f"row {i + 1}"), f"row {i + 1}") for i, r in enumerate(rows)]
    expected = rows_to_table(
        list(decide_stream(records, book, regime="proposal", as_of=None, today=today, explain=False)), False
    ).to_pylist()
    table = decide_table(
        pa.Table.from_pylist(rows), book, regime="proposal", as_of=None, today=today, row_fallback=lambda ix: []
    )
    assert table.to_pylist() == expected
    assert [row["items"][0]["paragraph"] for row in expected] == [
        "3A090.a.1",
        "3A090.a.2",
        "3A090.a.1",
        "3A090.a.1",
        "3A090.a.2",
    ]


def test_the_timeline_shows_the_threshold_moving_and_the_chips_that_crossed_it(propose: Proposer) -> None:
    book = propose("us-2026-01", sets=HALF_FRONTIER)
    data = threshold_timeline(book, "tpp_a1_min", dt.date(2022, 1, 1), dt.date(2026, 12, 31), "quarter", "proposal")
    assert data["unit"] == "TPP" and len(data["dates"]) == 20
    by_date = {row["date"]: row for row in data["dates"]}
    assert by_date["2022-10-01"]["value"] == pytest.approx(0.5 * 15831.2, abs=0.1)
    assert by_date["2022-10-01"]["frontier_chip"] == "nvidia-h100-sxm"
    changes = {(c["chip"], c["change"]) for c in by_date["2025-01-01"]["crossings"]}
    assert ("nvidia-h100-sxm", "now below") in changes  # 15,831 < 0.5 x 36,000 from the B200's release
    assert ("nvidia-b200", "released at or above") in changes
    values = [row["value"] for row in data["dates"]]
    assert values == sorted(values)  # the frontier only rises


def test_a_timeline_of_an_unknown_parameter_is_refused(book: tiergate.Rulebook) -> None:
    with pytest.raises(tiergate.InputError, match="unknown parameter 'tpp_a9_min'"):
        threshold_timeline(book, "tpp_a9_min", dt.date(2025, 1, 1), dt.date(2025, 12, 31), "quarter", "us-2026-01")
