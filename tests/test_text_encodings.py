"""CSV in other encodings (issue 21, item 9): UTF-16 with a byte-order mark is read; Latin-1 (or UTF-16 without a
mark) is a clear error naming the file and line, never "internal error" (which is what every CSV reader of the
command line gave before)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiergate.batch import read_records
from tiergate.errors import InputError

from .inprocess import Completed, run_cli

HEADER = "id,date,destination,chip,quantity,consignee_name,consignee_country,consignee_headquarters\n"
ROW = "t1,2025-03-03,FR,nvidia-h100-sxm,10,Société Générale,FR,FR\n"


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32", "utf-8"])
def test_unicode_csv_with_or_without_a_mark_is_read(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path, "t.csv", (HEADER + ROW).encode(encoding))
    [record] = list(read_records(path))
    assert record.data["consignee"]["name"] == "Société Générale"
    assert record.where == f"{path}:2"


def test_latin1_csv_names_the_line_and_says_what_to_do(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", (HEADER + ROW.replace("t1", "t0") + ROW).encode("latin-1"))
    with pytest.raises(InputError) as raised:
        list(read_records(path))
    assert raised.value.where == f"{path}:2"
    assert "not UTF-8 text: byte 0xe9" in raised.value.message
    assert "UTF-8" in (raised.value.hint or "")


def test_latin1_in_the_header_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", "id,désignation\n1,2\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"t\.csv:1: not UTF-8 text"):
        list(read_records(path))


def test_utf16_without_a_mark_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", (HEADER + ROW).encode("utf-16-le"))
    with pytest.raises(InputError, match="UTF-16 without a byte-order mark"):
        list(read_records(path))


def _cli(*args: str, cwd: Path) -> Completed:
    env = {k: v for k, v in os.environ.items() if k != "TIERGATE_DEBUG"}
    env["TIERGATE_TODAY"] = "2025-03-03"
    return run_cli(args, cwd=cwd, env=env)


def test_the_command_line_gives_one_clear_line_for_latin1(tmp_path: Path, usage_files: tuple[Path, Path]) -> None:
    latin = _write(tmp_path, "t.csv", (HEADER + ROW).encode("latin-1"))
    names = _write(tmp_path, "names.csv", "name,country\nSociété Générale,FR\n".encode("latin-1"))
    usage = tmp_path / "usage.csv"
    usage.write_bytes(usage_files[0].read_bytes().replace(b"\n", " \xe9\n".encode("latin-1"), 3))
    runs = {
        "decide": _cli("decide", str(latin), cwd=tmp_path),
        "screen batch": _cli("screen", "batch", str(names), "--out", str(tmp_path / "o.jsonl"), cwd=tmp_path),
        "monitor scan": _cli(
            "monitor", "scan", "--usage", str(usage), "--customers", str(usage_files[1]), cwd=tmp_path
        ),
    }
    for command, run in runs.items():
        assert run.returncode == 2, (command, run.stderr)
        assert "internal error" not in run.stderr, (command, run.stderr)
        assert "not UTF-8 text: byte 0xe9" in run.stderr, (command, run.stderr)


@pytest.fixture(scope="module")
def usage_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import pyarrow.csv as pc
    import pyarrow.parquet as pq

    from tiergate.monitor import generate

    folder = tmp_path_factory.mktemp("usage")
    made = generate(folder, 20, seed=1)
    usage = folder / "usage-utf8.csv"
    pc.write_csv(pq.read_table(made.usage), usage)
    return usage, made.customers
