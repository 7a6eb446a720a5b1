"""The ``tiergate`` command's entry point: ``tiergate screen name`` (one query, often from a script or a shell
loop) loads only the screening package and answers from the persistent index, its arguments read without Typer
when they are plain (:func:`tiergate.screen.answer.parse_name`; else by the screening commands' Typer app);
every other command loads the whole command line (:func:`tiergate.cli.main`)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    if sys.argv[1:3] != ["screen", "name"]:
        from tiergate.cli import main as everything

        everything()
        return
    from rich.console import Console

    from tiergate.errors import TiergateError
    from tiergate.screen.answer import parse_name, screen_name, stdout_console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        plain = parse_name(sys.argv[3:])
        if plain is not None:
            sys.exit(screen_name(stdout_console(), **plain))
        import typer

        from tiergate.screen.cli import screen_app

        typer.main.get_command(screen_app)(args=sys.argv[2:], prog_name="tiergate screen")
    except TiergateError as error:
        err.print(f"error: {error}", markup=False)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as error:  # the unexpected: one line unless debugging
        if os.environ.get("TIERGATE_DEBUG"):
            raise
        err.print(
            f"internal error: {type(error).__name__}: {error} (set TIERGATE_DEBUG=1 for the traceback)", markup=False
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
