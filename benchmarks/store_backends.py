"""Store speed on SQLite beside PostgreSQL: bulk ingest (new papers, then the same again as
duplicates), the daily-feed page, corpus statistics.

    python benchmarks/store_backends.py --n 100000 [--pg-url postgresql+psycopg://...] [--backend both]

Without ``--pg-url`` a throwaway PostgreSQL cluster is started for the run (tests/pg.py: Debian's
postgresql, durability settings as in the tests: fsync off, so the PostgreSQL numbers are an upper
bound; give a real server's URL to measure it). Papers go through ``SQLStore.upsert_many`` in
batches of 5,000, exactly as `papersift ingest` writes them (one transaction and one change number
per batch; PostgreSQL: multi-row ``INSERT … RETURNING`` of 1,000 rows per statement).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from papersift.models import Paper
from papersift.store import feeds, open_store
from papersift.store import stats as stats_sql

WORDS = ["graph", "neural", "attention", "sparse", "transformer", "diffusion", "retrieval", "language", "model",
         "quantum", "error", "surface", "code", "protein", "folding", "kernel", "bayesian", "inference", "robust",
         "optimal", "transport", "policy", "gradient", "vision", "contrastive", "federated", "privacy", "causal",
         "benchmark"]


def papers(n: int, seed: int = 0) -> list[Paper]:
    rnd = random.Random(seed)
    base = date(2020, 1, 1)
    out = []
    for i in range(n):
        title = " ".join(rnd.choices(WORDS, k=rnd.randint(6, 12))) + f" {i}"
        out.append(Paper(title=title, abstract=" ".join(rnd.choices(WORDS, k=150)),
                         authors=[f"Author {rnd.randint(0, 5000)}" for _ in range(rnd.randint(1, 6))],
                         categories=rnd.sample(["cs.CL", "cs.LG", "cs.CV", "stat.ML", "quant-ph"], 2),
                         published=base + timedelta(days=rnd.randint(0, 1800)),
                         arxiv_id=f"{20 + i // 1_000_000:02d}{1 + (i // 100_000) % 12:02d}.{i % 100_000:05d}",
                         sources=["bench"]))
    return out


def run(url: str, batch: list[Paper], size: int = 5000) -> dict[str, float]:
    store = open_store(url, upgrade=True)
    try:
        t = time.perf_counter()
        for i in range(0, len(batch), size):
            store.upsert_many(batch[i:i + size])
        ingest = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, len(batch), size):
            store.upsert_many(batch[i:i + size])
        again = time.perf_counter() - t
        day = feeds.latest_day(store.db)
        lat = []
        for _ in range(50):
            t = time.perf_counter()
            feeds.newest(store.db, day - timedelta(days=30) if day else None, day, limit=50)
            lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        stats_sql.compute(store.db)
        st = time.perf_counter() - t
    finally:
        store.close()
    n = len(batch)
    return {"ingest_papers_per_s": n / ingest, "duplicates_per_s": n / again,
            "feed_month_p50_ms": statistics.median(lat) * 1000, "stats_s": st}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--pg-url", default=None)
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    a = ap.parse_args()
    batch = papers(a.n)
    results = {}
    cluster = None
    try:
        if a.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as d:
                results["sqlite"] = run(f"sqlite:///{Path(d) / 'bench.db'}", batch)
        if a.backend in ("postgres", "both"):
            url = a.pg_url
            if url is None:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
                from tests.pg import start_cluster

                cluster = start_cluster()
                url = cluster.create_database(migrated=False)
            results["postgres"] = run(url, batch)
    finally:
        if cluster is not None:
            cluster.stop()
    for name, r in results.items():
        print(f"{name:<9} n={a.n}: ingest {r['ingest_papers_per_s']:,.0f} papers/s, duplicates "
              f"{r['duplicates_per_s']:,.0f} papers/s, month feed page p50 {r['feed_month_p50_ms']:.2f} ms, "
              f"stats {r['stats_s']:.2f} s")


if __name__ == "__main__":
    main()
