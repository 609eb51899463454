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


def normalize(run: Ranked, how: str = "minmax") -> dict[int, float]:
    """Scores of one run on a common scale: ``minmax`` to [0, 1], ``max`` divided by the best
    score (for BM25, whose zero is meaningful), ``z`` standardised, ``raw`` as they are (cosine)."""
    if not run:
        return {}
    vals = [s for _k, s in run]
    if how == "raw":
        return {key: float(s) for key, s in run}
    if how == "max":
        top = max(vals) or 1.0
        return {key: s / top for key, s in run}
    if how == "z":
        mean = sum(vals) / len(vals)
        sd = (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5 or 1.0
        return {key: (s - mean) / sd for key, s in run}
    lo, hi = min(vals), max(vals)
    span = hi - lo
    return {key: (1.0 if span == 0 else (s - lo) / span) for key, s in run}


def minmax(run: Ranked) -> dict[int, float]:
    """Scale scores to [0, 1] within one run (all equal -> 1.0)."""
    return normalize(run, "minmax")


def convex(lexical: Ranked, semantic: Ranked, alpha: float = 0.5, lex_norm: str = "minmax",
           sem_norm: str = "minmax") -> list[tuple[int, float]]:
    """``alpha * semantic + (1 - alpha) * lexical`` on normalised scores. A document missing from
    one run gets that run's lowest normalised score (it ranked below everything retrieved)."""
    lx, sm = normalize(lexical, lex_norm), normalize(semantic, sem_norm)
    lx_floor, sm_floor = min(lx.values(), default=0.0), min(sm.values(), default=0.0)
    keys = set(lx) | set(sm)
    fused = {k: alpha * sm.get(k, sm_floor) + (1 - alpha) * lx.get(k, lx_floor) for k in keys}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def confidence(run: Ranked, k: int = 10) -> float:
    """How much a run's best score stands out from its top ``k``: (s1 - mean) / sd (0 if flat)."""
    vals = [s for _k, s in list(run)[:k]]
    if len(vals) < 2:
        return 0.0
    mean = sum(vals) / len(vals)
    sd = (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5
    return (vals[0] - mean) / sd if sd > 0 else 0.0


def adaptive_convex(lexical: Ranked, semantic: Ranked, lex_norm: str = "z", sem_norm: str = "z",
                    lo: float = 0.2, hi: float = 0.8) -> list[tuple[int, float]]:
    """A convex combination whose weight follows each side's confidence for this query:
    ``alpha = conf_sem / (conf_sem + conf_lex)`` clipped to [lo, hi] (0.5 when both are flat)."""
    cl, cs = confidence(lexical), confidence(semantic)
    alpha = 0.5 if cl + cs <= 0 else min(hi, max(lo, cs / (cl + cs)))
    return convex(lexical, semantic, alpha, lex_norm, sem_norm)
