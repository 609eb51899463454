"""Headless Chromium (Debian's /usr/bin/chromium via Playwright): sign up with an e-mail address and
the digest, change the digest settings, create the private feed URL and read it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import unique_name

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.backends,
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Debian chromium not installed at {CHROMIUM}"),
]


@pytest.fixture
def page(live) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(base_url=live.url, viewport={"width": 1100, "height": 900})
        try:
            yield ctx.new_page()
        finally:
            ctx.close()
            browser.close()


def test_sign_up_with_email_then_digest_settings_and_private_feed(page) -> None:
    name, password = unique_name("mailer"), "browser-password-1"
    page.goto("/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("E-mail (optional)").fill(f"{name}@Example.org")
    page.get_by_label("E-mail me a daily digest").check()
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/")
    page.goto("/account")
    page.get_by_role("link", name="Settings: e-mail, digest, private feed").click()
    page.wait_for_url("**/settings")
    assert page.get_by_label("E-mail address").input_value() == f"{name}@example.org"
    assert page.get_by_label("E-mail me papers picked for me").is_checked()
    page.get_by_label("How often").select_option("weekly")
    page.get_by_label("From (hour)").select_option("8")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Papers per digest").fill("6")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url("**/settings?saved=1")
    assert page.get_by_role("status").first.inner_text().strip() == "Saved."
    assert page.get_by_label("How often").input_value() == "weekly"
    assert page.get_by_label("Time zone").input_value() == "Europe/Berlin"
    page.get_by_role("button", name="Create feed URL").click()
    url = page.locator("#feed-url").inner_text()
    assert "/feeds/private/pf_" in url and url.endswith(".atom")
    feed = page.request.get(url)
    assert feed.status == 200 and "<feed" in feed.text()
    page.get_by_role("button", name="Revoke feed URL").click()
    page.wait_for_url("**/settings?saved=1")
    assert page.request.get(url).status == 404
