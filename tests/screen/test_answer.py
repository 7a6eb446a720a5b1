"""``tiergate screen name`` reads plain arguments without Typer (``tiergate.screen.answer.parse_name``): it must
read them exactly as the command line does, and leave everything else (help, recording, errors) to it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tiergate import launch
from tiergate.screen import answer
from tiergate.screen.cli import screen_app

PLAIN = [
    ["Huawei Technologies"],
    ["Huawei Technologies", "--country", "CN"],
    ["--country=CN", "Huawei Technologies", "--format", "json"],
    ["Kim Jong Un", "--schema", "Person", "--dob", "1984-01-08", "--id", "A1", "--id=B2"],
    ["Ростех", "--threshold", "0.5", "--limit", "3", "--max-list-age", "30"],
    ["X", "--threshold=.75", "--limit=500", "--max-list-age=0", "--db", "sqlite:///a.db"],
    ["X", "--lists", "sqlite:///b.db", "--threshold", "1", "--format", "table"],
    ["Huawei Technologies", "--format", "xml"],  # plain: the command itself refuses the format, as it would
    ["  Huawei  "],
]
NOT_PLAIN = [
    [],
    ["--help"],
    ["Huawei", "--help"],
    ["Huawei", "--party", "p1"],
    ["Huawei", "--nonsense", "1"],
    ["Huawei", "Technologies"],  # two names
    ["Huawei", "--limit", "900"],
    ["Huawei", "--limit", "0"],
    ["Huawei", "--limit", "ten"],
    ["Huawei", "--threshold", "1.5"],
    ["Huawei", "--threshold", "1e-1"],
    ["Huawei", "--threshold", "nan"],
    ["Huawei", "--max-list-age", "-1"],
    ["Huawei", "--country"],  # no value
    ["Huawei", "--country", "--schema", "Person"],
    ["Huawei", "--country="],
    ["Huawei", "--limit", "3", "--limit", "4"],
    ["--", "-Huawei"],
    ["-Huawei"],
    [" "],
]


def typer_reads(args: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The values the Typer command passes on for ``args``."""
    seen: dict[str, Any] = {}

    def capture(_out: object, *values: Any) -> int:
        names = ["name", *answer.NAME_DEFAULTS]
        seen.update(zip(names, values, strict=True))
        return 0

    monkeypatch.setattr(answer, "screen_name", capture)
    result = CliRunner().invoke(screen_app, ["name", *args])
    assert result.exit_code == 0, (args, result.output)
    return seen


@pytest.mark.parametrize("args", PLAIN)
def test_plain_arguments_are_read_as_the_command_line_reads_them(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert answer.parse_name(args) == typer_reads(args, monkeypatch)


@pytest.mark.parametrize("args", NOT_PLAIN)
def test_anything_else_is_left_to_the_command_line(args: list[str]) -> None:
    assert answer.parse_name(args) is None


def test_the_plain_options_are_the_commands_own() -> None:
    command = typer.main.get_command(screen_app).commands["name"]  # type: ignore[attr-defined]
    options = {opt: param.name for param in command.params if param.param_type_name == "option" for opt in param.opts}
    assert set(options) - {"--party", "--help"} == set(answer.NAME_OPTIONS)
    for opt, (key, _) in answer.NAME_OPTIONS.items():
        assert options[opt] == key
    defaults = {p.name: p.default for p in command.params if p.param_type_name == "option" and p.name != "help"}
    assert {k: (None if v == [] else v) for k, v in defaults.items()} == answer.NAME_DEFAULTS


def run_launcher(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["tiergate", "screen", "name", *args])
    with pytest.raises(SystemExit) as done:
        launch.main()
    code = done.value.code
    return (code if isinstance(code, int) else 1 if code else 0), capsys.readouterr().out


def test_the_same_answer_either_way(
    installed_lists: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        ["Huawei Technologies", "--db", installed_lists, "--format", "json", "--limit", "3"],
        ["Hauwei Technolgies Co Ltd", "--db", installed_lists, "--threshold", "0.5"],
        ["Nobody Anywhere Trading", "--db", installed_lists, "--country", "DE"],
    ):
        fast = run_launcher(args, monkeypatch, capsys)
        with monkeypatch.context() as m:
            m.setattr(answer, "parse_name", lambda _args: None)
            full = run_launcher(args, monkeypatch, capsys)
        assert fast == full
        assert fast[1].strip()
    code, text = run_launcher(["Huawei Technologies", "--db", installed_lists, "--format", "json"], monkeypatch, capsys)
    assert code == 1 and any("Huawei" in h["name"] for h in json.loads(text)["hits"])


def test_help_and_errors_come_from_the_command_line(
    installed_lists: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, text = run_launcher(["--help"], monkeypatch, capsys)
    assert code == 0 and "--max-list-age" in text and "--party" in text
    code, _ = run_launcher(["Huawei", "--db", installed_lists, "--limit", "900"], monkeypatch, capsys)
    assert code == 2  # the command line's usage error
    code, _ = run_launcher(["Huawei", "--db", installed_lists, "--format", "xml"], monkeypatch, capsys)
    assert code != 0
