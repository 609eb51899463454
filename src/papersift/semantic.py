"""The embedding stage and the dense side of search: store -> embedder -> vector index.

Vectors live in ``<data_dir>/vectors/<model slug>/`` with a ``state.json`` that names the model
and records how far embedding got. Vectors are tied to the model: a different model gets its own
directory, so spaces never mix and a model change simply re-embeds. ``embed_pending`` walks the
store's changed papers in primary-key order and checkpoints (index + state, both written
atomically) every few thousand papers, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from papersift.fsutil import read_json, write_json_atomic
from papersift.models import Paper
from papersift.pipeline import Engine

Progress = Callable[[int], None]
CHECKPOINT_EVERY = 4096
QUERY_CACHE = 512


def paper_text(p: Paper) -> str:
    return f"{p.title}. {p.abstract}".strip()


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


class SemanticSide:
    """An embedder plus its vector index for one data dir (loaded lazily, once per Engine)."""

    def __init__(self, eng: Engine, model: str | None = None) -> None:
        from papersift.index.embed import load_embedder

        self.eng = eng
        self.embedder = load_embedder(model or eng.settings.embedder)
        self.dir = eng.settings.vectors_dir / slug(self.embedder.name)
        self.state: dict[str, Any] = read_json(self.dir / "state.json", {}) or {}
        self.index = self._load_index()

    @property
    def index_path(self) -> Path:
        return self.dir / "index"

    def _load_index(self) -> Any:
        from papersift.index.vectors import load_index, make_index

        if self.state.get("model") == self.embedder.name and self.state.get("file"):
            try:
                return load_index(self.dir / self.state["file"])
            except FileNotFoundError:
                self.state = {}
        return make_index(self.embedder.dim, max(self.eng.store.count(), 1))

    def __len__(self) -> int:
        return len(self.index)

    def save(self, seq: int, run: dict[str, int] | None) -> None:
        from papersift.index.vectors import EXACT_MAX, ExactIndex, convert_index, save_index

        if isinstance(self.index, ExactIndex) and len(self.index) > EXACT_MAX:
            self.index = convert_index(self.index, "usearch")  # outgrew exact search

        name = save_index(self.index, self.index_path)
        self.state = {"model": self.embedder.name, "dim": self.embedder.dim, "seq": seq, "file": name,
                      "run": run, "count": len(self.index)}
        write_json_atomic(self.dir / "state.json", self.state)

    def pending(self) -> int:
        run = self.state.get("run") or {}
        base = int(self.state.get("seq", 0))
        if run:
            return self.eng.store.count_changed_after(base, int(run.get("last_pk", 0)))
        return self.eng.store.count_changed(base)

    def embed_pending(self, progress: Progress | None = None, batch_size: int = 64) -> int:
        """Embed every paper changed since the last run (all papers the first time). Resumable."""
        store = self.eng.store
        run = self.state.get("run") or {}
        base = int(self.state.get("seq", 0))
        target = int(run.get("target") or store.max_seq())
        last_pk = int(run.get("last_pk", 0))
        done = since_ckpt = 0
        t_ckpt = time.monotonic()
        for batch in store.iter_changed(base, batch=CHECKPOINT_EVERY, after_pk=last_pk, max_seq=target):
            vecs = self.embedder.embed([paper_text(p) for p in batch], batch_size=batch_size)
            keys = np.array([p.pk for p in batch], dtype=np.int64)
            self.index.add(keys, vecs)
            last_pk = int(keys[-1])
            done += len(batch)
            since_ckpt += len(batch)
            if progress:
                progress(len(batch))
            if since_ckpt >= CHECKPOINT_EVERY or time.monotonic() - t_ckpt > 60:
                self.save(base, {"target": target, "last_pk": last_pk})
                since_ckpt, t_ckpt = 0, time.monotonic()
        self.save(target, None)
        return done

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding, from a small LRU cache (pagination and repeats are free)."""
        cache = self.__dict__.setdefault("_qcache", OrderedDict())
        vec = cache.get(query)
        if vec is None:
            vec = self.embedder.embed_query(query)
            cache[query] = vec
            if len(cache) > QUERY_CACHE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(query)
        return vec

    def search(self, query: str, k: int, allowed: set[int] | None = None,
               vector: np.ndarray | None = None) -> list[tuple[int, float]]:
        if len(self.index) == 0:
            return []
        qv = self.query_vector(query) if vector is None else vector
        keys = None if allowed is None else np.fromiter(allowed, dtype=np.int64, count=len(allowed))
        return [(int(key), float(s)) for key, s in self.index.search(qv, k, keys)]


def semantic_side(eng: Engine) -> SemanticSide:
    """The Engine's semantic side, built on first use."""
    side = getattr(eng, "_semantic", None)
    if side is None:
        side = SemanticSide(eng)
        eng._semantic = side  # type: ignore[attr-defined]
    return side
