"""Epoch AI hardware names mapped to catalogue ids.

Most of Epoch's names resolve through the catalogue's aliases; the table below maps the rest, each with
why. A name mapped to ``None`` is a chip the catalogue does not hold (or holds without dense rates); it is
reported as unmapped rather than guessed.
"""

from __future__ import annotations

from tiergate.catalog import Catalogue, Chip

EPOCH_NAMES: dict[str, str | None] = {
    "NVIDIA B200 GPUs": "nvidia-b200",
    "NVIDIA H200 SXM": "nvidia-h200",
    "NVIDIA GB300 (Blackwell Ultra)": "nvidia-gb300",
    # The A100/A800 PCIe cards carry the same GA100 die at the same dense peak (312 TFLOPS bf16) as the SXM part.
    "NVIDIA A100 PCIe": "nvidia-a100-sxm",
    "NVIDIA A800 PCIe": "nvidia-a800-sxm",
    "NVIDIA A800 PCIe 40 GB": "nvidia-a800-sxm",
    # The GH200 superchip's GPU is a Hopper GPU at the H100/H200 dense peak (989.4 TFLOPS bf16).
    "NVIDIA GH200": "nvidia-h200",
    # Not in the catalogue (older or other chips); left unmapped.
    "Huawei Ascend 910": None,
    "Cerebras CS-2": None,
    "Cerebras CS-3": None,
    "Google TPU v3": None,
    "NVIDIA V100": None,
}


def resolve_epoch(name: str, catalogue: Catalogue) -> Chip | None:
    """The catalogue chip for one Epoch hardware name, or None when it cannot be mapped."""
    name = name.strip()
    if name in EPOCH_NAMES:
        target = EPOCH_NAMES[name]
        return catalogue.get(target) if target else None
    return catalogue.get(name)
