"""Golden cases: transaction -> expected outcome, authorisation, review policy, ECCNs and rule ids.

Each YAML file under ``cases/`` holds a list of cases::

    - name: h100-india-lpp
      why: LPP covers 1,000 H100 (15.8M TPP <= 26.9M) for a Tier 2 consignee.
      regime: us-diffusion-2025        # optional; else the transaction's regime or the date's
      as_of: 2025-06-01                # optional; replaces the transaction date
      balances: {"lpp:IN:acme:2025": 1000000}   # optional remaining TPP per allocation account
      transaction: {...}               # the interchange transaction format
      expect:
        outcome: authorized
        authorization: LPP
        review_policy: null
        eccns: [3A090.a]               # per item, in order
        rules: [...]                   # exactly the decision's rule ids (order ignored)
        accounts: [...]                # optional: allocation accounts drawn (order ignored)
        explanation_contains: [...]    # optional: substrings of the joined explanation
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

import tiergate

CASES_DIR = Path(__file__).parent / "cases"


def _load() -> list[Any]:
    cases = []
    for file in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(file.read_text(encoding="utf-8")) or []:
            cases.append(pytest.param(case, id=f"{file.stem}:{case['name']}"))
    return cases


CASES = _load()


@pytest.fixture(scope="module")
def book() -> tiergate.Rulebook:
    return tiergate.load_rulebook()


def test_there_are_enough_golden_cases() -> None:
    assert len(CASES) >= 60
    names = [c.values[0]["name"] for c in CASES]
    assert len(names) == len(set(names)), "golden case names must be unique"


@pytest.mark.parametrize("case", CASES)
def test_golden(case: dict[str, Any], book: tiergate.Rulebook) -> None:
    txn = tiergate.parse_transaction(case["transaction"], book.catalogue, where=case["name"])
    as_of = case.get("as_of")
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    decision = tiergate.determine(txn, book, regime=case.get("regime"), as_of=as_of, balances=case.get("balances"))
    expect = case["expect"]
    got = {
        "outcome": decision.outcome,
        "authorization": decision.authorization,
        "review_policy": decision.review_policy,
        "eccns": [item.eccn for item in decision.items],
        "rules": sorted(decision.rules),
    }
    want = {
        "outcome": expect["outcome"],
        "authorization": expect["authorization"],
        "review_policy": expect.get("review_policy"),
        "eccns": expect["eccns"],
        "rules": sorted(expect["rules"]),
    }
    text = "\n".join(decision.explanation)
    assert got == want, f"{case['name']}: {case.get('why', '')}\n{text}"
    if "accounts" in expect:
        assert sorted(a.account for a in decision.allocations) == sorted(expect["accounts"]), text
    if "regime" in expect:
        assert decision.regime == expect["regime"], text
    for fragment in expect.get("explanation_contains", []):
        assert fragment in text, f"{fragment!r} not in explanation:\n{text}"
