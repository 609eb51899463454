"""On a GPU machine: recall@10 of papersift's production IVF index on REAL MiniLM embeddings.

Corpus: N abstracts, each a run of 3-8 consecutive real sentences (one or two neighbouring real
abstracts) plus 1-2 random ones, under a real title (pool from pack.py). Queries: the real eval
queries and 500 held-out generated abstracts (the "similar papers" case). Ground truth: exact inner
product top 10 on the GPU. Index: papersift.index.vectors.FaissIVFIndex with the defaults for each
size, then recall@10 and single-thread latency at several nprobe. Environment: N (default
1,000,000), SIZES (prefixes of the corpus to index, default "100000,1000000"), OUT (result folder).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, "src")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_model(carry: Path) -> object:
    """Rebuild the packed model (pack.py) as a sentence-transformers folder and load it on the GPU."""
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer

    mdir = Path("/tmp/papersift-minilm")
    shutil.copytree(carry / "minilm", mdir, dirs_exist_ok=True)
    packed = np.load(mdir / "weights.npz")
    state = {}
    for key in packed.files:
        if key.endswith("::s"):
            continue
        if key.endswith("::q"):
            base = key[:-3]
            state[base] = torch.from_numpy(packed[key].astype(np.float32) * packed[base + "::s"])
        else:
            state[key] = torch.from_numpy(packed[key].astype(np.float32))
    save_file(state, str(mdir / "model.safetensors"))
    (mdir / "weights.npz").unlink()
    model = SentenceTransformer(str(mdir), device="cuda")
    model.max_seq_length = 256
    return model.half()


def generate(pool: dict[str, list[str]], n: int, rng: np.random.Generator) -> list[str]:
    sents, titles = pool["sentences"], pool["titles"]
    starts = rng.integers(0, len(sents) - 8, n)
    lens = rng.integers(3, 9, n)
    extra = rng.integers(1, 3, n)
    which = rng.integers(0, len(titles), n)
    docs = []
    for i in range(n):
        body = sents[starts[i]:starts[i] + lens[i]] + [sents[j] for j in rng.integers(0, len(sents), extra[i])]
        docs.append(f"{titles[which[i]]}. {' '.join(body)}")
    return docs


def main() -> None:
    import faiss
    import torch

    from papersift.index.vectors import FaissIVFIndex

    t0 = time.time()
    carry = Path(".devcarry")
    out = Path(os.environ.get("OUT", "/tmp/out"))
    out.mkdir(parents=True, exist_ok=True)
    n_total = int(os.environ.get("N", "1000000"))
    sizes = [int(x) for x in os.environ.get("SIZES", "100000,1000000").split(",")]
    model = load_model(carry)
    with gzip.open(carry / "pool.json.gz", "rt", encoding="utf-8") as fh:
        pool = json.load(fh)
    rng = np.random.default_rng(7)
    docs, held = generate(pool, n_total, rng), generate(pool, 500, rng)
    t1 = time.time()
    enc = model.encode  # type: ignore[attr-defined]
    emb = enc(docs, batch_size=1024, convert_to_numpy=True, normalize_embeddings=True).astype(np.float32)
    embed_s = time.time() - t1
    print(f"embedded {n_total} in {embed_s:.0f}s", flush=True)
    qtexts = pool["queries"] + held
    queries = enc(qtexts, batch_size=1024, convert_to_numpy=True, normalize_embeddings=True).astype(np.float32)
    n_real = len(pool["queries"])
    res: dict[str, object] = {"queries_real": n_real, "queries_doc": len(held), "embed_per_s": n_total / embed_s,
                              "sizes": {}}
    for n in sizes:
        corpus = torch.from_numpy(emb[:n]).cuda().half()
        truth = torch.topk(torch.from_numpy(queries).cuda().half() @ corpus.T, 10, dim=1).indices.cpu().numpy()
        del corpus
        t2 = time.time()
        index = FaissIVFIndex(384, n_expected=n)
        keys = np.arange(n, dtype=np.int64)
        for s in range(0, n, 65536):
            index.add(keys[s:s + 65536], emb[s:s + 65536])
        row: dict[str, object] = {"nlist": index.nlist, "default_nprobe": index.nprobe, "build_s": time.time() - t2}
        recall: dict[int, dict[str, float]] = {}
        for nprobe in sorted({32, 64, 128, 256, index.nprobe}):
            index.nprobe = nprobe
            faiss.omp_set_num_threads(1)
            lat, real, doc = [], [], []
            for qi in range(len(qtexts)):
                a = time.perf_counter()
                got = index.search(queries[qi], 10)
                lat.append(time.perf_counter() - a)
                r = len({k for k, _ in got} & set(truth[qi].tolist())) / 10
                (real if qi < n_real else doc).append(r)
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            recall[nprobe] = {"real_queries": float(np.mean(real)), "doc_queries": float(np.mean(doc)),
                              "min_real": float(np.min(real)), "p50_ms": float(np.percentile(lat, 50) * 1e3),
                              "p99_ms": float(np.percentile(lat, 99) * 1e3)}
            print(n, nprobe, recall[nprobe], flush=True)
        row["recall"] = recall
        res["sizes"][n] = row  # type: ignore[index]
        (out / "ivf_recall_real.json").write_text(json.dumps(res, indent=1))
    print(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
