"""The issued-serials registry that F13's "serial not issued" check reads (``--serial-registry FILE``).

No OEM publishes the serial numbers it has issued, and the shared data holds none, so the registry is the user's
file: what a maker told the exporter, or the exporter's own records of serials received from the maker. One row per
prefix or range, CSV or JSON lines, columns ``manufacturer, prefix, first, last``:

- ``manufacturer``: the maker's name as a brand label or the catalogue's vendor writes it (``NVIDIA``,
  ``Supermicro``); case is ignored;
- ``prefix``: every serial that starts with it was issued; or
- ``first`` and ``last``: every serial of the same length from ``first`` to ``last`` (compared character by
  character, so ``SN000100``..``SN000999`` holds ``SN000517``) was issued.

A shipment's serials are checked against the maker named by its brand label when the registry knows that maker,
else against its catalogue chip's vendor; a maker the registry does not know is not assessed (no points).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiergate.diversion.model import Problem

REGISTRY_COLUMNS = ("manufacturer", "prefix", "first", "last")


def read_registry(path: Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The registry's rows (``maker`` lower case, ``prefix``, ``first``, ``last``); rows that do not parse are
    problems named by file, line and column, and left out."""
    from tiergate.diversion.reading import _records, _text

    path = Path(path)
    file = str(path)
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for line, raw in _records(path, REGISTRY_COLUMNS, required=("manufacturer",)):
        if isinstance(raw, str):
            problems.append(Problem(file, line, "(line)", raw))
            continue
        maker = _text(raw.get("manufacturer"))
        prefix, first, last = (_text(raw.get(c)) for c in ("prefix", "first", "last"))
        if maker is None:
            problems.append(Problem(file, line, "manufacturer", "missing: a registry row names its manufacturer"))
            continue
        if prefix is None and first is None and last is None:
            problems.append(Problem(file, line, "prefix", "missing: give a prefix, or first and last"))
            continue
        if (first is None) != (last is None):
            column = "last" if last is None else "first"
            problems.append(Problem(file, line, column, "missing: a range needs both first and last"))
            continue
        if first is not None and last is not None:
            if len(first) != len(last):
                problems.append(
                    Problem(file, line, "last", f"{last!r} is not as long as first {first!r} (a range of one length)")
                )
                continue
            if first > last:
                problems.append(Problem(file, line, "last", f"{last!r} comes before first {first!r}"))
                continue
        rows.append({"maker": maker.lower(), "prefix": prefix, "first": first, "last": last})
    return rows, problems


def registry_arrow(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    return pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in ("maker", "prefix", "first", "last")})
