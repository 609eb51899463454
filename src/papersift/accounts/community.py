"""Community actions: upvotes and daily-feed submissions (race-free; see store/community.py)."""

from __future__ import annotations

from papersift.accounts.users import AccountError, User, now
from papersift.models import Paper, split_arxiv_id
from papersift.store import SQLStore
from papersift.store import community as sql
from papersift.store.db import Database


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


def submit_paper(store: SQLStore, user: User, ref: str) -> tuple[Paper, bool]:
    """Put a stored paper on the daily feed. Returns (paper, newly submitted). No network is used:
    a paper that is not in the store is refused."""
    key = parse_paper_ref(ref)
    if not key:
        raise AccountError("Give an arXiv id (2401.01234) or an arxiv.org URL.")
    paper = store.get(key)
    if paper is None:
        raise AccountError(f"Paper {key!r} is not in the store; ingest it first.")
    if paper.submitted_on_daily_at is not None:
        return paper, False
    new = sql.submit_to_daily(store.db, _pk(paper), user.username, now())
    return store.get(paper.id) or paper, new
