"""The digest's ten verification scenarios (B1–B10), and the H200 measured in this repository, as data."""

from __future__ import annotations

from typing import Any

import pytest

import tiergate
from tiergate.verify.chipkeys import respond
from tiergate.verify.probe import probe
from tiergate.verify.service import locate_claim, parse_claim, read_rtt

from .conftest import DAY, NOW, SCENARIOS, SERIAL, rtt_csv


@pytest.mark.parametrize("case", SCENARIOS["location"], ids=[c["id"] for c in SCENARIOS["location"]])
def test_location_scenario(case: dict[str, Any], book: tiergate.Rulebook, chip_keys: Any) -> None:
    keys, chip, other = chip_keys
    signatures = None
    if "signed_by" in case:
        signer = chip if case["signed_by"] == "chip" else other
        signatures = []
        for _ in case["rtt"]:
            challenge = keys.challenge(SERIAL, now=NOW)
            answer = respond(challenge, signer)
            signatures.append((answer["nonce"], answer["signature"]))
    samples, signed = read_rtt(rtt_csv(case["rtt"], signatures), case["id"])
    report = locate_claim(
        book, parse_claim(case["claim"]), samples, signed, serial=SERIAL if signed else None, keys=keys, day=DAY
    )
    found = report.to_dict()
    assert found["verdict"] == case["expect"], found["reasons"]
    assert found["reasons"], "every verdict says why"
    for name, km in case.get("radius_c_km", {}).items():
        (mark,) = [m for m in found["landmarks"] if m["landmark"] == name]
        assert mark["radius_km"]["c"] == pytest.approx(km, abs=0.1)
    for code in case.get("region_has", []):
        assert code in found["region_touches"]["c"]
    for code in case.get("tier3_has", []):
        assert code in found["tier3_touched"]["c"]
    if "expect_fibre" in case:
        assert found["claim_inside"]["fibre"] == case["expect_fibre"]
        assert found["claim_inside"]["c"] == "yes"


@pytest.mark.parametrize("case", SCENARIOS["probe"], ids=[c["id"] for c in SCENARIOS["probe"]])
def test_probe_scenario(case: dict[str, Any], book: tiergate.Rulebook) -> None:
    ruleset, _ = book.select(None, DAY)
    found = probe(book.catalogue.resolve(case["declared"]), case["measured"], ruleset.bit_lengths).to_dict()
    assert found["verdict"] == case["expect"], found["reasons"]
    assert found["ratio"] == pytest.approx(case["ratio"], abs=0.001)
    assert any("Measured TPP" in line for line in found["reasons"])
