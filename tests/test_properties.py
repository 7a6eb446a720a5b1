"""Invariants of classification and determination, checked over generated inputs."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tiergate
from tiergate.catalog import Chip, Die
from tiergate.classify import classify
from tiergate.decide import Consignee, LineItem, Transaction, decide
from tiergate.decide.model import OUTCOMES, POLICIES

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
RANK = {"not_controlled": 0, "3A090.b": 1, "3A090.a": 2}
RATE = st.floats(1, 3000, allow_nan=False, allow_infinity=False)


@st.composite
def chips(draw: st.DrawFn) -> Chip:
    dies = tuple(
        Die(draw(st.floats(20, 1500)), (("fp8", draw(RATE)), ("bf16", draw(RATE) / 2)))
        for _ in range(draw(st.integers(1, 4)))
    )
    return Chip(
        id=None,
        name="spec",
        dies=dies,
        datacenter=draw(st.booleans()),
        memory_bandwidth_gbps=draw(st.floats(100, 9000)),
    )


def _scaled(chip: Chip, factor: float) -> Chip:
    dies = tuple(dataclasses.replace(d, dense_tops=tuple((p, r * factor) for p, r in d.dense_tops)) for d in chip.dies)
    return dataclasses.replace(chip, dies=dies)


@SETTINGS
@given(chips(), st.floats(1, 20))
def test_more_performance_is_never_less_controlled(book: tiergate.Rulebook, chip: Chip, factor: float) -> None:
    ruleset = book.full("us-2026-01")
    assert RANK[classify(_scaled(chip, factor), ruleset).eccn] >= RANK[classify(chip, ruleset).eccn]


def _txn(chip: Chip, quantity: int, destination: str, hq: str, day: dt.date) -> Transaction:
    return Transaction("p", day, "US", destination, (LineItem(chip, quantity),), Consignee("Acme", destination, hq))


DESTINATIONS = st.sampled_from(["IN", "DE", "CN", "AE", "MY", "US", "MO", "KH", "IL", "BR"])


@SETTINGS
@given(
    st.sampled_from(["nvidia-h100-sxm", "nvidia-b200", "nvidia-rtx-4090", "nvidia-h20", "amd-mi300x"]),
    st.integers(1, 80_000),
    st.integers(1, 80_000),
    DESTINATIONS,
    st.sampled_from(["IN", "CN", "US"]),
    st.sampled_from(["us-2023-10", "us-diffusion-2025", "us-2026-01"]),
)
def test_a_larger_order_is_never_treated_more_leniently(
    book: tiergate.Rulebook, chip_id: str, q1: int, q2: int, destination: str, hq: str, regime: str
) -> None:
    ruleset = book.full(regime)
    chip = book.catalogue.resolve(chip_id)
    small, large = sorted((q1, q2))
    a = decide(_txn(chip, small, destination, hq, dt.date(2025, 3, 3)), ruleset, explain=False)
    b = decide(_txn(chip, large, destination, hq, dt.date(2025, 3, 3)), ruleset, explain=False)
    assert OUTCOMES.index(b.outcome) >= OUTCOMES.index(a.outcome)
    if a.outcome == b.outcome == "license_required":
        assert POLICIES.index(b.review_policy or "") >= POLICIES.index(a.review_policy or "")


@SETTINGS
@given(st.integers(1, 5000))
def test_lpp_covers_exactly_the_orders_within_the_allowance(book: tiergate.Rulebook, quantity: int) -> None:
    ruleset = book.full("us-diffusion-2025")
    h100 = book.catalogue.resolve("nvidia-h100-sxm")
    decision = decide(_txn(h100, quantity, "IN", "IN", dt.date(2025, 3, 3)), ruleset, explain=False)
    within = quantity * 15831.2 <= 26_900_000
    assert (decision.authorization == "LPP") == within
    if within:
        (draw,) = decision.allocations
        assert draw.account == "lpp:IN:acme:2025" and draw.tpp == quantity * 15831.2


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["nvidia-h100-sxm", "nvidia-l20", "nvidia-rtx-4090", "nvidia-b200"]), st.integers(1, 3000)
        ),
        min_size=1,
        max_size=4,
    ),
    DESTINATIONS,
    st.sampled_from(["us-2024-12", "us-diffusion-2025", "us-2026-01"]),
)
def test_an_added_item_never_makes_the_outcome_more_lenient(
    book: tiergate.Rulebook, items: list[tuple[str, int]], destination: str, regime: str
) -> None:
    ruleset = book.full(regime)
    lines = tuple(LineItem(book.catalogue.resolve(c), q) for c, q in items)
    day = dt.date(2025, 3, 3)
    whole = decide(
        Transaction("w", day, "US", destination, lines, Consignee("Acme", destination, destination)), ruleset
    )
    part = decide(
        Transaction("p", day, "US", destination, lines[:-1] or lines, Consignee("Acme", destination, destination)),
        ruleset,
    )
    assert OUTCOMES.index(whole.outcome) >= OUTCOMES.index(part.outcome)
    again = decide(
        Transaction("w", day, "US", destination, lines, Consignee("Acme", destination, destination)), ruleset
    )
    assert again == whole  # deterministic, explanation included
