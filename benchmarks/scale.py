"""papersift at N papers: bulk ingest rate, disk, serving memory and search latency, and how they grow.

    python benchmarks/scale.py --sizes 10000,100000,1000000 [--queries 500] [--json out.json]

For each N (smallest first):

1. a snapshot of N records from benchmarks/gen_snapshot.py (kept in ``--work`` and reused);
2. ``papersift ingest`` of it into a fresh data dir, as a separate process (the real command:
   store + lexical index, bulk path): papers/s of the whole command, start-up included;
3. disk per paper: the SQLite store (with its WAL), the lexical index, the vector index;
4. vectors: the index papersift builds for N vectors (``make_index``: exact up to 50k, faiss IVF
   above), filled with synthetic unit vectors of the model's shape (384-d, low-rank topic mixtures:
   hybrid_latency.py). They are for LATENCY and memory only: recall is measured on real embeddings
   by benchmarks/ivf_recall.py. Embedding N abstracts on this CPU would take N/10 seconds;
5. serving RSS: ``papersift serve`` (one web worker) on the data dir, after one lexical, one
   semantic and one hybrid request over HTTP (so both indexes and the query model are loaded);
6. search latency p50/p95/p99 per mode (lexical, semantic, hybrid), in-process through the search
   service (top 10, papers fetched), every query embedded by the real model (the cache is cleared);
   1-4-word queries drawn from the corpus vocabulary.

Writes growth curves to ``--img`` (default docs/img/scale_*.png), a markdown table to stdout and,
with ``--json``, the raw figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_snapshot import generate
from hybrid_latency import synthetic_vectors

from papersift.config import Settings
from papersift.engine import open_engine
from papersift.index.vectors import FaissIVFIndex, make_index
from papersift.search.service import search

ROOT = Path(__file__).resolve().parents[1]
MODES = ("lexical", "semantic", "hybrid")


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def papersift(*args: str, data: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERSIFT_DATA": str(data)}
    return subprocess.run([sys.executable, "-m", "papersift", *args], env=env, text=True, capture_output=True,
                          check=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (MB)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total / 1024


def serving_rss(data: Path, queries: list[str]) -> float:
    port = free_port()
    env = {**os.environ, "PAPERSIFT_DATA": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "papersift", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/stats", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        for mode in MODES:
            for q in queries[:5]:
                httpx.get(f"{base}/api/v1/search", params={"q": q, "mode": mode}, timeout=120).raise_for_status()
        time.sleep(1)
        return tree_rss_mb(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def vocabulary(src: Path, n: int = 3000) -> list[str]:
    words: dict[str, int] = {}
    with open(src, encoding="utf-8") as fh:
        for line, _ in zip(fh, range(2000), strict=False):
            for w in json.loads(line)["abstract"].split():
                if w.isalpha() and len(w) > 3:
                    words[w.lower()] = words.get(w.lower(), 0) + 1
    return sorted(words, key=lambda w: -words[w])[30:30 + n]


def measure(n: int, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    src = work / f"snapshot-{n}.jsonl"
    if not src.exists():
        generate(src, n, seed=0, progress=False)
    data = work / f"data-{n}"
    shutil.rmtree(data, ignore_errors=True)
    t = time.perf_counter()
    out = papersift("ingest", str(src), "--json", data=data)
    ingest_s = time.perf_counter() - t
    summary = json.loads(out.stdout)
    res: dict[str, Any] = {"n": n, "ingest_s": round(ingest_s, 2), "ingest_per_s": round(n / ingest_s),
                           "new": summary["new"], "rejected": summary["rejected"]}
    eng = open_engine(Settings(data_dir=data), "owner")
    try:
        embedder = eng.semantic.encoder.embedder()
        side = eng.semantic.vectors
        t = time.perf_counter()
        side.index = make_index(embedder.dim, n, model_name=side.model)
        keys = np.arange(1, n + 1, dtype=np.int64)
        vecs = synthetic_vectors(n, embedder.dim)
        for s in range(0, n, 65_536):
            side.index.add(keys[s:s + 65_536], vecs[s:s + 65_536])
        if isinstance(side.index, FaissIVFIndex) and not side.index.trained and len(side.index) >= side.index.nlist:
            side.index.train()
        del vecs
        side.save()
        res["vector_build_s"] = round(time.perf_counter() - t, 1)
        res["vector_index"] = type(side.index).__name__
    finally:
        eng.close()
    res["store_bytes_per_paper"] = round(sum(du(p) for p in data.glob("papersift.db*")) / n)
    res["lexical_bytes_per_paper"] = round(du(data / "lexical") / n)
    res["vector_bytes_per_paper"] = round(du(data / "vectors") / n)
    vocab = vocabulary(src)
    rng = random.Random(2)
    queries = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 4))) for _ in range(args.queries)]
    res["serve_rss_mb"] = round(serving_rss(data, queries), 1)
    eng = open_engine(Settings(data_dir=data))
    try:
        for q in queries[:20]:
            search(eng, q, mode="hybrid")
        for mode in MODES:
            eng.semantic.encoder._cache.clear()  # time real query embeddings
            lat = []
            for q in queries:
                t = time.perf_counter()
                search(eng, q, mode=mode, limit=10)
                lat.append((time.perf_counter() - t) * 1000)
            for p in (50, 95, 99):
                res[f"{mode}_p{p}_ms"] = round(float(np.percentile(lat, p)), 2)
    finally:
        eng.close()
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)
    print(json.dumps(res), flush=True)
    return res


def table(results: list[dict[str, Any]]) -> str:
    head = ("| N | ingest papers/s | store B/paper | lexical B/paper | vectors B/paper | serving RSS MB | "
            "lexical p50/p95/p99 ms | semantic p50/p95/p99 ms | hybrid p50/p95/p99 ms |")
    lines = [head, "|" + "---|" * 9]
    for r in results:
        lat = [f"{r[f'{m}_p50_ms']} / {r[f'{m}_p95_ms']} / {r[f'{m}_p99_ms']}" for m in MODES]
        lines.append(f"| {r['n']:,} | {r['ingest_per_s']:,} | {r['store_bytes_per_paper']:,} | "
                     f"{r['lexical_bytes_per_paper']:,} | {r['vector_bytes_per_paper']:,} | {r['serve_rss_mb']:,} | "
                     + " | ".join(lat) + " |")
    return "\n".join(lines)


def plots(results: list[dict[str, Any]], img: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
    ns = [r["n"] for r in results]
    figs = []

    def save(fig: Any, name: str) -> None:
        path = img / name
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        figs.append(path)

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(ns, [r["ingest_per_s"] for r in results], "o-", label="papersift ingest")
    ax.axhline(10_000, color="grey", ls="--", lw=1, label="target 10,000/s")
    ax.set(xscale="log", xlabel="papers (N)", ylabel="papers/s", title="Bulk ingest rate")
    ax.legend()
    save(fig, "scale_ingest.png")
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for key, label in (("store", "store"), ("lexical", "lexical index"), ("vector", "vector index")):
        ax.plot(ns, [r[f"{key}_bytes_per_paper"] for r in results], "o-", label=label)
    ax.set(xscale="log", xlabel="papers (N)", ylabel="bytes per paper", title="Disk per paper")
    ax.legend()
    save(fig, "scale_disk.png")
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(ns, [r["serve_rss_mb"] for r in results], "o-")
    ax.axhline(3072, color="grey", ls="--", lw=1, label="target 3 GB")
    ax.set(xscale="log", xlabel="papers (N)", ylabel="MB", title="Serving RSS (1 web worker)")
    ax.legend()
    save(fig, "scale_rss.png")
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for mode in MODES:
        line, = ax.plot(ns, [r[f"{mode}_p50_ms"] for r in results], "o-", label=f"{mode} p50")
        ax.plot(ns, [r[f"{mode}_p99_ms"] for r in results], "s--", color=line.get_color(), label=f"{mode} p99")
    ax.set(xscale="log", yscale="log", xlabel="papers (N)", ylabel="ms", title="Search latency (top 10)")
    ax.legend(fontsize=7)
    save(fig, "scale_latency.png")
    return figs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--work", default="/tmp/papersift-scale", help="snapshots and data dirs (outside the repo)")
    ap.add_argument("--img", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--json", dest="json_out", help="write the raw figures here")
    ap.add_argument("--keep", action="store_true", help="keep each data dir")
    args = ap.parse_args()
    sizes = sorted(int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip())
    Path(args.work).mkdir(parents=True, exist_ok=True)
    results = [measure(n, args) for n in sizes]
    print(table(results))
    for p in plots(results, Path(args.img)):
        print(f"wrote {p}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
