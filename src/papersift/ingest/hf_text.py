"""Hugging Face Papers pages saved by a browser as plain text ("Save as... text").

Two layouts are seen in practice:

* compact (no blank lines): two "Get trending papers..." lines, then the first title glued to the
  "Subscribe" button text ("SubscribeNear-Minimax-Optimal ..."), then title/abstract line pairs;
* spaced (blank lines everywhere): "new", "Get trending...", "Subscribe", "Daily Papers",
  "by AK and the research community", maybe a date line ("Aug 4"), then title/abstract pairs.

Titles and abstracts are told apart by shape: an abstract is long (> 300 characters) or several
sentences; a title is short. A title followed by another title has no abstract. Long text with no
title before it continues the previous abstract (or, at the top, is reported and skipped). A short
last line right after a title in a file that ends without a newline is a truncated abstract.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from papersift.ingest.base import Record
from papersift.ingest.common import make_date, read_text
from papersift.models import Paper, ParseError

FORMAT = "hf-text"

_CHROME = {
    "new",
    "subscribe",
    "daily papers",
    "get trending papers in your email inbox once a day!",
    "get trending papers in your email inbox!",
    "by ak and the research community",
    "byak and the research community",
}
_SNIFF = ("get trending papers in your email inbox", "by ak and the research community",
          "byak and the research community")
_GLUED = re.compile(r"^Subscribe(?=[^a-z\s])")
_DATE = re.compile(
    r"^(?:published on\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})"
    r"(?:,?\s+(\d{4}))?$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?:\s+[A-Z(]|$)")
TITLE_MAX = 300


def sniff(head: bytes, path: Path) -> bool:
    text = head[:8192].decode("utf-8", errors="replace").lower()
    return any(s in text for s in _SNIFF)


def is_abstract_like(line: str) -> bool:
    """Long text, or a few sentences ending with a full stop."""
    if len(line) > TITLE_MAX:
        return True
    return len(line) >= 100 and line.endswith(".") and len(_SENTENCE_END.findall(line)) >= 2


def read(path: Path) -> Iterator[Record]:
    source = str(path)
    try:
        text = read_text(path)
    except ParseError as e:
        yield e
        return
    ends_with_newline = text.endswith(("\n", "\r"))
    lines = [(n, " ".join(raw.split())) for n, raw in enumerate(text.splitlines(), start=1)]
    lines = [(n, s) for n, s in lines if s]
    last_n = lines[-1][0] if lines else 0

    published: date | None = None
    title: tuple[int, str] | None = None  # pending title (line number, text)
    papers: list[tuple[int, Paper]] = []  # emitted lazily so that continuations can extend abstracts
    found = False

    def emit(abstract: str = "") -> Paper:
        assert title is not None
        return Paper(title=title[1], abstract=abstract, published=published, sources=[FORMAT],
                     origin=f"line {title[0]}")

    for n, line in lines:
        line = _GLUED.sub("", line).strip()
        low = line.lower()
        if not line or low in _CHROME or not any(c.isalpha() for c in line):
            continue
        m = _DATE.match(line)
        if m and len(line) < 25:
            published = make_date(m.group(3), m.group(1), m.group(2)) if m.group(3) else None
            continue
        if title is not None:
            truncated_tail = n == last_n and not ends_with_newline
            if is_abstract_like(line) or truncated_tail:
                papers.append((title[0], emit(line)))
                title = None
                continue
            papers.append((title[0], emit()))  # title without abstract
            title = None
        elif len(line) > TITLE_MAX or (is_abstract_like(line) and papers):
            if papers:  # a second paragraph of the previous abstract
                prev = papers[-1][1]
                papers[-1] = (papers[-1][0], Paper(
                    title=prev.title, abstract=f"{prev.abstract}\n{line}", published=prev.published,
                    sources=[FORMAT], origin=prev.origin))
            else:
                yield ParseError(source, f"line {n}", "text block without a title before it; skipped")
            continue
        title = (n, line)
        # flush everything but the last paper (it may still get a continuation paragraph)
        while len(papers) > 1:
            found = True
            yield papers.pop(0)[1]
    if title is not None:
        papers.append((title[0], emit()))
    for _, p in papers:
        found = True
        yield p
    if not found:
        yield ParseError(source, "file", "no papers found (not a Hugging Face Papers text page?)")
