"""Hugging Face Papers API JSON.

Accepts a list of objects, a single object, JSON lines, or a wrapper object holding the list under
"dailyPapers"/"papers". Objects are either /api/daily_papers items ({"paper": {...}, "title",
"publishedAt" (day on the daily list), "submittedBy", "numComments", ...}) or /api/papers/{id}
objects ({"id", "title", "summary", "authors": [{"name"}], "publishedAt", "upvotes", "githubRepo",
"projectPage", "submittedOnDailyAt", "submittedOnDailyBy"}). Field precedence follows
huggingface_hub's ``PaperInfo``: the nested "paper" object first, then the outer object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from papersift.ingest.base import Record
from papersift.ingest.common import (
    READ_ERRORS,
    as_int,
    as_str,
    decode_line,
    decode_text,
    guarded,
    iter_json_array,
    iter_json_lines,
    parse_dated,
    parse_datetime,
    probe,
    read_all,
    split_authors,
)
from papersift.models import ARXIV_NEW, ARXIV_OLD, Paper, ParseError

FORMAT = "hf-json"
_KEYS = (b'"paper"', b'"submittedOnDailyAt"', b'"submittedOnDailyBy"', b'"submittedBy"',
         b'"numComments"', b'"discussionId"', b'"githubRepo"', b'"projectPage"', b'"ai_summary"',
         b'"upvotes"', b'"publishedAt"')
_WRAPPERS = ("dailyPapers", "papers", "results", "items")


def sniff(head: bytes, path: Path) -> bool:
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if h[:1] not in (b"[", b"{"):
        return False
    # "upvotes" and "ai_summary" are in papersift's own JSON lines schema too: one of the Hub's
    # camelCase keys must be there as well
    return (sum(k in head for k in _KEYS) >= 2 and b'"title"' in head
            and any(k in head for k in _KEYS if k not in (b'"upvotes"', b'"ai_summary"')))


def _user(value: Any) -> str | None:
    if isinstance(value, dict):
        return as_str(value.get("user") or value.get("name") or value.get("fullname")) or None
    return as_str(value) or None


def _org(value: Any) -> str | None:
    if isinstance(value, dict):
        return as_str(value.get("fullname") or value.get("name")) or None
    return as_str(value) or None


def _count(value: Any) -> int | None:
    """A count the source reports (0 is a count); None when absent or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return None


def _url(value: Any) -> str | None:
    url = as_str(value).strip()
    return url if url.startswith(("http://", "https://")) else None


def to_paper(item: Any, source: str, location: str) -> Record:
    """Map one API object to a Paper (or a ParseError)."""
    if not isinstance(item, dict):
        return ParseError(source, location, f"expected a JSON object, got {type(item).__name__}")
    nested = item.get("paper")
    paper: dict[str, Any] = nested if isinstance(nested, dict) else {}

    def pick(*keys: str) -> Any:
        for obj in (paper, item):
            for k in keys:
                v = obj.get(k)
                if v not in (None, "", []):
                    return v
        return None

    title = as_str(item.get("title") or paper.get("title")).strip()
    if not title:
        return ParseError(source, location, "missing title")
    pid = as_str(paper.get("id") or item.get("id")).strip()
    arxiv_id = pid if (ARXIV_NEW.fullmatch(pid) or ARXIV_OLD.fullmatch(pid)) else None
    # PaperInfo: published_at = paper.publishedAt or publishedAt; the daily item's own publishedAt is
    # then the day it was on the daily list (submitted_at), else submittedOnDailyAt.
    if paper.get("publishedAt"):
        published = paper.get("publishedAt")
        submitted = (item.get("publishedAt") or item.get("submittedOnDailyAt")
                     or paper.get("submittedOnDailyAt"))
    else:
        published = item.get("publishedAt")
        submitted = item.get("submittedOnDailyAt") or paper.get("submittedOnDailyAt")
    links = {}
    for key, name in (("githubRepo", "code"), ("projectPage", "project")):
        url = _url(pick(key))
        if url:
            links[name] = url
    day, precision = parse_dated(published)
    keywords = pick("ai_keywords")
    return Paper(
        title=title,
        abstract=as_str(pick("summary")),
        authors=split_authors(pick("authors")),
        published=day,
        published_precision=precision,
        arxiv_id=arxiv_id,
        links=links,
        sources=[FORMAT],
        source_upvotes=as_int(pick("upvotes")),
        submitted_by=_user(pick("submittedBy", "submittedOnDailyBy")),
        submitted_on_daily_at=parse_datetime(submitted),
        num_comments=_count(pick("numComments")),
        ai_summary=as_str(pick("ai_summary")) or None,
        ai_keywords=[as_str(k) for k in keywords] if isinstance(keywords, list) else [],
        github_repo=links.get("code"),
        github_stars=_count(pick("githubStars")),
        organization=_org(pick("organization")),
        thumbnail=_url(pick("thumbnail")),
    )


def _items(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for k in _WRAPPERS:
            if isinstance(doc.get(k), list):
                return doc[k]
    return [doc]


def read(path: Path) -> Iterator[Record]:
    source = str(path)
    try:
        head = probe(path)
    except ParseError as e:
        yield e
        return
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        json.loads(decode_line(first))
        jsonl = b"\n" in head.strip()
    except (ValueError, RecursionError):
        jsonl = False
    if jsonl:  # JSON lines: stream
        try:
            for loc, obj in iter_json_lines(path):  # too long / not UTF-8 / bad JSON: a located ParseError
                if isinstance(obj, ParseError):
                    yield obj
                    continue
                for item in _items(obj):
                    rec = guarded(source, loc, to_paper, item, source, loc)
                    if rec is not None:
                        yield rec
        except READ_ERRORS as e:
            yield ParseError(source, "file", f"cannot read file: {e}")
        return
    try:
        text = decode_text(read_all(path), source)
    except ParseError as e:
        yield e
        return
    if text.lstrip("\ufeff \t\r\n").startswith("["):  # a list: salvage records before any damage
        n = 0
        for n, item in iter_json_array(text, source):
            if isinstance(item, ParseError):
                yield item
                continue
            rec = guarded(source, f"record {n}", to_paper, item, source, f"record {n}")
            if rec is not None:
                yield rec
        if n == 0:
            yield ParseError(source, "file", "empty JSON list: no papers")
        return
    try:
        doc = json.loads(text)
    except RecursionError:
        yield ParseError(source, "file", "JSON nested too deeply")
        return
    except ValueError as e:
        yield ParseError(source, f"line {getattr(e, 'lineno', '?')}", f"invalid JSON: {e}")
        return
    for i, item in enumerate(_items(doc), start=1):
        rec = guarded(source, f"record {i}", to_paper, item, source, f"record {i}")
        if rec is not None:
            yield rec
