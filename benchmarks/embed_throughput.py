"""Embedding throughput (abstracts/s) of each available embedder on real SciFact abstracts.

    .venv/bin/python benchmarks/embed_throughput.py --n 300
    .venv/bin/python benchmarks/embed_throughput.py --n 300 --variants onnx,onnx-int8,torch --threads 2

Texts are "title text" from the SciFact corpus (BEIR; ~337 tokens on average, 71% longer than the
256-token cut). Prints docs/s, tokens/s (after truncation) and the min / mean cosine of each
variant against the torch sentence-transformers reference (or against onnx fp32 without torch).
Writes benchmarks/results/embed_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from papersift.index import embedders as E

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact" / "corpus.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "embed_throughput.json"


def load_texts(path: Path, n: int) -> list[str]:
    texts = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            texts.append(f"{d.get('title', '')} {d.get('text', '')}".strip())
            if len(texts) >= n:
                break
    return texts


def load_queries(path: Path, n: int) -> list[str]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line)["text"] for _, line in zip(range(n), fh, strict=False)]


def make(variant: str, threads: int) -> E.Embedder:
    if variant == "onnx":
        return E.OnnxEmbedder(threads=threads)
    if variant == "onnx-int8":
        return E.OnnxEmbedder(precision="int8", threads=threads)
    if variant == "torch":
        return E.SentenceTransformerEmbedder(threads=threads)
    if variant == "hashing":
        return E.HashingEmbedder()
    raise SystemExit(f"unknown variant {variant}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="number of abstracts (default 300)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--variants", default="torch,onnx,onnx-int8,hashing")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=E.available_cpus())
    ap.add_argument("--repeat", type=int, default=1, help="timed passes per variant (best is reported)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    texts = load_texts(args.corpus, args.n)
    print(f"{len(texts)} abstracts from {args.corpus}; threads={args.threads} batch={args.batch_size} "
          f"cpus={os.cpu_count()} {platform.processor() or platform.machine()} load={os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {"n": len(texts), "threads": args.threads, "batch_size": args.batch_size,
                               "variants": {}}
    queries = load_queries(args.corpus.with_name("queries.jsonl"), 300)
    vectors: dict[str, np.ndarray] = {}
    qvectors: dict[str, np.ndarray] = {}
    tokens = None
    for variant in args.variants.split(","):
        try:
            t0 = time.perf_counter()
            emb = make(variant, args.threads)
            load_s = time.perf_counter() - t0
        except ImportError as e:
            print(f"{variant:10s} unavailable: {e}")
            continue
        if tokens is None and isinstance(emb, E.OnnxEmbedder):
            tokens = int(emb.token_lengths(texts).sum())
        emb.embed(texts[:8], batch_size=args.batch_size)  # warm-up
        best, cpu = float("inf"), 0.0
        for _ in range(max(1, args.repeat)):
            c0, t0 = os.times(), time.perf_counter()
            vecs = emb.embed(texts, batch_size=args.batch_size)
            wall, c1 = time.perf_counter() - t0, os.times()
            if wall < best:
                best, cpu = wall, (c1.user - c0.user) + (c1.system - c0.system)
        vectors[variant] = vecs
        if queries:
            qvectors[variant] = emb.embed(queries, batch_size=args.batch_size)
        rate = len(texts) / best
        row = {"name": emb.name, "docs_per_s": round(rate, 2), "seconds": round(best, 2),
               "cpu_seconds": round(cpu, 2), "load_s": round(load_s, 2)}
        if tokens:
            row["tokens_per_s"] = round(tokens / best)
        results["variants"][variant] = row
        print(f"{variant:10s} {rate:8.2f} abstracts/s  ({best:.1f} s wall, {cpu:.1f} s CPU, "
              f"load {load_s:.1f} s)  name={emb.name}", flush=True)
    ref_name = "torch" if "torch" in vectors else "onnx" if "onnx" in vectors else None
    if ref_name:
        ref = vectors[ref_name]
        for variant, vecs in vectors.items():
            if variant == ref_name or variant == "hashing":
                continue
            cos = (vecs.astype(np.float64) * ref).sum(axis=1)
            results["variants"][variant]["cosine_vs_" + ref_name] = {
                "min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6)}
            print(f"cosine {variant} vs {ref_name}: min {cos.min():.6f} mean {cos.mean():.6f} (abstracts)")
            if variant in qvectors and ref_name in qvectors:
                qcos = (qvectors[variant].astype(np.float64) * qvectors[ref_name]).sum(axis=1)
                results["variants"][variant]["query_cosine_vs_" + ref_name] = {
                    "min": round(float(qcos.min()), 6), "mean": round(float(qcos.mean()), 6)}
                print(f"cosine {variant} vs {ref_name}: min {qcos.min():.6f} mean {qcos.mean():.6f} "
                      f"({len(queries)} short queries)")
    if tokens:
        print(f"mean tokens/abstract after truncation at 256: {tokens / len(texts):.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
