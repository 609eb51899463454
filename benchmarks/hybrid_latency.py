"""End-to-end search latency per mode at N papers, query embedding included.

    python benchmarks/hybrid_latency.py --n 100000 [--queries 500] [--embedder minilm]

Papers: the synthetic corpus of ingest_and_search.py, ingested through the real pipeline.
Vectors: embedding 100k abstracts with MiniLM on 2 cores takes most of an hour, so the corpus
vectors are synthetic but shaped like real ones (unit-norm mixtures of 64 random "topic" directions
plus noise: low intrinsic dimension, as sentence embeddings have), and go into the same vector
index `papersift embed` builds (HNSW above 50k). Queries are embedded by the REAL model, so the
timing includes query embedding, BM25 top-300, ANN top-300, fusion and fetching the 10 papers.
(The query-embedding cache is cleared before each mode, so every query is embedded.)
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from ingest_and_search import pct, write_corpus

from papersift.config import Settings
from papersift.engine import open_engine
from papersift.index.vectors import make_index
from papersift.pipeline import ingest_paths
from papersift.search.service import search


def synthetic_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((64, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 50_000):
        m = min(50_000, n - s)
        w = rng.dirichlet(np.full(64, 0.1), size=m).astype(np.float32)
        v = w @ topics + 0.15 * rng.standard_normal((m, dim)).astype(np.float32)
        out[s:s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--keep", type=Path, default=None,
                    help="build the data dir here and keep it (e.g. for http_load.py --data-dir)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="papersift-hybrid-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    vocab = write_corpus(tmp / "c.jsonl", args.n)
    eng = open_engine(Settings(data_dir=tmp / "data", embedder=args.embedder), "owner", upgrade=True)
    ingest_paths(eng, [tmp / "c.jsonl"], fmt="jsonl")
    embedder = eng.semantic.encoder.embedder()
    t0 = time.perf_counter()
    # synthetic vectors straight into the index (embedding 100k abstracts would take hours here)
    keys = np.arange(1, args.n + 1, dtype=np.int64)
    vecs = synthetic_vectors(args.n, embedder.dim)
    side = eng.semantic.vectors
    side.index = make_index(embedder.dim, args.n, model_name=side.model)
    for s in range(0, args.n, 20_000):
        side.index.add(keys[s:s + 20_000], vecs[s:s + 20_000])
    side.save()
    print(f"{args.n:,} papers; vector index {type(side.index).__name__} built in {time.perf_counter() - t0:.1f}s; "
          f"embedder {embedder.name}")
    rng = random.Random(2)
    common = vocab[50:5000]
    queries = [" ".join(rng.choice(common) for _ in range(rng.randint(1, 4))) for _ in range(args.queries)]
    for q in queries[:20]:
        search(eng, q, mode="hybrid")
    t = time.perf_counter()
    for q in queries:
        embedder.embed_query(q)
    print(f"query embedding alone: {(time.perf_counter() - t) * 1000 / len(queries):.2f} ms mean")
    for mode in ("lexical", "semantic", "hybrid"):
        eng.semantic.encoder._cache.clear()  # time real query embeddings, not the LRU cache
        lat = []
        for q in queries:
            t = time.perf_counter()
            search(eng, q, mode=mode, limit=10)
            lat.append((time.perf_counter() - t) * 1000)
        print(f"{mode:<9} end-to-end top 10 ({len(queries)} queries): p50 {pct(lat, 50):.2f} ms  "
              f"p95 {pct(lat, 95):.2f} ms  p99 {pct(lat, 99):.2f} ms")
    eng.close()
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"data dir kept: {tmp / 'data'}")


if __name__ == "__main__":
    main()
