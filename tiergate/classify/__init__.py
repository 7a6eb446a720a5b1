"""Classification: the ECCN of a chip, an HBM stack, a system or model weights under a ruleset.

Pure: takes the item and a compiled :class:`~tiergate.rules.ruleset.Ruleset`, reads nothing else.
Unknown figures (no die area, no throughput) never make an item look less controlled: the rule
that cannot be ruled out is applied and the result is marked ``provisional``.
"""

from __future__ import annotations

from tiergate.catalog.model import Chip, Equipment
from tiergate.classify import metrics
from tiergate.classify.metrics import fmt
from tiergate.classify.model import Classification, Item, ModelWeights, System
from tiergate.errors import InputError
from tiergate.rules.ruleset import ClassificationRule, Condition, Ruleset, compare

__all__ = ["Classification", "Item", "ModelWeights", "System", "classify", "classify_chip"]


def _check(condition: Condition, facts: dict[str, object]) -> bool | None:
    """True, False, or None when the fact is unknown."""
    fact = facts.get(condition.metric)
    if fact is None:
        return None
    if condition.op == "in":
        assert isinstance(condition.value, frozenset)
        return fact in condition.value
    if isinstance(condition.value, bool):
        return (fact == condition.value) if condition.op == "==" else (fact != condition.value)
    assert isinstance(fact, (int, float)) and isinstance(condition.value, float)
    return compare(float(fact), condition.op, condition.value)


def _shown(fact: object) -> str:
    if isinstance(fact, bool):
        return str(fact).lower()
    if isinstance(fact, (int, float)):
        return fmt(float(fact))
    return "unknown" if fact is None else str(fact)


def _evaluate(rule: ClassificationRule, facts: dict[str, object]) -> tuple[bool | None, str]:
    results = [(cond, _check(cond, facts)) for cond in rule.when]
    failed = [c for c, r in results if r is False]
    if failed:
        c = failed[0]
        return False, f"{c.text} fails ({c.metric} is {_shown(facts.get(c.metric))})"
    unknown = [c for c, r in results if r is None]
    held = "; ".join(
        f"{c.metric} {_shown(facts.get(c.metric))} {c.op} {c.text.split(c.op, 1)[1].strip()}" for c, r in results if r
    )
    if unknown:
        return None, f"{', '.join(c.metric for c in unknown)} unknown{'; ' + held if held else ''}"
    return True, held


def _apply_rules(
    kind: str, facts: dict[str, object], rules: Ruleset
) -> tuple[str, str | None, bool, list[str], list[str], list[str]]:
    """ECCN, paragraph, provisional flag, rule ids, explanation lines and recalled notes."""
    candidates = [r for r in rules.classification if r.applies_to == kind and r.effect == "classify"]
    exclusions = [r for r in rules.classification if r.applies_to == kind and r.effect == "exclude"]
    lines: list[str] = []
    misses: list[str] = []
    fired: list[str] = []
    recalled: list[str] = []
    provisional = False
    for rule in candidates:
        outcome, why = _evaluate(rule, facts)
        if outcome is False:
            misses.append(f"{rule.paragraph}: {why}")
            continue
        assert rule.eccn is not None
        excluded = False
        for ex in exclusions:
            if rule.eccn not in ex.excludes:
                continue
            ex_outcome, ex_why = _evaluate(ex, facts)
            if ex_outcome:
                lines.append(
                    f"Meets {rule.paragraph} ({why}) but {ex.provenance.summary} ({ex_why}) "
                    f"[{ex.provenance.rule_id}; {ex.provenance.citation}]."
                )
                fired.append(ex.provenance.rule_id)
                if ex.provenance.recalled:
                    recalled.append(f"{ex.provenance.rule_id}: {ex.provenance.citation}")
                excluded = True
                break
            if ex_outcome is None:
                provisional = True
                lines.append(
                    f"{ex.provenance.rule_id} might take the item out of {rule.eccn} but cannot be applied "
                    f"({ex_why}); not applied."
                )
        if excluded:
            misses.clear()
            continue
        fired.append(rule.provenance.rule_id)
        if rule.provenance.recalled:
            recalled.append(f"{rule.provenance.rule_id}: {rule.provenance.citation} (threshold recalled)")
        if outcome is None:
            provisional = True
            lines.append(
                f"ECCN {rule.eccn} (provisional): {rule.paragraph} cannot be ruled out ({why}), so the more "
                f"restrictive reading is taken; supply the missing figure to settle it "
                f"[{rule.provenance.rule_id}; {rule.provenance.citation}]."
            )
        else:
            lines.append(
                f"ECCN {rule.eccn}: meets {rule.paragraph} ({why}) "
                f"[{rule.provenance.rule_id}; {rule.provenance.citation}]."
            )
        return rule.eccn, rule.paragraph, provisional, fired, lines, recalled
    if candidates:
        lines.append("Not controlled by the advanced-computing ECCNs of this regime: " + "; ".join(misses) + ".")
    else:
        lines.append(
            f"Regime {rules.regime} has no classification rule for {kind.replace('_', ' ')}; not controlled by it."
        )
    return "not_controlled", None, provisional, fired, lines, recalled


