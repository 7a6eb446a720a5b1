"""``tiergate ARGS`` run in this process, as ``python -m tiergate.cli ARGS`` would run it in a new one.

A process per command costs one to four seconds of start-up (Python, the rule packs, Typer) and tells nothing
more about the command; tests that are not about the process boundary call :func:`run_cli` instead. It runs
:func:`tiergate.cli.main` with its own argv, working folder, environment (the whole of it, as
``subprocess.run(env=...)`` takes it), standard input (empty unless given), standard output and standard error,
and with the screeners of earlier commands forgotten; it returns what ``subprocess.run(capture_output=True,
text=True)`` would: the exit code and what was printed. tests/test_cli.py checks that a sample of commands print
the same in a real process (``test_a_process_prints_what_the_in_process_run_printed``)."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Completed:
    """The attributes of :class:`subprocess.CompletedProcess` the tests read."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    args: Sequence[str], *, cwd: Path | str | None = None, env: Mapping[str, str] | None = None, input: str = ""
) -> Completed:
    """``tiergate ARGS`` in ``cwd`` (default: the current folder) with exactly the environment ``env`` (default:
    this process's as it is) and ``input`` on standard input."""
    from tiergate.cli import main
    from tiergate.screen.cli import _SCREENERS

    _SCREENERS.clear()  # a process starts with no screener: each command opens its lists itself
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    stdin = io.TextIOWrapper(io.BytesIO(input.encode("utf-8")), encoding="utf-8")
    code: int
    with pytest.MonkeyPatch.context() as mp:
        if env is not None:
            for name in list(os.environ):
                if name not in env:
                    mp.delenv(name)
            for name, value in env.items():
                mp.setenv(name, value)
        if cwd is not None:
            mp.chdir(cwd)
        mp.setattr(sys, "argv", ["tiergate", *args])
        mp.setattr(sys, "stdin", stdin)
        mp.setattr(sys, "stdout", stdout)
        mp.setattr(sys, "stderr", stderr)
        try:
            main()
            code = 0
        except SystemExit as stop:
            if stop.code is None or isinstance(stop.code, int):
                code = stop.code or 0
            else:  # as the interpreter does: the message to stderr, exit 1
                print(stop.code, file=stderr)
                code = 1
        finally:
            _SCREENERS.clear()
    printed = []
    for stream in (stdout, stderr):
        stream.flush()
        raw = stream.buffer
        assert isinstance(raw, io.BytesIO)
        printed.append(raw.getvalue().decode("utf-8"))
    return Completed(list(args), code, printed[0], printed[1])
