"""Atom and RSS feeds over real HTTP, read as a feed reader reads them (issue 8): every feed parses
with feedparser without a complaint (bozo 0), carries the RFC 4287 required elements, keeps its
entry ids across Host headers and merges, rolls over the last days, answers 304s, and the search
feed is newest first."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from papersift.engine import open_engine
from papersift.models import Paper
from tests.e2e.conftest import Live, http, serve, template_on
from tests.e2e.surface_seed import ADDED_TODAY, LATEX_ID, LATEX_TITLE, OLD_ID, build_surface

A = "{http://www.w3.org/2005/Atom}"
FEEDS = ["/daily.atom", "/daily.rss", "/feeds/daily.xml", "/daily.atom?date=2025-01-10", "/daily.rss?week=2025-W02",
         "/daily.atom?month=2025-01&sort=trending", "/search.atom?q=rigidity", "/search.rss?q=rigidity",
         "/search.atom?q=zzqxv+blorptastic", "/search.rss?q=zzqxv+blorptastic", "/search.atom?author=Alan+Turing",
         "/daily.atom?date=1999-01-01"]


pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def feeds_template(e2e_backend: str, tmp_path_factory: pytest.TempPathFactory,
                   request: pytest.FixtureRequest) -> Path:
    return template_on("feeds", e2e_backend, build_surface, tmp_path_factory, request)


@pytest.fixture(scope="module")
def site(feeds_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with serve(feeds_template, tmp_path_factory.mktemp("feeds-live")) as lv:
        yield lv


@pytest.fixture
def c(site: Live) -> Iterator[httpx.Client]:
    with http(site.url) as cl:
        yield cl


def parsed(c: httpx.Client, path: str, **headers: str) -> feedparser.FeedParserDict:
    r = c.get(path, headers=headers)
    assert r.status_code == 200, (path, r.text[:300])
    d = feedparser.parse(r.content, response_headers={"content-type": r.headers["content-type"]})
    assert d.bozo == 0, (path, d.get("bozo_exception"))
    return d


@pytest.mark.parametrize("path", FEEDS)
def test_every_feed_parses_cleanly(c: httpx.Client, path: str) -> None:
    d = parsed(c, path)
    rss = ".rss" in path
    assert d.version == ("rss20" if rss else "atom10")
    assert d.feed.title and d.feed.link.startswith("http://127.0.0.1:")
    assert d.feed.get("author") == "papersift" or d.feed.get("author_detail", {}).get("name") == "papersift" \
        or rss
    for e in d.entries:
        assert e.id.startswith("tag:papersift,2026:paper/") and e.title and e.link.startswith("http://127.0.0.1:")
        assert e.get("published_parsed") if rss else e.get("updated_parsed")  # pubDate / atom:updated


@pytest.mark.parametrize("path", [p for p in FEEDS if ".rss" not in p])
def test_atom_feeds_have_the_rfc4287_required_elements(c: httpx.Client, path: str) -> None:
    root = ET.fromstring(c.get(path).content)
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{tag}")) == 1 and root.find(f"{A}{tag}").text, tag  # type: ignore[union-attr]
    feed_author = root.find(f"{A}author/{A}name")
    assert feed_author is not None and feed_author.text == "papersift"  # so every entry has an author
    self_link = [x for x in root.findall(f"{A}link") if x.get("rel") == "self"]
    assert len(self_link) == 1 and self_link[0].get("href", "").startswith("http://127.0.0.1:")
    datetime.fromisoformat(root.find(f"{A}updated").text.replace("Z", "+00:00"))  # type: ignore[union-attr]
    for entry in root.findall(f"{A}entry"):
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{tag}")) == 1 and entry.find(f"{A}{tag}").text, tag  # type: ignore[union-attr]
        assert [x for x in entry.findall(f"{A}link") if x.get("rel") == "alternate"]


def test_the_daily_feed_rolls_over_the_last_seven_days_newest_first(c: httpx.Client) -> None:
    d = parsed(c, "/daily.atom")
    titles = [e.title for e in d.entries]
    # the undated papers added today and the one submitted three days ago; not the one of ten days ago
    assert len(titles) == ADDED_TODAY + 1  # all of them, not a page of 50
    assert titles[-1] == "A Paper Submitted Three Days Ago"
    assert "A Paper Submitted Ten Days Ago" not in titles and LATEX_TITLE not in titles
    updated = [e.updated_parsed for e in d.entries]
    assert updated == sorted(updated, reverse=True)
    rss = parsed(c, "/daily.rss")
    assert [e.id for e in rss.entries] == [e.id for e in d.entries]  # guid = Atom id
    pinned = parsed(c, "/daily.atom?date=2025-01-10")
    assert {e.title for e in pinned.entries} == {LATEX_TITLE, "Pebble Games for Rigidity Percolation"}
    assert pinned.feed.id == "tag:papersift,2026:feed/daily/day/2025-01-10"


def test_entries_carry_authors_categories_pdf_and_faithful_text(c: httpx.Client) -> None:
    d = parsed(c, "/daily.atom?date=2025-01-10")
    e = next(x for x in d.entries if x.title == LATEX_TITLE)
    assert [a.name for a in e.authors] == ["Dan Alistarh", "Ada Lovelace"]
    assert {t.term for t in e.tags} == {"math.CO", "cs.DM"}
    assert any(x.get("type") == "application/pdf" and x.href == f"https://arxiv.org/pdf/{LATEX_ID}" for x in e.links)
    assert r"$(k,\ell)$" in e.summary and e.published.startswith("2025-01-10")
    entries = parsed(c, "/daily.atom?month=2025-01").entries
    month = next(x for x in entries if x.title == "A Survey of Rigidity Matroids")
    assert "published" not in month  # a month is no instant: no invented day


def test_entry_ids_ignore_the_host_header_and_links_follow_the_base_url(
        c: httpx.Client, feeds_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = parsed(c, "/daily.atom?date=2025-01-10")
    other = feedparser.parse(c.get("/daily.atom?date=2025-01-10", headers={"Host": "evil.example:666"}).content)
    assert [e.id for e in other.entries] == [e.id for e in plain.entries]
    assert all("evil.example" not in e.id for e in other.entries)
    monkeypatch.setenv("PAPERSIFT_BASE_URL", "https://papers.example.org/")
    with serve(feeds_template, tmp_path) as lv, http(lv.url) as cl:
        d = parsed(cl, "/daily.atom?date=2025-01-10", Host="evil.example")
        assert [e.id for e in d.entries] == [e.id for e in plain.entries]
        assert all(e.link.startswith("https://papers.example.org/papers/") for e in d.entries)
        assert d.feed.link.startswith("https://papers.example.org/")
        assert parsed(cl, "/daily.rss?date=2025-01-10").entries[0].link.startswith("https://papers.example.org/")


def test_an_entry_keeps_its_id_when_its_paper_merges_with_the_arxiv_record(
        feeds_template: Path, tmp_path: Path) -> None:
    with serve(feeds_template, tmp_path) as lv, http(lv.url) as cl:
        before = parsed(cl, "/daily.atom")
        hf = next(e for e in before.entries if e.title == "Undated Hugging Face paper number 7 on diffusion")
        assert "/papers/hf-text-" in hf.link
        eng = open_engine(lv.settings, "owner", owner="test-merge")
        try:  # the same paper arrives from arXiv: its id becomes the arXiv id
            eng.store.upsert_many([Paper(title=hf.title, arxiv_id="2512.09999", abstract="No date is known.",
                                         authors=["Ada Lovelace"], sources=["arxiv"])])
            eng.catch_up()
        finally:
            eng.close()
        after = parsed(cl, "/daily.atom")
        merged = next(e for e in after.entries if e.title == hf.title)
        assert merged.id == hf.id
        assert merged.link.endswith("/papers/2512.09999")
        assert len(after.entries) == len(before.entries)


def test_etag_and_last_modified_give_304s(c: httpx.Client) -> None:
    for path in ("/daily.atom", "/daily.rss", "/search.atom?q=rigidity"):
        r = c.get(path)
        etag, last = r.headers["etag"], r.headers["last-modified"]
        assert etag.startswith('"') and parsedate_to_datetime(last).tzinfo is not None
        again = c.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert c.get(path, headers={"If-None-Match": f'"nope", {etag}'}).status_code == 304
        assert c.get(path, headers={"If-Modified-Since": last}).status_code == 304
        older = format_datetime(datetime(2000, 1, 1).astimezone(), usegmt=False)
        assert c.get(path, headers={"If-Modified-Since": older}).status_code == 200
        # If-None-Match decides when both are sent (RFC 9110 13.2.2)
        assert c.get(path, headers={"If-None-Match": '"stale"', "If-Modified-Since": last}).status_code == 200
        assert c.get(path, headers={"If-Modified-Since": "not a date"}).status_code == 200
    assert c.get("/daily.atom").headers["etag"] != c.get("/daily.rss").headers["etag"]
    head = c.head("/daily.atom")  # readers may probe with HEAD
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == c.get("/daily.atom").headers["etag"]
    assert c.head("/daily.atom", headers={"If-None-Match": head.headers["etag"]}).status_code == 304


def test_the_search_feed_is_newest_first_and_honest(c: httpx.Client) -> None:
    d = parsed(c, "/search.atom?q=rigidity")
    ids = [e.link.rsplit("/", 1)[1] for e in d.entries]
    assert "2512.00006" in ids and OLD_ID in ids
    assert ids.index("2512.00006") < ids.index("2501.00003") < ids.index(LATEX_ID) < ids.index(OLD_ID)
    assert d.feed.id.startswith("tag:papersift,2026:feed/search?") and "q=rigidity" in d.feed.id
    assert parsed(c, "/search.atom?q=zzqxv+blorptastic").entries == []
    assert c.get("/search.atom", params={"q": "x", "since": "yesterday"}).status_code == 400
    assert c.get("/daily.atom", params={"date": "2025-13-40"}).status_code == 400
