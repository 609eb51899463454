"""Latency of the requests that must never scan the corpus, at a given corpus size.

Builds (or reuses, with --data-dir) a data dir of N generated papers (one JSONL file through
`papersift ingest`, dates spread over ~3 years, 1% with upvotes, some submitted by users), starts
`papersift serve` on 127.0.0.1, then sends each request R times, one at a time, and prints
p50 / p99 / max per endpoint as a table and JSON.

    .venv/bin/python benchmarks/list_latency.py --papers 1000000 --repeat 200 --data-dir /tmp/ps-1m

Issue 12 asks every list endpoint, empty-query search and stats to stay under 50 ms p99 at 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def papersift(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERSIFT_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "papersift", "--data-dir", str(data), *args], env=env,
                          capture_output=True, text=True, check=True)


def build(data: Path, n: int) -> None:
    rnd = random.Random(1)
    start = date(2023, 1, 1)
    corpus = data.parent / f"{data.name}-corpus.jsonl"
    t0 = time.perf_counter()
    with open(corpus, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({
                "arxiv_id": f"{23 + i // 10_000_000:02d}{(i // 100_000) % 100:02d}.{i % 100_000:05d}",
                "title": f"Generated paper {i} on topic {rnd.randint(0, 999)}",
                "abstract": f"Abstract of paper {i} about topic {rnd.randint(0, 999)} and method {rnd.randint(0, 99)}.",
                "authors": [f"Author {rnd.randint(0, 50_000)}"],
                "categories": [rnd.choice(["cs.LG", "cs.CL", "math.CO"])],
                "published": (start + timedelta(days=rnd.randint(0, 1000))).isoformat()}) + "\n")
    papersift(data, "ingest", str(corpus))
    corpus.unlink()
    # community signals: 1% of papers upvoted, 2,000 submitted by one user (direct SQL: fast)
    con = sqlite3.connect(data / "papersift.db")
    pks = [r[0] for r in con.execute("SELECT pk FROM papers ORDER BY random() LIMIT ?", (max(n // 100, 1),))]
    con.executemany("UPDATE papers SET upvotes = ? WHERE pk = ?", [(rnd.randint(1, 300), pk) for pk in pks])
    sub = [r[0] for r in con.execute("SELECT pk FROM papers ORDER BY random() LIMIT 2000")]
    con.executemany("UPDATE papers SET submitted_by = 'curator', submitted_on_daily_at = ? WHERE pk = ?",
                    [(f"2025-0{1 + k % 9}-1{k % 9} 10:00:00.000000", pk) for k, pk in enumerate(sub)])
    con.commit()
    con.close()
    print(f"built {n} papers in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    data = args.data_dir or Path(f"/tmp/papersift-bench-{args.papers}")
    if not (data / "papersift.db").exists():
        build(data, args.papers)
    port = free_port()
    env = {**os.environ, "PAPERSIFT_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "papersift", "--data-dir", str(data), "serve", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as c:
            for _ in range(600):
                try:
                    if c.get("/api/v1/stats").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            latest = c.get("/api/v1/daily").json()["period"]["key"]
            y, m = latest[:4], latest[5:7]
            week = date.fromisoformat(latest).isocalendar()
            endpoints = {
                "GET /api/papers/search?q= (HF list, empty query)": "/api/papers/search?q=&limit=50",
                "GET /api/daily_papers (latest day)": "/api/daily_papers",
                "GET /api/daily_papers?week=": f"/api/daily_papers?week={week[0]}-W{week[1]:02d}",
                "GET /api/daily_papers?month= (trending)": f"/api/daily_papers?month={y}-{m}&sort=trending",
                "GET /api/v1/daily?month=&sort=trending p=3": f"/api/v1/daily?month={y}-{m}&sort=trending&offset=100",
                "GET /api/v1/stats": "/api/v1/stats",
                "GET / (daily page)": "/",
                "GET /daily?month=": f"/daily?month={y}-{m}",
                "GET /daily.atom": "/daily.atom",
                "GET /about": "/about",
                "GET /api/daily_papers?submitter=curator": "/api/daily_papers?submitter=curator",
            }
            results = {}
            for name, path in endpoints.items():
                c.get(path)  # warm
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    r = c.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (path, r.status_code, r.text[:200])
                results[name] = {"p50_ms": round(pct(times, 50), 2), "p99_ms": round(pct(times, 99), 2),
                                 "max_ms": round(max(times), 2)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{args.papers:,} papers, {args.repeat} sequential requests each (real HTTP, 1 web worker)")
    print(f"{'endpoint':<48}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, r in results.items():
        print(f"{name:<48}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.2f}")
    if args.json:
        args.json.write_text(json.dumps({"papers": args.papers, "repeat": args.repeat, "results": results}, indent=1))


if __name__ == "__main__":
    main()
