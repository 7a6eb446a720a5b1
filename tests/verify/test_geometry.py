"""Properties of the feasible region: delay only ever widens it, a landmark only ever narrows it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tiergate.geo import great_circle_km, territories_of, world
from tiergate.verify.location import (
    C_KM_PER_MS,
    Claim,
    Sample,
    Touch,
    Verdict,
    caps_of,
    in_region,
    landmarks_of,
    locate,
    touches,
)

TIER3 = frozenset({"CN", "HK", "MO", "RU", "KP", "IR", "MM"})
lat = st.floats(-60, 70, allow_nan=False)
lon = st.floats(-179.9, 179.9, allow_nan=False)
rtt = st.floats(0.05, 120, allow_nan=False)
sample = st.tuples(lat, lon, rtt)


def samples_of(drawn: list[tuple[float, float, float]]) -> list[Sample]:
    return [Sample(f"L{i}", la, lo, t, f"row {i}") for i, (la, lo, t) in enumerate(drawn)]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(sample, min_size=1, max_size=4),
    st.tuples(st.floats(-50, 60, allow_nan=False), st.floats(-179, 179, allow_nan=False)),
    st.data(),
)
def test_added_delay_never_turns_consistent_into_ruled_out(
    drawn: list[tuple[float, float, float]], point: tuple[float, float], data: st.DataObject
) -> None:
    claim = Claim(f"{point[0]},{point[1]}", point=point)
    before = locate(claim, samples_of(drawn), world(), TIER3, as_of="2026-12-03")
    index = data.draw(st.integers(0, len(drawn) - 1))
    delay = data.draw(st.floats(0.0, 200.0, allow_nan=False))
    slower = list(drawn)
    la, lo, t = slower[index]
    slower[index] = (la, lo, t + delay)
    after = locate(claim, samples_of(slower), world(), TIER3, as_of="2026-12-03")
    if before.verdict in (Verdict.consistent, Verdict.consistent_unsigned):
        assert after.verdict is not Verdict.ruled_out
    if before.claim_inside["c"] == "yes":
        assert after.claim_inside["c"] == "yes"


@settings(max_examples=60, deadline=None)
@given(st.lists(sample, min_size=2, max_size=5), st.lists(st.tuples(lat, lon), min_size=1, max_size=20), st.data())
def test_removing_a_landmark_never_shrinks_the_region(
    drawn: list[tuple[float, float, float]], points: list[tuple[float, float]], data: st.DataObject
) -> None:
    marks = landmarks_of(samples_of(drawn))
    index = data.draw(st.integers(0, len(marks) - 1))
    fewer = marks[:index] + marks[index + 1 :]
    caps, wider = caps_of(marks, C_KM_PER_MS), caps_of(fewer, C_KM_PER_MS)
    for la, lo in points:
        if in_region(la, lo, caps):
            assert in_region(la, lo, wider)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 30), st.floats(95, 125), st.floats(0.2, 40)), min_size=2, max_size=4))
def test_a_territory_reached_stays_reached_without_a_landmark(drawn: list[tuple[float, float, float]]) -> None:
    marks = landmarks_of(samples_of(drawn))
    caps = caps_of(marks, C_KM_PER_MS)
    for code in ("SG", "MY", "CN", "VN"):
        for territory in territories_of(code):
            if touches(territory, caps) is Touch.yes:
                assert touches(territory, caps[1:]) is Touch.yes


def test_the_tests_can_tell_a_shrinking_region() -> None:
    """The property above is not vacuous: an extra landmark does exclude points."""
    marks = landmarks_of(samples_of([(1.35, 103.82, 2.0), (22.32, 114.17, 1.0)]))
    caps = caps_of(marks, C_KM_PER_MS)
    assert in_region(1.35, 103.82, caps[:1]) and not in_region(1.35, 103.82, caps)
    assert great_circle_km(1.3521, 103.8198, 22.5431, 114.0579) > 2500
