"""The Decide page in headless Chromium (issue 13, items 2 and 5): a decision that screening changed shows the hit at
the top of the page, its explanation has one outcome line, and a live decision states the balances it used."""

from __future__ import annotations

from pathlib import Path

from ..api.conftest import Api, sample
from .test_browser import ARGS, CHROMIUM, LISTED, served

__all__ = ["served"]


def test_decide_page_shows_the_screening_hit_first_and_the_live_balances(
    served: tuple[Api, str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    api, base = served
    assert api.post("/v1/ship", json=sample("demo-01")).json()["committed"] is True  # 1,000 H100s drawn
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True
        )
        try:
            context.set_default_timeout(20_000)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=key]", api.tokens["officer"])
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url(f"{base}/decide")

            page.click("a[href='/decide?sample=demo-01']")  # live: the LPP balance after the earlier shipment
            page.fill("input[name=quantity]", "500")
            page.click("#decide-form button[type=submit]")
            assert page.inner_text("#outcome") == "authorized"
            remaining = page.inner_text("#allocations tbody tr td:nth-child(5)")
            assert remaining.replace(",", "").strip().startswith("11068800"), remaining  # 26.9 M - 15.8312 M TPP
            explanation = page.inner_text("#explanation")
            assert "not consulted" not in explanation and "remaining balance" in explanation
            assert page.locator("#screening-alert").count() == 0
            assert "no match" in page.inner_text("#screening")

            page.fill("input[name=consignee_name]", LISTED)  # the same order to an Entity-List party
            page.click("#decide-form button[type=submit]")
            assert page.inner_text("#outcome") == "license required"
            alert = page.locator("#screening-alert")
            assert alert.is_visible() and "Screening changed the outcome" in alert.inner_text()
            assert "EL entry" in alert.inner_text() and LISTED in alert.inner_text()
            top = alert.bounding_box()
            card = page.locator("#decision").bounding_box()
            form = page.locator("#decide-form").bounding_box()
            assert top and card and form and top["y"] < form["y"] < card["y"]  # at the top of the page
            lines = page.locator("#explanation li").all_inner_texts()
            outcomes = [line for line in lines if line.startswith("Outcome")]
            assert len(outcomes) == 1 and outcomes[0].startswith("Outcome: Licence required"), outcomes
            assert lines[0].startswith("Screening changed the outcome")
        finally:
            context.close()
