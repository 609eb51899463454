"""The fast path for the arXiv metadata snapshot: orjson decode and one fused clean per record.

``arxiv_snapshot.to_paper`` builds a ``Paper`` whose ``__post_init__`` then cleans every field in
general-purpose code (any source, any type). For a snapshot line of the usual shape (string fields,
``authors_parsed`` a list of string lists, ``versions`` a list of dicts) ``fast_paper`` computes the
*same* Paper in one pass and builds it with ``Paper.trusted`` (no second cleaning): ASCII text
without control characters is cleaned by a whitespace collapse alone (equal to ``clean_text`` for
such text), anything else goes through the very functions ``Paper`` uses. A record of any other
shape returns None and the caller uses the general path (``to_paper``), so the result is the same
Paper either way (tests/unit/test_snapshot_fast.py checks it field by field on real, generated and
hostile records).

Lines come from ``read_lines``: byte offsets for a resumable ingest (a checkpoint is the offset
after the last committed line), the same limits and errors as ``common.iter_lines``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from papersift.ingest.arxiv_snapshot import FORMAT, to_paper
from papersift.ingest.base import Record
from papersift.ingest.common import (
    _CHUNK,
    READ_ERRORS,
    decode_accents,
    first_doi,
    guarded,
    max_record_bytes,
    open_binary,
    parse_date,
    parse_json_line,
)
from papersift.models import (
    MAX_ABSTRACT,
    MAX_ARXIV_ID,
    MAX_AUTHOR,
    MAX_AUTHORS,
    MAX_DOI,
    MAX_INT,
    MAX_TITLE,
    Paper,
    ParseError,
    clean_text,
    clean_value,
    split_arxiv_id,
)

# ASCII control characters that clean_text removes and str.split() does not treat as whitespace
_ASCII_BAD = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
_VERSION = re.compile(r"v?(\d+)")
_SOURCES = (FORMAT,)


def fast_clean(text: str, limit: int) -> str:
    """Exactly ``clean_text(text, limit)``, without its regex pass for plain ASCII text."""
    if text.isascii() and _ASCII_BAD.search(text) is None:
        out = " ".join(text.split())
        if len(out) <= limit:
            return out
    return clean_text(text, limit)


def fast_paper(obj: Any, origin: str) -> Paper | None:
    """The Paper ``to_paper(obj)`` would give, for a record of the usual shape; None otherwise (and
    for anything ``to_paper`` would reject: the caller then takes the general path)."""
    if type(obj) is not dict:
        return None
    aid = obj.get("id")
    title = obj.get("title")
    abstract = obj.get("abstract")
    if type(aid) is not str or type(title) is not str or not (abstract is None or type(abstract) is str):
        return None
    aid = aid.strip()
    if not aid or not title.strip():
        return None
    arxiv_id, id_version = split_arxiv_id(clean_value(aid))
    if not arxiv_id or len(arxiv_id) > MAX_ARXIV_ID:
        return None
    versions: list[tuple[int, date | None]] = []
    vs = obj.get("versions")
    if vs is not None:
        if type(vs) is not list:
            return None
        for v in vs:
            if type(v) is not dict:
                return None
            name, created = v.get("version"), v.get("created")
            if type(name) is not str or type(created) is not str:
                return None
            m = _VERSION.fullmatch(name.strip())
            if m:
                versions.append((int(m.group(1)), parse_date(created)))
        versions.sort(key=lambda x: x[0])
    parsed = obj.get("authors_parsed")
    if type(parsed) is not list or not parsed or len(parsed) > MAX_AUTHORS:
        return None
    authors: list[str] = []
    for a in parsed:
        if type(a) is not list:
            return None
        a = a[:3]  # [last, first, suffix, affiliation...]: the general path reads three too
        for x in a:
            if type(x) is not str:
                return None
        last, first, suffix = ([x.strip() for x in a] + ["", "", ""])[:3]
        name = " ".join(p for p in (first, last, suffix) if p)
        if name:
            name = fast_clean(decode_accents(name), MAX_AUTHOR)
            if name:
                authors.append(name)
    if not authors:
        return None  # to_paper falls back to the "authors" string
    cats = obj.get("categories")
    if cats is not None and type(cats) is not str:
        return None
    categories = [c for c in (clean_value(x, MAX_AUTHOR) for x in dict.fromkeys((cats or "").split()) if x) if c]
    version = versions[-1][0] if versions else id_version
    if version is not None and not 1 <= version <= MAX_INT:
        return None
    updated = versions[-1][1] if versions else None
    if updated is None:
        updated = parse_date(obj.get("update_date"))
    doi = first_doi(obj.get("doi"))
    if doi:
        doi = clean_value(doi).lower().removeprefix("https://doi.org/").removeprefix("doi:") or None
        if doi and len(doi) > MAX_DOI:
            doi = None
    return Paper.trusted(
        title=fast_clean(decode_accents(title), MAX_TITLE),
        abstract=fast_clean(abstract, MAX_ABSTRACT) if abstract else "",
        authors=authors,
        categories=categories,
        published=versions[0][1] if versions else None,
        published_precision="day" if versions else None,  # arXiv's version dates are days (models.Paper)
        updated=updated,
        doi=doi or None,
        arxiv_id=arxiv_id,
        version=version,
        links={"abs": f"https://arxiv.org/abs/{arxiv_id}", "pdf": f"https://arxiv.org/pdf/{arxiv_id}"},
        sources=list(_SOURCES),
        id=arxiv_id,
        origin=origin,
    )


def decode(raw: bytes, source: str, location: str) -> Any:
    """A JSON line's value (orjson), or the located ParseError ``common.parse_json_line`` gives."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # not UTF-8, invalid, nested too deeply: the general reader's message
        return parse_json_line(raw, source, location)