def classify_chip(chip: Chip, rules: Ruleset) -> Classification:
    # By identity first (catalogue chips are shared objects; hashing a chip costs microseconds); the
    # entry keeps the chip itself, so a reused id of a dead object can never match.
    by_id = rules.memo.get(("chip-id", id(chip)))
    if isinstance(by_id, tuple) and by_id[0] is chip:
        result: Classification = by_id[1]
        return result
    key = ("chip", chip)
    cached = rules.memo.get(key)
    if isinstance(cached, Classification):
        rules.memo[("chip-id", id(chip))] = (chip, cached)
        return cached
    tpp = metrics.tpp(chip, rules.bit_lengths)
    area = metrics.applicable_area(chip)
    density = metrics.performance_density(tpp.value, area)
    bandwidth = metrics.memory_bandwidth_density(chip)
    kind = "hbm" if chip.kind == "hbm" else "chip"
    lines = [tpp.working + "." if kind == "chip" else "HBM stack: classified by memory-bandwidth density."]
    if kind == "chip":
        lines.append(density.working[0].upper() + density.working[1:] + ".")
    else:
        lines.append(bandwidth.working[0].upper() + bandwidth.working[1:] + ".")
    if chip.datacenter is None and kind == "chip":
        lines.append(
            "Not stated whether the chip is designed or marketed for data centres; treated as a data-centre part."
        )
    facts: dict[str, object] = {
        "tpp": tpp.value,
        "performance_density": density.value,
        "memory_bandwidth_density": bandwidth.value,
        "datacenter": chip.datacenter,
    }
    eccn, paragraph, provisional, fired, rule_lines, recalled = _apply_rules(kind, facts, rules)
    lines.extend(rule_lines)
    if chip.recalled:
        recalled.append(f"catalogue {chip.id}: {', '.join(chip.recalled)} recalled or back-derived")
    if (
        chip.id
        and chip.reported_tpp is not None
        and tpp.value is not None
        and abs(chip.reported_tpp - tpp.value) > 0.01 * tpp.value
    ):
        lines.append(
            f"Published TPP {fmt(chip.reported_tpp)} ({chip.reported_tpp_source}) differs from the computed "
            f"{fmt(tpp.value)}; the computed figure is used (see the catalogue notes)."
        )
    result = Classification(
        kind=kind,
        name=chip.label,
        eccn=eccn,
        paragraph=paragraph,
        tpp=tpp.value,
        performance_density=density.value,
        memory_bandwidth_density=bandwidth.value,
        chip_tpp=tpp.value,
        datacenter=True if chip.datacenter is None else chip.datacenter,
        chip_id=chip.id,
        designer_country=chip.designer_country,
        memory_bandwidth_gbps=chip.memory_bandwidth_gbps,
        affixed_to_logic=chip.affixed_to_logic,
        chips_per_system=None,
        training_ops=None,
        provisional=provisional,
        rules=tuple(fired),
        explanation=tuple(lines),
        recalled=tuple(recalled),
    )
    rules.memo[key] = result
    rules.memo[("chip-id", id(chip))] = (chip, result)
    return result


