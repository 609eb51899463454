"""A user's interests: the rules (validation, paper lookup); the SQL is in store/interests.py.

Follows (an author, a category such as ``cs.CL`` or ``cs``, a keyword or saved search), the
library (save / unsave, tags) and thumbs up / down feedback. The For-you ranker reads them.
"""

from __future__ import annotations

import re

from papersift.accounts.users import AccountError, User, now
from papersift.models import Paper, clean_text
from papersift.store import SQLStore
from papersift.store import interests as sql
from papersift.store.db import Database
from papersift.store.interests import FOLLOW_KINDS, Follow, SavedPaper, Signals

__all__ = [
    "FOLLOW_KINDS",
    "Follow",
    "SavedPaper",
    "Signals",
    "change_tags",
    "clean_tags",
    "follow",
    "follows_of",
    "resolve",
    "save",
    "set_feedback",
    "unfollow",
    "unsave",
]

MAX_FOLLOW = 200
MAX_FOLLOWS = 500
MAX_TAG = 40
MAX_TAGS = 20
_CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z\-]+)?$")
_TAG = re.compile(r"[^\w\-.:/+ ]+", re.UNICODE)


def clean_follow(kind: str, value: str) -> tuple[str, str]:
    """(kind, value) as stored, or AccountError saying what is wrong."""
    kind = (kind or "").strip().lower()
    if kind == "keyword":
        kind = "query"
    if kind not in FOLLOW_KINDS:
        raise AccountError(f"follow kind must be one of {', '.join(FOLLOW_KINDS)}, not {kind!r}")
    value = clean_text(value, MAX_FOLLOW + 1)
    if not value:
        raise AccountError(f"give the {'search' if kind == 'query' else kind} to follow")
    if len(value) > MAX_FOLLOW:
        raise AccountError(f"a follow is at most {MAX_FOLLOW} characters")
    if kind == "category":
        if not _CATEGORY.match(value):
            raise AccountError(f"{value!r} is not an arXiv category (examples: cs.CL, cs, math.AG, hep-th)")
        archive, dot, sub = value.partition(".")
        value = archive.lower() + (dot + sub if sub else "")
    return kind, value


def follow(db: Database, user: User, kind: str, value: str) -> tuple[Follow, bool]:
    """Follow an author / category / query. Returns (the follow, newly added)."""
    kind, value = clean_follow(kind, value)
    have = sql.list_follows(db, user.id)
    if len(have) >= MAX_FOLLOWS and not any(f.kind == kind and f.value == value for f in have):
        raise AccountError(f"at most {MAX_FOLLOWS} follows; remove some first")
    new = sql.add_follow(db, user.id, kind, value, now())
    got = next(f for f in sql.list_follows(db, user.id) if f.kind == kind and f.value == value)
    return got, new


def unfollow(db: Database, user: User, kind: str, value: str) -> bool:
    kind, value = clean_follow(kind, value)
    return sql.remove_follow(db, user.id, kind, value)


def follows_of(db: Database, user: User) -> list[Follow]:
    return sql.list_follows(db, user.id)


def clean_tags(tags: list[str] | str | None) -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, lower-cased, deduplicated."""
    if tags is None:
        return []
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    out: list[str] = []
    for t in items:
        t = " ".join(_TAG.sub(" ", clean_text(str(t), 200)).split()).lower()
        if not t:
            continue
        if len(t) > MAX_TAG:
            raise AccountError(f"a tag is at most {MAX_TAG} characters: {t[:50]!r}")
        if t not in out:
            out.append(t)
    if len(out) > MAX_TAGS:
        raise AccountError(f"at most {MAX_TAGS} tags per paper")
    return out


def resolve(store: SQLStore, ref: str) -> Paper:
    """The stored paper named by an id, arXiv id or URL; AccountError when there is none."""
    from papersift.accounts.community import parse_paper_ref

    key = parse_paper_ref(ref)
    paper = store.get(key) if key else None
    if paper is None or paper.pk is None:
        raise AccountError(f"no paper {key or ref!r} in the store")
    return paper


def save(store: SQLStore, user: User, ref: str, tags: list[str] | str | None = None) -> tuple[Paper, bool]:
    paper = resolve(store, ref)
    assert paper.pk is not None
    return paper, sql.save(store.db, user.id, paper.pk, clean_tags(tags), now())


def unsave(store: SQLStore, user: User, ref: str) -> bool:
    paper = resolve(store, ref)
    assert paper.pk is not None
    return sql.unsave(store.db, user.id, paper.pk)


def change_tags(store: SQLStore, user: User, ref: str, add: list[str] | str | None = None,
                remove: list[str] | str | None = None) -> list[str]:
    paper = resolve(store, ref)
    assert paper.pk is not None
    got = sql.change_tags(store.db, user.id, paper.pk, clean_tags(add), clean_tags(remove))
    if got is None:
        raise AccountError(f"{paper.id} is not in your library")
    return got


def set_feedback(store: SQLStore, user: User, ref: str, value: int) -> Paper:
    """Thumbs up (1), down (-1) or clear (0) on a stored paper."""
    if value not in (-1, 0, 1):
        raise AccountError("feedback is 1 (thumbs up), -1 (thumbs down) or 0 (clear)")
    paper = resolve(store, ref)
    assert paper.pk is not None
    sql.set_feedback(store.db, user.id, paper.pk, value, now())
    return paper