def record(raw: bytes, source: str, location: str) -> Record | None:
    """One line -> a Paper, a ParseError, or None (a blank line)."""
    if not raw.strip():
        return None
    obj = decode(raw, source, location)
    if isinstance(obj, ParseError):
        return obj
    try:
        p = fast_paper(obj, location)
    except (ValueError, TypeError, OverflowError, RecursionError):
        p = None  # the general path says what is wrong with it
    if p is not None:
        return p
    return guarded(source, location, to_paper, obj, source, location)


def read_lines(path: Path, offset: int = 0, line: int = 0) -> Iterator[tuple[int, int, bytes | ParseError]]:
    """(line number, byte offset after the line, raw line) from ``offset`` (a checkpoint; ``line``
    lines precede it). Limits and errors as ``common.iter_lines``."""
    limit = max_record_bytes()
    source = str(path)
    with open_binary(path) as f:
        if offset:
            try:
                f.seek(offset)
            except (OSError, ValueError):  # a transcoded stream cannot seek: read up to the checkpoint
                left = offset
                while left > 0:
                    chunk = f.read(min(left, _CHUNK))
                    if not chunk:
                        break
                    left -= len(chunk)
        pos, n = offset, line
        while True:
            raw = f.readline(limit + 1)
            if not raw:
                return
            n += 1
            pos += len(raw)
            if len(raw) <= limit or (len(raw) == limit + 1 and raw.endswith(b"\n")):
                yield n, pos, raw
                continue
            size = len(raw)
            del raw
            while True:
                chunk = f.readline(_CHUNK)
                size += len(chunk)
                pos += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield n, pos, ParseError(source, f"line {n}", f"line of {size:,} bytes is longer than the limit of "
                                                          f"{limit:,} (PAPERSIFT_MAX_RECORD_BYTES); skipped")


def read_batches(path: Path, batch: int, offset: int = 0, line: int = 0,
                 ) -> Iterator[tuple[list[Paper], list[ParseError], int, int]]:
    """(papers, errors, offset after the batch, lines read so far) for ``batch`` lines at a time."""
    source = str(path)
    papers: list[Paper] = []
    errors: list[ParseError] = []
    n, pos = line, offset
    try:
        for n, pos, raw in read_lines(path, offset, line):
            if isinstance(raw, ParseError):
                errors.append(raw)
            else:
                rec = record(raw, source, f"line {n}")
                if isinstance(rec, Paper):
                    papers.append(rec)
                elif rec is not None:
                    errors.append(rec)
            if len(papers) + len(errors) >= batch:
                yield papers, errors, pos, n
                papers, errors = [], []
    except READ_ERRORS as e:
        errors.append(ParseError(source, "file", f"cannot read file: {e}"))
    if papers or errors:
        yield papers, errors, pos, n


def estimate_records(path: Path, sample: int = 1 << 20) -> int | None:
    """About how many records a JSON-lines file holds (for a progress bar's ETA): its size over
    the mean line length of its first MB. None for a compressed or unreadable file."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(sample)
    except OSError:
        return None
    if not head or head[:2] == b"\x1f\x8b":
        return None
    lines = head.count(b"\n") or 1
    return max(1, round(size * lines / len(head)))
