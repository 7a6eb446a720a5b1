"""The records monitoring reads and the alerts it prints.

Usage records (one row per job segment) and customers follow issue 5's columns. Alerts have exactly
the fields of the public format ``{kind, subject_id, subject_type, flop, threshold, projected_crossing,
reasons[]}``; bad input rows become :class:`Problem` entries (file, row, column, what is wrong).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

USAGE_REQUIRED = (
    "record_id",
    "provider",
    "account_id",
    "job_id",
    "cluster_id",
    "datacenter_country",
    "chip",
    "chip_count",
    "start",
    "end",
)
USAGE_OPTIONAL = ("precision", "utilization", "declared_flop")
CUSTOMER_REQUIRED = (
    "account_id",
    "customer_id",
    "name",
    "country",
    "headquarters",
    "parent_id",
    "parent_headquarters",
    "beneficial_owner_id",
    "verified",
    "payment_country",
    "login_countries",
)
DEFAULT_PRECISION = "bf16"

ALERT_KINDS = (
    "prohibited_use",
    "threshold_crossed",
    "threshold_possible",
    "projected_crossing",
    "cluster_threshold",
    "cap_exceeded",
    "declared_gap",
    "kyc_gap",
)
"""Alert kinds, in the order alerts are printed."""

ALERT_SEVERITY = {
    "prohibited_use": "high",
    "threshold_crossed": "high",
    "cap_exceeded": "high",
    "projected_crossing": "medium",
    "cluster_threshold": "medium",
    "threshold_possible": "medium",
    "declared_gap": "low",
    "kyc_gap": "low",
}
"""Each alert kind's severity: a control already reached (high), one that may be or will soon be (medium), a gap
in what customers declared (low)."""
SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    subject_id: str
    subject_type: str
    flop: float | None
    threshold: float | None
    projected_crossing: str | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject_id": self.subject_id,
            "subject_type": self.subject_type,
            "flop": self.flop,
            "threshold": self.threshold,
            "projected_crossing": self.projected_crossing,
            "reasons": list(self.reasons),
        }

    def sort_key(self) -> tuple[int, str, str, float, str]:
        return (
            ALERT_KINDS.index(self.kind),
            self.subject_type,
            self.subject_id,
            self.threshold or 0.0,
            "|".join(self.reasons),
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """A bad input row: where it is (file, row or line, column), what is wrong and what was done."""

    file: str
    row: int
    column: str
    problem: str
    action: str
    record_id: str | None = None

    def render(self) -> str:
        rid = f" (record {self.record_id})" if self.record_id else ""
        return f"{self.file}:row {self.row}{rid}: {self.column}: {self.problem}; {self.action}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "problem": self.problem,
            "action": self.action,
            "record_id": self.record_id,
        }


@dataclass(slots=True)
class ScanResult:
    """Alerts, bad input, and the aggregates the report draws (small tables, as Python rows)."""

    as_of: dt.datetime
    regime: str
    engine: str
    alerts: list[Alert]
    problems: list[Problem]
    problem_counts: dict[str, int]
    records: int
    records_used: int
    owners: list[dict[str, Any]] = field(default_factory=list)
    owner_days: list[dict[str, Any]] = field(default_factory=list)
    countries: list[dict[str, Any]] = field(default_factory=list)
    thresholds: list[dict[str, Any]] = field(default_factory=list)
