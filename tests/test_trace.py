"""The explanation is part of the result: it shows the arithmetic, names the rules and their
citations, says which facts are recalled, and gives the numbers an officer needs."""

from __future__ import annotations

import tiergate

from .conftest import decide_dict, transaction


def test_lpp_exceeded_explains_the_arithmetic_and_the_fallback(book: tiergate.Rulebook) -> None:
    d = decide_dict(book, transaction("H100", 2000, "IN"), regime="us-diffusion-2025")
    text = "\n".join(d.explanation)
    assert d.outcome == "license_required" and d.review_policy == "presumption_of_approval"
    assert "fp8 1,978.9 x 8 = 15,831.2" in text
    assert "Performance density = 15,831.2 / 814 mm2 = 19.4486" in text
    assert "draws 31,662,400 TPP against the cap 26,900,000" in text
    assert "At most 1699 unit(s) of item 0 would fit." in text
    assert "account country:IN:2025-2027" in text
    assert "[us-diffusion-2025/worldwide-3a090a; 15 CFR 742.6(a)(6) (90 FR 4544)]" in text
    assert "Not available: AIA (destination IN is not in tier1)" in text
    assert "15 CFR 740.29 (90 FR 4544)" not in d.citations  # LPP did not decide this one
    assert "Relies on recalled (unverified) facts" in text
    assert any(r.startswith("us-diffusion-2025/country-allocation") for r in d.recalled)
    assert any(r.startswith("membership of D:5") for r in d.recalled)


def test_balances_change_the_answer_and_say_so(book: tiergate.Rulebook) -> None:
    txn = transaction("H100", 100, "IN", name="Example Compute Pvt Ltd")
    fresh = decide_dict(book, txn, regime="us-diffusion-2025")
    assert fresh.authorization == "LPP"
    spent = decide_dict(
        book,
        txn,
        regime="us-diffusion-2025",
        balances={"lpp:IN:example-compute-pvt-ltd:2025": 1_000_000, "country:IN:2025-2027": 0},
    )
    text = "\n".join(spent.explanation)
    assert spent.outcome == "license_required" and spent.review_policy == "presumption_of_denial"
    assert "remaining balance 1,000,000 of cap 26,900,000" in text
    assert "exceeds it, so the application would be reviewed under presumption of denial" in text


def test_nac_carries_the_notification_duty(book: tiergate.Rulebook) -> None:
    d = decide_dict(book, transaction("RTX 4090", 10, "CN", date="2024-06-10"))
    assert (d.outcome, d.authorization) == ("authorized", "NAC")
    assert any("25-day review" in c for c in d.conditions)


def test_china_policy_lists_the_certifications(book: tiergate.Rulebook) -> None:
    d = decide_dict(book, transaction("H200", 10, "CN", date="2026-03-02"))
    assert d.review_policy == "case_by_case"
    assert any("third-party laboratory testing" in c for c in d.conditions)
    assert "us-2026-01/review-china-case-by-case" in d.rules


def test_hong_kong_is_explained_as_china(book: tiergate.Rulebook) -> None:
    d = decide_dict(book, transaction("H100", 10, "HK", date="2025-07-01"))
    assert d.review_policy == "presumption_of_denial"
    assert any(line.startswith("HK is treated as CN") for line in d.explanation)


def test_regime_choice_is_explained(book: tiergate.Rulebook) -> None:
    d = decide_dict(book, transaction("H100", 10, "IN", date="2025-03-03"))
    assert "Regime us-diffusion-2025 is the regime in force on 2025-03-03" in d.explanation[1]
    assert "us-2025-04-h20 (from 2025-04-09)" in d.explanation[1]
    scenario = decide_dict(book, transaction("H100", 10, "IN", date="2026-03-03"), regime="us-diffusion-2025")
    assert "a scenario: not in force on 2026-03-03" in scenario.explanation[1]
