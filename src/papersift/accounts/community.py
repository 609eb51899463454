"""Community actions: upvotes and daily-feed submissions (race-free; see store/community.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from papersift.accounts.users import AccountError, User, now
from papersift.config import Settings
from papersift.models import Paper, split_arxiv_id
from papersift.store import SQLStore
from papersift.store import community as sql
from papersift.store.db import Database

log = logging.getLogger(__name__)


def _pk(paper: Paper | int) -> int:
    if isinstance(paper, int):
        return paper
    if paper.pk is None:
        raise ValueError("a paper read from the store (with a pk) is needed")
    return paper.pk


def set_vote(db: Database, user: User, paper: Paper | int, up: bool = True) -> tuple[bool, int]:
    """Upvote (``up``) or withdraw the vote. Idempotent. Returns (user has voted, paper's upvotes)."""
    return sql.set_vote(db, user.id, _pk(paper), up, now())


def has_voted(db: Database, user: User | None, paper: Paper) -> bool:
    if user is None or paper.pk is None:
        return False
    return sql.has_voted(db, user.id, paper.pk)


def voted_pks(db: Database, user: User | None, pks: list[int]) -> set[int]:
    if user is None or not pks:
        return set()
    return sql.voted_pks(db, user.id, pks)


def parse_paper_ref(text: str) -> str:
    """An arXiv id from an id or an arxiv.org / huggingface.co URL; else the trimmed text."""
    text = (text or "").strip()[:300]
    aid, _ = split_arxiv_id(text)
    return aid or text


Fetch = Callable[[str], Paper | None]


def submit_paper(store: SQLStore, user: User, ref: str, fetch: Fetch | None = None) -> tuple[Paper, bool]:
    """Put a paper on the daily feed. Returns (paper, newly submitted). A paper the store does not
    hold is fetched with ``fetch`` (an arXiv id through the arXiv API: ``arxiv_fetcher``) when given,
    else refused."""
    key = parse_paper_ref(ref)
    if not key:
        raise AccountError("Give an arXiv id (2401.01234) or an arxiv.org URL.")
    paper = store.get(key)
    if paper is None and fetch is not None and split_arxiv_id(key)[0] == key and not store.is_deleted(key):
        paper = fetch(key)
    if paper is None:
        if store.is_deleted(key):
            raise AccountError(f"Paper {key!r} is not in the store: arXiv reported it deleted.")
        raise AccountError(f"Paper {key!r} is not in the store; ingest it first.")
    if paper.submitted_on_daily_at is not None:
        return paper, False
    new = sql.submit_to_daily(store.db, _pk(paper), user.username, now())
    return store.get(paper.id) or paper, new


def arxiv_fetcher(store: SQLStore, settings: Settings) -> Fetch | None:
    """A ``fetch`` for ``submit_paper``: the arXiv API (settings: endpoint, delay, contact) into the
    store; None when fetching on submit is turned off (PAPERSIFT_FETCH_ON_SUBMIT=0)."""
    if not settings.fetch_on_submit:
        return None
    from papersift.sources.arxiv_api import SharedFetcher
    from papersift.sources.http import SourceError, check_delay

    endpoint = settings.arxiv_api_endpoint
    try:
        delay = check_delay(endpoint, settings.harvest_delay)
    except ValueError:
        delay = 3.0  # a delay under 1 s is for a loopback endpoint only

    def fetch(arxiv_id: str) -> Paper | None:
        try:
            rec = SharedFetcher.get(endpoint, delay, settings.contact_email).one(arxiv_id)
        except SourceError as e:
            log.warning("submit: could not fetch %s from the arXiv API: %s", arxiv_id, e)
            raise AccountError(f"Paper {arxiv_id!r} is not in the store, and arXiv could not be reached to "
                               "fetch it; try again in a few minutes.") from None
        if rec is None:
            raise AccountError(f"Paper {arxiv_id!r} is not in the store, and arXiv has no paper with this id.")
        if not isinstance(rec, Paper):
            raise AccountError(f"Paper {arxiv_id!r} is not in the store, and arXiv answered: {rec.reason}")
        got = store.upsert_many([rec], source=endpoint)
        if got.errors:
            store.record_errors(got.errors)
        log.info("submit: fetched %s from the arXiv API", arxiv_id)
        return store.get(arxiv_id)

    return fetch
