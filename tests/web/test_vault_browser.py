"""The Vault page in headless Chromium: an approver signs in, approves a pending transfer, and verifies the log; a
screenshot is kept under artifacts/screenshots/vault.png."""

from __future__ import annotations

from pathlib import Path

import tiergate
from tests.vault.conftest import artefact, clean, transfer, write_shards
from tiergate.vault import Vault

from ..api.conftest import Api
from .test_browser import ARGS, ARTIFACTS, CHROMIUM, served

__all__ = ["served"]


def test_an_approver_approves_in_the_browser(served: tuple[Api, str], tmp_path: Path, book: tiergate.Rulebook) -> None:
    from playwright.sync_api import sync_playwright

    api, base = served
    vault = Vault(api.db, book=book)
    vault.init("approver-owner,admin-owner,carol", 2)
    vault.register(artefact("frontier-1", 3.5e26, write_shards(tmp_path / "shards")))
    rid = vault.request(transfer(), clean).view["request"]
    vault.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True
        )
        try:
            context.set_default_timeout(20_000)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(f"{base}/vault")
            page.fill("input[name=key]", api.tokens["approver"])
            page.click("form[action='/login'] button[type=submit]")
            page.click("nav >> text=Vault")
            row = f"tr[data-request='{rid}']"
            assert page.inner_text(f"{row} .vault-status") == "pending"
            page.click(f"{row} form.approve button")
            assert page.inner_text("#vault-notice") == f"{rid}: approved by approver-owner; status pending"
            assert "1 / 2" in page.inner_text(row)
            page.click("#verify-link")
            assert page.inner_text("#verified").startswith("Verified: 4 entries")
            page.screenshot(path=str(ARTIFACTS / "vault.png"), full_page=True)
        finally:
            context.close()
