"""BibTeX / BibLaTeX (Zotero, Google Scholar, arXiv exports) via bibtexparser 2.x.

Every entry type becomes a Paper. LaTeX in title/abstract/authors is decoded to Unicode (accents,
braces, \\textit, \\& ...) with pylatexenc; math ($...$) is kept verbatim. Names "Last, First" become
"First Last". The arXiv id comes from eprint (archivePrefix/eprinttype arXiv, or an eprint that is an
arXiv id), an arxiv.org url, a 10.48550/arXiv.* DOI or "arXiv:NNNN.NNNNN" in journal/number/note.
Keywords are ignored; categories only come from primaryClass. Blocks bibtexparser cannot parse
(e.g. an unclosed brace) become ParseErrors with their line; duplicate keys are still imported.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import bibtexparser
from bibtexparser.middlewares import RemoveEnclosingMiddleware
from bibtexparser.middlewares.names import parse_single_name_into_parts, split_multiple_persons_names
from bibtexparser.model import (
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    ImplicitComment,
    ParsingFailedBlock,
)

from papersift.ingest.base import Record
from papersift.ingest.common import decode_accents, located, make_dated, parse_dated, read_text
from papersift.models import Paper, ParseError, split_arxiv_id

FORMAT = "bibtex"
logging.getLogger("bibtexparser").addHandler(logging.NullHandler())

_ENTRY_START = re.compile(rb"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_STRAY_AT = re.compile(r"^\s*@\s*[A-Za-z]", re.MULTILINE)
_LATEX_MAX = 100_000  # longer values skip pylatexenc (slow) and get the cheap accent decoder
_decoder: Any = None


def sniff(head: bytes, path: Path) -> bool:
    return bool(_ENTRY_START.search(head)) and (b"title" in head.lower() or b"author" in head.lower())


def latex_to_text(value: str) -> str:
    """Unicode text from a LaTeX-ish BibTeX value; never raises."""
    global _decoder
    if not value:
        return ""
    if len(value) <= _LATEX_MAX and ("\\" in value or "{" in value or "~" in value):
        try:
            if _decoder is None:
                from pylatexenc.latex2text import LatexNodes2Text

                _decoder = LatexNodes2Text(math_mode="verbatim")
            return _decoder.latex_to_text(value)
        except Exception:  # pylatexenc fails on odd input; fall back below
            pass
    return re.sub(r"(?<!\\)[{}]", "", decode_accents(value))


def _names(value: str) -> list[str]:
    out = []
    try:
        parts = split_multiple_persons_names(value)
    except Exception:
        parts = re.split(r"\s+and\s+", value)
    for raw in parts:
        if raw.strip().lower() == "others":
            continue
        try:
            name = parse_single_name_into_parts(raw, strict=False).merge_first_name_first
        except Exception:
            name = raw
        name = latex_to_text(name).strip()
        if name:
            out.append(name)
    return out


def _arxiv_id(f: dict[str, str]) -> str | None:
    prefix = (f.get("archiveprefix") or f.get("eprinttype") or "").strip().lower()
    eprint = f.get("eprint", "")
    if eprint and (prefix == "arxiv" or not prefix):
        aid, ver = split_arxiv_id(eprint)
        if aid:
            return aid + (f"v{ver}" if ver else "")
    url = f.get("url", "")
    if "arxiv.org" in url.lower():
        aid, ver = split_arxiv_id(url)
        if aid:
            return aid + (f"v{ver}" if ver else "")
    doi = f.get("doi", "").lower()
    if "10.48550/arxiv." in doi:
        return split_arxiv_id(doi.split("arxiv.", 1)[1])[0]
    for key in ("journal", "number", "note", "howpublished", "booktitle"):
        v = f.get(key, "")
        if "arxiv" in v.lower():
            aid, ver = split_arxiv_id(v)
            if aid:
                return aid + (f"v{ver}" if ver else "")
    return None


def _unenclose(entry: Entry, library: Any) -> Entry:
    """Duplicates are set aside before the parse stack runs: strip their {braces}/"quotes" here."""
    try:
        out = RemoveEnclosingMiddleware(allow_inplace_modification=True).transform_block(entry, library)
        return out if isinstance(out, Entry) else entry
    except Exception:
        return entry


def _published(f: dict[str, str]) -> tuple[date | None, str | None]:
    """The entry's date and how precise it is: Zotero writes ``month = {feb}`` with no day, which is
    a month, not February 1st."""
    if f.get("date"):
        got = parse_dated(f["date"])
        if got[0]:
            return got
    if f.get("year"):
        got = make_dated(f["year"], f.get("month") or None, (f.get("day") or None) if f.get("month") else None)
        return got if got[0] else make_dated(f["year"])
    return None, None


def entry_to_paper(entry: Entry, source: str) -> Record:
    loc = f"entry {entry.key} (line {(entry.start_line or 0) + 1})"
    f: dict[str, str] = {}
    for fld in entry.fields:
        v = fld.value
        f[fld.key.strip().lower()] = v if isinstance(v, str) else str(v)
    title = latex_to_text(f.get("title", "")).strip()
    if not title:
        return ParseError(source, loc, "entry has no title")
    url = f.get("url", "").strip()
    links = {"abs": url} if url.startswith(("http://", "https://")) else {}
    prim = f.get("primaryclass", "").strip()
    published, precision = _published(f)
    return located(Paper(
        title=title,
        abstract=latex_to_text(f.get("abstract", "")),
        authors=_names(f.get("author", "")),
        categories=[prim] if prim else [],
        published=published,
        published_precision=precision,
        doi=f.get("doi", "").strip() or None,
        arxiv_id=_arxiv_id(f),
        links=links,
        sources=[FORMAT],
    ), loc)


def read(path: Path) -> Iterator[Record]:
    source = str(path)
    try:
        text = read_text(path)
    except ParseError as e:
        yield e
        return
    try:
        library = bibtexparser.parse_string(text)
    except Exception as e:  # the parser itself gave up
        yield ParseError(source, "file", f"BibTeX parser failed: {type(e).__name__}: {e}")
        return
    found = False
    for block in library.blocks:
        try:
            if isinstance(block, DuplicateBlockKeyBlock | DuplicateFieldKeyBlock) and \
                    isinstance(block.ignore_error_block, Entry):
                block = _unenclose(block.ignore_error_block, library)  # a repeated key is still a paper
            if isinstance(block, ParsingFailedBlock):
                err = block.error
                reason = getattr(err, "abort_reason", None) or str(err) or type(err).__name__
                yield ParseError(source, f"line {(block.start_line or 0) + 1}",
                                 f"BibTeX syntax error (entry skipped): {' '.join(reason.split())}")
            elif isinstance(block, Entry):
                found = True
                yield entry_to_paper(block, source)
            elif isinstance(block, ImplicitComment) and _STRAY_AT.search(block.comment or ""):
                yield ParseError(source, f"line {(block.start_line or 0) + 1}",
                                 "text starting with '@' is not a complete entry (truncated file?); skipped")
        except Exception as e:  # one odd entry must not stop the file
            yield ParseError(source, f"line {(block.start_line or 0) + 1}", f"cannot read entry: {e}")
    if not found and not library.failed_blocks:
        yield ParseError(source, "file", "no BibTeX entries found")
