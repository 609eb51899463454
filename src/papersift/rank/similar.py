"""Similar papers (and, later, per-user ranking): the one place recommendation logic lives."""

from __future__ import annotations

import math
from datetime import date

from papersift.engine import Engine
from papersift.models import Paper

RECENCY_HALF_LIFE_DAYS = 365.0


def _recency(p: Paper, today: date) -> float:
    if not p.published:
        return 0.0
    age = max((today - p.published).days, 0)
    return math.exp(-math.log(2) * age / RECENCY_HALF_LIFE_DAYS)


def similar(eng: Engine, paper_id: str, k: int = 5, recency: float = 0.0,
            today: date | None = None) -> list[tuple[Paper, float]]:
    """Nearest papers to ``paper_id`` by embedding (by BM25 on its title when no vectors exist).

    Excludes the paper itself and its other versions/copies (same arXiv id or same normalised
    title). ``recency`` in [0, 1] blends in a half-life-of-a-year freshness bonus:
    ``score' = (1 - recency) * score + recency * 0.5 ** (age_days / 365)``.
    """
    from papersift.search.service import semantic_ready

    paper = eng.store.get(paper_id)
    if paper is None:
        raise KeyError(paper_id)
    k = max(1, min(k, 100))
    want = k * 3 + 10
    if semantic_ready(eng):
        from papersift.index.semantic import paper_text

        pairs = eng.semantic.search(paper_text(paper), want)
    else:
        pairs, _ = eng.lexical.search(f"{paper.title} {paper.title} {paper.abstract[:300]}", limit=want)
        top = max((s for _pk, s in pairs), default=1.0) or 1.0
        pairs = [(pk, s / top) for pk, s in pairs]
    found = eng.store.get_many(pk for pk, _ in pairs)
    today = today or date.today()
    out: list[tuple[Paper, float]] = []
    for pk, score in pairs:
        p = found.get(pk)
        if p is None or pk == paper.pk or p.norm_title == paper.norm_title or (
                paper.arxiv_id and p.arxiv_id == paper.arxiv_id):
            continue
        if recency:
            score = (1 - recency) * score + recency * _recency(p, today)
        out.append((p, score))
    out.sort(key=lambda ps: (-ps[1], ps[0].id))
    return out[:k]
