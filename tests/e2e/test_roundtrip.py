"""Every documented field of every import format goes file → store → JSON API, over real HTTP:
papersift's /api/v1 and the Hugging Face–shaped /api/papers, /api/daily_papers (issue 8)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from papersift import pipeline
from papersift.config import Settings
from papersift.engine import open_engine
from tests.conftest import FIXTURES
from tests.e2e.conftest import Live, build_on, http, serve

RT = FIXTURES / "roundtrip"
pytestmark = pytest.mark.backends


@contextmanager
def served(where: Path, *files: Path, backend: str = "sqlite",
           request: pytest.FixtureRequest | None = None) -> Iterator[httpx.Client]:
    """A live server over a data dir (and on PostgreSQL a database) that `papersift ingest FILES...`
    built (in that order)."""
    def build(data: Path, db_url: str | None) -> Path:
        eng = open_engine(Settings(data_dir=data, database_url=db_url), "owner", owner="test-roundtrip",
                          upgrade=True)
        try:
            for f in files:  # one call per file: the order is the test's
                stats = pipeline.ingest_paths(eng, [f])
                assert stats.rejected == 0, [str(e) for e in stats.errors]
            eng.catch_up()
        finally:
            eng.close()
        return data

    template = build_on(backend, where / "template", build, request)  # type: ignore[arg-type]
    lv: Live
    try:
        with serve(template, where) as lv, http(lv.url) as c:
            yield c
    finally:
        if template.cluster:
            template.cluster.drop_database(template.db_url)  # type: ignore[attr-defined]


Served = Callable[..., AbstractContextManager[httpx.Client]]


@pytest.fixture
def serve_files(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Served:
    """``served`` in this test's temp dir, on this test's backend."""
    return functools.partial(served, tmp_path, backend=backend, request=request)


def v1(c: httpx.Client, pid: str) -> dict[str, Any]:
    r = c.get(f"/api/v1/papers/{pid}")
    assert r.status_code == 200, r.text
    return r.json()


def hf(c: httpx.Client, pid: str) -> dict[str, Any]:
    r = c.get(f"/api/papers/{pid}")
    assert r.status_code == 200, r.text
    return r.json()


def subset(got: dict[str, Any], want: dict[str, Any]) -> None:
    diff = {k: (got.get(k, "<missing>"), v) for k, v in want.items() if got.get(k, "<missing>") != v}
    assert not diff, f"(got, want) per field: {diff}"


def test_hf_daily_item_every_field(serve_files: Served) -> None:
    with serve_files(RT / "hf_daily.json") as c:
        subset(v1(c, "2502.11111"), {
            "id": "2502.11111", "arxiv_id": "2502.11111", "title": "Sparse Low-Rank Adapters for Every Layer",
            "abstract": "We adapt every layer with sparse low-rank updates, matching full fine-tuning.",
            "authors": ["Dan Alistarh", "Wei Chen"], "published": "2025-02-14", "published_precision": "day",
            "upvotes": 42, "source_upvotes": 42, "local_upvotes": 0, "submitted_by": "akhaliq",
            "submitted_on_daily_at": "2025-02-17T03:12:45.123000", "num_comments": 7,
            "ai_summary": "Sparse low-rank adapters match full fine-tuning at a tenth of the memory.",
            "ai_keywords": ["low-rank adaptation", "sparsity", "fine-tuning"],
            "github_repo": "https://github.com/example/slora", "github_stars": 321, "organization": "Example Lab",
            "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2502.11111.png",
            "daily_date": "2025-02-17", "daily_basis": "daily", "sources": ["hf-json"]})
        assert v1(c, "2502.11111")["links"] == {
            "code": "https://github.com/example/slora", "project": "https://example.org/slora",
            "abs": "https://arxiv.org/abs/2502.11111", "pdf": "https://arxiv.org/pdf/2502.11111"}
        h = hf(c, "2502.11111")
        subset(h, {"publishedAt": "2025-02-14T00:00:00.000Z", "upvotes": 42, "numComments": 7,
                   "submittedOnDailyAt": "2025-02-17T03:12:45.123Z", "githubRepo": "https://github.com/example/slora",
                   "githubStars": 321, "projectPage": "https://example.org/slora",
                   "ai_summary": "Sparse low-rank adapters match full fine-tuning at a tenth of the memory.",
                   "ai_keywords": ["low-rank adaptation", "sparsity", "fine-tuning"], "publishedPrecision": "day"})
        assert h["submittedOnDailyBy"]["user"] == "akhaliq"
        assert h["organization"]["fullname"] == "Example Lab"
        assert [a["name"] for a in h["authors"]] == ["Dan Alistarh", "Wei Chen"]
        [entry] = c.get("/api/daily_papers", params={"date": "2025-02-17"}).json()
        subset(entry, {"publishedAt": "2025-02-17T03:12:45.123Z", "numComments": 7, "upvotes": 42,
                       "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2502.11111.png",
                       "githubRepo": "https://github.com/example/slora", "githubStars": 321,
                       "ai_keywords": ["low-rank adaptation", "sparsity", "fine-tuning"], "dailyBasis": "daily"})
        assert entry["submittedBy"]["name"] == "akhaliq" and entry["organization"]["name"] == "Example Lab"
        assert entry["paper"]["id"] == "2502.11111" and entry["paper"]["upvotes"] == 42


def test_real_hf_daily_file_keeps_upvotes_submitter_and_comments(serve_files: Served) -> None:
    with serve_files(FIXTURES / "hf" / "daily_papers_2024-10-25.json") as c:
        day = c.get("/api/daily_papers", params={"date": "2024-10-25", "limit": 100})
        assert day.status_code == 200 and len(day.json()) == 29 and day.headers["X-Total-Count"] == "29"
        p = v1(c, "2410.17243")
        subset(p, {"upvotes": 64, "source_upvotes": 64, "submitted_by": "ClownRat", "num_comments": 3,
                   "submitted_on_daily_at": "2024-10-25T00:57:09.392000", "published": "2024-10-22",
                   "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.17243.png"})
        entry = next(e for e in day.json() if e["paper"]["id"] == "2410.17243")
        assert entry["submittedBy"]["name"] == "ClownRat" and entry["numComments"] == 3
        # trending counts the source's upvotes: the most upvoted paper of the day comes first
        top = c.get("/api/daily_papers", params={"date": "2024-10-25", "sort": "trending"}).json()
        assert [e["upvotes"] for e in top] == sorted((e["upvotes"] for e in top), reverse=True)
        assert top[0]["upvotes"] > 0


def test_hf_paper_object(serve_files: Served) -> None:
    with serve_files(FIXTURES / "hf" / "paper_info.json") as c:
        subset(v1(c, "2509.04664"), {
            "title": "Why Language Models Hallucinate", "published": "2025-09-04", "published_precision": "day",
            "authors": ["Adam Tauman Kalai", "Ofir Nachum", "Santosh S. Vempala", "Edwin Zhang"],
            "upvotes": 42, "submitted_by": "taesiri", "submitted_on_daily_at": "2025-09-08T02:44:20.973000",
            "github_repo": "https://github.com/example/hallucinate"})
        subset(hf(c, "2509.04664"), {"publishedAt": "2025-09-04T00:00:00.000Z", "upvotes": 42,
                                     "projectPage": "https://example.org/hallucinate",
                                     "githubRepo": "https://github.com/example/hallucinate"})


def test_arxiv_atom(serve_files: Served) -> None:
    with serve_files(FIXTURES / "arxiv" / "search_query=au_del_maestro.xml") as c:
        p = v1(c, "1201.4869")
        subset(p, {"title": "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores",
                   "authors": ["Adrian Del Maestro"], "published": "2012-01-23", "published_precision": "day",
                   "updated": "2012-01-23", "version": 1, "doi": "10.1142/s021797921244002x",
                   "categories": ["cond-mat.mes-hall", "cond-mat.other"], "upvotes": 0, "daily_basis": "published",
                   "num_comments": None, "ai_keywords": []})
        assert p["abstract"].startswith("As helium-4 is cooled below 2.17 K")
        assert hf(c, "1201.4869")["publishedAt"] == "2012-01-23T00:00:00.000Z"


def test_arxiv_oai(serve_files: Served) -> None:
    with serve_files(FIXTURES / "arxiv" / "ListRecordsResponse.xml") as c:
        p = v1(c, "0704.0471")
        subset(p, {"title": "Density dependence of the symmetry energy and the nuclear equation of state: "
                            "A Dynamical and Statistical model perspective",
                   "published": "2007-04-03", "published_precision": "day", "version": 1,
                   "categories": ["nucl-ex", "nucl-th"], "doi": "10.1103/physrevc.76.024606"})
        assert p["authors"][0] == "D.V. Shetty"


def test_arxiv_snapshot(serve_files: Served) -> None:
    with serve_files(FIXTURES / "arxiv" / "arxiv-metadata-oai-snapshot.json") as c:
        subset(v1(c, "0704.0001"), {
            "published": "2007-04-02", "published_precision": "day", "updated": "2007-07-24", "version": 2,
            "doi": "10.1103/physrevd.76.013009", "categories": ["hep-ph"],
            "authors": ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]})


def test_bibtex_zotero_month_and_year_precision(serve_files: Served) -> None:
    with serve_files(RT / "zotero.bib") as c:
        subset(v1(c, "2402.13720"), {"published": "2024-02-01", "published_precision": "month",
                                     "authors": ["Dan Alistarh", "Xi Chen"], "doi": "10.48550/arxiv.2402.13720",
                                     "title": "Speculative Decoding with Draft Heads"})
        book = c.get("/api/v1/search", params={"q": "book known only by its year"}).json()["results"][0]["paper"]
        subset(book, {"published": "1999-01-01", "published_precision": "year", "authors": ["Jane Smith"]})
        assert hf(c, "2402.13720")["publishedPrecision"] == "month"


def test_a_zotero_export_never_moves_a_day_precise_date(serve_files: Served) -> None:
    """The issue's case: importing a Zotero BibTeX (month-only) after the arXiv dates."""
    with serve_files(RT / "arxiv_days.jsonl", RT / "zotero.bib") as c:
        subset(v1(c, "2402.13720"), {"published": "2024-02-21", "published_precision": "day"})
        subset(v1(c, "2505.14669"), {"published": "2025-05-20", "published_precision": "day"})
        assert v1(c, "2402.13720")["daily_date"] == "2024-02-21"
        assert {e["paper"]["id"] for e in c.get("/api/daily_papers", params={"date": "2024-02-21"}).json()} \
            == {"2402.13720"}


