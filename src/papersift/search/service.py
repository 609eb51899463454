"""The search service: turns a query and filters into ranked papers, for the CLI, web and eval."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

from papersift.engine import Engine
from papersift.index.lexical import Filters
from papersift.models import Hit
from papersift.search.fusion import convex, rrf

MODES = ("lexical", "semantic", "hybrid")
DEPTH = 300  # candidates taken from each side before fusion
# Chosen on SciFact TRAIN queries (benchmarks/tune_fusion.py; docs/benchmarks.md): a convex
# combination of BM25 / best BM25 and raw cosine, alpha 0.6 on the semantic side. Test nDCG@10
# 0.7207 vs 0.7107 for RRF k=60 and 0.6827 for BM25 alone.
FUSION: dict[str, object] = {"method": "convex", "alpha": 0.6, "lex_norm": "max", "sem_norm": "raw",
                             "k": 60.0, "weights": (1.0, 1.0)}


@dataclass
class SearchResult:
    query: str
    mode: str
    total: int
    hits: list[Hit] = field(default_factory=list)
    message: str | None = None


def make_filters(since: date | None = None, until: date | None = None, category: str | None = None,
                 author: str | None = None) -> Filters:
    return Filters(since=since, until=until, category=category or None, author=author or None)


log = logging.getLogger(__name__)


def semantic_ready(eng: Engine) -> bool:
    """True when the vector index of the configured model has vectors (loads no model)."""
    return eng.semantic_ready()


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="papersift-embed")
        return _POOL


def default_mode(eng: Engine) -> str:
    return "hybrid" if semantic_ready(eng) else "lexical"


def fuse(lex: list[tuple[int, float]], sem: list[tuple[int, float]],
         method: str | None = None) -> list[tuple[int, float]]:
    method = method or str(FUSION["method"])
    if method == "convex":
        return convex(lex, sem, float(FUSION["alpha"]), str(FUSION["lex_norm"]),  # type: ignore[arg-type]
                      str(FUSION["sem_norm"]))
    return rrf([lex, sem], k=float(FUSION["k"]), weights=FUSION["weights"])  # type: ignore[arg-type]


def ranked(eng: Engine, query: str, mode: str, k: int, filters: Filters | None = None,
           ) -> tuple[list[tuple[int, float]], int, str | None]:
    """(pk, score) best first for one mode, the total match count, and a note if a side was missing."""
    active = filters is not None and filters.active()
    if mode == "lexical":
        pairs, total = eng.lexical.search(query, limit=k, filters=filters)
        return pairs, total, None
    if not semantic_ready(eng):
        pairs, total = eng.lexical.search(query, limit=k, filters=filters)
        return pairs, total, "Semantic index is empty (run `papersift embed`); showing lexical results."
    side = eng.semantic
    has_words = any(c.isalnum() for c in query)
    # the query embedding (ONNX Runtime releases the GIL) overlaps with the BM25 search
    pending = _pool().submit(side.query_vector, query) if has_words else None
    allowed = eng.lexical.filter_pks(filters) if active and filters else None
    lex, total = ([], 0) if mode == "semantic" else eng.lexical.search(query, limit=max(k, DEPTH),
                                                                        filters=filters)
    try:
        vector = pending.result() if pending else None
    except ImportError as e:
        if mode == "semantic":
            pairs, total = eng.lexical.search(query, limit=k, filters=filters)
        else:
            pairs = lex[:k]
        return pairs, total, f"Semantic search is unavailable ({e}); showing lexical results."
    sem = side.search(query, max(k, DEPTH), allowed, vector=vector) if vector is not None else []
    if mode == "semantic":
        return sem[:k], len(sem), None
    fused = fuse(lex, sem)
    return fused[:k], max(total, len(fused)), None


def search(eng: Engine, query: str, limit: int = 10, offset: int = 0, filters: Filters | None = None,
           mode: str | None = None) -> SearchResult:
    """Run a search; never raises on odd input, but explains an empty result in ``message``.

    ``mode=None`` means hybrid when the data dir has vectors for the configured model, else lexical."""
    mode = mode or default_mode(eng)
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    query = (query or "").strip()[:5000]
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    pairs, total, note = ranked(eng, query, mode, offset + limit, filters)
    pairs = pairs[offset:offset + limit]
    res = SearchResult(query=query, mode=mode, total=total, message=note)
    papers = eng.store.get_many(pk for pk, _ in pairs)
    res.hits = [Hit(pk=pk, score=score, paper=papers[pk]) for pk, score in pairs if pk in papers]
    if not res.hits and not note:
        if not query and not (filters and filters.active()):
            res.message = "Type a few words to search."
        elif query and not any(ch.isalnum() for ch in query):
            res.message = "The query has no words to search for."
        else:
            res.message = "No papers match."
    return res
