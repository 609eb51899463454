"""Rank fusion as short pure functions: reciprocal rank fusion and a convex combination."""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[int, float]]  # (key, score), best first


def rrf(runs: Sequence[Ranked], k: float = 60.0,
        weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal rank fusion (Cormack et al. 2009): score(d) = sum_i w_i / (k + rank_i(d))."""
    weights = weights or [1.0] * len(runs)
    scores: dict[int, float] = {}
    for run, w in zip(runs, weights, strict=True):
        for rank, (key, _s) in enumerate(run, start=1):
            scores[key] = scores.get(key, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def minmax(run: Ranked) -> dict[int, float]:
    """Scale scores to [0, 1] within one run (all equal -> 1.0)."""
    if not run:
        return {}
    vals = [s for _k, s in run]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    return {key: (1.0 if span == 0 else (s - lo) / span) for key, s in run}


def convex(lexical: Ranked, semantic: Ranked, alpha: float = 0.5) -> list[tuple[int, float]]:
    """alpha * semantic + (1 - alpha) * lexical on min-max-normalised scores; missing = 0."""
    lx, sm = minmax(lexical), minmax(semantic)
    keys = set(lx) | set(sm)
    fused = {k: alpha * sm.get(k, 0.0) + (1 - alpha) * lx.get(k, 0.0) for k in keys}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