def test_a_finer_date_replaces_a_coarser_one(serve_files: Served) -> None:
    with serve_files(RT / "zotero.bib", RT / "arxiv_days.jsonl") as c:
        subset(v1(c, "2402.13720"), {"published": "2024-02-21", "published_precision": "day"})


@pytest.mark.parametrize("name, pid, precision, published, upvotes, comments, keywords, who, when, extra", [
    ("papers.csv", "2403.00042", "month", "2024-03-01", 12, 4, ["round trip", "csv"], "curator",
     "2024-03-05T08:30:00", {"authors": ["Ada Lovelace", "Alan Turing"], "categories": ["cs.DB", "cs.IR"],
                             "doi": "10.1000/rt.1", "ai_summary": "A short AI summary.",
                             "github_repo": "https://github.com/example/rt", "github_stars": 99,
                             "organization": "Example Lab", "thumbnail": "https://example.org/t.png",
                             "abstract": "Every documented column reaches the API."}),
    ("papers.jsonl", "2403.00043", "year", "2024-01-01", 5, 0, ["round trip", "jsonl"], "curator",
     "2024-03-06T09:00:00", {"authors": ["Grace Hopper", "Barbara Liskov"], "categories": ["cs.DB"],
                             "doi": "10.1000/rt.2", "ai_summary": "Another AI summary.",
                             "github_repo": "https://github.com/example/rt2", "github_stars": 7,
                             "organization": "Example Lab", "thumbnail": "https://example.org/t2.png",
                             "abstract": "Every documented key reaches the API."}),
])
def test_tabular_every_field(serve_files: Served, name: str, pid: str, precision: str, published: str, upvotes: int,
                             comments: int, keywords: list[str], who: str, when: str,
                             extra: dict[str, Any]) -> None:
    with serve_files(RT / name) as c:
        p = v1(c, pid)
        subset(p, {"published": published, "published_precision": precision, "upvotes": upvotes,
                   "source_upvotes": upvotes, "num_comments": comments, "ai_keywords": keywords,
                   "submitted_by": who, "submitted_on_daily_at": when, **extra})
        subset(hf(c, pid), {"upvotes": upvotes, "numComments": comments, "ai_keywords": keywords,
                            "githubStars": extra["github_stars"], "publishedPrecision": precision})


