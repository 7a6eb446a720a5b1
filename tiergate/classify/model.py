"""Items that can be classified: chips (from catalogue.model), systems holding chips, model weights."""

from __future__ import annotations

from dataclasses import dataclass

from tiergate.catalog.model import Chip, Equipment


@dataclass(frozen=True, slots=True)
class System:
    """A computer, assembly or component holding ``chips_per_system`` accelerators of one kind."""

    name: str
    chip: Chip
    chips_per_system: int


@dataclass(frozen=True, slots=True)
class ModelWeights:
    """The parameters of a trained AI model. ``training_ops`` counts all training, fine-tuning included."""

    name: str
    training_ops: float
    open_weights: bool


Item = Chip | System | ModelWeights | Equipment
"""An equipment item is decided by the packs of the jurisdictions that reach it (``tiergate.decide.combined``),
not by the advanced-computing classification."""


@dataclass(frozen=True, slots=True)
class Classification:
    """What an item is under a ruleset: its ECCN and the figures and rules that decided it."""

    kind: str
    """``chip``, ``hbm``, ``system`` or ``model_weights``."""
    name: str
    eccn: str
    paragraph: str | None
    tpp: float | None
    """TPP of one unit: of the chip, or of all chips of a system."""
    performance_density: float | None
    memory_bandwidth_density: float | None
    chip_tpp: float | None
    """TPP of one chip (for a system, of one of the chips it holds)."""
    datacenter: bool | None
    chip_id: str | None
    designer_country: str | None
    memory_bandwidth_gbps: float | None
    affixed_to_logic: bool
    chips_per_system: int | None
    training_ops: float | None
    provisional: bool
    """True when a figure was unknown and the more restrictive reading was taken."""
    rules: tuple[str, ...]
    explanation: tuple[str, ...]
    recalled: tuple[str, ...]
