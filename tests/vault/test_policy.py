"""The pure policy: approval counting as a property, and the rule table's provenance."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from tiergate.vault.model import Approval, ApproverSet
from tiergate.vault.policy import VAULT_RULES, count_approvals

NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
NAMES = ("alice", "Alice", "bob", "carol", "dave", "erin")
SET = ApproverSet(1, ("alice", "bob", "carol", "erin"), 2, dt.timedelta(hours=4), dt.timedelta(days=7), NOW)

approvals = st.lists(
    st.builds(
        Approval,
        st.sampled_from(NAMES),
        st.integers(-10 * 3600, 3600).map(lambda s: NOW + dt.timedelta(seconds=s)),
    ),
    max_size=12,
)


@given(approvals, st.sampled_from((*NAMES, None)))
def test_only_distinct_valid_approvals_count(given_approvals: list[Approval], requester: str | None) -> None:
    count = count_approvals(given_approvals, SET, NOW, requester=requester)
    counted = [a.approver.casefold() for a in count.valid]
    assert len(counted) == len(set(counted))
    for a in count.valid:
        assert a.approver.casefold() in {"alice", "bob", "carol", "erin"}
        assert requester is None or a.approver.casefold() != requester.casefold()
        assert NOW - SET.approval_ttl < a.at <= NOW
    assert len(count.valid) + len(count.ignored) == len(given_approvals)
    assert count.met == (len(count.valid) >= 2)


def test_every_vault_rule_states_its_source_and_status() -> None:
    for rule in VAULT_RULES.values():
        assert rule.id.startswith("vault/") and rule.summary and rule.citation and rule.source
        assert rule.status in {"policy", "verified", "recalled"}
    assert VAULT_RULES["vault/uveu-attested-storage"].status == "recalled"
