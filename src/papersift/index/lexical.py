"""BM25 lexical index on tantivy.

Why tantivy: measured here on 200k synthetic abstracts it answered 2–4-word OR queries in
0.24 ms p50 (bm25s 5.8 ms, SQLite FTS5 21 ms, DuckDB 68 ms) and indexed 4x faster than the
others; it gives BM25 with field boosts, phrase queries, fuzzy terms and numeric range filters.

The index keys documents by the store's integer ``pk`` and stores no text (the store has it), so
it stays small. ``state.json`` beside it records the last store change (``seq``) the index has
applied; a crash between a store commit and an index commit is healed by ``catch_up``.

Only the index owner (index/owner.py) opens it ``writable``; every other process opens it
read-only: it never takes tantivy's writer (whose start-up garbage collection would delete the
owner's uncommitted segment files) and picks up the owner's commits with ``refresh``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import cast

import tantivy

from papersift.fsutil import read_json, write_json_atomic
from papersift.index.authors import AUTHOR_KEYS, paper_keys, query_keys
from papersift.models import Paper

# tantivy indexing threads: all cores but one, which the store's writer and a bulk ingest's parser
# need (on 2 cores one thread loaded 1M papers in 98 s, two in 107 s: they fought the parser)
WRITER_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) - 1 if hasattr(os, "sched_getaffinity")
                                else (os.cpu_count() or 1) - 1))
log = logging.getLogger(__name__)
# 2: one stemmed "body" field (title + abstract) instead of separate title/abstract fields;
# 3: author_key (index/authors.py). An index of another version is rebuilt by its owner on open
# (state.json records the version)
SCHEMA_VERSION = 3
# BM25 over one stemmed title+abstract field; the title field adds a small boost and authors match
# names. Chosen on the mean of the dev splits of four collections (benchmarks/tune_search.py,
# docs/benchmarks.md). tantivy fixes BM25's k1 = 1.2 and b = 0.75 (not settable from Python).
FIELD_BOOSTS = {"body": 1.0, "title": 0.2, "authors": 1.0}
LAYOUT1_BOOSTS = {"title": 0.7, "abstract": 1.0, "authors": 1.0}  # what layout 1 had
# tantivy query syntax characters that a person rarely means; stripped unless quoted phrases
_SYNTAX = re.compile(r"[\\^~*()\[\]{}!:+\-<>=/|&]")
_WORD = re.compile(r"\w+", re.UNICODE)


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("pk", stored=True, indexed=True, fast=True)
    sb.add_text_field("body", stored=False, tokenizer_name="en_stem")
    sb.add_text_field("title", stored=False, tokenizer_name="en_stem")
    sb.add_text_field("authors", stored=False, tokenizer_name="default")
    sb.add_text_field("category", stored=False, tokenizer_name="raw")
    sb.add_text_field("author_key", stored=False, tokenizer_name="raw")  # index/authors.py name keys
    sb.add_integer_field("day", stored=False, indexed=True, fast=True)  # YYYYMMDD, 0 = unknown
    return sb.build()


def day_number(d: date | None) -> int:
    return d.year * 10000 + d.month * 100 + d.day if d else 0


@dataclass
class Filters:
    since: date | None = None
    until: date | None = None
    category: str | None = None  # exact ("cs.CL") or archive prefix ("cs")
    author: str | None = None

    def active(self) -> bool:
        return any((self.since, self.until, self.category, self.author))


def clean_query(text: str, max_chars: int = 1000) -> str:
    """Turn free text into a safe tantivy query: keep words and "quoted phrases", drop syntax."""
    text = text[:max_chars]
    parts: list[str] = []
    for i, chunk in enumerate(text.split('"')):
        words = _WORD.findall(_SYNTAX.sub(" ", chunk))
        if not words:
            continue
        if i % 2 == 1 and len(words) > 1:
            parts.append('"' + " ".join(words) + '"')
        else:
            parts.extend(w for w in words if w.upper() not in ("AND", "OR", "NOT"))
    return " ".join(parts[:64])


class ReadOnlyIndex(RuntimeError):
    """A write was attempted on an index opened read-only (only the index owner writes)."""


class LexicalIndex:
    """A tantivy BM25 index over title, abstract and authors, with date/category/author filters."""

    def __init__(self, path: Path, writable: bool = True) -> None:
        self.path = Path(path)
        self.writable = writable
        self.schema = build_schema()
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.Lock()
        self.index: tantivy.Index | None = None
        self._schema_seen: object = SCHEMA_VERSION  # reader: the layout version of the index it opened
        if writable:
            self.path.mkdir(parents=True, exist_ok=True)
            state = read_json(self.state_path, {})
            if state.get("schema") != SCHEMA_VERSION and any(self.path.glob("*.managed.json")):
                log.warning("lexical index %s has an old schema: rebuilding it", self.path)
                self._wipe()
                state = {}
            self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        else:
            state = read_json(self.state_path, {}) or {}
            self._open_reader()
        self.seq = int(state.get("seq", 0))  # last store change committed to the index
        self.applied_seq = self.seq  # last store change added (maybe not committed yet)

    def _open_reader(self) -> None:
        if self.index is None and self.path.is_dir() and tantivy.Index.exists(str(self.path)):
            self.index = tantivy.Index.open(str(self.path))
            self._schema_seen = (read_json(self.state_path, {}) or {}).get("schema")

    def refresh(self) -> None:
        """Reader: see what the owner has committed since (opens the index once it exists)."""
        with self._lock:
            state = read_json(self.state_path, {}) or {}
            try:
                if self.index is not None and state.get("schema") == SCHEMA_VERSION != self._schema_seen:
                    # the owner rebuilt the index in a new layout (fields): reopen, don't reload
                    old, self.index = self.index, None
                    try:
                        self._open_reader()
                    finally:
                        if self.index is None:
                            self.index = old
                elif self.index is None:
                    self._open_reader()
                else:
                    self.index.reload()
            except ValueError as e:
                # the owner's merge removed a segment between our reading meta.json and opening it:
                # keep searching the last snapshot (its files stay mapped) and retry next time
                log.warning("lexical index %s: reload failed, keeping the previous snapshot: %s", self.path, e)
                return
            self.seq = self.applied_seq = int(state.get("seq", 0))

    def _idx(self) -> tantivy.Index:
        if self.index is None:
            raise ReadOnlyIndex("no lexical index yet")
        return self.index

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    def _wipe(self) -> None:
        for child in self.path.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()

    # -- writes ---------------------------------------------------------------------------------
    def writer(self) -> tantivy.IndexWriter:
        if not self.writable:
            raise ReadOnlyIndex(f"{self.path} is open read-only: only the index owner writes it")
        if self._writer is None:
            self._writer = self._idx().writer(heap_size=256_000_000, num_threads=WRITER_THREADS)
        return self._writer

    def add(self, papers: Iterable[Paper], replace: bool = True) -> int:
        """Add or replace papers (by pk). Call ``commit`` to make them visible.

        ``replace=False`` skips the delete for papers known to be new to the index."""
        w = self.writer()
        n = 0
        for p in papers:
            assert p.pk is not None, "index papers read back from the store (they carry a pk)"
            if replace:
                w.delete_documents_by_term("pk", p.pk)
            doc = tantivy.Document(pk=p.pk, title=p.title, body=f"{p.title}\n{p.abstract}",
                                   authors=" ; ".join(p.authors), day=day_number(p.published))
            for c in dict.fromkeys(p.categories + [c.split(".")[0] for c in p.categories]):
                doc.add_text("category", c)
            keys = p.__dict__.get(AUTHOR_KEYS)  # computed by a bulk ingest's parser process
            for key in keys if keys is not None else paper_keys(p.authors):
                doc.add_text("author_key", key)
            w.add_document(doc)
            n += 1
        return n

    def remove(self, pks: Iterable[int]) -> None:
        w = self.writer()
        for pk in pks:
            w.delete_documents_by_term("pk", pk)

    def commit(self, seq: int | None = None) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None
        if seq is not None:
            self.seq = self.applied_seq = seq
            write_json_atomic(self.state_path, {"schema": SCHEMA_VERSION, "seq": seq})
        self._idx().reload()

    def clear(self) -> None:
        w = self.writer()
        w.delete_all_documents()
        self.commit(seq=0)

    # -- reads ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.index.searcher().num_docs) if self.index is not None else 0

    def _query(self, text: str, filters: Filters | None,
               boosts: dict[str, float] | None = None) -> tantivy.Query | None:
        q = clean_query(text)
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if q:
            fb = {f: w for f, w in (boosts or FIELD_BOOSTS).items() if w > 0}
            try:
                parsed, _errors = self._idx().parse_query_lenient(q, list(fb), field_boosts=fb)
            except ValueError:  # a reader on an index in layout 1, until the owner has rebuilt it
                parsed, _errors = self._idx().parse_query_lenient(q, list(LAYOUT1_BOOSTS),
                                                                  field_boosts=LAYOUT1_BOOSTS)
            clauses.append((tantivy.Occur.Must, parsed))
        f = filters or Filters()
        if f.since or f.until:
            lo = day_number(f.since) if f.since else 1
            hi = day_number(f.until) if f.until else 99991231
            clauses.append((tantivy.Occur.Must, tantivy.Query.range_query(
                self.schema, "day", tantivy.FieldType.Integer, lo, hi)))
        if f.category:
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "category",
                                                                          f.category.strip())))
        keys = query_keys(f.author) if f.author else None
        if keys:  # "Dan Alistarh" = "D. Alistarh" = "Alistarh, Dan"; "Wei Chen" != "Xi Chen"
            clauses.append((tantivy.Occur.Must, tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "author_key", k)) for k in keys])))
        elif f.author:
            words = [w.lower() for w in _WORD.findall(f.author)]
            if words:
                aq = (tantivy.Query.term_query(self.schema, "authors", words[0]) if len(words) == 1
                      else tantivy.Query.phrase_query(self.schema, "authors", words))
                clauses.append((tantivy.Occur.Must, aq))
        if not clauses:
            return None
        if not q:  # filters only: everything that matches them
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(clauses)

    def search(self, text: str, limit: int = 10, offset: int = 0, filters: Filters | None = None,
               by_date: bool = False, boosts: dict[str, float] | None = None,
               ) -> tuple[list[tuple[int, float]], int]:
        """Return ([(pk, score)], total matches). Free text is sanitised; never raises on input.
        ``by_date``: newest first (undated last); the "score" is then the YYYYMMDD day number.
        ``boosts``: field weights other than FIELD_BOOSTS (for tuning)."""
        if self.index is None:
            return [], 0
        query = self._query(text, filters, boosts)
        if query is None:
            return [], 0
        searcher = self.index.searcher()
        if by_date:
            result = searcher.search(query, limit=limit, offset=offset, count=True, order_by_field="day",
                                     order=tantivy.Order.Desc)
        else:
            result = searcher.search(query, limit=limit, offset=offset, count=True)
        addrs = [addr for _score, addr in result.hits]
        # "pk" is an integer fast field set on every document, so its values are ints
        pks = cast("list[int]", searcher.fast_field_values("pk", addrs)) if addrs else []
        total = int(result.count)  # type: ignore[attr-defined]  # tantivy's stub omits SearchResult.count
        return [(int(pk), float(s)) for pk, (s, _a) in zip(pks, result.hits, strict=True)], total

    def matching(self, text: str, pks: Iterable[int], filters: Filters | None = None) -> set[int]:
        """The subset of ``pks`` that the query matches lexically (for true match counts)."""
        keys = sorted({int(p) for p in pks})
        if self.index is None or not keys:
            return set()
        query = self._query(text, filters)
        if query is None or not clean_query(text):
            return set()
        restricted = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, query),
            (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "pk", keys))])
        searcher = self.index.searcher()
        result = searcher.search(restricted, limit=len(keys), count=False)
        return {int(v) for v in cast("list[int]", searcher.fast_field_values(
            "pk", [a for _s, a in result.hits]))}

    def filter_pks(self, filters: Filters, limit: int = 1_000_000) -> set[int]:
        """All pks that pass the filters (used to restrict semantic search)."""
        if self.index is None:
            return set()
        query = self._query("", filters)
        if query is None:
            return set()
        searcher = self.index.searcher()
        result = searcher.search(query, limit=limit, count=False)
        pks = cast("list[int]", searcher.fast_field_values("pk", [a for _s, a in result.hits]))
        return {int(v) for v in pks}

    def size_bytes(self) -> int:
        if not self.path.is_dir():
            return 0
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