def test_hf_text_page_dates_nothing(serve_files: Served) -> None:
    """No date on the page: no date in the API (never the day of the import), listed as "added"."""
    with serve_files(RT / "hf_page.txt") as c:
        hits = c.get("/api/v1/search", params={"q": "saved hugging face page"}).json()["results"]
        p = hits[0]["paper"]
        subset(p, {"title": "A Paper Seen Only On A Saved Hugging Face Page", "published": None,
                   "published_precision": None, "daily_basis": "added", "authors": [], "arxiv_id": None})
        assert p["abstract"].startswith("This abstract is long enough")
        assert p["daily_date"] == p["first_seen"][:10]  # on the daily feed by the day it was added
        assert hf(c, p["id"])["publishedAt"] is None
        entries = c.get("/api/daily_papers").json()  # the latest day: the day of the import
        assert {e["title"] for e in entries} == {"A Paper Seen Only On A Saved Hugging Face Page",
                                                 "Another Undated Paper From The Same Page"}
        for e in entries:
            assert e["publishedAt"] is None and e["paper"]["publishedAt"] is None and e["dailyBasis"] == "added"


def test_nonsense_finds_nothing_and_counts_are_true(serve_files: Served) -> None:
    with serve_files(FIXTURES / "hf" / "daily_papers_2024-10-25.json") as c:
        for mode in ("lexical", "hybrid"):
            r = c.get("/api/v1/search", params={"q": "zzqxv blorptastic", "mode": mode}).json()
            assert (r["total"], r["results"]) == (0, []), mode
        r = c.get("/api/papers/search", params={"q": "zzqxv blorptastic"})
        assert r.json() == [] and r.headers["X-Total-Count"] == "0"
        got = c.get("/api/v1/search", params={"q": "contrastive loss", "limit": 100}).json()
        assert got["total"] == len(got["results"]) > 0
        by_date = c.get("/api/v1/search", params={"q": "contrastive loss", "sort": "date", "limit": 100}).json()
        assert by_date["sort"] == "date" and by_date["total"] == got["total"]
        days = [x["paper"]["published"] for x in by_date["results"]]
        assert days == sorted(days, reverse=True)
        hf_sorted = c.get("/api/papers/search", params={"q": "contrastive loss", "sort": "date"}).json()
        assert [e["paper"]["id"] for e in hf_sorted] == [x["paper"]["id"] for x in by_date["results"]][:50]
