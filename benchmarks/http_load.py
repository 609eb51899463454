"""Bounded HTTP load on a local papersift: `papersift serve --workers 2` over the demo corpus.

Starts the server on 127.0.0.1 (free port) in a temp data dir, sends a fixed number of requests
per endpoint with a fixed concurrency (stopping early at a time cap), prints requests/s and
latency percentiles, then stops the server it started.

    .venv/bin/python benchmarks/http_load.py --requests 2000 --concurrency 16 --max-seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

QUERIES = ["quantum", "neural networks", "graph", "reinforcement learning", "galaxy", "language model",
           "black hole", "attention", "diffusion", "optimization"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


async def load(base: str, paths: list[str], total: int, concurrency: int, deadline: float) -> dict:
    lat: list[float] = []
    errors = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits, trust_env=False) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    r = await client.get(paths[i % len(paths)])
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append(time.perf_counter() - t0)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return {"requests": len(lat), "errors": errors, "seconds": round(elapsed, 2),
            "rps": round(len(lat) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(pct(lat, 50) * 1000, 2), "p99_ms": round(pct(lat, 99) * 1000, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="requests per endpoint")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time cap per endpoint")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="serve this existing data dir (e.g. hybrid_latency.py --keep) instead of the demo corpus")
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("papersift")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "papersift.cli"]
    with tempfile.TemporaryDirectory(prefix="papersift-load-") as tmp:
        data = args.data_dir or Path(tmp) / "data"
        if args.data_dir is None:
            subprocess.run([*cli, "--data-dir", str(data), "demo"], check=True, capture_output=True)
        port = free_port()
        log = open(Path(tmp) / "server.log", "w")  # noqa: SIM115 - closed below
        server = subprocess.Popen([*cli, "--data-dir", str(data), "serve", "--workers", str(args.workers),
                                   "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=log,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/api/v1/stats", timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    print((Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
                    raise SystemExit("server did not start")
                time.sleep(0.2)
            latest = httpx.get(base + "/api/v1/daily", trust_env=False).json()["period"]["key"]
            suites = {
                "search_api": [f"/api/v1/search?q={q.replace(' ', '+')}&limit=10" for q in QUERIES],
                "hf_search_api": [f"/api/papers/search?q={q.replace(' ', '+')}&limit=10" for q in QUERIES],
                "daily_page": ["/daily?date=2007-04-02", f"/daily?date={latest}", "/daily?month=2007-04"],
            }
            results = {}
            for name, paths in suites.items():
                asyncio.run(load(base, paths, min(50, args.requests), args.concurrency, time.monotonic() + 10))
                results[name] = asyncio.run(load(base, paths, args.requests, args.concurrency,
                                                 time.monotonic() + args.max_seconds))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
            log.close()
    meta = {"workers": args.workers, "concurrency": args.concurrency, "cpus": os.cpu_count(),
            "data": str(args.data_dir) if args.data_dir else "demo corpus"}
    if args.json:
        print(json.dumps({"config": meta, "results": results}, indent=2))
    else:
        print(f"papersift http load: {meta}")
        for name, r in results.items():
            print(f"{name:>14}: {r['requests']} req in {r['seconds']}s = {r['rps']} req/s, "
                  f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}")
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
