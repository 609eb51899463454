"""The For-you ranker: the one module the For-you page, the private feed and the digest call.

For one user and a window of candidate papers (new since ``since``, else the last
``WINDOW_DAYS`` days, else — in a small corpus — the newest papers plus those the user's
interests retrieve from the whole corpus), each candidate gets::

    score = W_MODEL * model + follow matches + W_TREND * trending prior

* ``model``: a per-user L2-regularised logistic regression over the stored paper embeddings
  (positives: the library, the user's papersift upvotes, thumbs up; negatives: thumbs down and
  papers sampled at random), fitted by Newton's method (IRLS) and cached until the user's
  signals change, shrunk towards the cosine similarity to the nearest positive by
  n / (n + ``SHRINK``) for n positives. With fewer than ``MIN_TRAIN`` embedded positives (cold
  start) the score is that similarity alone. Without any stored vectors it is a BM25
  profile: each positive's title and abstract start is a lexical query, a candidate scores
  its best normalised BM25 match (and every pick says that it is a keyword match).
* follow matches: an author followed (normalised names), a category followed (``cs`` follows
  every ``cs.*``), a saved search or keyword that the lexical index matches.
* trending prior: the daily feed's gravity score, normalised over the candidates.

Every pick carries short reasons, each true of that paper: the nearest positive it resembles,
the followed author / category / search it matches, "trending in ‹category›" when it is among
the top trending candidates of its category.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from papersift.engine import Engine
from papersift.index.lexical import LexicalIndex
from papersift.models import Paper, normalize_title
from papersift.rank import trending
from papersift.store import interests as sql

log = logging.getLogger(__name__)

WINDOW_DAYS = 14
MIN_WINDOW = 200          # fewer candidates than this in the window (and no ``since``): widen
MAX_CANDIDATES = 5000
NEWEST_FALLBACK = 2000
RETRIEVE_PER_SIGNAL = 300
MIN_TRAIN = 2             # embedded positives needed to fit the logistic regression
SAMPLED_NEGATIVES = 300
L2 = 1.0
SHRINK = 5.0              # the model's score is shrunk towards nearest-positive similarity by n / (n + SHRINK)
W_MODEL = 1.0
W_AUTHOR = 0.5
W_CATEGORY = 0.15
W_QUERY = 0.3
W_TREND = 0.1
SIMILAR_MIN = 0.3         # cosine (vectors) / normalised BM25 (keywords) to name a similar paper
KEYWORD_PROFILE = 30      # positives used as BM25 queries in keyword mode
TRENDING_TOP = 3          # "trending in X": among the top N trending candidates of category X
TITLE_CHARS = 80
SIM_BLOCK = 2_000_000     # candidate x positive similarities computed at once (8 MB of float32)


@dataclass
class Pick:
    paper: Paper
    score: float
    reasons: list[str] = field(default_factory=list)


# -- pure parts (the benchmark uses them directly) ---------------------------------------------------
@dataclass
class LinearModel:
    w: np.ndarray
    b: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = np.clip(x @ self.w + self.b, -30, 30)
        return 1.0 / (1.0 + np.exp(-z))


def fit_logistic(pos: np.ndarray, neg: np.ndarray, neg_weight: np.ndarray | None = None,
                 l2: float = L2, iters: int = 25) -> LinearModel:
    """L2-regularised logistic regression by Newton's method (IRLS). Classes are balanced (the
    positives weigh as much in total as the negatives); ``neg_weight`` weighs single negatives
    (explicit thumbs down count more than sampled ones). The bias is not regularised."""
    x = np.vstack([pos, neg]).astype(np.float64)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    nw = np.ones(len(neg)) if neg_weight is None else np.asarray(neg_weight, dtype=np.float64)
    sw = np.concatenate([np.full(len(pos), nw.sum() / max(len(pos), 1)), nw])
    sw *= len(sw) / sw.sum()
    xb = np.hstack([x, np.ones((len(x), 1))])
    d = xb.shape[1]
    reg = np.full(d, l2)
    reg[-1] = 1e-6
    theta = np.zeros(d)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ theta, -30, 30)))
        grad = xb.T @ (sw * (p - y)) + reg * theta
        h = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg)
        step = np.linalg.solve(h, grad)
        theta -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return LinearModel(theta[:-1].astype(np.float32), float(theta[-1]))


def vector_scores(x: np.ndarray, pos: np.ndarray, neg: np.ndarray | None, model: LinearModel | None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The learned score of candidate vectors ``x`` (rows, L2-normalised) for a user with positive
    vectors ``pos`` and thumbs-down vectors ``neg``: the model's probability shrunk towards the
    cosine similarity to the nearest positive by ``n / (n + SHRINK)`` (n positives: with few,
    the nearest neighbour is the surer signal); in cold start (``model`` None) that similarity
    alone. A near-duplicate (cosine > 0.8) of a thumbs-down paper counts half. Also returns, per
    candidate, the index of its nearest positive and that similarity (for the reason)."""
    best = np.zeros(len(x), dtype=np.int64)
    best_sim = np.zeros(len(x), dtype=np.float32)
    step = max(1, SIM_BLOCK // max(len(pos), 1))  # a big library: bounded memory, block by block
    for i in range(0, len(x), step):
        sims = x[i:i + step] @ pos.T
        best[i:i + step] = sims.argmax(axis=1)
        best_sim[i:i + step] = sims[np.arange(len(sims)), best[i:i + step]]
    nearest = np.clip(best_sim, 0.0, 1.0)
    if model is not None:
        a = len(pos) / (len(pos) + SHRINK)
        learned = a * model.predict(x) + (1 - a) * nearest
    else:
        learned = nearest
    if neg is not None and len(neg):
        learned = learned * np.where((x @ neg.T).max(axis=1) > 0.8, 0.5, 1.0)
    return learned, best, best_sim


def query_text(p: Paper) -> str:
    """A paper as a BM25 query (keyword mode): its title and the start of its abstract."""
    return f"{p.title} {p.abstract[:300]}"


def keyword_profile(lexical: LexicalIndex, queries: list[tuple[int, str]], candidates: set[int],
                    depth: int = 1000) -> dict[int, tuple[float, int]]:
    """BM25 profile: each (pk, text) of the user's papers is a lexical query; a candidate scores
    its best BM25 score normalised by that query's top hit (the query paper itself left out), in
    [0, 1], with the pk of the query paper that gave it."""
    best: dict[int, tuple[float, int]] = {}
    for qpk, text in queries:
        hits, _ = lexical.search(text, depth)
        top = max((s for h, s in hits if h != qpk), default=0.0)
        if top <= 0:
            continue
        for h, s in hits:
            if h in candidates and h != qpk and min(s / top, 1.0) > best.get(h, (0.0, 0))[0]:
                best[h] = (min(s / top, 1.0), qpk)
    return best


def norm_name(name: str) -> str:
    """An author name compared across sources: "Vaswani, Ashish" == "Ashish Vaswani" == "ASHISH VASWANI"."""
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    return normalize_title(name)


def category_matches(followed: str, categories: list[str]) -> str | None:
    """The first category that ``followed`` covers (``cs`` covers ``cs.CL``), or None."""
    f = followed.strip().lower()
    for c in categories:
        cl = c.lower()
        if cl == f or cl.startswith(f + "."):
            return c
    return None


def short(title: str) -> str:
    return title if len(title) <= TITLE_CHARS else title[:TITLE_CHARS - 1].rstrip() + "…"


# -- the per-user model, cached until the signals change ---------------------------------------------
_CACHE: OrderedDict[tuple[str, int, str], tuple[str, LinearModel | None]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 256


def _signature(pos: list[int], neg: list[int]) -> str:
    h = hashlib.sha1()
    h.update(",".join(map(str, sorted(pos))).encode())
    h.update(b"|")
    h.update(",".join(map(str, sorted(neg))).encode())
    return h.hexdigest()


def user_model(eng: Engine, user_id: int, model_name: str, pos: dict[int, np.ndarray],
               neg: dict[int, np.ndarray]) -> LinearModel | None:
    """The user's logistic regression (None in cold start), refitted only when their embedded
    positives or negatives changed since the last fit."""
    if len(pos) < MIN_TRAIN:
        return None
    key = (eng.db.url, user_id, model_name)
    sig = _signature(list(pos), list(neg))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit and hit[0] == sig:
            _CACHE.move_to_end(key)
            return hit[1]
    sampled = sql.sample_vectors(eng.db, model_name, SAMPLED_NEGATIVES, seed=user_id,
                                 exclude=set(pos) | set(neg))
    negs = [*neg.values(), *sampled.values()]
    weights = [3.0] * len(neg) + [1.0] * len(sampled)
    if not negs:
        return None
    model = fit_logistic(np.stack(list(pos.values())), np.stack(negs), np.array(weights))
    log.debug("fitted the For-you model of user %s on %d positives, %d negatives", user_id, len(pos), len(negs))
    with _CACHE_LOCK:
        _CACHE[key] = (sig, model)
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model


# -- the ranker --------------------------------------------------------------------------------------
def _model_name(eng: Engine) -> str:
    from papersift.index.embedders import model_name

    return model_name(eng.settings.embedder)


def mode(eng: Engine) -> str:
    """"vectors" when the store holds embeddings of the configured model, else "keywords"."""
    return "vectors" if sql.has_vectors(eng.db, _model_name(eng)) else "keywords"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _source_reason(pk: int, sig: sql.Signals, title: str) -> str:
    t = f"‹{short(title)}›"
    if pk in sig.library:
        return f"similar to {t} in your library"
    if sig.feedback.get(pk, 0) > 0:
        return f"similar to {t}, which you liked"
    return f"similar to {t}, which you upvoted"


def _positive_order(sig: sql.Signals) -> list[int]:
    """Positives, most recent first (library save, vote or thumbs up)."""
    when: dict[int, datetime] = {}
    for pk, at in (*sig.library.items(), *sig.votes.items()):
        when[pk] = max(when.get(pk, at), at)
    for pk in sig.positives:
        when.setdefault(pk, datetime.min)
    return sorted(when, key=lambda pk: (when[pk], pk), reverse=True)


def _candidates(eng: Engine, sig: sql.Signals, since: datetime | None, now: datetime,
                include_trending: bool, vec_mode: bool, pos_vecs: dict[int, np.ndarray]) -> list[int]:
    from papersift.index.lexical import Filters

    db = eng.db
    window_start = since or now - timedelta(days=WINDOW_DAYS)
    cands = sql.window_pks(db, window_start, MAX_CANDIDATES)
    if include_trending:
        cands += [pk for pk, _v in sql.recent_voted(db, window_start)]
    if since is None and len(cands) < MIN_WINDOW:
        # a small or old corpus: the newest papers, plus what the user's interests retrieve from all of it
        cands += sql.newest_pks(db, NEWEST_FALLBACK)
        for f in sig.follows:
            if f.kind == "author":
                hits, _ = eng.lexical.search("", RETRIEVE_PER_SIGNAL, filters=Filters(author=f.value))
            elif f.kind == "category":
                hits, _ = eng.lexical.search("", RETRIEVE_PER_SIGNAL, filters=Filters(category=f.value))
            else:
                hits, _ = eng.lexical.search(f.value, RETRIEVE_PER_SIGNAL)
            cands += [pk for pk, _s in hits]
        if vec_mode and pos_vecs and eng.semantic_ready():
            centroid = np.mean(np.stack(list(pos_vecs.values())), axis=0)
            centroid /= float(np.linalg.norm(centroid)) or 1.0
            cands += [pk for pk, _s in eng.semantic.vectors.search(centroid.astype(np.float32), 500)]
    seen = sig.seen
    return [pk for pk in dict.fromkeys(cands) if pk not in seen]


def recommend(eng: Engine, user_id: int, *, since: datetime | None = None, limit: int = 20,
              include_trending: bool = True) -> list[Pick]:
    """The user's best ``limit`` new papers, each with true reasons (see the module doc).

    ``since`` (naive UTC or aware): only papers first seen or published since then (the digest
    passes its last send); None: the last ``WINDOW_DAYS`` days, widened in a small corpus."""
    now = _utcnow()
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(UTC).replace(tzinfo=None)
    db = eng.db
    sig = sql.signals(db, user_id)
    model_name = _model_name(eng)
    vec_mode = sql.has_vectors(db, model_name)
    positives = _positive_order(sig)
    pos_vecs = sql.vectors(db, model_name, positives) if vec_mode else {}
    cands = _candidates(eng, sig, since, now, include_trending, vec_mode, pos_vecs)
    if not cands:
        return []
    papers = sql.briefs(db, cands)  # full papers are read for the picks only
    cands = [pk for pk in cands if pk in papers]
    if not cands:
        return []
    idx = {pk: i for i, pk in enumerate(cands)}
    n = len(cands)
    score = np.zeros(n)
    reasons: list[list[str]] = [[] for _ in range(n)]
    known = eng.store.get_many(list(sig.positives | sig.negatives))
    titles = {pk: p.title for pk, p in known.items()}

    # 1. the learned part
    if vec_mode and pos_vecs:
        neg_vecs = sql.vectors(db, model_name, sorted(sig.negatives))
        cvecs = sql.vectors(db, model_name, cands)
        rows = [i for i, pk in enumerate(cands) if pk in cvecs]
        if rows:
            x = np.stack([cvecs[cands[i]] for i in rows])
            pkeys = list(pos_vecs)
            model = user_model(eng, user_id, model_name, pos_vecs, neg_vecs)
            learned, best, best_sim = vector_scores(
                x, np.stack([pos_vecs[k] for k in pkeys]),
                np.stack(list(neg_vecs.values())) if neg_vecs else None, model)
            for j, i in enumerate(rows):
                score[i] += W_MODEL * float(learned[j])
                if best_sim[j] >= SIMILAR_MIN:
                    pk = pkeys[int(best[j])]
                    reasons[i].append(_source_reason(pk, sig, titles.get(pk, "")))
                elif model is not None and learned[j] >= 0.5:
                    reasons[i].append("fits the papers you saved and liked")
    elif sig.positives:  # no vectors: BM25 profile
        queries = [(pk, query_text(known[pk])) for pk in positives[:KEYWORD_PROFILE] if pk in known]
        for h, (s, pk) in keyword_profile(eng.lexical, queries, set(idx)).items():
            i = idx[h]
            score[i] += W_MODEL * s
            if s >= SIMILAR_MIN:
                reasons[i].append(_source_reason(pk, sig, titles.get(pk, "")) + " (by keywords: no vectors yet)")
        negs = [(pk, query_text(known[pk])) for pk in sorted(sig.negatives) if pk in known]
        for h, (s, _pk) in keyword_profile(eng.lexical, negs, set(idx)).items():
            if s > 0.8:  # near-duplicates of a thumbs down
                score[idx[h]] *= 0.5

    # 2. follows
    wanted = {norm_name(f.value) for f in sig.follows if f.kind == "author"}
    if wanted:  # one pass over the candidates' authors, whatever the number of author follows
        for i, pk in enumerate(cands):
            done: set[str] = set()
            for a in papers[pk].authors:
                n_a = norm_name(a)
                if n_a in wanted and n_a not in done:
                    done.add(n_a)
                    score[i] += W_AUTHOR
                    reasons[i].append(f"by {a}, whom you follow")
    for f in sig.follows:
        if f.kind == "author":
            continue
        if f.kind == "category":
            for i, pk in enumerate(cands):
                c = category_matches(f.value, papers[pk].categories)
                if c:
                    score[i] += W_CATEGORY
                    reasons[i].append(f"in {c}, a category you follow" if c.lower() == f.value.lower()
                                      else f"in {c}, under {f.value}, which you follow")
        elif f.kind == "query":
            hits, _ = eng.lexical.search(f.value, MAX_CANDIDATES)
            top = max((s for _h, s in hits), default=0.0) or 1.0
            for h, s in hits:
                if h in idx:
                    score[idx[h]] += W_QUERY * (0.5 + 0.5 * s / top)
                    reasons[idx[h]].append(f"matches your saved search ‹{f.value}›")

    # 3. trending prior
    if include_trending:
        t = np.array([trending.score(papers[pk].votes, papers[pk].moment, now) for pk in cands])
        if t.max() > 0:
            t = t / t.max()
            score += W_TREND * t
            by_cat: dict[str, list[int]] = defaultdict(list)
            for i, pk in enumerate(cands):
                cat = papers[pk].primary_category
                if t[i] > 0 and cat:
                    by_cat[cat].append(i)
            for cat, members in by_cat.items():
                for i in sorted(members, key=lambda i: -t[i])[:TRENDING_TOP]:
                    reasons[i].append(f"trending in {cat}")

    order = sorted((i for i in range(n) if reasons[i] and score[i] > 0),
                   key=lambda i: (-score[i], papers[cands[i]].id))
    chosen = order[:max(limit, 0)]
    full = eng.store.get_many(cands[i] for i in chosen)
    return [Pick(full[cands[i]], round(float(score[i]), 4), reasons[i]) for i in chosen if cands[i] in full]
