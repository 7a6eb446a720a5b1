"""One jurisdiction's answer from its alliance packs: control entries, general authorisations, catch-all
rules on listed consignees, and shared denials.

Pure: the compiled law (:class:`~tiergate.rules.allied.AlliedRules`), the item facts, the listings and
the denial notices are passed in. For each item, in this order:

1. the control entries that catch it for this destination (a licence, a review where the entry's scope
   could not be read or a parameter is unknown, or a prohibition);
2. the first general authorisation that covers every entry that caught it and the destination, unless a
   live denial of an essentially identical transaction withdraws it; one whose terms are recalled is a
   review ("it may cover the export"), never an authorisation;
3. a catch-all rule on a list the consignee is on (a licence or a prohibition), which no general
   authorisation cancels.

A "review" is reported as ``license_required`` with ``indeterminate`` set: fail closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from tiergate.decide.model import OUTCOMES, POLICIES, DenialNotice, JurisdictionItem, Listing, Transaction
from tiergate.rules.allied import AlliedRules, AlliedSelector, Control, ParamTest
from tiergate.rules.ruleset import GroupTest, compare

Memberships = Callable[[str], frozenset[str]]


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What the packs test about one item of a transaction."""

    index: int
    kind: str
    """``chip``, ``hbm``, ``system``, ``model_weights`` or ``equipment``."""
    name: str
    catalogue_id: str | None
    category: str | None
    us_eccn: str | None
    """A tool's US ECCN, or a chip's US classification (``not_controlled`` below every threshold); ``None``:
    not established."""
    parameters: Mapping[str, float | bool]
    origin: str | None
    us_content_pct: float | None
    made_with_us_technology: bool | None
    origin_given: bool
    """The transaction stated an origin fact for the item."""
    quantity: int
    recalled: tuple[str, ...] = ()


def eccn_in(eccn: str, prefixes: Iterable[str]) -> bool:
    """``eccn`` is one of ``prefixes`` or below one of them at a dot (``3B001.c.1`` is under ``3B001.c``)."""
    return any(eccn == p or eccn.startswith(p + ".") for p in prefixes)


def _param(test: ParamTest, value: float | bool) -> bool:
    if isinstance(test.value, bool) or isinstance(value, bool):
        return (value == test.value) if test.op == "==" else (value != test.value) if test.op == "!=" else False
    return compare(float(value), test.op, float(test.value))


def selector_match(selector: AlliedSelector, f: ItemFacts) -> tuple[bool | None, str]:
    """True, False, or None when a fact it needs is unknown; with the reason in words."""
    if selector.kinds is not None and f.kind not in selector.kinds:
        return False, f"not a {'/'.join(sorted(selector.kinds))} item"
    if selector.catalogued is not None and (f.catalogue_id is not None) != selector.catalogued:
        return False, "judged by catalogue id" if f.catalogue_id else "for catalogue items only"
    if selector.equipment is not None and f.catalogue_id not in selector.equipment:
        return False, "not one of the catalogue items named"
    if selector.categories is not None and f.category not in selector.categories:
        return False, f"category {f.category or 'none'} is not {'/'.join(sorted(selector.categories))}"
    unknown: list[str] = []
    held: list[str] = []
    if selector.us_eccns is not None:
        if f.us_eccn is None:
            unknown.append("its US ECCN is not established")
        elif not eccn_in(f.us_eccn, selector.us_eccns):
            return False, f"US ECCN {f.us_eccn} is not under {', '.join(selector.us_eccns)}"
        elif eccn_in(f.us_eccn, selector.except_us_eccns):
            return (
                False,
                f"US ECCN {f.us_eccn} is under {', '.join(selector.except_us_eccns)}, which this entry leaves out",
            )
        else:
            held.append(f"US ECCN {f.us_eccn}")
    if selector.equipment is not None:
        held.append(f"catalogue item {f.catalogue_id}")
    elif selector.categories is not None:
        held.append(f"category {f.category}")
    for test in selector.when:
        value = f.parameters.get(test.param)
        if value is None:
            unknown.append(f"{test.param} is not given")
        elif not _param(test, value):
            return False, f"{test.text} fails ({test.param} is {_shown(value)})"
        else:
            held.append(f"{test.param} {_shown(value)} meets {test.text}")
    if unknown:
        return None, "; ".join(unknown)
    return True, "; ".join(held) or "the item is of this kind"


def _only_a_parameter_failed(selectors: Sequence[AlliedSelector], f: ItemFacts) -> bool:
    """Whether the item is of the kind a selector is about and only its parameter tests (``when``) fail."""
    return any(s.when and selector_match(replace(s, when=()), f)[0] is not False for s in selectors)


