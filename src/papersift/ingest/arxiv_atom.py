"""arXiv API Atom feeds (export.arxiv.org/api/query), legacy and current backend.

Also accepts a recorded response wrapped in JSON, {"url", "status_code", "body": "<Atom XML>"}
(arxiv.py's golden files); a body that was decoded as latin-1 by the recorder is repaired.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from papersift.ingest.base import Record
from papersift.ingest.common import (
    READ_ERRORS,
    decode_accents,
    decode_text,
    free,
    located,
    open_binary,
    parse_date,
    probe,
    read_all,
    repair_mojibake,
    safe_iterparse,
    text_of,
    xml_error,
    xml_source,
)
from papersift.models import Paper, ParseError, split_arxiv_id

FORMAT = "arxiv-atom"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
_DOI_PREFIXES = ("http://dx.doi.org/", "https://dx.doi.org/", "http://doi.org/", "https://doi.org/")


def sniff(head: bytes, path: Path) -> bool:
    if b"http://www.w3.org/2005/Atom" not in head:
        return False
    return b"arxiv.org" in head or b"arxiv" in head.lower()


def _is_wrapper(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def entry_to_paper(el: Any, source: str, location: str) -> Record:
    """Map one <entry> element to a Paper (or a ParseError for an API error entry)."""
    id_text = text_of(el.find(f"{ATOM}id")).strip()
    title = text_of(el.find(f"{ATOM}title"))
    summary = text_of(el.find(f"{ATOM}summary"))
    if "/api/errors" in id_text:
        return ParseError(source, location, f"arXiv API error: {' '.join(summary.split()) or title}")
    if not title.strip():
        return ParseError(source, location, f"entry {id_text or '?'} has no title")
    arxiv_id, version = split_arxiv_id(id_text.rsplit("/abs/", 1)[-1]) if id_text else (None, None)
    authors = [decode_accents(text_of(a.find(f"{ATOM}name"))) for a in el.findall(f"{ATOM}author")]
    cats: list[str] = []
    prim = el.find(f"{ARXIV}primary_category")
    for term in ([prim.get("term")] if prim is not None else []) + \
            [c.get("term") for c in el.findall(f"{ATOM}category")]:
        if term and term.strip() and term.strip() not in cats:
            cats.append(term.strip())
    doi = text_of(el.find(f"{ARXIV}doi")).strip() or None
    links: dict[str, str] = {}
    for link in el.findall(f"{ATOM}link"):
        href, rel, ttl = (link.get("href") or "").strip(), link.get("rel"), link.get("title")
        if not href:
            continue
        if ttl == "doi" and not doi:
            doi = href
            for p in _DOI_PREFIXES:
                doi = doi.removeprefix(p)
        elif ttl == "pdf":
            links["pdf"] = href
        elif rel == "alternate":
            links["abs"] = href
    return Paper(
        title=decode_accents(title),
        abstract=summary,
        authors=authors,
        categories=cats,
        published=parse_date(text_of(el.find(f"{ATOM}published"))),
        updated=parse_date(text_of(el.find(f"{ATOM}updated"))),
        doi=doi,
        arxiv_id=arxiv_id,
        version=version,
        links=links,
        sources=[FORMAT],
    )


def parse_stream(stream: Any, head: bytes, source: str) -> Iterator[Record]:
    n = 0
    try:
        for _, el in safe_iterparse(xml_source(stream, head), (f"{ATOM}entry",)):
            n += 1
            loc = f"entry {n} (line {el.sourceline})"
            try:
                yield located(entry_to_paper(el, source, loc), loc)
            except Exception as e:  # one odd entry must not stop the feed
                yield ParseError(source, f"entry {n}", f"cannot read entry: {e}")
            free(el)
    except Exception as e:  # lxml syntax error (truncated/malformed XML) or I/O error
        yield xml_error(source, e)


def _unwrap(path: Path, source: str) -> bytes:
    """The Atom body of a JSON-recorded response."""
    try:
        doc = json.loads(decode_text(read_all(path), source))
    except ValueError as e:
        raise ParseError(source, "file", f"invalid JSON wrapper: {e}") from None
    except RecursionError:
        raise ParseError(source, "file", "invalid JSON wrapper: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("body"), str):
        raise ParseError(source, "file", 'JSON without a string "body": not a recorded arXiv response')
    status = doc.get("status_code")
    if isinstance(status, int) and status != 200:
        raise ParseError(source, "file", f"recorded response has HTTP status {status}")
    return repair_mojibake(doc["body"]).encode("utf-8")


def read(path: Path) -> Iterator[Record]:
    source = str(path)
    try:
        head = probe(path)
        if _is_wrapper(head):
            body = _unwrap(path, source)
            yield from parse_stream(io.BytesIO(body), body[:4096], source)
            return
    except ParseError as e:
        yield e
        return
    try:
        with open_binary(path) as f:
            yield from parse_stream(f, head, source)
    except READ_ERRORS as e:
        yield ParseError(source, "file", f"cannot read file: {e}")
