"""Ingest N synthetic papers through the real pipeline, then measure search latency.

    python benchmarks/ingest_and_search.py --n 100000 [--queries 2000] [--keep DIR]

Synthetic papers draw words from a Zipf-distributed vocabulary (real words taken from the
bundled demo corpus, plus generated ones so the vocabulary reaches ~50k terms); titles 6–14
words, abstracts 120–220 words, 1–8 authors from a pool, 1–3 arXiv categories, dates over 5
years. They are written to a JSONL file and ingested with the same code as `papersift ingest`
(parse -> store upsert -> lexical index). Prints ingest papers/s, store and index size, peak
RSS, and search latency p50/p95/p99 for 1–4-word queries (with and without a filter).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path

import numpy as np

from papersift.config import Settings
from papersift.engine import open_engine
from papersift.index.lexical import Filters
from papersift.pipeline import ingest_paths

CATS = ["cs.CL", "cs.LG", "cs.CV", "cs.AI", "stat.ML", "math.OC", "physics.comp-ph", "q-bio.NC",
        "cs.IR", "cs.RO", "eess.SP", "math.ST", "cond-mat.stat-mech", "hep-th", "astro-ph.CO"]


def vocabulary(size: int = 50_000, seed: int = 0) -> list[str]:
    demo = Path(str(files("papersift") / "data" / "demo"))
    words: dict[str, int] = {}
    for f in sorted(demo.glob("*.txt")):
        for w in re.findall(r"[a-z]{3,}", f.read_text(encoding="utf-8").lower()):
            words[w] = words.get(w, 0) + 1
    vocab = sorted(words, key=lambda w: -words[w])
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(vocab) < size:
        vocab.append("".join(rng.choice(letters) for _ in range(rng.randint(4, 11))))
    return vocab[:size]


def write_corpus(path: Path, n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = vocabulary()
    v = np.array(vocab)
    ranks = np.arange(1, len(vocab) + 1)
    p = 1.0 / ranks**1.07
    p /= p.sum()
    first = ["Ada", "Alan", "Grace", "Yann", "Fei", "Geoffrey", "Yoshua", "Daphne", "Andrew", "Li", "Wei",
             "Maria", "Jose", "Anna", "Ivan", "Priya", "Kenji", "Amara", "Lars", "Chen"]
    surnames = [w.capitalize() for w in vocab[5000:9000]]
    day0 = date(2020, 1, 1)
    t0 = time.perf_counter()
    with open(path, "w", encoding="utf-8") as fh:
        chunk = 10_000
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            words = rng.choice(v, size=(m, 234), p=p)
            tl = rng.integers(6, 15, size=m)
            al = rng.integers(120, 221, size=m)
            for i in range(m):
                k = start + i
                authors = [f"{first[rng.integers(len(first))]} {surnames[rng.integers(len(surnames))]}"
                           for _ in range(int(rng.integers(1, 9)))]
                picks = rng.integers(0, len(CATS), size=rng.integers(1, 4))
                cats = list(dict.fromkeys(CATS[int(c)] for c in picks))
                rec = {"id": f"{2000 + k // 100000}.{k % 100000:05d}",
                       "title": " ".join(words[i, : tl[i]]).capitalize(),
                       "abstract": " ".join(words[i, 14: 14 + al[i]]).capitalize() + ".",
                       "authors": authors, "categories": cats,
                       "published": (day0 + timedelta(days=int(rng.integers(0, 1800)))).isoformat()}
                fh.write(json.dumps(rec) + "\n")
    mb = path.stat().st_size / 1e6
    print(f"generated {n:,} papers in {time.perf_counter() - t0:.1f}s ({mb:.0f} MB JSONL)")
    return vocab


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="papers to generate (10000, 100000, 1000000)")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--keep", type=Path, help="keep the data dir here instead of a temp dir")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="papersift-bench-"))
    data = args.keep or tmp / "data"
    if data.exists():
        shutil.rmtree(data)
    corpus = tmp / "synthetic.jsonl"
    vocab = write_corpus(corpus, args.n)

    eng = open_engine(Settings(data_dir=data), "owner", upgrade=True)
    t0 = time.perf_counter()
    stats = ingest_paths(eng, [corpus], fmt="jsonl")
    ingest_s = time.perf_counter() - t0
    db = data / "papersift.db"
    db_mb = sum(f.stat().st_size for f in data.glob("papersift.db*")) / 1e6
    idx_mb = eng.lexical.size_bytes() / 1e6
    print(f"ingest: {stats.as_dict()} in {ingest_s:.1f}s = {args.n / ingest_s:,.0f} papers/s "
          f"(parse + store + lexical index)")
    print(f"store {db_mb:.0f} MB ({db.name} + WAL), lexical index {idx_mb:.0f} MB, docs {len(eng.lexical):,}")

    rng = random.Random(1)
    common = vocab[50:5000]  # skip the most frequent (stop-word-like) terms
    queries = [" ".join(rng.choice(common) for _ in range(rng.randint(1, 4))) for _ in range(args.queries)]
    for q in queries[:50]:  # warm up
        eng.lexical.search(q, limit=10)
    for label, filt in (("no filter", None),
                        ("category+date filter", Filters(category="cs", since=date(2021, 1, 1)))):
        lat: list[float] = []
        for q in queries:
            t = time.perf_counter()
            eng.lexical.search(q, limit=10, filters=filt)
            lat.append((time.perf_counter() - t) * 1000)
        by_len: dict[int, list[float]] = {}
        for q, ms in zip(queries, lat, strict=True):
            by_len.setdefault(len(q.split()), []).append(ms)
        print(f"search ({label}, top 10, {len(queries)} queries): p50 {pct(lat, 50):.2f} ms  "
              f"p95 {pct(lat, 95):.2f} ms  p99 {pct(lat, 99):.2f} ms  mean {statistics.mean(lat):.2f} ms")
        print("   by words: " + "  ".join(f"{k}w p50 {pct(v, 50):.2f}/p99 {pct(v, 99):.2f}"
                                          for k, v in sorted(by_len.items())))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    eng.close()
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
