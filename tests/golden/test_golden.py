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
        jurisdictions:                 # optional (alliance): each law's own answer, by code
          NL: {outcome: license_required, authorization: license, review_policy: case_by_case,
               indeterminate: false, reached: true, hook_contains: "..."}
        notices_contain: [...]         # optional: substrings of the jurisdictions' notices

Alliance cases may also give ``listings`` (allied-list entries screening found for the consignee:
``{list_code, entry, name, listed_on}``) and ``denials`` (denial notices, the ``tiergate denials`` format).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

import tiergate
from tiergate.decide.model import Listing
from tiergate.denials.model import parse_denial


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


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
    alliance = [c for c in CASES if "jurisdictions" in c.values[0]["expect"]]
    assert len(alliance) >= 40, "at least 40 multi-jurisdiction golden cases (issue 16)"
    names = [c.values[0]["name"] for c in CASES]
    assert len(names) == len(set(names)), "golden case names must be unique"


@pytest.mark.parametrize("case", CASES)
def test_golden(case: dict[str, Any], book: tiergate.Rulebook) -> None:
    txn = tiergate.parse_transaction(case["transaction"], book.catalogue, where=case["name"])
    as_of = case.get("as_of")
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    listings = [
        Listing(x["list_code"], x["entry"], x["name"], _day(x.get("listed_on")), bool(x.get("confirmed")))
        for x in case.get("listings", [])
    ]
    denials = [parse_denial(x, where=f"{case['name']}: denials[{i}]") for i, x in enumerate(case.get("denials", []))]
    decision = tiergate.determine(
        txn,
        book,
        regime=case.get("regime"),
        as_of=as_of,
        balances=case.get("balances"),
        listings=listings,
        denials=denials,
    )
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
    if "jurisdictions" in expect:
        answered = {j.jurisdiction: j for j in decision.jurisdictions}
        assert set(answered) >= set(expect["jurisdictions"]), f"jurisdictions {sorted(answered)}\n{text}"
        for code, want_j in expect["jurisdictions"].items():
            j = answered[code]
            got_j = {
                "outcome": j.outcome,
                "authorization": j.authorization,
                "review_policy": j.review_policy,
                "indeterminate": j.indeterminate,
                "reached": j.reached,
            }
            for key, value in want_j.items():
                if key == "hook_contains":
                    assert value in (j.hook or ""), f"{code}: hook {j.hook!r} lacks {value!r}\n{text}"
                else:
                    assert got_j[key] == value, f"{code}.{key}: {got_j[key]!r} != {value!r}\n{text}"
    notices = "\n".join(n for j in decision.jurisdictions for n in j.notices)
    for fragment in expect.get("notices_contain", []):
        assert fragment in notices, f"{fragment!r} not in notices:\n{notices}"
