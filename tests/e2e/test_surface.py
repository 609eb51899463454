"""The Hugging Face–style web surface over real HTTP (issue 8): the /papers URL layout and strict
paths, faithful Markdown, cards, navigation, the past-the-end message, citation meta tags, BibTeX
export, offline /docs, and what a vote returns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import bibtexparser
import httpx
import pytest

from tests.e2e.conftest import Live, csrf_from, http, serve, signup, template_on
from tests.e2e.surface_seed import (
    LATEX_ABSTRACT,
    LATEX_ID,
    LATEX_TITLE,
    MONTH_ID,
    OLD_ID,
    UNDATED_TITLE,
    build_surface,
)

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def surface_template(e2e_backend: str, tmp_path_factory: pytest.TempPathFactory,
                     request: pytest.FixtureRequest) -> Path:
    return template_on("surface", e2e_backend, build_surface, tmp_path_factory, request)


@pytest.fixture(scope="module")
def site(surface_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with serve(surface_template, tmp_path_factory.mktemp("surface-live")) as lv:
        yield lv


@pytest.fixture
def c(site: Live) -> Iterator[httpx.Client]:
    with http(site.url) as cl:
        yield cl


def flat(html: str) -> str:
    return " ".join(html.split())


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="paper">.*?</li>\s*(?=<li class="paper">|</ol>)', html, re.S)


def card_of(html: str, paper_id: str) -> str:
    found = [x for x in cards(html) if f'href="/papers/{paper_id}"' in x]
    assert len(found) == 1, f"no card for {paper_id}"
    return found[0]


class Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and a.get("name", "").startswith("citation_"):  # type: ignore[union-attr]
            self.meta.append((a["name"] or "", a.get("content") or ""))


def citation_meta(html: str) -> list[tuple[str, str]]:
    parser = Meta()
    parser.feed(html)
    return parser.meta


# -- the URL layout ------------------------------------------------------------------------------
def test_hugging_face_page_paths(c: httpx.Client) -> None:
    day = c.get("/papers/date/2025-01-10")
    assert day.status_code == 200
    assert "Friday, January 10, 2025" in day.text and "2 papers" in day.text
    assert f'href="/papers/{LATEX_ID}"' in day.text and 'href="/papers/2501.00002"' in day.text
    week = c.get("/papers/week/2025-W02")  # Jan 6-12: the two of Jan 10
    assert week.status_code == 200 and "2 papers" in week.text
    month = c.get("/papers/month/2025-01")  # Jan 1 (month precision), 10, 10, 13
    assert month.status_code == 200 and "4 papers" in month.text
    home = c.get("/papers")  # the latest day: the undated papers, placed on the day they were added
    assert home.status_code == 200 and "Undated Hugging Face paper" in home.text
    assert c.get("/papers", params={"date": "2025-01-10"}).text.count('<li class="paper">') == 2  # HF's old ?date=
    trending = c.get("/papers/trending")
    assert trending.status_code == 200 and "Trending papers" in trending.text
    ranked = cards(trending.text)
    assert len(ranked) == 25 and "A Paper Submitted Three Days Ago" in ranked[0]  # 5 upvotes at the source
    assert not any("Ten Days Ago" in x for x in ranked)  # outside the 7 days


def test_paths_are_strict_and_bad_dates_are_clear_404s(c: httpx.Client) -> None:
    assert c.get(f"/papers/{LATEX_ID}").status_code == 200
    assert c.get(f"/papers/{LATEX_ID}v3").status_code == 200  # a versioned arXiv id is the paper
    for path in (f"/papers/x/y/{LATEX_ID}", f"/papers/abs/{LATEX_ID}", f"/papers/{LATEX_ID}/extra",
                 f"/papers/{LATEX_ID}x", "/papers/date/2025-01-10/extra", "/papers/trending/now"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
    for path, words in (("/papers/date/2025-13-40", "'2025-13-40' is not a date"),
                        ("/papers/date/yesterday", "one like 2025-02-27"),
                        ("/papers/week/2025-W60", "'2025-W60' is not a week"),
                        ("/papers/month/2025-13", "'2025-13' is not a month")):
        r = c.get(path)
        assert r.status_code == 404 and words in r.text.replace("&#39;", "'"), path


def test_markdown_is_faithful_and_negotiated(c: httpx.Client) -> None:
    r = c.get(f"/papers/{LATEX_ID}.md")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    md = r.text
    assert md.startswith(f"# {LATEX_TITLE}\n")  # exactly: no \( or \\ell
    assert r"$(k,\ell)$" in md and LATEX_ABSTRACT in md
    assert "**Authors:** Dan Alistarh, Ada Lovelace" in md
    assert "**Published:** 2025-01-10" in md and "**Upvotes:** 42" in md and "**Comments:** 7" in md
    assert "https://github.com/x/sparse" in md
    negotiated = c.get(f"/papers/{LATEX_ID}", headers={"Accept": "text/markdown"})
    assert negotiated.headers["content-type"].startswith("text/markdown") and negotiated.text == md
    assert "Accept" in negotiated.headers["vary"]
    browser = c.get(f"/papers/{LATEX_ID}", headers={
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.headers["content-type"].startswith("text/html")
    month = c.get(f"/papers/{MONTH_ID}.md").text
    assert "**Published:** 2025-01\n" in month or "**Published:** 2025-01  " in month  # no invented day
    undated = c.get("/papers", params={"sort": "publishedAt"}).text
    undated_id = re.search(r'href="/papers/(hf-text-[0-9a-f]+)"', undated)
    assert undated_id
    text = c.get(f"/papers/{undated_id.group(1)}.md").text
    assert "**Published:** date unknown" in text and "**Added:** " in text
    assert c.get("/papers/9999.99999.md").status_code == 404


# -- cards ---------------------------------------------------------------------------------------
def test_a_card_shows_what_a_researcher_expects(c: httpx.Client) -> None:
    html = c.get("/papers/date/2025-01-10").text
    card = card_of(html, LATEX_ID)
    text = flat(card)
    for a in ("Dan Alistarh", "Ada Lovelace"):
        assert f'href="/authors/{a.replace(" ", "%20")}"' in card
    assert "<details" in card and "Show the whole abstract" in text  # long abstract: short + expandable
    assert escape(LATEX_ABSTRACT.split(" pebble game")[0], quote=False) in text
    assert f'href="https://arxiv.org/abs/{LATEX_ID}"' in card and f'href="https://arxiv.org/pdf/{LATEX_ID}"' in card
    assert 'href="https://github.com/x/sparse"' in card and "★ 120" in text
    assert "7 comments" in text and 'submitted by <a href="/users/akhaliq">akhaliq</a>' in text
    assert "IST Austria" in text
    assert re.search(r"data-count>42<", card)  # 42 from the source + 0 here
    assert '<time datetime="2025-01-10">Jan 10, 2025</time>' in card
    assert "·" not in card  # separators come from CSS: no stray "· " whatever a paper lacks
    assert "<img" not in card  # the thumbnail lives on HF's CDN: not fetched by default
    assert 'class="title math"' in card  # KaTeX renders it in the browser
    short = card_of(html, "2501.00002")
    assert "<details" not in short and "Pebble games count degrees" in short


def test_dates_say_how_exact_they_are(c: httpx.Client) -> None:
    month = card_of(c.get("/papers/month/2025-01").text, MONTH_ID)
    assert '<time datetime="2025-01">January 2025</time>' in month
    page = c.get("/papers", params={"sort": "publishedAt"}).text
    undated = next(x for x in cards(page) if UNDATED_TITLE in x or "Undated Hugging Face paper" in x)
    assert "date unknown" in undated and "added <time" in undated
    assert "published" not in flat(re.sub(r"<[^>]+>", " ", undated)).replace("date unknown", "")


def test_remote_thumbnails_only_when_allowed(surface_template: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERSIFT_REMOTE_THUMBNAILS", "1")
    with serve(surface_template, tmp_path) as lv, http(lv.url) as cl:
        r = cl.get("/papers/date/2025-01-10")
        assert f'src="https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{LATEX_ID}.png"' in \
            card_of(r.text, LATEX_ID)
        assert "img-src 'self' data: https:;" in r.headers["content-security-policy"]


# -- navigation and paging -----------------------------------------------------------------------
def test_previous_and_next_skip_empty_days_but_never_jump_years(c: httpx.Client) -> None:
    html = c.get("/papers/date/2025-01-10").text
    assert 'rel="next" href="/papers/date/2025-01-13"' in html  # Jan 11 and 12 are empty: skipped
    assert 'rel="prev" href="/papers/date/2025-01-01"' in html
    first = c.get("/papers/date/2025-01-01").text
    assert 'rel="prev"' not in first  # the day before with papers is three years back
    assert 'the closest earlier are on <a href="/papers/date/2022-01-05">' in flat(first)
    old = c.get(f"/papers/date/{'2022-01-05'}").text
    assert 'rel="next"' not in old and 'href="/papers/date/2025-01-01"' in old
    assert OLD_ID in old
    week = c.get("/papers/week/2025-W02").text
    assert 'rel="next" href="/papers/week/2025-W03"' in week and 'rel="prev" href="/papers/week/2025-W01"' in week


def test_past_the_last_page_says_so(c: httpx.Client) -> None:
    r = c.get("/papers/date/2025-01-10", params={"page": 3})
    assert r.status_code == 200
    text = flat(r.text)
    assert "Page 3 is past the end; the day has 2 papers (1 page of 25)" in text
    assert "No papers on" not in text
    today = c.get("/papers", params={"page": 9}).text
    assert re.search(r"Page 9 is past the end; the day has \d+ papers \(3 pages of 25\)", flat(today))
    assert 'href="/papers/date/' in today and "page=3" in today  # a link to the last page


# -- citations -----------------------------------------------------------------------------------
def test_citation_meta_tags(c: httpx.Client) -> None:
    meta = citation_meta(c.get(f"/papers/{LATEX_ID}").text)
    d = dict(meta)
    assert d["citation_title"] == LATEX_TITLE
    assert [v for k, v in meta if k == "citation_author"] == ["Dan Alistarh", "Ada Lovelace"]
    assert d["citation_date"] == "2025/01/10" and d["citation_publication_date"] == "2025/01/10"
    assert d["citation_arxiv_id"] == LATEX_ID
    assert d["citation_pdf_url"] == f"https://arxiv.org/pdf/{LATEX_ID}"
    assert dict(citation_meta(c.get(f"/papers/{MONTH_ID}").text))["citation_date"] == "2025/01"


def test_bibtex_per_paper_and_per_search(c: httpx.Client) -> None:
    r = c.get(f"/papers/{LATEX_ID}.bib")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-bibtex")
    lib = bibtexparser.parse_string(r.text)
    assert len(lib.failed_blocks) == 0 and len(lib.entries) == 1
    e = lib.entries[0]
    assert e.entry_type == "misc" and e.key == "alistarh2025sparse"
    assert e["title"] == LATEX_TITLE and e["author"] == "Dan Alistarh and Ada Lovelace"
    assert e["year"] == "2025" and e["month"] == "jan"
    assert e["eprint"] == LATEX_ID and e["archivePrefix"] == "arXiv" and e["primaryClass"] == "math.CO"
    month = bibtexparser.parse_string(c.get(f"/papers/{MONTH_ID}.bib").text).entries[0]
    assert month["year"] == "2025" and month["month"] == "jan"  # as exact as known, no day invented
    found = bibtexparser.parse_string(c.get("/search.bib", params={"q": "rigidity", "sort": "date"}).text)
    assert len(found.failed_blocks) == 0
    eprints = [x["eprint"] for x in found.entries]
    assert LATEX_ID in eprints and OLD_ID in eprints and len(set(x.key for x in found.entries)) == len(eprints)
    assert eprints.index("2501.00003") < eprints.index(LATEX_ID) < eprints.index(OLD_ID)  # newest first
    page_of_nothing = flat(c.get("/search", params={"q": "zzqxv blorptastic"}).text)
    assert "0 results for “zzqxv blorptastic”" in page_of_nothing and "No papers match" in page_of_nothing
    assert "search.bib" not in page_of_nothing  # no export of nothing
    dated = flat(c.get("/search", params={"q": "rigidity", "sort": "date"}).text)
    assert "newest first" in dated
    assert dated.index("Rigidity of Random Frameworks") < dated.index("Early Work on Rigidity")
    nothing = c.get("/search.bib", params={"q": "zzqxv blorptastic"})
    assert nothing.status_code == 200 and bibtexparser.parse_string(nothing.text).entries == []
    assert c.get("/search.bib").status_code == 400
    page = c.get(f"/papers/{LATEX_ID}").text
    assert f'href="/papers/{LATEX_ID}.bib"' in page and 'href="/search.bib?q=rigidity"' in \
        c.get("/search", params={"q": "rigidity"}).text


# -- /docs offline, submitters, votes ------------------------------------------------------------
def test_docs_and_redoc_load_nothing_from_elsewhere(c: httpx.Client) -> None:
    for path in ("/docs", "/redoc"):
        html = c.get(path).text
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert urls and all(u.startswith("/") for u in urls), (path, urls)
        assert "https://" not in html and "fonts.googleapis" not in html
        for u in urls:
            asset = c.get(u)
            assert asset.status_code == 200 and len(asset.content) > 1000, u
    assert c.get("/docs-assets/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
    assert c.get("/docs-assets/../pyproject.toml").status_code == 404
    assert c.get("/docs-assets/core.py").status_code == 404
    assert '"validatorUrl": null' in c.get("/docs").text
    redoc_js = c.get("/docs-assets/redoc.standalone.js")
    assert b"cdn.redoc.ly" not in redoc_js.content and b"/docs-assets/favicon.png" in redoc_js.content


def test_source_submitters_have_a_page(c: httpx.Client) -> None:
    r = c.get("/users/akhaliq")
    assert r.status_code == 200 and LATEX_TITLE[:20] in r.text and "not an account here" in r.text
    assert c.get("/users/nobody-at-all").status_code == 404


def test_a_vote_returns_the_total_the_card_shows(surface_template: Path, tmp_path: Path) -> None:
    with serve(surface_template, tmp_path) as lv, http(lv.url) as cl:
        signup(cl)
        token = csrf_from(cl.get(f"/papers/{LATEX_ID}").text)
        r = cl.post("/vote", data={"paper_id": LATEX_ID, "action": "up", "csrf_token": token},
                    headers={"Accept": "application/json"})
        assert r.json() == {"id": LATEX_ID, "upvotes": 1, "total": 43, "upvoted": True}
        assert re.search(r"data-count>43<", cl.get(f"/papers/{LATEX_ID}").text)
