"""Tables for the terminal, shared by every command line of Tiergate.

A listing fits the terminal (``COLUMNS``, else the terminal's width, else 200 columns in a pipe) without cutting
the values a reader acts on: *key* columns (ids, outcomes, TPP, accounts) are never wrapped, folded or
shortened. Other columns wrap at spaces. When the key columns and the longest words of the others cannot fit
side by side, the listing switches to a vertical layout: one block per row, one ``field: value`` line per
column, nothing cut.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

Cell = str | Text


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a listing: its header, whether its values must stay whole, and its alignment."""

    header: str
    key: bool = False
    justify: Literal["left", "right"] = "left"


def width_of(console: Console) -> int:
    """The width to render for: ``COLUMNS`` when set, else the console's own."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return console.width


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def print_table(
    console: Console,
    title: str,
    columns: Sequence[Column | str],
    rows: Iterable[Sequence[Cell]],
    *,
    width: int | None = None,
) -> None:
    """Print ``rows`` as a table that fits ``width`` (default: :func:`width_of`), or vertically if it cannot."""
    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    body = [[_text(cell) for cell in row] for row in rows]
    limit = width or width_of(console)
    table = Table(title=title, title_justify="left")
    needed = 3 * len(cols) + 1  # a border and a space either side of each column
    for i, col in enumerate(cols):
        cells = [col.header, *(row[i].plain for row in body)]
        if col.key:  # the whole value on one line
            least = max(max(cell_len(line) for line in cell.splitlines() or [""]) for cell in cells)
            table.add_column(col.header, justify=col.justify, no_wrap=True, min_width=least)
        else:  # wrapped at spaces, no word broken
            least = max(cell_len(word) for cell in cells for word in cell.split() or [""])
            table.add_column(col.header, justify=col.justify, overflow="fold", min_width=least)
        needed += least
    if needed > limit:
        print_vertical(console, title, cols, body)
        return
    for row in body:
        table.add_row(*row)
    console.print(table, width=limit, soft_wrap=False)


def print_vertical(console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Text]]) -> None:
    """One block per row, one ``header: value`` line per column; long values run on, never cut."""
    console.print(Text(title, style="bold"), soft_wrap=True)
    label = max((len(c.header) for c in columns), default=0)
    for n, row in enumerate(rows, start=1):
        console.print(Text(f"-- {n} of {len(rows)} --", style="dim"), soft_wrap=True)
        for col, cell in zip(columns, row, strict=True):
            if not cell.plain:
                continue
            line = Text(f"{col.header:<{label}}  ")
            line.append_text(cell)
            console.print(line, soft_wrap=True)


def print_record(console: Console, title: str, fields: Sequence[tuple[str, Cell]]) -> None:
    """One record as a two-column ``field  value`` table (values wrap at spaces, never cut)."""
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in fields:
        table.add_row(name, _text(value))
    console.print(table, width=width_of(console), soft_wrap=False)


__all__ = ["Cell", "Column", "print_record", "print_table", "print_vertical", "width_of"]
