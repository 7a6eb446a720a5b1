"""Hostile or damaged input that must end in a one-line user error (exit 2), never a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tiergate
from tiergate.errors import InputError

from .conftest import transaction
from .inprocess import Completed, run_cli


def _cli(*args: str, cwd: Path) -> Completed:
    env = {**os.environ, "TIERGATE_TODAY": "2026-03-02"}
    return run_cli(args, cwd=cwd, env=env)


def _user_error(result: Completed, *fragments: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_absurd_throughput_is_refused_not_overflowed(book: tiergate.Rulebook) -> None:
    txn = transaction({"name": "Big", "datacenter": True, "dense_tops": {"fp64": 1e307}, "die_area_mm2": 800})
    with pytest.raises(InputError, match=r"items\[0\]\.chip\.dense_tops\.fp64"):
        tiergate.parse_transaction(txn, book.catalogue)


def test_deeply_nested_json_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    _user_error(_cli("decide", "deep.json", cwd=tmp_path), "deep.json", "nested too deeply")


@pytest.mark.parametrize("balance", ["NaN", "-5"])
def test_balances_must_be_finite_and_not_negative(tmp_path: Path, balance: str) -> None:
    (tmp_path / "t.json").write_text(
        '{"date": "2025-03-03", "destination": "IN", "items": [{"chip": "H100", "quantity": 1}],'
        ' "consignee": {"name": "A", "headquarters": "IN"}}'
    )
    (tmp_path / "b.json").write_text('{"lpp:IN:a:2025": ' + balance + "}")
    _user_error(_cli("decide", "t.json", "--balances", "b.json", cwd=tmp_path), "b.json", "lpp:IN:a:2025")


@pytest.mark.usefixtures("installed_lists")  # decide screens against them; filling a fresh store is tested elsewhere
def test_damaged_parquet_data_is_a_user_error(tmp_path: Path) -> None:
    rows = [
        {
            "id": f"r{i}",
            "date": "2025-03-03",
            "destination": "IN",
            "chip": "nvidia-h100-sxm",
            "quantity": 1,
            "consignee_name": "Acme " * 20,
            "consignee_headquarters": "IN",
        }
        for i in range(2000)
    ]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, compression="none")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 400] = b"\xff" * 400  # the footer stays readable
    path.write_bytes(bytes(data))
    for fmt in ("parquet", "jsonl"):
        _user_error(_cli("decide", "t.parquet", "--format", fmt, "--out", f"o.{fmt}", cwd=tmp_path), "t.parquet")
        assert not (tmp_path / f"o.{fmt}").exists()
