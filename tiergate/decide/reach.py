"""Whether, and how, US law reaches an item of a transaction that is not an export from the United States.

Pure. The hooks, in order (the first that reaches names the hook in the decision):

0. a prohibition of the US regime that reaches dealings in the item anywhere, by US and non-US persons
   (General Prohibition 10 for PRC-developed 3A090 chips): it reaches the item whatever its origin, and an
   import into the United States or a sale there too;
1. shipped into the United States: no US export licence is needed for an import;
2. an export from the United States: the EAR applies to everything there;
3. a chip with no origin fact: treated, as before this pack existed, as subject to the EAR;
4. a US-origin item (``origin: US``): re-export or transfer of a US-origin item;
5. the foreign-direct-product rules (734.9(h) advanced computing, 734.9(k) SME): the item's class, the
   destination or the consignee's headquarters, and the product scope (``made_with_us_technology``);
   excluded when shipped from a country listed with equivalent controls, or whose own law controls it;
6. the no-de-minimis rules (734.4(a)(3), (a)(8)): any US-origin content, for the named items and
   destinations;
7. de minimis: US-origin content above 25 % (10 % for E:1/E:2).

A fact that a hook needs and the transaction does not give (``made_with_us_technology``,
``us_content_pct``, a tool's US ECCN, the ``end_use`` a hook is limited to) makes the reach
*indeterminate*: the US answer is then a review unless the US controls would not require a licence anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tiergate.decide.allied import ItemFacts, Memberships, any_match
from tiergate.decide.model import Transaction
from tiergate.rules.allied import AlliedRules, ReachHook
from tiergate.rules.ruleset import Provenance


@dataclass(slots=True)
class Reach:
    state: str = "not_reached"
    """``reached``, ``not_reached`` or ``indeterminate``."""
    hook: str | None = None
    rules: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    recalled: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _in_scope(hook: ReachHook, txn: Transaction, member: Memberships) -> str | None:
    """Why the hook's destinations or headquarters reach this transaction, or None."""
    if hook.worldwide:
        return "any destination"
    dest = member(txn.destination)
    if hook.destinations is not None and hook.destinations.passes(dest):
        return f"destination {txn.destination} is {hook.destinations.text}"
    if hook.headquarters is not None:
        c = txn.consignee
        for label, code in (("headquarters", c.headquarters), ("ultimate parent", c.parent_headquarters)):
            if code and hook.headquarters.passes(member(code)):
                return f"the consignee's {label} {code} is {hook.headquarters.text}"
    return None


def _excluded(hook: ReachHook, txn: Transaction, member: Memberships, exporter_controls: bool) -> str | None:
    if hook.excluded_if_exported_from is not None and hook.excluded_if_exported_from.passes(member(txn.export_from)):
        return f"exported from {txn.export_from}, which is {hook.excluded_if_exported_from.text}"
    if hook.excluded_if_exporter_controls and exporter_controls:
        return f"the law of {txn.export_from} (the exporting country) controls the item itself"
    return None


def _threshold(hook: ReachHook, txn: Transaction, member: Memberships) -> float:
    assert hook.threshold_pct is not None
    dest = member(txn.destination)
    for groups, lower in hook.lower_thresholds:
        if groups.passes(dest):
            return lower
    return hook.threshold_pct


def _hook(hook: ReachHook, f: ItemFacts, txn: Transaction, member: Memberships, controls: bool, found: Reach) -> None:
    """One hook for one item: adds to ``found`` whether it reaches, cannot be told, or does not."""
    p = hook.provenance
    tag = f"[US] Item {f.index}:"
    state, why = any_match(hook.items, f)
    if state is False:
        return
    if hook.hook == "de_minimis":
        if f.origin is None and not f.origin_given:
            return
        limit = _threshold(hook, txn, member)
        if f.us_content_pct is None:
            found.unknown.append(f"{hook.label}: the share of US-origin content is not given (us_content_pct)")
            return
        if f.us_content_pct > limit:
            found.rules.append(p.rule_id)
            found.lines.append(
                f"{tag} reached by {hook.label}: US-origin content {f.us_content_pct:g} % is above {limit:g} % "
                f"[{p.rule_id}; {p.citation}]."
            )
            found.hook = found.hook or hook.label
            found.state = "reached"
        else:
            found.lines.append(
                f"{tag} {hook.label} does not reach it: US-origin content {f.us_content_pct:g} % is not above "
                f"{limit:g} % [{p.rule_id}; {p.citation}]."
            )
        return
    if hook.notice:
        found.notices.append(f"{hook.notice} [{p.rule_id}]")
    scope = _in_scope(hook, txn, member)
    if scope is None:
        return
    exclusion = _excluded(hook, txn, member, controls)
    if exclusion is not None:
        found.lines.append(f"{tag} {hook.label} does not reach it: {exclusion} [{p.rule_id}; {p.citation}].")
        return
    if hook.end_use is not None and txn.end_use is not None and txn.end_use not in hook.end_use:
        return
    if hook.hook == "foreign_direct_product":
        scoped = f.made_with_us_technology
        fact = "made with US technology (the product scope)"
    else:
        scoped = None if f.us_content_pct is None else f.us_content_pct > 0
        fact = "holding US-origin content"
    if scoped is False:
        found.lines.append(f"{tag} {hook.label} does not reach it: the item is not {fact}.")
        return
    missing: list[str] = []
    if hook.end_use is not None and txn.end_use is None:  # not stated is not "another end use": fail closed
        missing.append(f"whether the end use is {' or '.join(sorted(hook.end_use))} is not given (end_use)")
    if state is None:
        missing.append(why)
    if scoped is None:
        given = "made_with_us_technology" if hook.hook == "foreign_direct_product" else "us_content_pct"
        missing.append(f"whether the item is {fact} is not given ({given})")
    if missing:
        found.unknown.append(f"{hook.label} ({scope}): " + "; ".join(missing))
        return
    if p.recalled:
        found.recalled.append(f"{p.rule_id}: {p.citation}" + (f" (gap: {hook.gap})" if hook.gap else ""))
    found.rules.append(p.rule_id)
    found.hook = found.hook or hook.label
    found.state = "reached"
    found.lines.append(f"{tag} reached by {hook.label}: {scope}; {fact}: {p.summary} [{p.rule_id}; {p.citation}].")


