"""The arithmetic of the advanced-computing controls: TPP, performance density, memory-bandwidth density.

* TPP = 2 x MacTOPS x bit length = dense TOPS x bit length, the highest value over the bit lengths a
  processing unit supports, aggregated (summed) over all processing units (dies) of the IC.
* Performance density = TPP / applicable die area (logic dies made with non-planar transistors; memory
  dies excluded).
* Memory-bandwidth density = memory bandwidth (GB/s) / package (or stack) area (mm2).

Each function returns the figure and the working in words, for the explanation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tiergate.catalog.model import Chip, Die


def fmt(value: float) -> str:
    """A number as a compliance officer writes it: thousands separators, at most 4 decimals."""
    if value != value:  # NaN
        return "NaN"
    if abs(value) >= 1e15:
        return f"{value:.4g}"
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True, slots=True)
class Figure:
    value: float | None
    working: str


def die_tpp(die: Die, bit_lengths: Mapping[str, int | None]) -> tuple[float | None, str]:
    """The TPP of one die: the best of dense rate x bit length over its precisions."""
    terms: list[str] = []
    skipped: list[str] = []
    best: float | None = None
    best_at: list[str] = []
    for precision, rate in die.dense_tops:
        bits = bit_lengths.get(precision)
        if bits is None:
            skipped.append(precision)
            continue
        value = rate * bits
        terms.append(f"{precision} {fmt(rate)} x {bits} = {fmt(value)}")
        if best is None or value > best + 1e-9 * max(1.0, abs(best)):
            best, best_at = value, [precision]
        elif abs(value - best) <= 1e-9 * max(1.0, abs(best)):
            best_at.append(precision)
    if best is None:
        return None, "no dense throughput figure at a counted bit length"
    text = f"max({'; '.join(terms)}) = {fmt(best)} at {'/'.join(best_at)}"
    if skipped:
        text += f" ({', '.join(skipped)} not counted: no bit length set in the pack)"
    return best, text


def tpp(chip: Chip, bit_lengths: Mapping[str, int | None]) -> Figure:
    """Total Processing Performance of a chip, summed over its dies."""
    per_die = [die_tpp(die, bit_lengths) for die in chip.dies]
    if not per_die or all(value is None for value, _ in per_die):
        return Figure(None, "TPP unknown: no dense throughput figure at a counted bit length")
    # A die with no throughput (an I/O, base or memory die) has no processing units: it adds nothing.
    per_die = [
        (value, text) if value is not None else (0.0, "no processing units listed, counts 0") for value, text in per_die
    ]
    values = [value for value, _ in per_die if value is not None]
    total = sum(values)
    if len(per_die) == 1:
        dies = f" (package of {chip.die_count} dies, rates are package totals)" if (chip.die_count or 1) > 1 else ""
        return Figure(total, f"TPP = dense TOPS x bit length, best precision{dies}: {per_die[0][1]}")
    parts = "; ".join(f"die {i + 1}: {text}" for i, (_, text) in enumerate(per_die))
    return Figure(
        total,
        f"TPP aggregated over {len(per_die)} dies = {' + '.join(fmt(v) for v in values)} = {fmt(total)} ({parts})",
    )


def applicable_area(chip: Chip) -> Figure:
    """Summed area of the logic dies made with non-planar transistors."""
    counted = [d for d in chip.dies if d.logic and d.non_planar]
    left_out = len(chip.dies) - len(counted)
    if not counted:
        return Figure(None, "no logic die with non-planar transistors, so no applicable die area")
    if any(d.area_mm2 is None for d in counted):
        return Figure(None, "applicable die area unknown (die area not given)")
    areas = [d.area_mm2 for d in counted if d.area_mm2 is not None]
    total = sum(areas)
    text = f"{fmt(total)} mm2" if len(areas) == 1 else f"{' + '.join(fmt(a) for a in areas)} = {fmt(total)} mm2"
    if left_out:
        text += f" ({left_out} memory or planar die(s) left out)"
    return Figure(total, text)


def performance_density(tpp_value: float | None, area: Figure) -> Figure:
    if tpp_value is None or area.value is None or area.value <= 0:
        return Figure(None, f"performance density unknown ({area.working if area.value is None else 'TPP unknown'})")
    value = tpp_value / area.value
    return Figure(value, f"performance density = {fmt(tpp_value)} / {area.working} = {fmt(value)}")


def memory_bandwidth_density(chip: Chip) -> Figure:
    bandwidth, area = chip.memory_bandwidth_gbps, chip.package_area_mm2
    if bandwidth is None or area is None or area <= 0:
        return Figure(None, "memory-bandwidth density unknown (needs memory bandwidth and package area)")
    value = bandwidth / area
    return Figure(value, f"memory-bandwidth density = {fmt(bandwidth)} GB/s / {fmt(area)} mm2 = {fmt(value)} GB/s/mm2")
