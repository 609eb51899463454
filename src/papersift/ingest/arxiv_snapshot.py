"""The Kaggle arXiv metadata snapshot (arxiv-metadata-oai-snapshot.json): JSON lines, streamed.

Each line: id, submitter, authors, title, comments, journal-ref, doi, report-no, categories (space
separated), license, abstract, versions [{"version": "v1", "created": RFC 2822 date}], update_date,
authors_parsed [[last, first, suffix]]. v1's date is `published`, the last version's `updated`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from papersift.ingest.base import Record
from papersift.ingest.common import (
    READ_ERRORS,
    as_str,
    decode_accents,
    first_doi,
    guarded,
    iter_json_lines,
    parse_date,
    probe,
    split_authors,
)
from papersift.models import Paper, ParseError

FORMAT = "arxiv-snapshot"


def sniff(head: bytes, path: Path) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:4096]
    return first.startswith(b"{") and b'"authors_parsed"' in head and b'"versions"' in head \
        and b'"update_date"' in head


def _authors(obj: dict[str, Any]) -> list[str]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for a in parsed:
            if isinstance(a, list):
                last, first, suffix = ([as_str(x).strip() for x in a] + ["", "", ""])[:3]
                name = " ".join(p for p in (first, last, suffix) if p)
                if name:
                    names.append(decode_accents(name))
        if names:
            return names
    return split_authors(as_str(obj.get("authors")))


def to_paper(obj: Any, source: str, location: str) -> Record:
    if not isinstance(obj, dict):
        return ParseError(source, location, f"expected a JSON object, got {type(obj).__name__}")
    aid = as_str(obj.get("id")).strip()
    title = as_str(obj.get("title"))
    if not aid:
        return ParseError(source, location, "missing id")
    if not title.strip():
        return ParseError(source, location, f"{aid}: missing title")
    versions = []
    for v in obj.get("versions") or []:
        if isinstance(v, dict):
            m = re.fullmatch(r"v?(\d+)", as_str(v.get("version")).strip())
            if m:
                versions.append((int(m.group(1)), parse_date(as_str(v.get("created")))))
    versions.sort(key=lambda x: x[0])
    cats = as_str(obj.get("categories")).split()
    return Paper(
        title=decode_accents(title),
        abstract=as_str(obj.get("abstract")),
        authors=_authors(obj),
        categories=list(dict.fromkeys(cats)),
        published=versions[0][1] if versions else None,
        updated=(versions[-1][1] if versions else None) or parse_date(obj.get("update_date")),
        doi=first_doi(obj.get("doi")),
        arxiv_id=aid,
        version=versions[-1][0] if versions else None,
        sources=[FORMAT],
    )


def read(path: Path) -> Iterator[Record]:
    source = str(path)
    try:
        probe(path)
    except ParseError as e:
        yield e
        return
    try:
        for loc, obj in iter_json_lines(path):  # too long / not UTF-8 / bad JSON: a located ParseError
            if isinstance(obj, ParseError):
                yield obj
                continue
            # a record of an unexpected shape must not stop the stream
            rec = guarded(source, loc, to_paper, obj, source, loc)
            if rec is not None:
                yield rec
    except READ_ERRORS as e:
        yield ParseError(source, "file", f"cannot read file: {e}")