def us_reach(
    f: ItemFacts,
    txn: Transaction,
    rules: AlliedRules | None,
    member: Memberships,
    *,
    exporter_controls: bool,
    prohibition: Provenance | None = None,
) -> Reach:
    """How US law reaches item ``f`` of ``txn`` (``rules``: the US reach stack in force, if any;
    ``prohibition``: a prohibition of the US regime that reaches dealings in the item anywhere)."""
    found = Reach()
    tag = f"[US] Item {f.index}:"
    if prohibition is not None:
        found.state = "reached"
        found.hook = f"a prohibition that reaches dealings anywhere ({prohibition.citation})"
        found.rules.append(prohibition.rule_id)
        found.lines.append(
            f"{tag} reached whatever its origin and wherever it is dealt in, an import into or a sale inside the "
            f"United States included: {prohibition.summary} [{prohibition.rule_id}; {prohibition.citation}]."
        )
        return found
    if txn.destination == "US" and txn.export_from == "US" and f.kind != "equipment":
        found.state, found.hook = "reached", "a dealing inside the United States (not an export)"
        return found  # the US regime answers it, as it answers a US-only transaction
    if txn.destination == "US":
        found.lines.append(f"{tag} shipped into the United States: no US export licence is needed for an import.")
        return found
    if txn.export_from == "US":
        found.state, found.hook = "reached", "export from the United States"
        return found
    if not f.origin_given and f.kind != "equipment":
        found.state, found.hook = "reached", "origin not stated: treated as subject to the EAR"
        found.lines.append(
            f"{tag} no origin is stated for it: treated as subject to the EAR, as a US-origin item would be "
            f"(give origin, us_content_pct and made_with_us_technology to apply the direct-product and de "
            f"minimis rules)."
        )
        return found
    if rules is None:
        found.state = "indeterminate"
        found.unknown.append(f"no pack of US reach rules is in force on {txn.date}")
    else:
        hooks: Sequence[ReachHook] = rules.reach
        origin_hook = next((h for h in hooks if h.hook == "origin"), None)
        if f.origin == "US" and origin_hook is not None:
            p = origin_hook.provenance
            found.state, found.hook = "reached", origin_hook.label
            found.rules.append(p.rule_id)
            found.lines.append(f"{tag} reached as a {origin_hook.label}: {p.summary} [{p.rule_id}; {p.citation}].")
            return found
        if f.origin is None:
            found.unknown.append("the item's country of origin is not given (origin)")
        for hook in hooks:
            if hook.hook != "origin":
                _hook(hook, f, txn, member, exporter_controls, found)
        direct = [h for h in hooks if h.hook in ("foreign_direct_product", "no_de_minimis")]
        if (
            f.kind == "model_weights"
            and f.us_eccn not in (None, "not_controlled")
            and not any(any_match(h.items, f)[0] is not False for h in direct)
        ):
            found.unknown.append(
                f"the US regime controls these weights ({f.us_eccn}), and no direct-product rule for foreign-produced "
                f"model weights is encoded (none is in the research digest): whether US law reaches weights trained "
                f"outside the United States cannot be told"
            )
    if found.state != "reached":
        if found.unknown:
            found.state = "indeterminate"
            found.lines.append(f"{tag} whether US law reaches it cannot be told: " + "; ".join(found.unknown) + ".")
        else:
            found.lines.append(f"{tag} no US hook reaches it (made in {f.origin or 'an unstated country'}).")
    return found
