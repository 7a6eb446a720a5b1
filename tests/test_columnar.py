"""The columnar batch path gives exactly the decisions of row-by-row ``decide`` (all fields but the
prose explanation), including at the quantities where a cap comparison flips."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tiergate
from tiergate.batch import Record, decide_stream, flat_to_transaction
from tiergate.columnar import decide_table, rows_to_table
from tiergate.errors import InputError

TODAY = dt.date(2026, 3, 2)
CHIPS = [
    "nvidia-h100-sxm",
    "nvidia-h200",
    "nvidia-b200",
    "nvidia-h20",
    "nvidia-rtx-4090",
    "nvidia-l20",
    "huawei-ascend-910b",
    "amd-mi325x",
    "google-tpu-v4",
    "nvidia-l4",
]
COUNTRIES = ["IN", "DE", "CN", "HK", "MO", "AE", "SG", "MY", "KH", "US", "IL", "VN", "RU", "GB"]
# LPP fits 1,699 H100 (26.9M TPP) and the country allocation 49,901 (790M TPP): test around both.
QUANTITIES = st.one_of(st.integers(1, 60_000), st.sampled_from([1698, 1699, 1700, 49_900, 49_901, 49_902]))


def _rows() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.text("abc123", min_size=1, max_size=6),
            "date": st.dates(dt.date(2023, 11, 17), dt.date(2026, 11, 27)).map(dt.date.isoformat),
            "export_from": st.sampled_from(["US", "US", "SG", "TW", "CN", "NL", "DE", "JP", "KR", "GB"]),
            "destination": st.sampled_from(COUNTRIES),
            "chip": st.sampled_from(CHIPS),
            "quantity": QUANTITIES,
            "consignee_name": st.sampled_from(["Acme Ltd", "Beta Compute", " Gamma  Co "]),
            "consignee_headquarters": st.sampled_from(COUNTRIES),
            "consignee_parent_headquarters": st.one_of(st.none(), st.sampled_from(["CN", "US", "DE"])),
            "consignee_veu": st.sampled_from([None, None, "UVEU", "NVEU"]),
            "end_use": st.sampled_from([None, "datacenter", "development", "technical_evaluation"]),
            "regime": st.sampled_from([None, None, None, "us-diffusion-2025"]),
        }
    )


def _row_path(book: tiergate.Rulebook, rows: list[dict[str, Any]], indices: list[int]) -> list[tiergate.Decision]:
    records = [Record(flat_to_transaction(rows[i], f"row {i + 1}"), f"row {i + 1}") for i in indices]
    return list(decide_stream(records, book, regime=None, as_of=None, today=TODAY, explain=False))


def _columnar(book: tiergate.Rulebook, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = pa.Table.from_pylist(rows)
    result = decide_table(
        table, book, regime=None, as_of=None, today=TODAY, row_fallback=lambda ix: _row_path(book, rows, ix)
    )
    return result.to_pylist()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.lists(_rows(), min_size=1, max_size=40))
def test_columnar_equals_row_by_row(book: tiergate.Rulebook, rows: list[dict[str, Any]]) -> None:
    expected = rows_to_table(_row_path(book, rows, list(range(len(rows)))), explain=False).to_pylist()
    assert _columnar(book, rows) == expected


def test_rows_the_vectorised_checks_cannot_vouch_for_go_row_by_row(book: tiergate.Rulebook) -> None:
    rows = [
        {
            "id": "a",
            "date": "2025-03-03",
            "destination": "in ",
            "chip": "H100",
            "quantity": 10,
            "consignee_name": "Acme",
            "consignee_headquarters": "IN",
        },
        {
            "id": "b",
            "date": "2025-03-03",
            "destination": "IN",
            "chip": "nvidia-h100-sxm",
            "quantity": 10,
            "consignee_name": "Acme",
            "consignee_headquarters": "IN",
        },
    ]
    assert [r["outcome"] for r in _columnar(book, rows)] == ["authorized", "authorized"]


def test_a_bad_row_fails_the_batch_with_its_location(book: tiergate.Rulebook) -> None:
    rows = [
        {
            "id": "a",
            "date": "2025-03-03",
            "destination": "IN",
            "chip": "nvidia-h100-sxm",
            "quantity": 10,
            "consignee_name": "Acme",
            "consignee_headquarters": "IN",
        },
        {
            "id": "b",
            "date": "2025-03-03",
            "destination": "IN",
            "chip": "nvidia-h100-sxn",
            "quantity": 10,
            "consignee_name": "Acme",
            "consignee_headquarters": "IN",
        },
    ]
    with pytest.raises(InputError, match=r"row 2: items\[0\]\.chip: unknown chip 'nvidia-h100-sxn'"):
        _columnar(book, rows)


def _plain_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "a",
        "date": "2025-03-03",
        "destination": "IN",
        "chip": "nvidia-h100-sxm",
        "quantity": 10,
        "consignee_name": "Acme",
        "consignee_headquarters": "IN",
    }
    row.update(changes)
    return row


def test_missing_optional_values_do_not_send_rows_row_by_row(book: tiergate.Rulebook) -> None:
    rows = [_plain_row(id=None, consignee_id=None, end_use=None, regime=None, consignee_veu=None) for _ in range(5)]
    asked: list[list[int]] = []

    def fallback(indices: list[int]) -> list[tiergate.Decision]:
        asked.append(indices)
        return _row_path(book, rows, indices)

    decide_table(pa.Table.from_pylist(rows), book, regime=None, as_of=None, today=TODAY, row_fallback=fallback)
    assert asked == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"consignee_id": 42}, "consignee.id"),  # an integer where the parser wants text
        ({"chip": "H100" + "-" * 200}, "items[0].chip"),  # longer than a chip reference may be
        ({"date": "2025-02-30"}, "date"),  # rolled over by Arrow, refused by the parser
        ({"quantity": 2**62}, "items[0].quantity"),  # beyond 10,000,000,000
        ({"value_usd": -5.0}, "value_usd"),  # a value is more than 0
        ({"value_usd": float("nan")}, "value_usd"),  # and a finite number
    ],
)
def test_values_the_parser_refuses_are_refused_here_too(
    book: tiergate.Rulebook, changes: dict[str, Any], error: str
) -> None:
    extra = {key: None for key in changes if key not in _plain_row()}
    rows = [_plain_row(**extra), _plain_row(**changes)]  # the same columns in both rows
    with pytest.raises(InputError, match=rf"row 2: .*{re.escape(error)}"):
        _columnar(book, rows)


def test_values_the_parser_strips_or_drops_agree(book: tiergate.Rulebook) -> None:
    rows = [_plain_row(id="", consignee_id=" c-1 ", end_use=" datacenter ")]
    expected = rows_to_table(_row_path(book, rows, [0]), explain=False).to_pylist()
    assert _columnar(book, rows) == expected
    assert expected[0]["id"] is None and expected[0]["allocations"][0]["account"] == "lpp:c-1:2025"


def test_the_first_bad_row_is_the_one_reported(book: tiergate.Rulebook) -> None:
    rows = [_plain_row(date="2020-01-01"), _plain_row(destination="XX")]
    with pytest.raises(tiergate.TiergateError, match="row 1"):
        _columnar(book, rows)


def test_nested_items_and_odd_column_types_take_the_row_path(book: tiergate.Rulebook) -> None:
    rows = [_plain_row(chip=None, quantity=None, items=[{"chip": "nvidia-h100-sxm", "quantity": 3}])]
    (decision,) = _columnar(book, rows)
    assert decision["items"][0]["quantity"] == 3 and decision["outcome"] == "authorized"


def test_allied_rows_keep_what_their_laws_see(book: tiergate.Rulebook) -> None:
    """Rows found to differ on a million-row run: an allied context must keep the US reach packs in force (their
    labels are in the decision), whether the destination is the US (an import) or inside the exporter's
    territory, and no date may leak into a context's text."""

    def row(
        i: int, date: str, frm: str, to: str, chip: str = "nvidia-h100-sxm", hq: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": f"r{i}",
            "date": date,
            "export_from": frm,
            "destination": to,
            "chip": chip,
            "quantity": 3,
            "consignee_name": "Acme Ltd",
            "consignee_country": to,
            "consignee_headquarters": hq or to,
        }

    rows = [
        row(1, "2024-06-01", "FR", "FR"), row(2, "2024-11-13", "FR", "FR"),
        row(3, "2023-12-16", "KR", "KR"), row(4, "2024-01-02", "KR", "KR"),
        row(5, "2024-03-09", "TW", "US", hq="US"), row(6, "2024-03-09", "TW", "MX", hq="US"),
        row(7, "2024-03-09", "NL", "DE"), row(8, "2024-03-09", "NL", "IN"),
    ]  # fmt: skip
    expected = rows_to_table(_row_path(book, rows, list(range(len(rows)))), explain=False).to_pylist()
    assert _columnar(book, rows) == expected
