"""The metrics of the regulation on a chip's figures, as classification uses them: they live with the chip's
figures in :mod:`tiergate.catalog.metrics` (the rules use them too, without classifying); re-exported here."""

from __future__ import annotations

from tiergate.catalog.metrics import (
    Figure,
    applicable_area,
    die_tpp,
    fmt,
    memory_bandwidth_density,
    performance_density,
    tpp,
)

__all__ = [
    "Figure",
    "applicable_area",
    "die_tpp",
    "fmt",
    "memory_bandwidth_density",
    "performance_density",
    "tpp",
]
