"""The search service: turns a query and filters into ranked papers, for the CLI and the web."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from papersift.index.lexical import Filters
from papersift.models import Hit
from papersift.pipeline import Engine

MODES = ("lexical", "semantic", "hybrid")


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


def search(eng: Engine, query: str, limit: int = 10, offset: int = 0, filters: Filters | None = None,
           mode: str = "lexical") -> SearchResult:
    """Run a search; never raises on odd input, but explains an empty result in ``message``."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    query = (query or "").strip()
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    pairs, total = eng.lexical.search(query, limit=limit, offset=offset, filters=filters)
    res = SearchResult(query=query, mode="lexical", total=total)
    papers = eng.store.get_many(pk for pk, _ in pairs)
    res.hits = [Hit(pk=pk, score=score, paper=papers[pk]) for pk, score in pairs if pk in papers]
    if not res.hits:
        if not query and not (filters and filters.active()):
            res.message = "Type a few words to search."
        elif query and not any(ch.isalnum() for ch in query):
            res.message = "The query has no words to search for."
        else:
            res.message = "No papers match."
    return res
