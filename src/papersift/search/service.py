"""The search service: turns a query and filters into ranked papers, for the CLI, web and eval."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

from papersift.engine import Engine
from papersift.index.lexical import Filters, day_number
from papersift.models import Hit
from papersift.search.fusion import convex, rrf

MODES = ("lexical", "semantic", "hybrid")
SORTS = ("relevance", "date")
DEPTH = 300  # candidates taken from each side before fusion
# The similarity floor: a semantic neighbour is a match only if its cosine to the query is at
# least this (per model). Calibrated on the dev splits (benchmarks/tune_search.py): 0.35 costs the
# hybrid default no nDCG@10 on any collection and lies above the nearest neighbour of every
# nonsense query tried (max 0.331). Lexical matches are matches whatever their score.
SIM_FLOOR: dict[str, float] = {"sentence-transformers/all-MiniLM-L6-v2": 0.35}
DEFAULT_FLOOR = 0.30  # other models, uncalibrated (hashing-*: nonsense shares no word, cosine ~0)
# Chosen on the mean nDCG@10 of the DEV splits of SciFact (train), Cranfield, MED and NPL
# (benchmarks/tune_search.py; docs/benchmarks.md "Search quality (issue 13)"): a convex combination
# of BM25 / best BM25 and raw cosine, alpha 0.7 on the semantic side, 300 candidates a side. It
# beat RRF (best k=20: mean 0.6309), min-max (0.6379), z-score (0.6374) and a query-adaptive weight
# (0.6361) at 0.6423, and no collection lost against its better single mode.
FUSION: dict[str, object] = {"method": "convex", "alpha": 0.7, "lex_norm": "max", "sem_norm": "raw",
                             "k": 60.0, "weights": (1.0, 1.0)}


@dataclass
class SearchResult:
    query: str
    mode: str
    total: int
    hits: list[Hit] = field(default_factory=list)
    message: str | None = None
    sort: str = "relevance"
    # False when the semantic side had more neighbours above the floor than it was asked for:
    # ``total`` is then a lower bound ("at least")
    total_exact: bool = True


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


def warm(eng: Engine) -> bool:
    """Load the query model and run one query through it (web workers call this at start, so no
    request pays for loading the model). False when there are no vectors or the model cannot load."""
    if not semantic_ready(eng):
        return False
    t0 = time.perf_counter()
    try:
        eng.semantic.encoder.embedder().embed_query("warm up")
    except ImportError as e:  # logged by the encoder; searches fall back to lexical and say so
        log.warning("search model not warmed: %s", e)
        return False
    log.info("search model warm in %.2fs", time.perf_counter() - t0)
    return True


def default_mode(eng: Engine) -> str:
    return "hybrid" if semantic_ready(eng) else "lexical"


def similarity_floor(model: str) -> float:
    return SIM_FLOOR.get(model, DEFAULT_FLOOR)


def fuse(lex: list[tuple[int, float]], sem: list[tuple[int, float]],
         method: str | None = None) -> list[tuple[int, float]]:
    method = method or str(FUSION["method"])
    if method == "convex":
        return convex(lex, sem, float(FUSION["alpha"]), str(FUSION["lex_norm"]),  # type: ignore[arg-type]
                      str(FUSION["sem_norm"]))
    return rrf([lex, sem], k=float(FUSION["k"]), weights=FUSION["weights"])  # type: ignore[arg-type]


@dataclass
class Ranked:
    """One mode's matches for a query, best first, with the true match count."""

    pairs: list[tuple[int, float]]
    total: int
    note: str | None = None
    exact: bool = True
    # the semantic neighbours above the floor that are not lexical matches (hybrid/semantic)
    extra: list[tuple[int, float]] = field(default_factory=list)


def above_floor(sem: list[tuple[int, float]], floor: float | None) -> list[tuple[int, float]]:
    return sem if floor is None else [(k, s) for k, s in sem if s >= floor]