def _classify_system(system: System, rules: Ruleset) -> Classification:
    chip = classify_chip(system.chip, rules)
    facts: dict[str, object] = {
        "chip_eccn": chip.eccn,
        "tpp": None if chip.tpp is None else chip.tpp * system.chips_per_system,
    }
    eccn, paragraph, provisional, fired, rule_lines, recalled = _apply_rules("system", facts, rules)
    total = None if chip.tpp is None else chip.tpp * system.chips_per_system
    lines = [
        f"System holding {system.chips_per_system} x {chip.name}, each ECCN {chip.eccn}.",
        *chip.explanation,
        f"System TPP = {system.chips_per_system} x {fmt(chip.tpp) if chip.tpp is not None else 'unknown'} = "
        f"{fmt(total) if total is not None else 'unknown'}.",
        *rule_lines,
    ]
    return Classification(
        kind="system",
        name=system.name,
        eccn=eccn,
        paragraph=paragraph,
        tpp=total,
        performance_density=chip.performance_density,
        memory_bandwidth_density=chip.memory_bandwidth_density,
        chip_tpp=chip.tpp,
        datacenter=chip.datacenter,
        chip_id=chip.chip_id,
        designer_country=chip.designer_country,
        memory_bandwidth_gbps=chip.memory_bandwidth_gbps,
        affixed_to_logic=False,
        chips_per_system=system.chips_per_system,
        training_ops=None,
        provisional=provisional or chip.provisional,
        rules=tuple(dict.fromkeys((*chip.rules, *fired))),
        explanation=tuple(lines),
        recalled=tuple(dict.fromkeys((*chip.recalled, *recalled))),
    )


def _classify_weights(weights: ModelWeights, rules: Ruleset) -> Classification:
    facts: dict[str, object] = {"training_ops": weights.training_ops, "open_weights": weights.open_weights}
    eccn, paragraph, provisional, fired, rule_lines, recalled = _apply_rules("model_weights", facts, rules)
    lines = [
        f"Model weights {weights.name!r}: trained with {weights.training_ops:.3g} operations, "
        f"{'published (open weights)' if weights.open_weights else 'not published (closed weights)'}.",
        *rule_lines,
    ]
    return Classification(
        kind="model_weights",
        name=weights.name,
        eccn=eccn,
        paragraph=paragraph,
        tpp=None,
        performance_density=None,
        memory_bandwidth_density=None,
        chip_tpp=None,
        datacenter=None,
        chip_id=None,
        designer_country=None,
        memory_bandwidth_gbps=None,
        affixed_to_logic=False,
        chips_per_system=None,
        training_ops=weights.training_ops,
        provisional=provisional,
        rules=tuple(fired),
        explanation=tuple(lines),
        recalled=tuple(recalled),
    )


def classify(item: Item, rules: Ruleset) -> Classification:
    """The classification of one item (one unit of it) under ``rules``."""
    if isinstance(item, Equipment):
        raise InputError(
            f"{item.label} is equipment: the advanced-computing classification does not apply to it",
            hint="decide transactions with equipment through tiergate.determine (every jurisdiction's packs)",
        )
    if isinstance(item, Chip):
        return classify_chip(item, rules)
    key = ("item", item)
    cached = rules.memo.get(key)
    if isinstance(cached, Classification):
        return cached
    result = _classify_system(item, rules) if isinstance(item, System) else _classify_weights(item, rules)
    rules.memo[key] = result
    return result
