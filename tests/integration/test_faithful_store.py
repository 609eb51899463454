"""Every field importers parse reaches the store; dates merge by precision; counts never double."""

from datetime import UTC, date, datetime

import pytest

from papersift.accounts.users import create_user
from papersift.models import Paper
from papersift.store import open_store
from papersift.store.community import set_vote, submit_to_daily

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)


def _hf(**kw: object) -> Paper:
    base: dict[str, object] = {
        "title": "Speculative decoding with draft heads for fast inference", "arxiv_id": "2402.13720",
        "published": date(2024, 2, 21), "published_precision": "day", "sources": ["hf"],
        "source_upvotes": 42, "submitted_by": "akhaliq",
        "submitted_on_daily_at": datetime(2024, 2, 22, 13, 30, tzinfo=UTC), "num_comments": 7,
        "ai_summary": "Drafts tokens with extra heads.", "ai_keywords": ["speculative decoding", "LLM"],
        "github_repo": "https://github.com/x/y", "github_stars": 120, "organization": "Acme AI",
        "thumbnail": "https://cdn.example/x.png"}
    base.update(kw)
    return Paper(**base)  # type: ignore[arg-type]


def test_every_source_field_is_stored_and_read_back(settings):
    settings.ensure()
    store = open_store(settings.db_url, upgrade=True)
    try:
        store.upsert_many([_hf()])
        p = store.get("2402.13720")
        assert p is not None
        assert (p.source_upvotes, p.upvotes, p.total_upvotes) == (42, 0, 42)
        assert p.submitted_by == "akhaliq"
        assert p.submitted_on_daily_at == datetime(2024, 2, 22, 13, 30)
        assert p.num_comments == 7
        assert p.ai_summary == "Drafts tokens with extra heads."
        assert p.ai_keywords == ["speculative decoding", "LLM"]
        assert (p.github_repo, p.github_stars) == ("https://github.com/x/y", 120)
        assert p.links["code"] == "https://github.com/x/y"
        assert (p.organization, p.thumbnail) == ("Acme AI", "https://cdn.example/x.png")
        assert (p.published, p.published_precision, p.daily_basis) == (date(2024, 2, 21), "day", "daily")
    finally:
        store.close()


def test_a_coarser_date_never_replaces_a_finer_one(settings):
    settings.ensure()
    store = open_store(settings.db_url, upgrade=True)
    try:
        store.upsert_many([_hf()])
        # a Zotero BibTeX export: month only
        store.upsert_many([Paper(title="Speculative decoding with draft heads for fast inference",
                                 arxiv_id="2402.13720", published=date(2024, 2, 1), published_precision="month",
                                 sources=["bibtex"])])
        store.upsert_many([Paper(title="x", arxiv_id="2402.13720", published=date(2024, 1, 1),
                                 published_precision="year", sources=["bibtex"])])
        p = store.get("2402.13720")
        assert p is not None and (p.published, p.published_precision) == (date(2024, 2, 21), "day")
        # the other way round: a finer date replaces a coarser one
        store.upsert_many([Paper(title="Month first paper about retrieval augmentation", arxiv_id="2505.14669",
                                 published=date(2025, 5, 1), published_precision="month")])
        store.upsert_many([Paper(title="Month first paper about retrieval augmentation", arxiv_id="2505.14669",
                                 published=date(2025, 5, 20), published_precision="day")])
        q = store.get("2505.14669")
        assert q is not None and (q.published, q.published_precision) == (date(2025, 5, 20), "day")
        # a paper with no date has no precision and says so
        store.upsert_many([Paper(title="An undated paper from a web page", sources=["hf-text"])])
        u = store.get(Paper(title="An undated paper from a web page", sources=["hf-text"]).id)
        assert u is not None and u.published is None and u.published_precision is None
        assert u.daily_basis == "added"
    finally:
        store.close()


def test_source_upvotes_and_local_votes_are_never_double_counted(settings):
    settings.ensure()
    store = open_store(settings.db_url, upgrade=True)
    try:
        store.upsert_many([_hf(source_upvotes=42)])
        p = store.get("2402.13720")
        assert p is not None and p.pk is not None
        uid = create_user(store.db, "alice", "correct horse battery").id
        set_vote(store.db, uid, p.pk, True, datetime(2024, 3, 1))
        store.upsert_many([_hf(source_upvotes=40)])  # an older report: the count stays
        store.upsert_many([_hf(source_upvotes=45)])  # a newer one replaces it, never adds
        p = store.get("2402.13720")
        assert p is not None and (p.source_upvotes, p.upvotes, p.total_upvotes) == (45, 1, 46)
    finally:
        store.close()


def test_a_web_submission_is_not_overwritten_by_an_import(settings):
    settings.ensure()
    store = open_store(settings.db_url, upgrade=True)
    try:
        store.upsert_many([_hf(submitted_by=None, submitted_on_daily_at=None)])
        p = store.get("2402.13720")
        assert p is not None and p.submitted_on_daily_at is None
        assert submit_to_daily(store.db, p.pk, "bob", datetime(2024, 3, 1, 9, 0))
        store.upsert_many([_hf()])  # the import's own submission does not replace bob's
        p = store.get("2402.13720")
        assert p is not None and (p.submitted_by, p.submitted_on_daily_at) == ("bob", datetime(2024, 3, 1, 9, 0))
    finally:
        store.close()
