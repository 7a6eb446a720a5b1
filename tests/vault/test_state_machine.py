"""A Hypothesis state machine over transfer requests, approvals, the clock and changes of the approver set, against
a vault on SQLite. A model kept here, independent of ``tiergate.vault.policy``, recounts the approvals.

Invariants, checked after every step:

- nothing is ``eligible`` (or ``released``) without K distinct approvals that are valid: by a member of the set in
  force, not the requester, younger than the TTL, on a request not expired and answered ``pending`` when made;
- nothing controlled to Tier 3 (destination or headquarters in D:5 or Macau, Hong Kong as China) ever leaves
  ``denied``;
- the log verifies.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

import tiergate
from tests.vault.conftest import START, Clock, artefact, clean, write_shards
from tiergate.errors import TiergateError
from tiergate.vault import Vault

BOOK = tiergate.load_rulebook()
PEOPLE = ("alice", "bob", "carol", "dave", "erin")
COUNTRIES = ("DE", "JP", "US", "IN", "CN", "MO", "HK")
TIER3 = {"CN", "MO", "HK"}
TTL = dt.timedelta(hours=24)
REQUEST_TTL = dt.timedelta(hours=7 * 24)


@dataclass
class Model:
    kind: str
    requester: str
    created: dt.datetime
    controlled_to_tier3: bool
    outcome: str = "pending"
    set_version: int = 1
    approvals: list[tuple[str, dt.datetime]] = field(default_factory=list)
    final: str | None = None


class VaultMachine(RuleBasedStateMachine):
    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="vault-sm-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
        self.clock = Clock(START)
        self.vault = Vault(f"sqlite:///{self.folder / 'v.db'}", clock=self.clock, book=BOOK)
        self.vault.init("alice,bob,carol", 2, approval_ttl_hours=24)
        self.shards = write_shards(self.folder / "shards", 2)
        self.vault.register(artefact("controlled", 3.5e26, self.shards))
        self.vault.register(artefact("small", 1e24, self.shards))
        self.approvers: tuple[str, ...] = ("alice", "bob", "carol")
        self.threshold = 2
        self.version = 1
        self.model: dict[str, Model] = {}

    def teardown(self) -> None:
        try:
            assert self.vault.verify().ok
        finally:
            self.vault.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------ the independent count

    def valid(self, model: Model) -> set[str]:
        now = self.clock.now
        members = {a.casefold() for a in self.approvers}
        found = set()
        for who, at in model.approvals:
            if who.casefold() not in members or at > now or now - at >= TTL:
                continue
            if model.kind == "transfer" and who.casefold() == model.requester.casefold():
                continue
            found.add(who.casefold())
        return found

    # ------------------------------------------------------------ rules

    @rule(
        target=requests,
        which=st.sampled_from(["controlled", "small"]),
        destination=st.sampled_from(COUNTRIES),
        hq=st.sampled_from(COUNTRIES),
        requester=st.sampled_from(PEOPLE),
    )
    def request(self, which: str, destination: str, hq: str, requester: str) -> str:
        view = self.vault.request(
            {
                "artefact": which,
                "destination": destination,
                "recipient": "Recipient Ltd",
                "recipient_headquarters": hq,
                "requester": requester,
            },
            clean,
        ).view
        floor = which == "controlled" and (destination in TIER3 or hq in TIER3)
        if floor:
            assert (view["status"], view["reason"]) == ("denied", "tier3_floor")
        rid = str(view["request"])
        self.model[rid] = Model("transfer", requester, self.clock.now, floor, view["status"], self.version)
        return rid

    @rule(target=requests, members=st.sets(st.sampled_from(PEOPLE), min_size=1, max_size=4), data=st.data())
    def propose(self, members: set[str], data: st.DataObject) -> str:
        names = sorted(members)
        k = data.draw(st.integers(1, len(names)))
        view = self.vault.init(",".join(names), k).view
        rid = str(view["request"])
        model = Model("rotation", "ops", self.clock.now, False, "pending", self.version)
        model.proposal = (tuple(names), k)  # type: ignore[attr-defined]
        self.model[rid] = model
        return rid

    @rule(rid=requests, approver=st.sampled_from(PEOPLE))
    def approve(self, rid: str, approver: str) -> None:
        model = self.model[rid]
        if approver not in self.approvers:
            try:
                self.vault.approve(rid, approver)
            except TiergateError as error:
                assert "is not in the approver set" in str(error)
                return
            raise AssertionError(f"{approver} approved though not in {self.approvers}")
        outcome = self.vault.approve(rid, approver)
        model.approvals.append((approver, self.clock.now))
        if model.kind == "rotation":
            self._maybe_apply(rid, model, outcome.view["status"])

    def _maybe_apply(self, rid: str, model: Model, status: str) -> None:
        live = (
            model.final is None
            and model.set_version == self.version
            and self.clock.now < model.created + REQUEST_TTL
            and len(self.valid(model)) >= self.threshold
        )
        if live:
            names, k = model.proposal  # type: ignore[attr-defined]
            assert status == "applied", (rid, status)
            model.final = "applied"
            self.approvers, self.threshold, self.version = names, k, self.version + 1
        else:
            assert status != "applied" or model.final == "applied"

    @rule(hours=st.sampled_from([0.5, 3.0, 12.0, 23.9, 24.0, 30.0, 200.0]))
    def advance(self, hours: float) -> None:
        self.clock.advance(hours)

    @rule(rid=requests)
    def release(self, rid: str) -> None:
        model = self.model[rid]
        if model.kind != "transfer":
            return
        eligible = (
            model.outcome == "pending"
            and model.final is None
            and self.clock.now < model.created + REQUEST_TTL
            and len(self.valid(model)) >= self.threshold
        )
        outcome = self.vault.release(rid, self.shards.folder, clean)
        assert outcome.refused is not eligible, (rid, outcome.view["status"], self.valid(model), self.threshold)
        if eligible:
            model.final = "released"

    # ------------------------------------------------------------ invariants

    @invariant()
    def statuses_follow_the_independent_count(self) -> None:
        for rid, model in self.model.items():
            status = self.vault.status(rid)["status"]
            if model.controlled_to_tier3:
                assert status == "denied", (rid, status)
            if model.kind == "rotation":
                assert status != "eligible"
                continue
            if status == "eligible":
                assert model.outcome == "pending" and model.final is None
                assert self.clock.now < model.created + REQUEST_TTL
                assert len(self.valid(model)) >= self.threshold, (rid, model.approvals, self.approvers)
            if status == "released":
                assert model.final == "released"
            if model.outcome == "pending" and model.final is None and self.clock.now < model.created + REQUEST_TTL:
                expected = "eligible" if len(self.valid(model)) >= self.threshold else "pending"
                assert status == expected, (rid, status, expected)

    @invariant()
    def the_approver_set_is_the_models(self) -> None:
        current = self.vault.approver_set()
        assert (current.approvers, current.threshold, current.version) == (
            self.approvers,
            self.threshold,
            self.version,
        )


VaultMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestVaultMachine = VaultMachine.TestCase
