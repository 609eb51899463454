"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): sign up, log in, search,
open a paper, upvote it without a reload; math rendered by the vendored KaTeX with no request
leaving 127.0.0.1 and no console error (daily page, a paper with LaTeX in its title, /docs,
/redoc); the pages readable without JavaScript; screenshots.

Screenshots go to pytest's tmp dir. ``make screenshots`` regenerates docs/img/*.png on purpose by
setting PAPERSIFT_SCREENSHOTS_DIR=docs/img."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.conftest import HOSTILE_ID, Live, serve, template_on, unique_name
from tests.e2e.surface_seed import LATEX_ID, LATEX_TITLE, build_surface

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS_ENV = "PAPERSIFT_SCREENSHOTS_DIR"

pytestmark = [
    pytest.mark.backends,
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


@pytest.fixture(scope="module")
def surface(e2e_backend: str, tmp_path_factory: pytest.TempPathFactory,
            request: pytest.FixtureRequest) -> Iterator[Live]:
    """A server over the web-surface seed: LaTeX titles, every card field, undated papers."""
    template = template_on("surface", e2e_backend, build_surface, tmp_path_factory, request)
    with serve(template, tmp_path_factory.mktemp("browser-surface-live")) as lv:
        yield lv


@contextmanager
def watched_page(browser, url: str, **ctx_args: object) -> Iterator[tuple[object, list[str], list[str]]]:
    """A page that records every request URL and every console error / uncaught exception."""
    ctx = browser.new_context(base_url=url, viewport={"width": 1100, "height": 800}, **ctx_args)
    pg = ctx.new_page()
    requests: list[str] = []
    errors: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    pg.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} {r.failure}"))
    try:
        yield pg, requests, errors
    finally:
        ctx.close()


def test_math_renders_offline_without_console_errors(browser, surface: Live) -> None:
    with watched_page(browser, surface.url) as (page, requests, errors):
        page.goto("/papers/date/2025-01-10")
        page.wait_for_selector(".paper .title .katex")
        card = page.locator(".paper", has_text="Sparse")
        assert card.locator(".title .katex").count() == 1
        assert "$" not in card.locator(".title").inner_text()  # rendered, not raw LaTeX
        card.locator("details.abstract summary").click()  # the full abstract, math rendered too
        assert card.locator("details.abstract[open] p .katex").count() >= 3
        assert page.locator(".paper .katex").count() >= 3

        page.goto(f"/papers/{LATEX_ID}")
        page.wait_for_selector("h1 .katex")
        tex = page.locator("h1 .katex annotation").first.text_content()
        assert tex == r"(k,\ell)"  # KaTeX keeps the source it rendered: the title's own LaTeX
        assert page.evaluate("getComputedStyle(document.querySelector('h1 .katex')).fontFamily").startswith("KaTeX")
        assert page.locator(".abstract .katex").count() >= 3

        page.goto("/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "papersift" in page.locator(".swagger-ui .info .title").inner_text()
        page.wait_for_selector(".opblock", timeout=20_000)

        page.goto("/redoc")
        page.wait_for_selector("h1", timeout=20_000)
        assert "papersift" in page.locator("h1").first.inner_text()
        page.wait_for_timeout(300)  # let late requests (fonts, validators) show up if they would

    away = [u for u in requests if not u.startswith(surface.url + "/") and not u.startswith(("data:", "blob:"))]
    assert away == [], away
    assert any(u.endswith("/static/katex/katex.min.js") for u in requests)
    assert any("/static/katex/fonts/" in u and u.endswith(".woff2") for u in requests)
    assert any(u.endswith("/docs-assets/swagger-ui-bundle.js") for u in requests)
    assert errors == [], errors


def test_pages_are_readable_without_javascript(browser, surface: Live) -> None:
    with watched_page(browser, surface.url, java_script_enabled=False) as (page, _requests, errors):
        page.goto(f"/papers/{LATEX_ID}")
        assert page.locator("h1").inner_text() == LATEX_TITLE  # the LaTeX source, as written
        assert page.locator(".katex").count() == 0
        page.goto("/papers/date/2025-01-10")
        card = page.locator(".paper", has_text="Sparse")
        details = card.locator("details.abstract")
        assert details.get_attribute("open") is None
        card.locator("details.abstract summary").click()  # <details> needs no script
        assert details.get_attribute("open") is not None
        assert card.locator("details.abstract p").is_visible()
    assert errors == [], errors


@pytest.fixture
def screenshots_dir(tmp_path: Path) -> Path:
    configured = os.environ.get(SCREENSHOTS_ENV)
    path = Path(configured).resolve() if configured else tmp_path / "img"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_signup_login_search_upvote(fresh_page) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
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
    # expect() polls from Playwright's own script: a string for wait_for_function would be eval'd in
    # the page, which the pages' CSP (script-src 'self') forbids
    expect(count).to_have_text(str(before + 1))
    assert page.url == url  # no navigation: the count changed in place
    assert page.locator(".paper-page .vote button").get_attribute("aria-pressed") == "true"
    page.reload()
    assert int(page.locator(".paper-page [data-count]").inner_text()) == before + 1
    page.get_by_role("button", name="Remove upvote from Quantum Error Correction With Surface Codes").click()
    expect(page.locator(".paper-page [data-count]")).to_have_text(str(before))


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


def test_screenshots(browser, surface: Live, screenshots_dir: Path) -> None:
    img = screenshots_dir
    with watched_page(browser, surface.url) as (page, _requests, errors):
        page.set_viewport_size({"width": 1000, "height": 720})
        page.goto("/papers/date/2025-01-10")
        page.wait_for_selector(".paper .title .katex")
        page.screenshot(path=str(img / "daily.png"))
        page.goto("/search?q=rigidity")
        page.wait_for_selector(".paper .title .katex")
        page.screenshot(path=str(img / "search.png"))
        page.goto(f"/papers/{LATEX_ID}")
        page.wait_for_selector("h1 .katex")
        page.screenshot(path=str(img / "paper.png"))
    assert errors == [], errors
    for name in ("daily.png", "search.png", "paper.png"):
        data = (img / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert 5_000 < len(data) < 400_000, (name, len(data))
