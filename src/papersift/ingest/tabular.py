"""The documented generic schema, as JSON lines ("jsonl") or CSV/TSV ("csv").

Columns/keys (case-insensitive): id, title, abstract, authors (list, or one string separated by ';',
',' or ' and '), categories (list, or space/comma separated), published (ISO date or year), doi, url.
Only title is required. Optional source fields, named as papersift's JSON output names them:
upvotes (the source's count), submitted_by, submitted_on_daily_at, num_comments, ai_summary,
ai_keywords (list, or one string separated by ';'), github_repo, github_stars, organization, thumbnail.

Ids: an `id` that is an arXiv id (or an arxiv.org url) becomes `arxiv_id` and the paper id is
derived from it; any other explicit `id` is kept *exactly* as the paper id. BEIR corpus lines
({"_id", "title", "text"}) are accepted: `_id` is always the paper id verbatim (the eval command
relies on it), `text` is the abstract, and an empty BEIR title is replaced by the start of the text.
A ".jsonl" file holding one JSON array is read too (elements salvaged up to any damage).
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from papersift.ingest.base import Record
from papersift.ingest.common import (
    MAX_RECORD_LINES,
    READ_ERRORS,
    as_str,
    decode_text,
    guarded,
    iter_json_array,
    iter_json_lines,
    iter_lines,
    max_record_bytes,
    parse_dated,
    parse_datetime,
    probe,
    read_all,
    split_authors,
)
from papersift.models import ARXIV_NEW, ARXIV_OLD, MAX_ID, Paper, ParseError, clean_id, split_arxiv_id

_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE)
_ID_MAX = MAX_ID
_BARE_CR = re.compile(r"(?<=\r)(?!\n)(?=.)", re.DOTALL)  # a split point after a CR that ends an old-Mac line
_UNDECODED = re.compile("[\udc80-\udcff]")  # a byte that was not UTF-8 (decoded with surrogateescape)


def arxiv_from_id(value: str) -> str | None:
    """The value itself if it is an arXiv id ('2101.00001v2', 'arXiv:hep-th/9901001', abs url)."""
    v = _ARXIV_PREFIX.sub("", value.strip()).removesuffix(".pdf")
    return v if ARXIV_NEW.fullmatch(v) or ARXIV_OLD.fullmatch(v) else None


def _count(value: Any) -> int | None:
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return None


def _keywords(value: Any) -> list[str]:
    if isinstance(value, list):
        return [as_str(k) for k in value]
    return [k.strip() for k in as_str(value).split(";") if k.strip()]


def _source_fields(r: dict[str, Any]) -> dict[str, Any]:
    """The optional source fields (the names of papersift's JSON output, so an export re-imports)."""
    return {
        "source_upvotes": _count(r.get("source_upvotes", r.get("upvotes"))) or 0,
        "submitted_by": as_str(r.get("submitted_by")).strip() or None,
        "submitted_on_daily_at": parse_datetime(as_str(r.get("submitted_on_daily_at")).strip() or None),
        "num_comments": _count(r.get("num_comments")),
        "ai_summary": as_str(r.get("ai_summary")) or None,
        "ai_keywords": _keywords(r.get("ai_keywords")),
        "github_repo": as_str(r.get("github_repo")).strip() or None,
        "github_stars": _count(r.get("github_stars")),
        "organization": as_str(r.get("organization")) or None,
        "thumbnail": as_str(r.get("thumbnail")).strip() or None,
    }


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
    published, precision = parse_dated(r.get("published") or r.get("date") or r.get("year"))
    paper = Paper(
        title=title,
        abstract=abstract,
        authors=split_authors(r.get("authors") if r.get("authors") is not None else r.get("author")),
        categories=list(dict.fromkeys(cats)),
        published=published,
        published_precision=precision,
        doi=as_str(r.get("doi")).strip() or None,
        arxiv_id=arxiv_id,
        links={"abs": url} if url.startswith(("http://", "https://")) else {},
        sources=[fmt],
        **_source_fields(r),
    )
    if explicit_id and (beir_id or not arxiv_from_id(explicit_id)):
        if len(explicit_id) > _ID_MAX:
            return ParseError(source, location, f"id longer than {_ID_MAX} characters")
        pid = clean_id(explicit_id)
        if not pid:
            return ParseError(source, location, "id holds no printable character")
        paper.id = pid
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
                    continue
                loc = f"record {n}"
                rec = guarded(source, loc, to_paper, item, source, loc, self.FORMAT)
                if rec is not None:
                    yield rec
            return
        try:
            for loc, obj in iter_json_lines(path):
                if isinstance(obj, ParseError):
                    yield obj
                    continue
                rec = guarded(source, loc, to_paper, obj, source, loc, self.FORMAT)
                if rec is not None:
                    yield rec
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
        limit = max_record_bytes()
        csv.field_size_limit(limit)  # a field over the cap is an error, not hundreds of MB in memory
        try:
            yield from self._records(path, source, delim, limit)
        except READ_ERRORS as e:
            yield ParseError(source, "file", f"cannot read file: {e}")

    def _records(self, path: Path, source: str, delim: str, limit: int) -> Iterator[Record]:
        """Records of a CSV file, parsed strictly. A record the csv module rejects (a quote never
        closed, text after a closing quote, a field over the cap) is reported at its first line and
        reading resumes at its second line, so the rows an unterminated quote swallowed come back."""
        lines = _CsvLines(iter_lines(path, limit), limit)
        reader = csv.reader(lines, delimiter=delim, strict=True)
        header: list[str] | None = None
        n = 0
        while True:
            lines.start_record()
            try:
                row = next(reader)
            except StopIteration:
                yield from lines.drain()
                return
            except (csv.Error, _RecordTooLong) as e:
                yield from lines.drain()
                start = lines.taken[0][0] if lines.taken else 0
                reason = str(e) if isinstance(e, _RecordTooLong) else f"bad CSV: {e}"
                if len(lines.taken) > 1:
                    reason += f" (a quote opened on line {start} is never closed?); reading on from line " \
                              f"{lines.taken[1][0]}"
                yield ParseError(source, f"line {start}", f"{reason}; record skipped")
                lines.replay_after_first()
                reader = csv.reader(lines, delimiter=delim, strict=True)  # fresh parser state
                continue
            yield from lines.drain()
            if not any(c.strip() for c in row):
                continue
            start = lines.taken[0][0] if lines.taken else 0
            if header is None:
                if lines.undecoded:
                    yield ParseError(source, f"line {start}", "CSV header is not valid UTF-8 (save the file as "
                                                              "UTF-8)")
                    return
                header = [c.strip().lower() for c in row]
                if "title" not in header and "_id" not in header:
                    yield ParseError(source, "line 1", f"CSV header has no 'title' column: {row[:10]}")
                    return
                continue
            n += 1
            loc = f"record {n} (line {start})"
            bad = None if not lines.undecoded else next(
                ((col, m) for col, c in zip(header, row, strict=False) if (m := _UNDECODED.search(c))), None)
            if bad is not None:
                col, m = bad
                yield ParseError(source, loc, f"not valid UTF-8 (byte 0x{ord(m.group()) - 0xDC00:02x} in column "
                                              f"{col!r}); record skipped (save the file as UTF-8)")
                continue
            rec = dict(zip(header, row, strict=False))
            got = guarded(source, loc, to_paper, rec, source, loc, self.FORMAT)
            if got is not None:
                yield got


class _RecordTooLong(Exception):
    pass


class _CsvLines:
    """The lines csv.reader parses: decoded with ``surrogateescape`` (a byte that is not UTF-8 stays
    visible and rejects its record), bounded (a line over the cap is reported and skipped), and
    kept until their record is read, so that a rejected record can be re-read from its second line."""

    def __init__(self, lines: Iterator[tuple[int, bytes | ParseError]], limit: int) -> None:
        self._lines = lines
        self._limit = limit
        self._replay: deque[tuple[int, str]] = deque()
        self._errors: list[ParseError] = []
        self.taken: list[tuple[int, str]] = []
        self._taken_bytes = 0
        self.undecoded = False

    def start_record(self) -> None:
        self.taken = []
        self._taken_bytes = 0
        self.undecoded = False  # whether a line of this record was not UTF-8

    def replay_after_first(self) -> None:
        self._replay.extendleft(reversed(self.taken[1:]))
        self.start_record()

    def drain(self) -> Iterator[ParseError]:
        errors, self._errors = self._errors, []
        yield from errors

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        while not self._replay:
            n, raw = next(self._lines)  # StopIteration ends the reader
            if isinstance(raw, ParseError):
                self._errors.append(raw)
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "surrogateescape")
                self.undecoded = True
            if n == 1:
                text = text.removeprefix("\ufeff")
            if "\r" in text.rstrip("\r\n"):  # old-Mac line ends inside this line: split there
                self._replay.extend((n, part) for part in _BARE_CR.split(text))
            else:
                self._replay.append((n, text))
        n, text = self._replay.popleft()
        self.taken.append((n, text))
        self._taken_bytes += len(text)
        if self._taken_bytes > self._limit:
            raise _RecordTooLong(f"record longer than the limit of {self._limit:,} bytes (PAPERSIFT_MAX_RECORD_BYTES)")
        if len(self.taken) > MAX_RECORD_LINES:
            raise _RecordTooLong(f"record spans more than {MAX_RECORD_LINES} lines")
        return text


JSONL = JsonlImporter()
CSV = CsvImporter()