def match(eng: Engine, query: str, mode: str, k: int, filters: Filters | None = None,
          floor: float | None = -1.0, depth: int | None = None) -> Ranked:
    """The matches of ``query`` in ``mode``, best first (at least the top ``k``), and their count.

    ``floor``: -1.0 (default) uses the model's calibrated similarity floor, None disables it (eval)."""
    depth = max(k, depth or DEPTH)
    if mode == "lexical":
        pairs, total = eng.lexical.search(query, limit=k, filters=filters)
        return Ranked(pairs, total)
    if not semantic_ready(eng):
        pairs, total = eng.lexical.search(query, limit=k, filters=filters)
        return Ranked(pairs, total, "Semantic index is empty (run `papersift embed`); showing lexical results.")
    active = filters is not None and filters.active()
    side = eng.semantic
    if floor is not None and floor < 0:
        floor = similarity_floor(side.model)
    has_words = any(c.isalnum() for c in query)
    # the query embedding (ONNX Runtime releases the GIL) overlaps with the BM25 search
    pending = _pool().submit(side.query_vector, query) if has_words else None
    allowed = eng.lexical.filter_pks(filters) if active and filters else None
    lex, lex_total = ([], 0) if mode == "semantic" else eng.lexical.search(query, limit=depth, filters=filters)
    try:
        vector = pending.result() if pending else None
    except ImportError as e:
        if mode == "semantic":
            pairs, total = eng.lexical.search(query, limit=k, filters=filters)
        else:
            pairs, total = lex[:k], lex_total
        return Ranked(pairs, total, f"Semantic search is unavailable ({e}); showing lexical results.")
    sem = side.search(query, depth, allowed, vector=vector) if vector is not None else []
    near = above_floor(sem, floor)
    exact = not (floor is not None and sem and len(near) == len(sem) and len(sem) >= depth)
    if mode == "semantic":
        return Ranked(near[:k], len(near), exact=exact, extra=near)
    lex_keys = {pk for pk, _ in lex}
    outside = [pk for pk, _ in near if pk not in lex_keys]
    if outside and lex_total > len(lex):  # some lexical matches lie past the depth: ask the index
        lex_keys |= eng.lexical.matching(query, outside, filters)
    extra = [(pk, s) for pk, s in near if pk not in lex_keys]
    keep = {pk for pk, _ in lex} | {pk for pk, _ in extra}
    fused = [(pk, s) for pk, s in fuse(lex, sem) if pk in keep]
    return Ranked(fused[:k], lex_total + len(extra), exact=exact, extra=extra)


def ranked(eng: Engine, query: str, mode: str, k: int, filters: Filters | None = None,
           floor: float | None = -1.0) -> tuple[list[tuple[int, float]], int, str | None]:
    """(pk, score) best first for one mode, the total match count, and a note if a side was missing."""
    r = match(eng, query, mode, k, filters, floor)
    return r.pairs, r.total, r.note


def by_date(eng: Engine, query: str, mode: str, k: int, filters: Filters | None) -> Ranked:
    """The same matches as ``match``, newest first (undated last; ties by relevance)."""
    r = match(eng, query, mode, k, filters)
    if mode == "lexical" or r.note:
        pairs, total = eng.lexical.search(query, limit=k, filters=filters, by_date=True)
        return Ranked(pairs, total, r.note)
    # lexical matches newest first from the index, plus the semantic-only matches, merged by day
    lex: list[tuple[int, float]] = []
    if mode == "hybrid":
        lex, _n = eng.lexical.search(query, limit=k, filters=filters, by_date=True)
    papers = eng.store.get_many(pk for pk, _ in r.extra)
    extra = [(pk, float(day_number(papers[pk].published))) for pk, _ in r.extra if pk in papers]
    rel = {pk: i for i, (pk, _s) in enumerate(r.pairs)}
    merged = sorted(lex + extra, key=lambda kv: (-kv[1], rel.get(kv[0], len(rel)), kv[0]))
    return Ranked(merged[:k], r.total, exact=r.exact)


def search(eng: Engine, query: str, limit: int = 10, offset: int = 0, filters: Filters | None = None,
           mode: str | None = None, sort: str = "relevance") -> SearchResult:
    """Run a search; never raises on odd input, but explains an empty result in ``message``.

    ``mode=None`` means hybrid when the data dir has vectors for the configured model, else lexical.
    The hits are matches only (lexical matches and semantic neighbours above the similarity floor)
    and ``total`` counts them; ``sort="date"`` orders the same matches newest first."""
    mode = mode or default_mode(eng)
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose one of {', '.join(SORTS)}")
    query = (query or "").strip()[:5000]
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    r = (by_date if sort == "date" else match)(eng, query, mode, offset + limit, filters)
    pairs = r.pairs[offset:offset + limit]
    res = SearchResult(query=query, mode=mode, total=r.total, message=r.note, sort=sort, total_exact=r.exact)
    papers = eng.store.get_many(pk for pk, _ in pairs)
    res.hits = [Hit(pk=pk, score=score, paper=papers[pk]) for pk, score in pairs if pk in papers]
    if not res.hits and not r.note:
        if not query and not (filters and filters.active()):
            res.message = "Type a few words to search."
        elif query and not any(ch.isalnum() for ch in query):
            res.message = "The query has no words to search for."
        else:
            res.message = "No papers match."
    return res
