"""Headless Chromium (Debian's /usr/bin/chromium via Playwright): sign up, follow a category,
save a paper, see "For you" with its reasons, press thumbs up; a screenshot of the page."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import unique_name
from tests.e2e.test_browser import CHROMIUM, browser, fresh_page, open_page, screenshots_dir  # noqa: F401

pytestmark = [
    pytest.mark.backends,
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Debian chromium not installed at {CHROMIUM}"),
]


def test_signup_follow_save_see_for_you(fresh_page, screenshots_dir) -> None:  # noqa: F811
    page = fresh_page
    name, password = unique_name("reader"), "browser-password-1"
    page.goto("/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("E-mail (optional)").fill(f"{name}@example.org")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/")
    page.goto("/settings")  # the address given at sign-up is the account's
    assert page.get_by_label("E-mail address").input_value() == f"{name}@example.org"

    page.get_by_role("navigation", name="Your papers").get_by_role("link", name="Follows").click()
    page.wait_for_url("**/follows")
    page.get_by_label("What").select_option("category")
    page.get_by_label("Name").fill("cs.LG")
    page.get_by_role("button", name="Follow", exact=True).click()
    page.wait_for_url("**/follows")
    assert page.get_by_role("link", name="cs.LG").is_visible()

    page.goto("/search?q=surface+codes")
    title = "Quantum Error Correction With Surface Codes"
    page.get_by_role("button", name=f"Save to your library: {title}").click()
    page.wait_for_url("**/search?q=surface+codes")
    assert page.get_by_role("button", name=f"Remove from your library: {title}").get_attribute(
        "aria-pressed") == "true"

    page.get_by_role("navigation", name="Your papers").get_by_role("link", name="For you").click()
    page.wait_for_url("**/foryou")
    reasons = page.locator("ul.reasons li").all_inner_texts()
    assert "in cs.LG, a category you follow" in reasons
    assert any(r.startswith(f"similar to ‹{title}› in your library") for r in reasons)
    picks = page.locator("li.pick h3.title a").all_inner_texts()
    assert picks and title not in picks  # a saved paper is not recommended back
    first = picks[0]
    page.get_by_role("button", name=f"More like this: {first}").first.click()
    page.wait_for_url("**/foryou")
    # a rated paper leaves For you (it is learned from instead)
    assert first not in page.locator("li.pick h3.title a").all_inner_texts()
    page.screenshot(path=str(screenshots_dir / "foryou.png"))
    nav = page.get_by_role("navigation", name="Your papers")
    nav.get_by_role("link", name="Library").click()
    page.wait_for_url("**/library")
    assert page.get_by_role("link", name=title).is_visible()
    assert page.dialogs == []
