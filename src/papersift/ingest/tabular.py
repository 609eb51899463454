"""The documented generic schema, as JSON lines ("jsonl") or CSV/TSV ("csv").

Columns/keys (case-insensitive): id, title, abstract, authors (list, or one string separated by ';',
',' or ' and '), categories (list, or space/comma separated), published (ISO date or year), doi, url.
Only title is required.

Ids: an `id` that is an arXiv id (or an arxiv.org url) becomes `arxiv_id` and the paper id is
derived from it; any other explicit `id` is kept *exactly* as the paper id. BEIR corpus lines
({"_id", "title", "text"}) are accepted: `_id` is always the paper id verbatim (the eval command
relies on it), `text` is the abstract, and an empty BEIR title is replaced by the start of the text.
A ".jsonl" file holding one JSON array is read too (elements salvaged up to any damage).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from papersift.ingest.base import Record
from papersift.ingest.common import (
    READ_ERRORS,
    as_str,
    decode_line,
    decode_text,
    iter_json_array,
    iter_lines,
    open_binary,
    parse_date,
    probe,
    read_all,
    split_authors,
)
from papersift.models import ARXIV_NEW, ARXIV_OLD, Paper, ParseError, split_arxiv_id

_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE)
_ID_MAX = 512
_CSV_FIELD_LIMIT = 256 * 1024 * 1024


def arxiv_from_id(value: str) -> str | None:
    """The value itself if it is an arXiv id ('2101.00001v2', 'arXiv:hep-th/9901001', abs url)."""
    v = _ARXIV_PREFIX.sub("", value.strip()).removesuffix(".pdf")
    return v if ARXIV_NEW.fullmatch(v) or ARXIV_OLD.fullmatch(v) else None


def _title_from_text(text: str) -> str:
    words = text.split()
    title = " ".join(words[:20])
    return title + ("…" if len(words) > 20 else "")


def to_paper(rec: Any, source: str, location: str, fmt: str) -> Record:
    """Map one record of the documented schema (or a BEIR corpus line) to a Paper."""
    if not isinstance(rec, dict):
        return ParseError(source, location, f"expected an object with a title, got {type(rec).__name__}")
    r = {str(k).strip().lower(): v for k, v in rec.items() if k is not None}
    beir_id = as_str(r.get("_id")).strip()
    explicit_id = beir_id or as_str(r.get("id")).strip()
    abstract = as_str(r.get("abstract") or r.get("text") or r.get("summary"))
    title = as_str(r.get("title")).strip()
    if not title and beir_id and abstract.strip():
        title = _title_from_text(abstract)
    if not title:
        return ParseError(source, location, "missing title" + (f" (id {explicit_id})" if explicit_id else ""))
    url = as_str(r.get("url")).strip()
    arxiv_id = arxiv_from_id(explicit_id) if explicit_id else None
    if not arxiv_id and "arxiv.org" in url.lower():
        aid, ver = split_arxiv_id(url)
        arxiv_id = aid + (f"v{ver}" if ver else "") if aid else None
    if not arxiv_id and as_str(r.get("arxiv_id")).strip():
        arxiv_id = as_str(r.get("arxiv_id")).strip()
    cats = r.get("categories")
    if isinstance(cats, str):
        cats = [c for c in re.split(r"[\s,;]+", cats) if c]
    elif isinstance(cats, list):
        cats = [as_str(c) for c in cats]
    else:
        cats = []
    paper = Paper(
        title=title,
        abstract=abstract,
        authors=split_authors(r.get("authors") if r.get("authors") is not None else r.get("author")),
        categories=list(dict.fromkeys(cats)),
        published=parse_date(r.get("published") or r.get("date") or r.get("year")),
        doi=as_str(r.get("doi")).strip() or None,
        arxiv_id=arxiv_id,
        links={"abs": url} if url.startswith(("http://", "https://")) else {},
        sources=[fmt],
    )
    if explicit_id and (beir_id or not arxiv_from_id(explicit_id)):
        if len(explicit_id) > _ID_MAX:
            return ParseError(source, location, f"id longer than {_ID_MAX} characters")
        paper.id = explicit_id
    return paper


class JsonlImporter:
    """Generic JSON lines (also BEIR corpus.jsonl)."""

    FORMAT = "jsonl"

    def sniff(self, head: bytes, path: Path) -> bool:
        name = path.name.lower().removesuffix(".gz")
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
        if not first.startswith(b"{"):  # a JSON array of records
            return first.startswith(b"[") and (name.endswith((".jsonl", ".ndjson")) or b'"title"' in head)
        if name.endswith((".jsonl", ".ndjson")):
            return True
        return b'"title"' in first and (b'"_id"' in first or b'"abstract"' in first or b'"text"' in first)

    def read(self, path: Path) -> Iterator[Record]:
        source = str(path)
        try:
            head = probe(path)
        except ParseError as e:
            yield e
            return
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            try:
                text = decode_text(read_all(path), source)
            except ParseError as e:
                yield e
                return
            for n, item in iter_json_array(text, source):
                if isinstance(item, ParseError):
                    yield item
                else:
                    yield to_paper(item, source, f"record {n}", self.FORMAT)
            return
        try:
            for n, raw in iter_lines(path):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(decode_line(raw))
                except ValueError as e:
                    yield ParseError(source, f"line {n}", f"invalid JSON: {e}")
                    continue
                yield to_paper(obj, source, f"line {n}", self.FORMAT)
        except READ_ERRORS as e:
            yield ParseError(source, "file", f"cannot read file: {e}")


class CsvImporter:
    """CSV (or TSV/semicolon-separated) with a header row naming the schema's columns."""

    FORMAT = "csv"

    def sniff(self, head: bytes, path: Path) -> bool:
        name = path.name.lower().removesuffix(".gz")
        if name.endswith((".csv", ".tsv")):
            return True
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip().lower()
        cols = [c.strip(b' "') for c in re.split(rb"[,\t;]", first)]
        return b"title" in cols and len(cols) >= 2

    def read(self, path: Path) -> Iterator[Record]:
        source = str(path)
        try:
            head = probe(path)
        except ParseError as e:
            yield e
            return
        first = decode_text(head[:16384], source).split("\n", 1)[0]
        delim = max((",", "\t", ";"), key=first.count) if any(d in first for d in ",\t;") else ","
        if path.name.lower().removesuffix(".gz").endswith(".tsv"):
            delim = "\t"
        if csv.field_size_limit() < _CSV_FIELD_LIMIT:
            csv.field_size_limit(_CSV_FIELD_LIMIT)  # allow huge fields; Paper truncates them
        try:
            with open_binary(path) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
                reader = csv.reader(text, delimiter=delim)
                header: list[str] | None = None
                n = 0
                while True:
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as e:
                        yield ParseError(source, f"line {reader.line_num}", f"bad CSV: {e}")
                        continue
                    if not any(c.strip() for c in row):
                        continue
                    if header is None:
                        header = [c.strip().lower() for c in row]
                        if "title" not in header and "_id" not in header:
                            yield ParseError(source, "line 1",
                                             f"CSV header has no 'title' column: {row[:10]}")
                            return
                        continue
                    n += 1
                    rec = dict(zip(header, row, strict=False))
                    yield to_paper(rec, source, f"record {n} (line {reader.line_num})", self.FORMAT)
        except READ_ERRORS as e:
            yield ParseError(source, "file", f"cannot read file: {e}")


JSONL = JsonlImporter()
CSV = CsvImporter()
