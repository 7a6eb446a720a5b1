"""The vault's records as plain frozen dataclasses: artefacts and their shards, data centres, approver sets,
requests (transfers and approver-set rotations), approvals, and the policy's answers.

Times are timezone-aware UTC datetimes; durations are :class:`datetime.timedelta`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("denied", "license_required", "pending", "eligible", "released", "expired")
"""The statuses of a transfer request. ``denied`` and ``license_required`` are answers given when the request
is made (or, for ``denied``, when screening at release finds the recipient listed) and never change;
``pending`` and ``eligible`` depend on the approvals valid at the moment asked; ``released`` and ``expired``
are final."""
ROTATION_STATUSES = ("pending", "applied", "expired", "superseded")
"""The statuses of a change of the approver set."""
KINDS = ("transfer", "rotation")
CONTROLLED = "4E091"
NOT_CONTROLLED = "not_controlled"


@dataclass(frozen=True, slots=True)
class Shard:
    sha256: str
    """Lower-case hex SHA-256 of the shard file's bytes."""
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True, slots=True)
class Artefact:
    id: str
    name: str
    own_ops: float
    """The training operations of this artefact's own stage (pre-training, or the fine-tune on its base)."""
    training_ops: float
    """Every operation that went into the weights: ``own_ops`` plus the base's ``training_ops``."""
    open_weights: bool
    base: str | None
    shards: tuple[Shard, ...]
    merkle_root: str
    """Hex RFC 6962 root over the shards' leaf hashes, in the registered order."""
    eccn: str
    regime: str
    why: tuple[str, ...]
    rules: tuple[str, ...]
    registered_at: dt.datetime
    registered_by: str

    @property
    def controlled(self) -> bool:
        return self.eccn == CONTROLLED

    @property
    def total_bytes(self) -> int:
        return sum(s.bytes for s in self.shards)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "eccn": self.eccn,
            "why": list(self.why),
            "rules": list(self.rules),
            "merkle_root": self.merkle_root,
            "training_ops": self.training_ops,
            "own_ops": self.own_ops,
            "open_weights": self.open_weights,
            "base": self.base,
            "regime": self.regime,
            "shards": [s.to_dict() for s in self.shards],
            "bytes": self.total_bytes,
            "registered_at": self.registered_at.isoformat(),
            "registered_by": self.registered_by,
        }


@dataclass(frozen=True, slots=True)
class DataCentre:
    """A recipient's data centre, with the operator's attestation of the storage conditions."""

    id: str
    name: str
    country: str
    operator: str
    veu: str | None
    """``UVEU``, ``NVEU`` or None."""
    fedramp_high_equivalent: bool
    """Attested: a NIST SP 800-53 baseline with FedRAMP High-equivalent controls."""
    dedicated_devices: bool
    """Attested: weights are stored on devices not shared with other organisations."""
    attested_by: str | None
    attested_on: dt.date | None

    @property
    def attested(self) -> bool:
        return self.fedramp_high_equivalent and self.dedicated_devices

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "country": self.country,
            "operator": self.operator,
            "veu": self.veu,
            "attestation": {
                "fedramp_high_equivalent": self.fedramp_high_equivalent,
                "dedicated_devices": self.dedicated_devices,
                "attested_by": self.attested_by,
                "attested_on": None if self.attested_on is None else self.attested_on.isoformat(),
            },
        }


@dataclass(frozen=True, slots=True)
class ApproverSet:
    version: int
    approvers: tuple[str, ...]
    threshold: int
    approval_ttl: dt.timedelta
    request_ttl: dt.timedelta
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "approvers": list(self.approvers),
            "threshold": self.threshold,
            "approval_ttl_hours": self.approval_ttl.total_seconds() / 3600,
            "request_ttl_hours": self.request_ttl.total_seconds() / 3600,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Proposal:
    """The approver set a rotation asks for."""

    approvers: tuple[str, ...]
    threshold: int
    approval_ttl: dt.timedelta
    request_ttl: dt.timedelta

    def to_dict(self) -> dict[str, Any]:
        return {
            "approvers": list(self.approvers),
            "threshold": self.threshold,
            "approval_ttl_hours": self.approval_ttl.total_seconds() / 3600,
            "request_ttl_hours": self.request_ttl.total_seconds() / 3600,
        }


@dataclass(frozen=True, slots=True)
class Approval:
    approver: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Request:
    """A transfer of an artefact to a recipient, or (``kind == "rotation"``) a change of the approver set."""

    id: str
    kind: str
    requester: str
    created_at: dt.datetime
    expires_at: dt.datetime
    set_version: int
    """The approver set in force when the request was made (a rotation applies only to that set)."""
    outcome: str
    """The answer when made: ``denied``, ``license_required`` or ``pending``."""
    reason: str
    why: tuple[str, ...]
    rules: tuple[str, ...]
    artefact: str | None = None
    destination: str | None = None
    export_from: str | None = None
    recipient: str | None = None
    recipient_headquarters: str | None = None
    parent_headquarters: str | None = None
    data_centre: str | None = None
    regime: str | None = None
    proposal: Proposal | None = None
    final_status: str | None = None
    """``released``, ``denied`` (screening at release), ``applied`` or ``superseded``, once final."""
    final_reason: str | None = None
    final_at: dt.datetime | None = None
    decision: dict[str, Any] | None = field(default=None, compare=False)
    """The licence determination (interchange Decision JSON) behind the answer."""


@dataclass(frozen=True, slots=True)
class Count:
    """The approvals of a request sorted into those that count and those that do not (with why)."""

    valid: tuple[Approval, ...]
    ignored: tuple[tuple[Approval, str], ...]
    threshold: int

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(a.approver for a in self.valid)

    @property
    def met(self) -> bool:
        return len(self.valid) >= self.threshold


@dataclass(frozen=True, slots=True)
class Status:
    """A request's status at a moment, with the reason code and the approval count behind it."""

    status: str
    reason: str
    count: Count | None
    why: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Determination:
    """The policy's answer to a new transfer request."""

    status: str
    """``denied``, ``license_required`` or ``pending``."""
    reason: str
    """``tier3_floor``, ``screening_hit``, ``prohibited``, ``license_required`` or ``awaiting_approvals``."""
    why: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """What screening the recipient found: the hits that block (matches no analyst cleared) and the lists' version."""

    party: str
    blocking: tuple[dict[str, Any], ...]
    data_version: str
    screened: int
    """Entries in the index screened against."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "blocking": list(self.blocking),
            "lists_version": self.data_version,
            "entries": self.screened,
        }
