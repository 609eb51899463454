"""How good is the For-you ranker? Simulated users from real labels (docs/benchmarks.md).

    python benchmarks/recommend_eval.py [--splits 5] [--train-frac 0.3] [--embedder minilm] [--json OUT]

Two real, labelled collections, each its own corpus:

* **seed pages**: the five bundled Hugging Face Papers pages (``../shared/seeds``, else
  tests/fixtures/seeds): each page is one topical result list, so one user whose positives are
  that page's papers; the corpus is every paper of the five pages.
* **arXiv categories**: the real arXiv metadata sample (the bundled demo snapshot plus
  ``../shared/fixtures/arxiv``): one user per archive of the primary category (``hep-ph``,
  ``math``, ``cond-mat``...) with at least ``--min-positives`` papers; the corpus is the sample.

For each user and each of ``--splits`` random splits: ``--train-frac`` of the positives (at least
2) are the user's library; the pool to rank is every other paper of the corpus (held-out
positives and negatives). Each method ranks the pool; we report precision@10 and nDCG@10 (mean
over users and splits) and catalogue coverage (the share of the corpus that appears in some
user's top 10).

Methods:

* ``learned``: the ranker's own model (rank/foryou.py ``fit_logistic`` + ``vector_scores``, the
  same code ``recommend`` runs: logistic regression shrunk towards nearest-positive similarity)
  on the stored-vector model's embeddings, with the same number of sampled negatives.
* ``nearest`` (cold start): cosine similarity to the nearest library paper (``vector_scores``
  without a model), what ``recommend`` does below ``MIN_TRAIN`` positives.
* ``bm25-profile``: the ranker's no-vector mode (``keyword_profile``) on a real tantivy index.
* ``popularity``: most popular first, popularity = how many users' libraries hold the paper
  (in this split), ties by id.
* ``recency``: newest published first, ties by id.

Vectors come from the packaged embedding model (index/embedders.py), cached under
``/tmp/papersift-recommend-eval`` keyed by model and text.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from papersift.index.embed_stage import text_of
from papersift.index.lexical import LexicalIndex
from papersift.ingest import read
from papersift.models import Paper
from papersift.rank import foryou

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CACHE = Path(tempfile.gettempdir()) / "papersift-recommend-eval"
K = 10


class Collection(NamedTuple):
    name: str
    papers: list[Paper]           # index = paper number in this collection
    users: dict[str, list[int]]   # user -> positive paper numbers


def _first_existing(*paths: Path) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def _dedup(papers: list[Paper]) -> tuple[list[Paper], dict[str, int]]:
    out: list[Paper] = []
    by_title: dict[str, int] = {}
    for p in papers:
        if p.norm_title not in by_title:
            by_title[p.norm_title] = len(out)
            out.append(p)
    return out, by_title


def seed_pages() -> Collection:
    d = _first_existing(SHARED / "seeds", ROOT / "tests" / "fixtures" / "seeds")
    if d is None:
        raise SystemExit("no seed pages found")
    pages: list[tuple[str, list[Paper]]] = []
    for f in sorted(d.glob("*.txt")):
        pages.append((f.stem[:3], [r for r in read(f) if isinstance(r, Paper)]))
    papers, by_title = _dedup([p for _n, ps in pages for p in ps])
    users = {f"page {n}": sorted({by_title[p.norm_title] for p in ps}) for n, ps in pages}
    return Collection("seed pages", papers, users)


def arxiv_categories(min_positives: int) -> Collection:
    files = [f for f in (ROOT / "src" / "papersift" / "data" / "demo" / "arxiv-metadata-oai-snapshot.jsonl",
                         SHARED / "fixtures" / "arxiv" / "arxiv-metadata-oai-snapshot.json") if f.exists()]
    papers, _ = _dedup([r for f in files for r in read(f) if isinstance(r, Paper) and r.categories])
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(papers):
        groups[p.categories[0].split(".")[0]].append(i)
    users = {c: ix for c, ix in sorted(groups.items()) if len(ix) >= min_positives}
    return Collection("arXiv categories", papers, users)


def embed(papers: list[Paper], name: str | None) -> tuple[np.ndarray, str]:
    from papersift.index.embedders import load_embedder, model_name

    model = model_name(name)
    texts = [text_of(p.title, p.abstract) for p in papers]
    key = hashlib.sha1(("\x00".join([model, *texts])).encode()).hexdigest()[:16]
    path = CACHE / f"vectors-{key}.npy"
    if path.exists():
        return np.load(path), model
    t0 = time.perf_counter()
    vecs = load_embedder(name).embed(texts).astype(np.float32)
    print(f"embedded {len(texts)} papers with {model} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs, model


def lexical_index(papers: list[Paper], where: Path) -> LexicalIndex:
    idx = LexicalIndex(where, writable=True)
    for i, p in enumerate(papers):
        p.pk = i
    idx.add(papers)
    idx.commit(seq=1)
    return idx


def metrics(ranking: list[int], relevant: set[int]) -> tuple[float, float]:
    top = ranking[:K]
    hits = [1.0 if r in relevant else 0.0 for r in top]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(K, len(relevant))))
    return sum(hits) / K, dcg / ideal if ideal else 0.0


Ranker = Callable[[list[int], list[int], np.ndarray], list[int]]


def evaluate(col: Collection, vecs: np.ndarray, lexical: LexicalIndex, splits: int, train_frac: float,
             ) -> dict[str, dict[str, float]]:
    n = len(col.papers)
    dates = [p.published.toordinal() if p.published else 0 for p in col.papers]
    scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
    shown: dict[str, set[int]] = defaultdict(set)
    for split in range(splits):
        rng = random.Random(split)
        train: dict[str, list[int]] = {}
        for u, pos in col.users.items():
            pos = list(pos)
            rng.shuffle(pos)
            train[u] = sorted(pos[:max(2, round(len(pos) * train_frac))])
        popularity = Counter(i for t in train.values() for i in t)
        for u, pos in col.users.items():
            lib = train[u]
            pool = [i for i in range(n) if i not in set(lib)]
            relevant = set(pos) - set(lib)
            nrng = np.random.default_rng(1000 * split + len(u))
            sampled = nrng.choice([i for i in range(n) if i not in set(lib)],
                                  size=min(foryou.SAMPLED_NEGATIVES, n - len(lib)), replace=False)
            x = vecs[pool]
            model = foryou.fit_logistic(vecs[lib], vecs[sampled])
            learned, _b, _s = foryou.vector_scores(x, vecs[lib], None, model)
            nearest, _b, _s = foryou.vector_scores(x, vecs[lib], None, None)
            kw = foryou.keyword_profile(lexical, [(i, foryou.query_text(col.papers[i])) for i in lib], set(pool))
            rankings = {
                "learned (logistic regression on vectors)": _order(pool, learned),
                "nearest library paper (cold start)": _order(pool, nearest),
                "BM25 profile (no vectors)": _order(pool, np.array([kw.get(i, (0.0, 0))[0] for i in pool])),
                "popularity": _order(pool, np.array([popularity[i] for i in pool], dtype=float)),
                "recency": _order(pool, np.array(dates, dtype=float)[pool]),
            }
            for name, ranking in rankings.items():
                scores[name].append(metrics(ranking, relevant))
                shown[name].update(ranking[:K])
    return {name: {"p@10": float(np.mean([s[0] for s in v])), "ndcg@10": float(np.mean([s[1] for s in v])),
                   "coverage": len(shown[name]) / n} for name, v in scores.items()}


def _order(pool: list[int], score: np.ndarray) -> list[int]:
    # score descending, ties by paper number (stable, no information)
    return [pool[i] for i in sorted(range(len(pool)), key=lambda i: (-float(score[i]), pool[i]))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--train-frac", type=float, default=0.3)
    ap.add_argument("--min-positives", type=int, default=8)
    ap.add_argument("--embedder", default=None, help="embedder name (default: the packaged MiniLM)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    results: dict[str, object] = {}
    lines = ["| collection | users | papers | method | P@10 | nDCG@10 | coverage |", "|---|---|---|---|---|---|---|"]
    for col in (seed_pages(), arxiv_categories(args.min_positives)):
        vecs, model = embed(col.papers, args.embedder)
        with tempfile.TemporaryDirectory(prefix="recommend-eval-") as tmp:
            lexical = lexical_index(col.papers, Path(tmp) / "lexical")
            res = evaluate(col, vecs, lexical, args.splits, args.train_frac)
        results[col.name] = {"users": len(col.users), "papers": len(col.papers), "model": model, "methods": res}
        for name, m in res.items():
            lines.append(f"| {col.name} | {len(col.users)} | {len(col.papers)} | {name} | {m['p@10']:.3f} | "
                         f"{m['ndcg@10']:.3f} | {m['coverage']:.2f} |")
        learned = res["learned (logistic regression on vectors)"]
        for name, m in res.items():
            if not name.startswith("learned"):
                won = learned["p@10"] > m["p@10"] and learned["ndcg@10"] > m["ndcg@10"]
                print(f"{col.name}: learned {'beats' if won else 'does NOT beat'} {name} on P@10 and nDCG@10",
                      file=sys.stderr)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
