"""The vault's policy, pure: what an artefact is, what a transfer request gets, which approvals count.

Nothing here reads a file, the clock or a database: the ruleset, the licence determination, the screening
result, the approver set and the moment are passed in.

The order of the answer to a transfer request:

1. **Tier 3 floor** (``vault/tier3-floor``): a controlled artefact (ECCN 4E091 as registered, or under the
   request's regime) to a destination in Country Group D:5 or Macau, or to a recipient headquartered there
   (or whose ultimate parent is), is ``denied``. The vault's own policy: no approval, quorum or regime
   changes it.
2. **Screening** (``vault/screening``): a match on a restricted-party list that no analyst cleared: ``denied``.
3. **Licence determination** (``tiergate.decide`` under the regime): ``prohibited`` is ``denied``;
   ``license_required`` stays ``license_required``, except for a Tier 2 destination at a UVEU data centre
   whose operator attests the storage conditions (``vault/uveu-attested-storage``); anything else is
   ``pending`` approval.
4. **Quorum** (``vault/k-of-n``): a pending transfer is ``eligible`` while K distinct approvers of the current
   set, none of them the requester, have approvals younger than the TTL; else ``pending``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tiergate.classify import classify
from tiergate.classify.metrics import fmt
from tiergate.classify.model import ModelWeights
from tiergate.decide.model import Decision
from tiergate.errors import PackError
from tiergate.rules.ruleset import Ruleset
from tiergate.vault.model import (
    CONTROLLED,
    Approval,
    ApproverSet,
    Artefact,
    Count,
    DataCentre,
    Determination,
    Request,
    ScreeningResult,
    Status,
)

POLICY_REGIME = "us-diffusion-2025"
"""The regime the vault classifies and decides under unless told otherwise: the one regime that defines ECCN
4E091. In the regimes in force since 2025-05-13 4E091 is carried as dormant (BIS non-enforcement; whether it is
still codified is unconfirmed), so under them no weights are controlled; the vault keeps the 4E091 definition
as its own policy and says so in every answer."""
FLOOR_GROUPS = ("d5-macau", "tier3")
"""Country groups of the packs that make up the Tier 3 floor (D:5 plus Macau; Hong Kong is treated as China)."""


@dataclass(frozen=True, slots=True)
class VaultRule:
    id: str
    summary: str
    citation: str
    status: str
    """``policy`` (the vault's own, stated), ``verified`` or ``recalled`` (a source not read here)."""
    source: str


VAULT_RULES = {
    rule.id: rule
    for rule in (
        VaultRule(
            "vault/tier3-floor",
            "No controlled (ECCN 4E091) artefact is released to a destination in Tier 3 (Country Group D:5 or "
            "Macau; Hong Kong is treated as China) or to a recipient headquartered there or whose ultimate parent "
            "is, whatever the regime in force and however many approvals arrive.",
            "Tiergate vault policy ('zero exports to Tier 3'); cf. the presumption of denial for D:5 and Macau, "
            "15 CFR 742.6(b)(10) (90 FR 4544)",
            "policy",
            "the project's seed ('treat frontier model weights like nuclear codes, with zero exports to Tier 3'); "
            "siftive summary of 2025-00636 for the presumption of denial",
        ),
        VaultRule(
            "vault/screening",
            "The recipient is screened against the restricted-party lists when the transfer is requested and "
            "again at release; a match that no analyst cleared denies the transfer.",
            "15 CFR 744.11 (Entity List); 31 CFR chapter V (SDN); 15 CFR 764.3 (Denied Persons)",
            "policy",
            "tiergate.screen (the list store loaded with `tiergate lists load`)",
        ),
        VaultRule(
            "vault/uveu-attested-storage",
            "A transfer to a Tier 2 destination that needs a licence is treated as eligible for approval only "
            "when it goes to a Universal Validated End User data centre whose operator attests a FedRAMP "
            "High-equivalent security baseline (NIST SP 800-53) and dedicated devices for model weights.",
            "15 CFR 748.15; Supp. No. 10 to part 748, item 8 'Model Weight Storage' (90 FR 4544)",
            "recalled",
            "The paragraph text of Supp. No. 10 item 8 was not read; the conditions are from SemiAnalysis (dedicated "
            "devices) and siftive (FedRAMP High-equivalent), both secondary. Confirm against federalregister.gov "
            "2025-00636 before relying on it.",
        ),
        VaultRule(
            "vault/k-of-n",
            "A transfer is eligible for release only while K distinct approvers of the current approver set, "
            "none of them the requester, hold approvals younger than the approval TTL.",
            "Tiergate vault policy; two-person control as in Anthropic ASL-3, the SL5 standard's Dual "
            "Authorization (AC) and HashiCorp Vault control groups",
            "policy",
            "research digest vault_verify_replay.md A3 (anthropic.com; standard.sl5.org; developer.hashicorp.com)",
        ),
        VaultRule(
            "vault/approver-rotation",
            "The approver set changes only with K distinct approvals from the current set (as TUF rotates its root "
            "keys); until then the current set stays in force.",
            "Tiergate vault policy; TUF root metadata (threshold of keyids)",
            "policy",
            "research digest vault_verify_replay.md A3 (TUF root schema)",
        ),
        VaultRule(
            "vault/shard-integrity",
            "Release recomputes the SHA-256 of every shard and the Merkle root over them; anything that does not "
            "match the registered root is refused (hash_mismatch).",
            "Tiergate vault policy; RFC 6962 section 2.1 (Merkle tree hash)",
            "policy",
            "C2SP merkle-tree.md; RFC 6962",
        ),
    )
}


def _r(rule_id: str) -> str:
    rule = VAULT_RULES[rule_id]
    return f"[{rule.id}; {rule.citation}]"


# ---------------------------------------------------------------- artefacts


def classify_artefact(
    name: str, own_ops: float, open_weights: bool, base: Artefact | None, ruleset: Ruleset
) -> tuple[str, tuple[str, ...], tuple[str, ...], float]:
    """ECCN, explanation, rule ids and cumulative training operations of an artefact under ``ruleset``.

    Training operations add up along ``base``: a fine-tune's weights embody every operation that went into
    its base ("any subsequent training, such as generative AI fine tuning, is included")."""
    if not math.isfinite(own_ops) or own_ops < 0:
        raise ValueError(f"training operations must be a finite number >= 0, not {own_ops!r}")
    lines: list[str] = []
    total = own_ops
    if base is not None:
        total = base.training_ops + own_ops
        lines.append(
            f"Training operations add up along the base: {fmt(own_ops)} for this stage + {fmt(base.training_ops)} "
            f"of base {base.id!r} = {fmt(total)} (fine-tuning counts toward ECCN 4E091's total; WilmerHale on "
            f"90 FR 4544)."
        )
        if base.open_weights and not open_weights:
            lines.append(
                f"The base {base.id!r} is published, but these weights are not: the open-weight exclusion is "
                f"judged on these weights."
            )
    else:
        lines.append(f"Training operations: {fmt(own_ops)} (no base artefact).")
    result = classify(ModelWeights(name, total, open_weights), ruleset)
    lines.extend(result.explanation)
    for notice in ruleset.notices:
        if notice.items and any(sel.kinds and "model_weights" in sel.kinds for sel in notice.items):
            lines.append(f"Note: {notice.text} [{notice.provenance.rule_id}]")
    if result.recalled:
        lines.append("Relies on recalled (unverified) facts: " + "; ".join(result.recalled) + ".")
    return result.eccn, tuple(lines), result.rules, total


# ---------------------------------------------------------------- the Tier 3 floor


def floor_groups(ruleset: Ruleset) -> tuple[str, ...]:
    """The groups of ``ruleset`` that make up Tier 3; a regime without them cannot apply the floor (refused)."""
    found = tuple(g for g in FLOOR_GROUPS if g in ruleset.groups)
    if not found:
        raise PackError(
            f"regime {ruleset.regime} defines neither of the country groups {', '.join(FLOOR_GROUPS)}: the vault's "
            "Tier 3 floor cannot be applied under it",
            hint="choose a regime whose packs define D:5 and Macau (every packaged regime does)",
        )
    return found


def tier3_places(
    ruleset: Ruleset, day: dt.date, *, destination: str, headquarters: str, parent: str | None
) -> list[str]:
    """Which of the destination, the recipient's headquarters and its ultimate parent's are in Tier 3."""
    groups = floor_groups(ruleset)
    found = []
    for role, code in (("destination", destination), ("headquarters", headquarters), ("ultimate parent", parent)):
        if code is None:
            continue
        member = ruleset.memberships(code, day)
        if any(g in member for g in groups):
            treated = ruleset.treated_as.get(code)
            as_ = f" (treated as {treated[0]})" if treated else ""
            found.append(f"{role} {code}{as_}")
    return found


# ---------------------------------------------------------------- transfer requests


def policy_eccn(artefact: Artefact, policy_ruleset: Ruleset | None) -> str:
    """The artefact's ECCN under the vault's own definition of a controlled artefact (ECCN 4E091 of
    ``POLICY_REGIME``: closed weights trained with 10^26 operations or more, fine-tunes counted), whatever regime
    it was registered or is requested under. Without that regime in the rulebook, the definition's own figure
    (10^26 operations, closed weights) stands in for it."""
    if policy_ruleset is None:
        return CONTROLLED if not artefact.open_weights and artefact.training_ops >= 1e26 else "not_controlled"
    return classify(ModelWeights(artefact.name, artefact.training_ops, artefact.open_weights), policy_ruleset).eccn


def determine(
    artefact: Artefact,
    *,
    ruleset: Ruleset,
    day: dt.date,
    destination: str,
    headquarters: str,
    parent: str | None,
    decision: Decision,
    screening: ScreeningResult,
    data_centre: DataCentre | None,
    selection: str,
    by_policy: str | None = None,
) -> Determination:
    """The answer to a new transfer request: ``denied``, ``license_required`` or ``pending`` (approval).

    ``by_policy``: the artefact's ECCN under the vault's own definition (:func:`policy_eccn`); the Tier 3 floor
    holds for an artefact controlled under it, as registered or under the request's regime."""
    rules: list[str] = []
    controlled_here = any(item.eccn == CONTROLLED for item in decision.items)
    controlled_by_policy = by_policy == CONTROLLED
    controlled = artefact.controlled or controlled_here or controlled_by_policy
    why = [
        f"Artefact {artefact.id!r} ({artefact.name}): ECCN {artefact.eccn} as registered under {artefact.regime} "
        f"({fmt(artefact.training_ops)} training operations, "
        f"{'published' if artefact.open_weights else 'closed'} weights).",
        selection,
    ]
    if controlled_here and not artefact.controlled:
        why.append(f"ECCN 4E091 under {ruleset.regime}, though not as registered: treated as controlled.")
    elif controlled_by_policy and not (artefact.controlled or controlled_here):
        why.append(
            f"ECCN 4E091 under the vault's own definition ({POLICY_REGIME}: closed weights trained with 10^26 "
            f"operations or more, fine-tunes counted), though not as registered under {artefact.regime} nor under "
            f"{ruleset.regime}: controlled for the Tier 3 floor, whatever the regime chosen."
        )

    places = tier3_places(ruleset, day, destination=destination, headquarters=headquarters, parent=parent)
    if controlled:
        if places:
            rules.append("vault/tier3-floor")
            why.append(
                f"Denied: {VAULT_RULES['vault/tier3-floor'].summary} Here: {', '.join(places)} "
                f"{_r('vault/tier3-floor')}."
            )
            return Determination("denied", "tier3_floor", tuple(why), tuple(rules))
        why.append(
            "Tier 3 floor: neither the destination nor the recipient's headquarters (nor its parent's) is in "
            f"Tier 3 {_r('vault/tier3-floor')}."
        )
    elif places:
        why.append(
            f"Tier 3 floor not applied: the artefact is not controlled (ECCN {artefact.eccn}), though "
            f"{', '.join(places)} is in Tier 3."
        )

    rules.append("vault/screening")
    if screening.blocking:
        hits = "; ".join(
            f"{h.get('list')} entry {h.get('entry')} {h.get('name')!r} (score {h.get('score')}, {h.get('status')})"
            for h in screening.blocking
        )
        why.append(
            f"Denied: the recipient matches a restricted-party list: {hits}; lists {screening.data_version} "
            f"{_r('vault/screening')}. If an analyst clears the match as a false positive "
            "(`tiergate screen decide`), request again."
        )
        return Determination("denied", "screening_hit", tuple(why), tuple(rules))
    why.append(
        f"Screening: no uncleared match for the recipient in {screening.screened} list entries (lists "
        f"{screening.data_version}) {_r('vault/screening')}."
    )

    outcome = decision.outcome
    summary = (
        f"Licence determination under {decision.regime}: {outcome.replace('_', ' ')}"
        + (f" ({decision.authorization})" if decision.authorization and outcome == "authorized" else "")
        + (f", review policy {decision.review_policy.replace('_', ' ')}" if decision.review_policy else "")
        + f" [{', '.join(decision.rules)}]."
    )
    why.append(summary)
    rules.extend(decision.rules)
    if outcome == "prohibited":
        why.append("Denied: the transfer is prohibited.")
        return Determination("denied", "prohibited", tuple(why), tuple(dict.fromkeys(rules)))
    if outcome == "license_required":
        tier2 = "tier2" in ruleset.groups and "tier2" in ruleset.memberships(destination, day)
        path = _uveu_path(data_centre, tier2, destination)
        if path is None:
            rules.append("vault/uveu-attested-storage")
            rule = VAULT_RULES["vault/uveu-attested-storage"]
            why.append(
                f"Eligible for approval without a licence: data centre {data_centre.id if data_centre else ''!r} "
                f"in {destination} is a UVEU location whose operator attests a FedRAMP High-equivalent baseline "
                f"and dedicated devices {_r(rule.id)}. This rule rests on recalled sources: {rule.source}"
            )
        else:
            why.append(f"A licence is required: {path}. The vault releases nothing that needs a licence it cannot see.")
            if tier2:
                rules.append("vault/uveu-attested-storage")
            return Determination("license_required", "license_required", tuple(why), tuple(dict.fromkeys(rules)))
    rules.append("vault/k-of-n")
    why.append(f"Pending: {VAULT_RULES['vault/k-of-n'].summary} {_r('vault/k-of-n')}")
    return Determination("pending", "awaiting_approvals", tuple(why), tuple(dict.fromkeys(rules)))


def _uveu_path(data_centre: DataCentre | None, tier2: bool, destination: str) -> str | None:
    """None when a UVEU data centre with the attestation opens the way; else what is missing."""
    if not tier2:
        return "the destination is not a Tier 2 destination, where the vault's UVEU storage path applies"
    if data_centre is None:
        return (
            f"{destination} is a Tier 2 destination and no data centre was named (--data-centre) whose UVEU status "
            "and storage attestation could stand in for a licence"
        )
    missing = []
    if data_centre.veu != "UVEU":
        missing.append(
            f"it is {'an ' + data_centre.veu if data_centre.veu else 'not a'} Data Center VEU location, not a UVEU"
        )
    if not data_centre.fedramp_high_equivalent:
        missing.append("its operator does not attest a FedRAMP High-equivalent baseline")
    if not data_centre.dedicated_devices:
        missing.append("its operator does not attest dedicated devices for model weights")
    if missing:
        return f"data centre {data_centre.id!r} does not meet the storage conditions: {'; '.join(missing)}"
    return None


# ---------------------------------------------------------------- approvals


def same_identity(a: str, b: str | None) -> bool:
    return b is not None and a.strip().casefold() == b.strip().casefold()


def count_approvals(
    approvals: Iterable[Approval], approver_set: ApproverSet, now: dt.datetime, *, requester: str | None
) -> Count:
    """The approvals that count at ``now``: one per approver of the current set, never the requester's
    (``requester`` None: a rotation, whose proposer may approve), younger than the set's approval TTL."""
    members = {name.casefold() for name in approver_set.approvers}
    valid: list[Approval] = []
    ignored: list[tuple[Approval, str]] = []
    seen: set[str] = set()
    for approval in sorted(approvals, key=lambda a: (a.at, a.approver)):
        who = approval.approver.strip().casefold()
        if who not in members:
            ignored.append((approval, "not_in_approver_set"))
        elif requester is not None and same_identity(approval.approver, requester):
            ignored.append((approval, "requester_cannot_approve"))
        elif approval.at > now:
            ignored.append((approval, "dated_after_now"))
        elif now - approval.at >= approver_set.approval_ttl:
            ignored.append((approval, "approval_expired"))
        elif who in seen:
            ignored.append((approval, "already_approved"))
        else:
            seen.add(who)
            valid.append(approval)
    return Count(tuple(valid), tuple(ignored), approver_set.threshold)


def _count_line(count: Count, approver_set: ApproverSet) -> str:
    text = f"{len(count.valid)} of {count.threshold} approvals needed from {', '.join(approver_set.approvers)}"
    if count.valid:
        text += f" (counted: {', '.join(count.approvers)})"
    if count.ignored:
        text += "; not counted: " + ", ".join(f"{a.approver} ({why})" for a, why in count.ignored)
    return text


def transfer_status(
    request: Request, approvals: Sequence[Approval], approver_set: ApproverSet, now: dt.datetime
) -> Status:
    """A transfer request's status at ``now`` under the approver set in force."""
    if request.final_status is not None:
        return Status(request.final_status, request.final_reason or request.final_status, None, ())
    if request.outcome != "pending":
        return Status(request.outcome, request.reason, None, ())
    count = count_approvals(approvals, approver_set, now, requester=request.requester)
    line = _count_line(count, approver_set)
    if now >= request.expires_at:
        return Status(
            "expired", "request_expired", count, (f"The request expired at {request.expires_at.isoformat()}.",)
        )
    if count.met:
        return Status("eligible", "quorum_met", count, (f"Eligible: {line} {_r('vault/k-of-n')}.",))
    return Status("pending", "awaiting_approvals", count, (f"Pending: {line} {_r('vault/k-of-n')}.",))


def rotation_status(
    request: Request, approvals: Sequence[Approval], approver_set: ApproverSet, now: dt.datetime
) -> Status:
    """A proposed change of the approver set at ``now``: ``applied`` once K of the set it was proposed to have
    approved; ``superseded`` when another change came first."""
    if request.final_status is not None:
        return Status(request.final_status, request.final_reason or request.final_status, None, ())
    if request.set_version != approver_set.version:
        return Status(
            "superseded",
            "approver_set_changed",
            None,
            (f"Proposed to approver set {request.set_version}; set {approver_set.version} is in force now.",),
        )
    count = count_approvals(approvals, approver_set, now, requester=None)
    line = _count_line(count, approver_set)
    if now >= request.expires_at:
        return Status(
            "expired", "request_expired", count, (f"The proposal expired at {request.expires_at.isoformat()}.",)
        )
    return Status("pending", "awaiting_approvals", count, (f"Pending: {line} {_r('vault/approver-rotation')}.",))


def status_of(request: Request, approvals: Sequence[Approval], approver_set: ApproverSet, now: dt.datetime) -> Status:
    if request.kind == "rotation":
        return rotation_status(request, approvals, approver_set, now)
    return transfer_status(request, approvals, approver_set, now)
