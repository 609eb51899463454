"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): sign up, log in, search,
open a paper, upvote it without a reload; screenshots.

Screenshots go to pytest's tmp dir. ``make screenshots`` regenerates docs/img/*.png on purpose by
setting PAPERSIFT_SCREENSHOTS_DIR=docs/img."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.conftest import HOSTILE_ID, unique_name

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS_ENV = "PAPERSIFT_SCREENSHOTS_DIR"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Debian chromium not installed at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@contextmanager
def open_page(browser, url: str) -> Iterator[object]:
    ctx = browser.new_context(base_url=url, viewport={"width": 1100, "height": 800})
    pg = ctx.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    try:
        yield pg
    finally:
        ctx.close()


@pytest.fixture
def page(browser, live):
    with open_page(browser, live.url) as pg:
        yield pg


@pytest.fixture
def fresh_page(browser, fresh_live):
    """A page on a server of the test's own (for a test that votes)."""
    with open_page(browser, fresh_live.url) as pg:
        yield pg


@pytest.fixture
def screenshots_dir(tmp_path: Path) -> Path:
    configured = os.environ.get(SCREENSHOTS_ENV)
    path = Path(configured).resolve() if configured else tmp_path / "img"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_signup_login_search_upvote(fresh_page) -> None:
    page = fresh_page
    name, password = unique_name("browser"), "browser-password-1"
    page.goto("/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name=name).is_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/")
    page.goto("/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name=name).is_visible()

    page.goto("/search")
    page.locator("#q").fill("surface codes")
    page.locator("form.search-form").get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?**")
    assert "1 result" in page.locator("p.count").inner_text()
    assert page.locator("mark").first.inner_text().lower() in ("surface", "codes")
    page.get_by_role("link", name="Quantum Error Correction With Surface Codes").click()
    page.wait_for_url("**/papers/2401.00002")
    count = page.locator(".paper-page [data-count]")
    before = int(count.inner_text())
    url = page.url
    page.get_by_role("button", name="Upvote Quantum Error Correction With Surface Codes").click()
    page.wait_for_function(f"document.querySelector('.paper-page [data-count]').textContent === '{before + 1}'")
    assert page.url == url  # no navigation: the count changed in place
    assert page.locator(".paper-page .vote button").get_attribute("aria-pressed") == "true"
    page.reload()
    assert int(page.locator(".paper-page [data-count]").inner_text()) == before + 1
    page.get_by_role("button", name="Remove upvote from Quantum Error Correction With Surface Codes").click()
    page.wait_for_function(f"document.querySelector('.paper-page [data-count]').textContent === '{before}'")


def test_keyboard_skip_link(page) -> None:
    page.goto("/daily?date=2024-01-02")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def test_hostile_paper_does_not_execute(page) -> None:
    page.goto(f"/papers/{HOSTILE_ID}")
    page.goto("/search?q=hostile")
    page.goto("/daily?date=2024-01-05")
    assert page.dialogs == []
    page.goto(f"/papers/{HOSTILE_ID}")
    assert "<script>alert(1)</script>" in page.locator("h1").inner_text()


def test_screenshots(page, screenshots_dir: Path) -> None:
    img = screenshots_dir
    page.set_viewport_size({"width": 1000, "height": 720})
    page.goto("/daily?date=2024-01-02")
    page.screenshot(path=str(img / "daily.png"))
    page.goto("/search?q=attention")
    page.screenshot(path=str(img / "search.png"))
    page.goto("/papers/2401.00001")
    page.screenshot(path=str(img / "paper.png"))
    for name in ("daily.png", "search.png", "paper.png"):
        data = (img / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert 5_000 < len(data) < 400_000, (name, len(data))
