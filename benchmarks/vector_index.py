"""Recall@10 vs exact search, latency p50/p99, build time and memory of the vector indexes.

    .venv/bin/python benchmarks/vector_index.py --n 100000 --exact
    .venv/bin/python benchmarks/vector_index.py --n 1000000
    .venv/bin/python benchmarks/vector_index.py --n 100000 --configs ivf:auto:Flat,hnsw:f16:16:128

Vectors are REAL all-MiniLM-L6-v2 embeddings of the 5,183 SciFact abstracts (computed once with
the ONNX embedder and cached under ~/.cache/papersift/bench/, ~9 min on 2 cores; or pass
--embeddings/--query-embeddings .npy files) grown to --n with synthetic neighbours:

    v = normalise(a * d_i + (1 - a) * d_j + e),  a ~ U(0.5, 1),  d_i, d_j random real abstracts

"a paper between two real papers" plus noise e: by default (--noise-kind cov) e ~ N(0, s^2 C)
with C the covariance of the real embeddings and s = --noise = 0.3, so the noise lies in the
directions real abstracts vary in; --noise-kind iso uses e ~ N(0, s^2/384 I) (a harder,
flatter neighbourhood structure; s = 0.35 there). At 5,183 vectors both match the real corpus'
nearest-neighbour cosine (0.68-0.74 vs 0.68) and local intrinsic dimension (17-19 vs 17). The
real abstracts are the first rows. Queries are the REAL embeddings of SciFact queries. Ground
truth is exact (float32 brute force). Configs: ivf:<nlist|auto>:<Flat|SQfp16> (faiss, swept over
--nprobe) and hnsw:<f16|i8>:<connectivity>:<expansion_add> (usearch, swept over --ef).
Writes benchmarks/results/vector_index_<n>_<noise kind>.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from papersift.index import vectors as V
from papersift.index.onnx_model import default_cache_dir

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
RESULTS = Path(__file__).resolve().parent / "results"


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def real_embeddings(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    if args.embeddings and args.query_embeddings:
        return np.load(args.embeddings).astype(np.float32), np.load(args.query_embeddings).astype(np.float32)
    cache = default_cache_dir() / "bench"
    docs_f, qs_f = cache / "scifact-minilm-docs.npy", cache / "scifact-minilm-queries.npy"
    if not docs_f.is_file() or not qs_f.is_file():
        from papersift.index.embedders import OnnxEmbedder

        emb = OnnxEmbedder()
        with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as fh:
            docs = [json.loads(x) for x in fh]
        with open(SCIFACT / "queries.jsonl", encoding="utf-8") as fh:
            qs = [json.loads(x) for x in fh]
        print(f"embedding {len(docs)} SciFact abstracts + {len(qs)} queries once (cached in {cache}) ...",
              flush=True)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(qs_f, emb.embed([q["text"] for q in qs]))
        np.save(docs_f, emb.embed([f"{d['title']} {d['text']}".strip() for d in docs]))
    return np.load(docs_f), np.load(qs_f)


def synthesize(real: np.ndarray, n: int, sigma: float, seed: int, kind: str = "cov") -> np.ndarray:
    """Real rows first, then normalise(a*d_i + (1-a)*d_j + noise); see the module docstring."""
    rng = np.random.default_rng(seed)
    dim = real.shape[1]
    if kind == "cov":  # noise ~ N(0, C), C = covariance of the real embeddings
        w, u = np.linalg.eigh(np.cov((real - real.mean(0)).T).astype(np.float64))
        shape = (u * np.sqrt(np.clip(w, 0, None))).T.astype(np.float32) * sigma
    else:  # isotropic: N(0, sigma^2 / dim * I)
        shape = np.eye(dim, dtype=np.float32) * (sigma / np.sqrt(dim))
    out = np.empty((n, dim), dtype=np.float32)
    m = min(n, real.shape[0])
    out[:m] = real[:m]
    for s in range(m, n, 100_000):
        e = min(n, s + 100_000)
        i = rng.integers(0, real.shape[0], e - s)
        j = rng.integers(0, real.shape[0], e - s)
        a = rng.uniform(0.5, 1.0, (e - s, 1)).astype(np.float32)
        v = a * real[i] + (1 - a) * real[j]
        v += rng.standard_normal((e - s, dim), dtype=np.float32) @ shape
        out[s:e] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def exact_topk(data: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    best_i = np.zeros((queries.shape[0], 0), dtype=np.int64)
    best_s = np.zeros((queries.shape[0], 0), dtype=np.float32)
    for s in range(0, data.shape[0], 100_000):
        sc = queries @ data[s:s + 100_000].T
        top = np.argpartition(-sc, min(k, sc.shape[1] - 1), axis=1)[:, :k]
        cand_i = np.concatenate([best_i, top + s], axis=1)
        cand_s = np.concatenate([best_s, np.take_along_axis(sc, top, axis=1)], axis=1)
        order = np.argsort(-cand_s, axis=1)[:, :k]
        best_i, best_s = np.take_along_axis(cand_i, order, axis=1), np.take_along_axis(cand_s, order, axis=1)
    return best_i, best_s


def make(engine: str, params: list[str], dim: int, n: int) -> Any:
    """ivf:<nlist|auto>:<Flat|SQfp16>  or  hnsw:<f16|i8|f32>:<connectivity>:<expansion_add>"""
    if engine == "ivf":
        nlist = None if not params or params[0] == "auto" else int(params[0])
        storage = params[1] if len(params) > 1 else V.IVF_STORAGE
        return V.FaissIVFIndex(dim, n_expected=n, nlist=nlist, storage=storage)
    if engine == "hnsw":
        dtype, conn, eadd = params
        return V.USearchIndex(dim, dtype=dtype, connectivity=int(conn), expansion_add=int(eadd))
    raise SystemExit(f"unknown engine {engine!r} (ivf or hnsw)")


def set_knob(idx: Any, value: int) -> None:
    if isinstance(idx, V.FaissIVFIndex):
        idx.nprobe = value
    else:
        idx._index.expansion_search = value


def index_mb(idx: Any) -> float:
    if isinstance(idx, V.USearchIndex):
        return idx._index.memory_usage / 2**20
    if isinstance(idx, V.FaissIVFIndex) and idx.trained:
        per = 4 if idx.storage == "Flat" else 2 if idx.storage == "SQfp16" else 1
        return (len(idx) * (idx.dim * per + 8) + idx.nlist * idx.dim * 4) / 2**20
    return len(idx) * (idx.dim * 4 + 8) / 2**20


def timed_search(index: Any, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
                 ) -> tuple[list[list[int]], np.ndarray]:
    results, lat = [], np.empty(len(queries))
    for i, q in enumerate(queries):
        t = time.perf_counter()
        hits = index.search(q, k, allowed)
        lat[i] = time.perf_counter() - t
        results.append([key for key, _ in hits])
    return results, lat * 1000


def recall(found: list[list[int]], truth: np.ndarray, k: int) -> float:
    hits = [len(set(f[:k]) & set(t[:k].tolist())) / k for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


def pct(lat: np.ndarray) -> dict[str, float]:
    p50, p99 = np.percentile(lat, [50, 99])
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--configs", default="ivf:auto:Flat",
                    help="comma list of ivf:<nlist|auto>:<Flat|SQfp16> and hnsw:<f16|i8>:<M>:<expansion_add>")
    ap.add_argument("--nprobe", default="8,16,32,64", help="IVF nprobe values to try")
    ap.add_argument("--ef", default="64,128,256", help="HNSW expansion_search values to try")
    ap.add_argument("--noise", type=float, default=0.3)
    ap.add_argument("--noise-kind", choices=["cov", "iso"], default="cov")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact", action="store_true", help="also time ExactIndex (numpy brute force)")
    ap.add_argument("--filtered", default="0.01,0.2",
                    help="allowed-set fractions for filtered search ('' = skip)")
    ap.add_argument("--reuse", action="store_true",
                    help="save each built HNSW index under ~/.cache/papersift/bench/ and reuse it next time")
    ap.add_argument("--embeddings", type=Path)
    ap.add_argument("--query-embeddings", type=Path)
    args = ap.parse_args()

    real, qreal = real_embeddings(args)
    data = synthesize(real, args.n, args.noise, args.seed, args.noise_kind)
    queries = np.ascontiguousarray(qreal[: args.queries])
    keys = np.arange(args.n, dtype=np.int64) + 1_000_000  # not row numbers, to catch key mix-ups
    print(f"n={args.n} dim={data.shape[1]} queries={len(queries)} k={args.k} "
          f"noise={args.noise_kind} {args.noise} (real rows: {min(args.n, real.shape[0])})", flush=True)
    t = time.perf_counter()
    truth_rows, truth_s = exact_topk(data, queries, args.k)
    truth = keys[truth_rows]
    print(f"ground truth in {time.perf_counter() - t:.1f}s; query top-1 cos mean {truth_s[:, 0].mean():.3f}, "
          f"top-10 cos mean {truth_s[:, -1].mean():.3f}", flush=True)
    _, real_s = exact_topk(real, queries, args.k)
    print(f"(real 5,183-doc corpus alone: top-1 cos mean {real_s[:, 0].mean():.3f}, "
          f"top-10 {real_s[:, -1].mean():.3f})", flush=True)
    out: dict[str, Any] = {"n": args.n, "queries": len(queries), "k": args.k, "noise": args.noise,
                           "noise_kind": args.noise_kind,
                           "top1_cos_mean": round(float(truth_s[:, 0].mean()), 4), "configs": []}

    if args.exact:
        ex = V.ExactIndex(data.shape[1])
        t = time.perf_counter()
        ex.add(keys, data)
        build = time.perf_counter() - t
        found, lat = timed_search(ex, queries[:200], args.k)
        row = {"index": "exact", "build_s": round(build, 1), "recall": recall(found, truth[:200], args.k),
               **pct(lat), "index_mb": round(data.nbytes / 2**20)}
        print(f"exact      build {build:6.1f}s  recall {row['recall']:.4f}  p50 {row['p50_ms']:.2f} ms  "
              f"p99 {row['p99_ms']:.2f} ms  ~{row['index_mb']} MB", flush=True)
        out["configs"].append(row)
        del ex
        gc.collect()

    fractions = [float(f) for f in args.filtered.split(",") if f]
    for cfg in args.configs.split(","):
        engine, *params = cfg.split(":")
        gc.collect()
        rss0 = rss_mb()
        tag = f"{args.n}-{cfg.replace(':', '-')}-{args.noise_kind}{args.noise}-{args.seed}"
        saved, saved_meta = (default_cache_dir() / "bench" / (tag + ext) for ext in (".psvec", ".json"))
        if args.reuse and saved_meta.is_file():
            idx: Any = V.load_index(saved)
            build = json.loads(saved_meta.read_text())["build_s"]
            print(f"{cfg:16s} reusing {saved} (built in {build:.1f}s)", flush=True)
        else:
            idx = make(engine, params, data.shape[1], args.n)
            t = time.perf_counter()
            for s in range(0, args.n, 200_000):
                idx.add(keys[s:s + 200_000], data[s:s + 200_000])
            if isinstance(idx, V.FaissIVFIndex) and not idx.trained:
                idx.train()
            build = time.perf_counter() - t
            if args.reuse:
                idx.save(saved)
                saved_meta.write_text(json.dumps({"build_s": build}))
        mem = index_mb(idx)
        print(f"{cfg:16s} build {build:6.1f}s ({args.n / build:,.0f} vec/s)  index ~{mem:,.0f} MB  "
              f"RSS +{rss_mb() - rss0:,.0f} MB  {idx!r}", flush=True)
        knob, values, default = (("nprobe", args.nprobe, idx.nprobe) if isinstance(idx, V.FaissIVFIndex)
                                 else ("ef", args.ef, idx.expansion_search))
        for value in [int(x) for x in values.split(",")]:
            set_knob(idx, value)
            found, lat = timed_search(idx, queries, args.k)
            row = {"config": cfg, knob: value, "build_s": round(build, 1), "index_mb": round(mem),
                   "recall": round(recall(found, truth, args.k), 4), **pct(lat)}
            out["configs"].append(row)
            print(f"   {knob}={value:<5d} recall@{args.k} {row['recall']:.4f}  p50 {row['p50_ms']:.3f} ms  "
                  f"p99 {row['p99_ms']:.3f} ms", flush=True)
        set_knob(idx, default)
        rng = np.random.default_rng(args.seed + 1)
        for frac in fractions:
            allowed_rows = np.sort(rng.choice(args.n, size=max(1, int(frac * args.n)), replace=False))
            allowed = keys[allowed_rows]
            sub_rows, _ = exact_topk(data[allowed_rows], queries[:200], args.k)
            sub_truth = allowed[sub_rows]
            found, lat = timed_search(idx, queries[:200], args.k, allowed)
            r = recall(found, sub_truth, args.k)
            out["configs"].append({"config": cfg, knob: default, "filtered_fraction": frac,
                                   "recall": round(r, 4), **pct(lat)})
            print(f"   filtered {frac:>5.0%} ({allowed.size:,} allowed) {knob}={default}: "
                  f"recall {r:.4f}  p50 {pct(lat)['p50_ms']:.2f} ms  p99 {pct(lat)['p99_ms']:.2f} ms",
                  flush=True)
        del idx
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"peak RSS {out['peak_rss_mb']:,} MB")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"vector_index_{args.n}_{args.noise_kind}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
