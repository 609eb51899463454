"""A disk cache of document vectors keyed by (model name, exact text), for `papersift eval`.

Evaluating on a judged collection indexes it into a throwaway data dir; embedding its corpus is by
far the slowest step (minutes for SciFact + NPL on two cores). ``CachedEmbedder`` wraps an
embedder: texts whose vector is in the cache are not embedded again, new ones are embedded and
added. The file lives under the user cache dir (never in the repository), one per model and
collection name, and holds the sha1 of each text beside its vector, so a changed text or another
model (the model name is part of the file name and checked inside it) never reuses a stale vector.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from papersift.index.embed_stage import text_hash
from papersift.index.embedders import Embedder
from papersift.index.onnx_model import default_cache_dir
from papersift.index.semantic import slug

log = logging.getLogger(__name__)
SAVE_EVERY = 2048  # new vectors between saves, so an interrupted run keeps most of its work


def default_eval_cache() -> Path:
    return default_cache_dir() / "eval"


class VectorCache:
    """{text sha1 -> vector} of one model, stored as one ``.npz`` file (written atomically)."""

    def __init__(self, path: Path, model: str, dim: int) -> None:
        self.path = Path(path)
        self.model = model
        self.dim = dim
        self._rows: dict[str, np.ndarray] = {}
        self._dirty = 0
        if self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as z:
                    if str(z["model"]) == model and int(z["vecs"].shape[1]) == dim:
                        self._rows = dict(zip((str(h) for h in z["hashes"]), z["vecs"], strict=True))
                    else:
                        log.warning("vector cache %s is for another model: ignored", self.path)
            except (OSError, ValueError, KeyError) as e:
                log.warning("vector cache %s cannot be read (%s): starting a new one", self.path, e)

    @classmethod
    def for_collection(cls, cache_dir: Path, collection: str, model: str, dim: int) -> VectorCache:
        return cls(Path(cache_dir) / slug(model) / f"{slug(collection)}.npz", model, dim)

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, h: str) -> np.ndarray | None:
        return self._rows.get(h)

    def put(self, h: str, vec: np.ndarray) -> None:
        self._rows[h] = np.asarray(vec, dtype=np.float32)
        self._dirty += 1
        if self._dirty >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        hashes = np.array(list(self._rows), dtype="<U40")
        vecs = (np.stack(list(self._rows.values())) if self._rows
                else np.empty((0, self.dim), np.float32)).astype(np.float32)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, model=np.array(self.model), hashes=hashes, vecs=vecs)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._dirty = 0


class CachedEmbedder:
    """An ``Embedder`` that answers from a ``VectorCache`` and embeds only the texts it lacks."""

    def __init__(self, inner: Embedder, cache: VectorCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.dim = inner.dim
        self.hits = 0
        self.misses = 0

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        need: list[int] = []
        for i, h in enumerate(hashes):
            v = self.cache.get(h)
            if v is None:
                need.append(i)
            else:
                out[i] = v
        if need:
            vecs = self.inner.embed([texts[i] for i in need], batch_size=batch_size)
            for j, i in enumerate(need):
                out[i] = vecs[j]
                self.cache.put(hashes[i], vecs[j])
        self.hits += len(texts) - len(need)
        self.misses += len(need)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)