def _shown(value: float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def any_match(selectors: Sequence[AlliedSelector] | None, f: ItemFacts) -> tuple[bool | None, str]:
    if selectors is None:
        return True, "every item"
    unknown: tuple[bool | None, str] | None = None
    misses = []
    for selector in selectors:
        state, why = selector_match(selector, f)
        if state:
            return True, why
        if state is None and unknown is None:
            unknown = (None, why)
        misses.append(why)
    return unknown if unknown is not None else (False, "; ".join(misses))


# ---------------------------------------------------------------- denials


def item_keys(f: ItemFacts, entries: Iterable[str] = ()) -> frozenset[str]:
    """The item classes a denial notice may name for this item: its catalogue id, category, US ECCN and
    every shorter ECCN above it, and the control entries that caught it (with theirs)."""
    keys: set[str] = set()
    for value in (f.catalogue_id, f.category):
        if value:
            keys.add(value.lower())
    for code in (f.us_eccn, *entries):
        if code and code != "not_controlled":
            parts = code.split(".")
            keys.update(".".join(parts[:n]).lower() for n in range(1, len(parts) + 1))
    return frozenset(keys)


def _party(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def matching_denials(denials: Sequence[DenialNotice], txn: Transaction, keys: frozenset[str]) -> list[DenialNotice]:
    """The live denials of an essentially identical transaction: same item class, same end user, same
    destination, denied on or before the transaction date and not yet expired."""
    found = []
    consignee = txn.consignee
    for denial in denials:
        if denial.destination != txn.destination or not (denial.date <= txn.date <= denial.expires):
            continue
        if keys.isdisjoint(k.lower() for k in denial.control_keys):
            continue
        # The same end user by id, or by name: a caller's id that differs from the notice's never hides the
        # very name the notice denied.
        same_id = bool(denial.end_user_id) and denial.end_user_id == consignee.id
        if same_id or _party(denial.end_user) == _party(consignee.name):
            found.append(denial)
    return found


def denial_notice(denial: DenialNotice, deciding: str, eu_side: Callable[[str], bool]) -> str:
    """What a denial means for the jurisdiction ``deciding``: its own earlier answer, a consultation the law
    requires (between EU Member States), or a policy flag (an ally's denial)."""
    what = (
        f"an essentially identical transaction ({', '.join(denial.control_keys)} to {denial.end_user!r} in "
        f"{denial.destination}) was denied by {denial.jurisdiction} on {denial.date} (notice {denial.id}"
        f"{': ' + denial.reason if denial.reason else ''}; live until {denial.expires})"
    )
    if denial.jurisdiction == deciding:
        return f"Denied before by this authority: {what}; a new application is expected to meet the same answer."
    if eu_side(deciding) and eu_side(denial.jurisdiction):
        return (
            f"CONSULT_REQUIRED: {what}. Before granting, the authority must consult {denial.jurisdiction} "
            f"[Reg. (EU) 2021/821 Art. 16 (article number recalled); Reg. (EC) 428/2009 Art. 13]."
        )
    return (
        f"UNDERCUT_RISK: {what}. Granting it would undercut an ally's denial (a policy flag; no duty to consult "
        f"is encoded for this pair)."
    )


# ---------------------------------------------------------------- one jurisdiction


@dataclass(slots=True)
class ItemAnswer:
    """One item under one law, as it is worked out."""

    outcome: str = "no_license_required"
    authorization: str | None = None
    review_policy: str | None = None
    indeterminate: bool = False
    entry: str | None = None
    hook: str | None = None
    rules: list[str] = field(default_factory=list)
    caught_by_control: bool = False
    entries: list[str] = field(default_factory=list)

    def as_item(self, index: int) -> JurisdictionItem:
        return JurisdictionItem(
            index,
            self.outcome,
            self.authorization,
            self.review_policy,
            self.entry,
            self.hook,
            self.indeterminate,
            tuple(dict.fromkeys(self.rules)),
        )


@dataclass(slots=True)
class Findings:
    """What an evaluation adds to the decision besides the answers: explanation lines, recalled facts,
    conditions, notices."""

    lines: list[str] = field(default_factory=list)
    recalled: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _recall(findings: Findings, rule_id: str, citation: str, gap: str | None) -> None:
    findings.recalled.append(f"{rule_id}: {citation}" + (f" (gap: {gap})" if gap else ""))


def _passes(test: GroupTest | None, memberships: frozenset[str]) -> bool:
    return test is None or test.passes(memberships)


def evaluate_controls(
    rules: AlliedRules,
    f: ItemFacts,
    dest: frozenset[str],
    txn: Transaction,
    answer: ItemAnswer,
    out: Findings,
    tag: str,
) -> list[Control]:
    """Step 1 for one item: the control entries that catch it. Returns them (definite or not)."""
    caught: list[Control] = []
    misses: list[str] = []
    for control in rules.controls:
        state, why = any_match(control.items, f)
        p = control.provenance
        if state is False and p.recalled and _only_a_parameter_failed(control.items, f):
            # a "no" that rests on a recalled threshold is not a "no": fail closed
            state, why = None, f"{why}, but the threshold is recalled ({control.gap or 'not read'})"
        if state is False:
            continue
        if not _passes(control.destinations, dest):
            assert control.destinations is not None
            if state:
                misses.append(f"{control.entry} ({p.rule_id}) covers destinations {control.destinations.text}")
            continue
        if control.end_use is not None and txn.end_use not in control.end_use:
            continue
        caught.append(control)
        answer.rules.append(p.rule_id)
        answer.entries.append(control.entry)
        if p.recalled or control.result == "review":
            _recall(out, p.rule_id, p.citation, control.gap)
        gap = f" Not read: {control.gap}" if control.gap else ""
        if control.result == "prohibited" and state:
            answer.outcome, answer.authorization, answer.review_policy = "prohibited", None, None
            answer.indeterminate = False
            answer.entry = control.entry
            out.lines.append(
                f"{tag} Item {f.index}: prohibited by {control.entry}: {p.summary} [{p.rule_id}; {p.citation}]."
            )
            continue
        if answer.outcome == "prohibited":
            continue
        definite = state is True and control.result == "licence"
        if definite:
            answer.caught_by_control = True
            policy = control.review_policy
            if answer.outcome != "license_required" or answer.indeterminate:
                answer.entry = control.entry
                answer.review_policy = policy
            elif policy is not None:
                answer.review_policy = max((x for x in (answer.review_policy, policy) if x), key=POLICIES.index)
            answer.outcome, answer.authorization, answer.indeterminate = "license_required", "license", False
            out.lines.append(
                f"{tag} Item {f.index}: licence required under {control.entry} ({why}): {p.summary}{gap} "
                f"[{p.rule_id}; {p.citation}]."
            )
        else:
            if answer.outcome != "license_required":
                answer.outcome, answer.authorization, answer.indeterminate = "license_required", "license", True
                answer.entry = control.entry
            reason = why if state is None else f"its scope could not be read: {control.gap or 'see the entry'}"
            out.lines.append(
                f"{tag} Item {f.index}: review: {control.entry} may catch it ({reason}): {p.summary} Treated as "
                f"a licence requirement until confirmed [{p.rule_id}; {p.citation}]."
            )
    if not caught:
        out.lines.append(
            f"{tag} Item {f.index}: not controlled by the entries of this law that Tiergate encodes "
            f"(the packs encode the entries for AI compute and semiconductor-manufacturing equipment)"
            + (f"; {'; '.join(misses)}, not {txn.destination}." if misses else ".")
        )
    return caught


def offer_general_authorisation(
    rules: AlliedRules,
    f: ItemFacts,
    caught: Sequence[Control],
    dest: frozenset[str],
    txn: Transaction,
    answer: ItemAnswer,
    out: Findings,
    tag: str,
    denied: Sequence[DenialNotice],
) -> None:
    """Step 2 for one item: the first general authorisation that covers every entry that caught it."""
    if answer.outcome != "license_required" or not caught:
        return
    ids = {c.id for c in caught}
    unavailable = []
    for ga in rules.general_authorisations:
        if not all((ga.covers is None or c in ga.covers) and c not in ga.excludes for c in ids):
            continue
        p = ga.provenance
        if not ga.destinations.passes(dest):
            unavailable.append(f"{ga.symbol} (destination {txn.destination} is not {ga.destinations.text})")
            continue
        if denied:
            out.lines.append(
                f"{tag} Item {f.index}: {ga.symbol} is not offered: a live denial of an essentially identical "
                f"transaction ({', '.join(d.id for d in denied)}) withdraws general authorisations [{p.rule_id}]."
            )
            return
        if p.recalled:
            _recall(out, p.rule_id, p.citation, ga.gap)
            answer.indeterminate = True
            answer.rules.append(p.rule_id)
            out.lines.append(
                f"{tag} Item {f.index}: review: {ga.symbol} may cover it, but its terms were not read "
                f"({ga.gap or p.summary}) [{p.rule_id}; {p.citation}]."
            )
            return
        if answer.indeterminate:
            out.lines.append(
                f"{tag} Item {f.index}: if the entry applies, {ga.symbol} would cover it: {p.summary} "
                f"[{p.rule_id}; {p.citation}]."
            )
            return
        answer.outcome, answer.authorization, answer.review_policy = "authorized", ga.symbol, None
        answer.rules.append(p.rule_id)
        out.conditions.extend(f"{rules.code} {ga.symbol}: {text}" for text in ga.conditions)
        out.lines.append(
            f"{tag} Item {f.index}: authorised under {ga.symbol}: {p.summary} [{p.rule_id}; {p.citation}]."
        )
        return
    if unavailable:
        out.lines.append(f"{tag} Item {f.index}: not available: " + "; ".join(unavailable) + ".")


def apply_catch_all(
    rules: AlliedRules,
    f: ItemFacts,
    dest: frozenset[str],
    txn: Transaction,
    listings: Sequence[Listing],
    answer: ItemAnswer,
    out: Findings,
    tag: str,
) -> None:
    """Step 3 for one item: a catch-all rule on a list the consignee is on."""
    for rule in rules.catch_all:
        hits = [x for x in listings if x.list_code == rule.list_code]
        if not hits or not _passes(rule.destinations, dest):
            continue
        state, _why = any_match(rule.items, f)
        if state is False:
            continue
        p = rule.provenance
        for hit in hits:
            if hit.listed_on is not None and hit.listed_on > txn.date:
                out.lines.append(
                    f"{tag} Item {f.index}: the consignee matches {hit.list_code} entry {hit.entry} ({hit.name!r}), "
                    f"listed only from {hit.listed_on}: not in force on {txn.date}."
                )
                continue
            answer.rules.append(p.rule_id)
            if p.recalled:
                _recall(out, p.rule_id, p.citation, None)
            seen = "confirmed by an analyst" if hit.confirmed else "an open match (not yet confirmed or cleared)"
            unless = f" It does not apply if {rule.unless}." if rule.unless else ""
            out.lines.append(
                f"{tag} Item {f.index}: the consignee matches {hit.list_code} entry {hit.entry} ({hit.name!r}; "
                f"{seen}): {p.summary}{unless} [{p.rule_id}; {p.citation}]."
            )
            if rule.result == "prohibited":
                answer.outcome, answer.authorization, answer.review_policy = "prohibited", None, None
                answer.indeterminate = False
            elif answer.outcome != "prohibited":
                if answer.outcome != "license_required" or answer.indeterminate:
                    answer.review_policy = rule.review_policy
                answer.outcome, answer.authorization, answer.indeterminate = "license_required", "license", False
            break


def summarise(answers: Sequence[ItemAnswer]) -> tuple[str, str | None, str | None, bool]:
    """A jurisdiction's outcome, authorisation, review policy and indeterminacy from its items'."""
    if not answers:
        return "no_license_required", None, None, False
    final = max((a.outcome for a in answers), key=OUTCOMES.index)
    chosen = [a for a in answers if a.outcome == final]
    if final == "license_required" and any(not a.indeterminate for a in chosen):
        chosen = [a for a in chosen if not a.indeterminate]
    indeterminate = final == "license_required" and all(a.indeterminate for a in chosen)
    policies = [a.review_policy for a in chosen if a.review_policy]
    policy = max(policies, key=POLICIES.index) if final == "license_required" and policies else None
    return final, chosen[0].authorization, policy, indeterminate


def decide_item(
    rules: AlliedRules,
    f: ItemFacts,
    dest: frozenset[str],
    txn: Transaction,
    *,
    listings: Sequence[Listing],
    denials: Sequence[DenialNotice],
    out: Findings,
    tag: str,
    deciding: str,
    eu_side: Callable[[str], bool],
) -> ItemAnswer:
    """Steps 1-3 for one item under one law."""
    answer = ItemAnswer()
    caught = evaluate_controls(rules, f, dest, txn, answer, out, tag)
    denied = matching_denials(denials, txn, item_keys(f, answer.entries))
    for denial in denied:
        out.notices.append(f"Item {f.index}: " + denial_notice(denial, deciding, eu_side))
    offer_general_authorisation(rules, f, caught, dest, txn, answer, out, tag, denied)
    apply_catch_all(rules, f, dest, txn, listings, answer, out, tag)
    return answer


def advisories(rules: AlliedRules, facts: Sequence[ItemFacts], dest: frozenset[str]) -> list[str]:
    found = []
    for advisory in rules.advisories:
        if not _passes(advisory.destinations, dest):
            continue
        if advisory.items is not None and not any(any_match(advisory.items, f)[0] is not False for f in facts):
            continue
        found.append(f"{advisory.text} [{advisory.provenance.rule_id}]")
    return found


def in_force(listing: Listing, day: dt.date) -> bool:
    return listing.listed_on is None or listing.listed_on <= day
