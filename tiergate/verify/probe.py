"""Is it the chip declared? A measured matrix-multiplication rate bounds the part's TPP from below.

Measured TPP = the highest, over the precisions measured, of dense TFLOP/s x bit length (the same
arithmetic as the catalogue's TPP). A part cannot run faster than its silicon, so a measured TPP well
above the declared part's (ratio > 1.10) shows an under-declared chip, e.g. an H100 declared as an H20.
It can be throttled, partitioned or sandbagged, so a low ratio (< 0.65) proves nothing: re-test. Between
the two the measurement is consistent with the declared part. Well-tuned GEMMs reach 70–87 % of the dense
peak on current parts (stas00/ml-engineering, "Maximum Achievable Matmul FLOPS"); an H200 here measured
796.8 TFLOP/s in bf16 (80.5 % of 989.4) and 1,458 in fp8.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tiergate.catalog.model import Chip
from tiergate.classify.metrics import fmt, tpp
from tiergate.errors import InputError

UPPER = 1.10
"""Above this ratio the part ran faster than the declared part can: a design tolerance for clock and
timing noise (the digest's proposal; not a sourced figure)."""
LOWER = 0.65
"""Below this ratio the run says nothing (throttled, partitioned or sandbagged): re-test."""


class ProbeVerdict(enum.StrEnum):
    inconsistent = "inconsistent"
    consistent = "consistent"
    inconclusive = "inconclusive"


@dataclass(slots=True)
class ProbeReport:
    declared: str
    declared_tpp: float
    measured: dict[str, float]
    measured_tpp: float
    best_precision: str
    ratio: float
    verdict: ProbeVerdict
    reasons: list[str]
    environment: dict[str, object] = field(default_factory=dict)
    """Where the numbers came from (device, count, clocks, throttle reasons) when the probe ran them."""

    def to_dict(self) -> dict[str, object]:
        return {
            "declared": self.declared,
            "declared_tpp": round(self.declared_tpp, 1),
            "measured_tflops": self.measured,
            "measured_tpp": round(self.measured_tpp, 1),
            "best_precision": self.best_precision,
            "ratio": round(self.ratio, 4),
            "verdict": self.verdict.value,
            "thresholds": {"inconsistent_above": UPPER, "inconclusive_below": LOWER},
            "environment": self.environment,
            "reasons": self.reasons,
        }


def parse_measured(texts: list[str], where: str = "--measured") -> dict[str, float]:
    """``["bf16=796.8", "fp8=1458"]`` → ``{"bf16": 796.8, "fp8": 1458.0}``."""
    out: dict[str, float] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep:
            raise InputError(f"{text!r} is not PRECISION=TFLOPS", where=where, hint="e.g. bf16=796.8")
        out[name.strip().lower()] = _rate(value, f"{where} {name.strip()}")
    return out


def _rate(value: object, where: str) -> float:
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{value!r} is not a number of TFLOP/s", where=where) from None
    if not math.isfinite(rate) or rate <= 0:
        raise InputError(f"{value!r}: a rate must be a finite number above 0", where=where)
    return rate


def probe(
    chip: Chip,
    measured: Mapping[str, float],
    bit_lengths: Mapping[str, int | None],
    environment: Mapping[str, object] | None = None,
) -> ProbeReport:
    """The verdict on a declared chip from dense matmul rates measured per precision (TFLOP/s)."""
    if not measured:
        raise InputError("no measured rate", where="measured", hint="give at least one PRECISION=TFLOPS")
    terms: list[tuple[float, str, str]] = []
    for precision, rate in measured.items():
        if precision not in bit_lengths:
            raise InputError(
                f"unknown precision {precision!r}", where="measured", hint=f"use one of {', '.join(bit_lengths)}"
            )
        bits = bit_lengths[precision]
        if bits is None:
            continue
        rate = _rate(rate, f"measured {precision}")
        terms.append((rate * bits, precision, f"{precision} {fmt(rate)} x {bits} = {fmt(rate * bits)}"))
    if not terms:
        raise InputError("no measured precision counts towards TPP here", where="measured", hint="measure bf16 or fp8")
    declared = tpp(chip, bit_lengths)
    if declared.value is None or declared.value <= 0:
        raise InputError(f"{chip.label} has no TPP in the catalogue to compare with", where="declared")
    best_value, best_precision, _ = max(terms)
    ratio = best_value / declared.value
    reasons = [
        f"Declared {chip.label}: TPP {fmt(declared.value)} ({declared.working}).",
        f"Measured TPP = max({'; '.join(t[2] for t in terms)}) = {fmt(best_value)} at {best_precision}.",
        f"Ratio measured / declared = {ratio:.3f}.",
    ]
    if ratio > UPPER:
        verdict = ProbeVerdict.inconsistent
        reasons.append(
            f"Inconsistent: the part ran {ratio:.2f}x the declared part's TPP, above the {UPPER:.2f} tolerance; "
            "a chip cannot run faster than its silicon, so it is not the part declared (under-declared)."
        )
    elif ratio >= LOWER:
        verdict = ProbeVerdict.consistent
        reasons.append(
            f"Consistent: {ratio:.0%} of the declared TPP lies between {LOWER:.0%} and {UPPER:.0%} "
            "(well-tuned GEMMs reach 70-87 % of peak on current parts)."
        )
    else:
        verdict = ProbeVerdict.inconclusive
        reasons.append(
            f"Inconclusive: {ratio:.0%} of the declared TPP is below {LOWER:.0%}. A probe proves only a lower "
            "bound: the part may be throttled, partitioned (MIG) or sandbagged. Re-test, recording the device "
            "count, SM clocks and throttle reasons."
        )
    return ProbeReport(
        chip.id or chip.label,
        declared.value,
        dict(measured),
        best_value,
        best_precision,
        ratio,
        verdict,
        reasons,
        dict(environment or {}),
    )
