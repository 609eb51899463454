"""A user's interests: the rules (validation, paper lookup); the SQL is in store/interests.py.

Follows (an author, a category such as ``cs.CL`` or ``cs``, a keyword or saved search), the
library (save / unsave, tags) and thumbs up / down feedback. The For-you ranker reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from papersift import cite
from papersift.accounts.users import AccountError, User, now
from papersift.models import Paper, ParseError, clean_text
from papersift.store import SQLStore
from papersift.store import interests as sql
from papersift.store.db import Database
from papersift.store.interests import FOLLOW_KINDS, Follow, SavedPaper, Signals
from papersift.store.papers import MIN_TITLE_WORDS

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
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z\-]*(\.[A-Za-z\-]+)?$")
_TAG = re.compile(r"[^\w\-.:/+&# ]+", re.UNICODE)


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


# -- import of a reference-manager export ----------------------------------------------------------
@dataclass
class ImportReport:
    """What ``import_library`` did, entry by entry."""

    entries: int = 0
    matched: dict[str, int] = field(default_factory=lambda: {"arxiv": 0, "doi": 0, "title": 0})
    added_papers: int = 0      # entries unknown to the store, added as papers
    saved: int = 0             # newly saved to the library
    already_saved: int = 0
    errors: list[ParseError] = field(default_factory=list)
    papers: list[Paper] = field(default_factory=list)  # the library papers of the file, in file order

    def as_dict(self) -> dict[str, object]:
        return {"entries": self.entries, "matched": dict(self.matched), "added_papers": self.added_papers,
                "saved": self.saved, "already_saved": self.already_saved,
                "errors": [{"location": e.location, "reason": e.reason} for e in self.errors]}


def _match(p: Paper, found: tuple[dict[str, int], dict[str, int], dict[str, int]]) -> tuple[int, str] | None:
    by_aid, by_doi, by_title = found
    if p.arxiv_id and p.arxiv_id in by_aid:
        return by_aid[p.arxiv_id], "arxiv"
    if p.doi and p.doi in by_doi:
        return by_doi[p.doi], "doi"
    if len(p.norm_title.split()) >= MIN_TITLE_WORDS and p.norm_title in by_title:
        return by_title[p.norm_title], "title"
    return None


def import_library(store: SQLStore, user: User, path: Path, fmt: str = "auto",
                   tags: list[str] | str | None = None, batch: int = 500) -> ImportReport:
    """Read a BibTeX / Zotero (BibTeX, CSV, RDF) / generic export into the user's library.

    Each entry is matched to a stored paper by arXiv id, then DOI, then normalised title; an
    unknown entry is added as a paper through the store's normal write path (its change number
    brings it into the indexes); the entry's tags (BibTeX keywords, Zotero tags and collections)
    plus ``tags`` are saved with it. A bad entry is reported (``errors``) and costs nothing else."""
    from papersift.ingest.library import Entry, read_library

    extra = clean_tags(tags)
    report = ImportReport()
    pending: list[Entry] = []

    def flush() -> None:
        if not pending:
            return
        ps = [e.paper for e in pending]
        keys = ([p.arxiv_id for p in ps if p.arxiv_id] + [p.id for p in ps],
                [p.doi for p in ps if p.doi], [p.norm_title for p in ps])
        before = sql.find_pks(store.db, *keys)
        how_matched = {id(e): m[1] for e in pending if (m := _match(e.paper, before)) is not None}
        # every entry goes through the store's write path: unknown ones become papers, known ones
        # fill fields the store lacks (dedup rules of docs/architecture.md); the change log indexes both
        stats = store.upsert_many(ps, source=str(path))
        report.errors.extend(stats.errors)
        report.added_papers += stats.new
        found = sql.find_pks(store.db, *keys)
        items: list[tuple[int, list[str]]] = []
        for e in pending:
            got = _match(e.paper, found)
            if got is None:
                if not any(err.location == e.paper.origin for err in report.errors):
                    report.errors.append(ParseError(str(path), e.location, "entry could not be stored"))
                continue
            pk = got[0]
            if id(e) in how_matched:
                report.matched[how_matched[id(e)]] += 1
            try:
                items.append((pk, clean_tags([*e.tags, *extra])))
            except AccountError:  # too many or too long tags: keep the paper, drop what is invalid
                items.append((pk, [t for t in clean_tags(extra) if len(t) <= MAX_TAG][:MAX_TAGS]))
        have = sql.saved_pks(store.db, user.id, [pk for pk, _t in items])
        new = {pk for pk, _t in items} - have
        sql.save_many(store.db, user.id, items, now())
        report.saved += len(new)
        report.already_saved += len({pk for pk, _t in items} & have)
        got_papers = store.get_many(pk for pk, _t in items)
        report.papers.extend(got_papers[pk] for pk, _t in items if pk in got_papers)
        pending.clear()

    for rec in read_library(Path(path), fmt):
        if isinstance(rec, ParseError):
            report.errors.append(rec)
            continue
        report.entries += 1
        pending.append(rec)
        if len(pending) >= batch:
            flush()
    flush()
    return report


# -- BibTeX export of a library ------------------------------------------------------------------------
def bibtex(items: list[tuple[Paper, list[str]]]) -> str:
    """BibTeX of library papers (``@misc`` in arXiv's style: eprint, archivePrefix, primaryClass),
    their tags as ``keywords`` (which ``library import`` reads back), titles' capitals kept."""
    return cite.bibtex([p for p, _ in items], None, tags=[tags for _, tags in items], keep_case=True)


def library_papers(store: SQLStore, user: User, tag: str | None = None) -> list[tuple[Paper, SavedPaper]]:
    """The user's saved papers (newest first) with their library rows."""
    rows = sql.library_items(store.db, user.id, tag=tag)
    got = store.get_many(r.paper_pk for r in rows)
    return [(got[r.paper_pk], r) for r in rows if r.paper_pk in got]
