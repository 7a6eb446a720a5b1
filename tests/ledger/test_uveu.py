"""A UVEU's geographic allocation (Supp. No. 10 to part 748, para. 6) checked against its installed base."""

from __future__ import annotations

import math
from typing import Any

import pytest

import tiergate
from tiergate.decide import uveu_headroom
from tiergate.ledger import Ledger
from tiergate.ledger.ship import ship
from tiergate.rules.ruleset import UveuShares

SHARES = UveuShares("tier1", "tier2", 0.75, 0.07, 0.50)
TIERS = {"US": "tier1", "DE": "tier1", "MY": "tier2", "IN": "tier2"}
H100 = 15831.2


def test_headroom_is_the_tightest_of_the_three_shares() -> None:
    def headroom(installed: dict[str, float], where: str, us: bool = True) -> float:
        return uveu_headroom(SHARES, installed, where, us_headquartered=us, tier=TIERS.get)

    assert headroom({}, "MY") == 0  # nothing in Tier 1 yet: no Tier 2 location at all
    assert headroom({"US": 1e9}, "MY") == pytest.approx(0.07e9 / 0.93)  # 7 % of the new total in Malaysia
    assert headroom({"US": 1e9}, "DE") == pytest.approx(1e9)  # 50 % in the US for a US-headquartered UVEU
    assert math.isinf(headroom({"US": 1e9}, "DE", us=False))
    assert math.isinf(headroom({"US": 1e9}, "US"))
    assert headroom({"US": 3e8, "DE": 4e8, "IN": 1e6}, "MY", us=False) == pytest.approx(
        min(7e8 / 0.75 - 7.01e8, 0.07 * 7.01e8 / 0.93)
    )


def _txn(tid: str, quantity: int) -> dict[str, Any]:
    return {
        "id": tid,
        "date": "2025-03-03",
        "destination": "MY",
        "items": [{"chip": "nvidia-h100-sxm", "quantity": quantity}],
        "consignee": {"name": "Cloudy Inc", "country": "MY", "headquarters": "US", "veu": "UVEU"},
    }


def test_ship_checks_the_uveu_shares_against_the_installed_base(ledger_url: str) -> None:
    book = tiergate.load_rulebook()
    ledger = Ledger(ledger_url, actor="test")
    ledger.init()

    def send(tid: str, quantity: int) -> tiergate.Decision:
        result = ship(tiergate.parse_transaction(_txn(tid, quantity), book.catalogue), book, ledger)
        assert result.committed == (result.decision.authorization == "UVEU"), result.reason
        return result.decision

    # No installed base in Tier 1: a Malaysian location breaks the shares; 2,000 H100 also exceed LPP.
    assert send("a", 2000).outcome == "license_required"
    # 1e9 TPP declared in the UVEU's US data centres: Malaysia may hold 7 % of the total.
    held = ledger.reserve("uveu:US:cloudy-inc:US", 1e9, kind="uveu:location", rule="declared", cap_tpp=None, key="d")
    ledger.commit(held, key="d2")
    first = send("b", 2000)
    assert first.authorization == "UVEU" and first.allocations[0].account == "uveu:US:cloudy-inc:MY"
    left = (0.07 * (1e9 + 2000 * H100) - 2000 * H100) / 0.93
    assert send("c", int(left // H100) + 1).authorization != "UVEU"  # one more than fits
    assert send("e", int(left // H100)).authorization == "UVEU"  # exactly what fits
    installed = ledger.installed("uveu:US:cloudy-inc:")
    assert installed["MY"] <= 0.07 * sum(installed.values()) + 1e-6
    assert ledger.verify_audit() is None
    ledger.close()
