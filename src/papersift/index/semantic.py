"""The dense side of search: the vector index of one embedding model, and the query encoder.

Vectors live in the store (store/embeddings.py). ``vectors/<model slug>/`` holds the vector index
built from them and a ``state.json`` (model, dim, last change applied, index file name). Like the
lexical index it has one writer, the index owner, which follows the embeddings' change numbers
(``VectorSide.catch_up``); every other process loads the file read-only and reloads it when the
owner publishes a new one (``VectorSide.refresh``). A data dir without vectors never loads a model.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from papersift.fsutil import read_json, write_json_atomic
from papersift.index.embed_stage import text_hash, text_of
from papersift.index.vectors import load_index, make_index, save_index, upgrade_index
from papersift.models import Paper
from papersift.store import embeddings as vectors_sql
from papersift.store.db import Database

log = logging.getLogger(__name__)
QUERY_CACHE = 512
SAVE_EVERY = 15.0  # seconds: the owner publishes new vectors at most this often while embedding runs


def paper_text(p: Paper) -> str:
    """The text a paper is embedded from (the same formula the embed stage stores vectors for)."""
    return text_of(p.title, p.abstract)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


class VectorSide:
    """The vector index of one model in one data dir: written by the owner, reloaded by readers."""

    def __init__(self, vectors_dir: Path, model: str, writable: bool) -> None:
        self.model = model
        self.dir = Path(vectors_dir) / slug(model)
        self.writable = writable
        self.index: Any = None
        self.seq = 0
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._unsaved = 0
        self._saved_at = time.monotonic()
        self._load()

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.state_path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def _load(self) -> None:
        stamp = self._file_stamp()
        state = read_json(self.state_path, {}) or {}
        index, seq = None, 0
        if state.get("model") == self.model and state.get("file") and "seq" in state:
            try:
                index, seq = load_index(self.dir / state["file"]), int(state["seq"])
            except FileNotFoundError:
                log.warning("vector index %s names a missing file %s", self.dir, state.get("file"))
        self.index, self.seq, self._stamp = index, seq, stamp

    def refresh(self) -> bool:
        """Reader: load the owner's newest published index if it changed. True if it did."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        with self._lock:
            if stamp != self._stamp:
                self._load()
                log.info("vector index %s reloaded: %d vectors", self.model, len(self))
                return True
        return False

    def __len__(self) -> int:
        index = self.index
        return len(index) if index is not None else 0

    # -- owner -------------------------------------------------------------------------------------
    def catch_up(self, db: Database, force_save: bool = False) -> int:
        """Owner: add every embedding written since the last catch-up; publish (save) the index when
        ``force_save``, when embedding has paused, or at most every SAVE_EVERY seconds."""
        if not self.writable:
            raise RuntimeError("only the index owner updates the vector index")
        added = changes = 0
        last = self.seq
        gone: list[int] = []  # vectors of papers arXiv reported deleted: dropped from the index
        for keys, vecs, batch_last in vectors_sql.changed(db, self.model, self.seq, gone=gone):
            last = batch_last
            changes += 1
            if gone and self.index is not None:
                added += self.index.remove(np.asarray(gone, dtype=np.int64))
            gone.clear()
            if not len(keys):
                continue
            if self.index is None:
                self.index = make_index(vecs.shape[1], max(vectors_sql.count(db, self.model), 1),
                                        model_name=self.model)
            self.index.add(keys, vecs)
            added += len(keys)
        if changes:
            self.seq = last
        if added:
            self._unsaved += added
        if self._unsaved and (force_save or not added or time.monotonic() - self._saved_at >= SAVE_EVERY):
            self.save()
        return added

    def import_legacy(self, db: Database) -> int:
        """Owner, once: copy the vectors of a data dir embedded before vectors lived in the store
        (its state.json has a "run" key) into the store, instead of embedding everything again.
        A vector is taken for a paper whose text has not changed since (papers.seq <= the old
        index's seq); the others stay pending and are embedded as usual."""
        state = read_json(self.state_path, {}) or {}
        if "run" not in state or state.get("model") != self.model or vectors_sql.count(db, self.model):
            return 0
        try:
            old = load_index(self.dir / state["file"])
        except (FileNotFoundError, KeyError, ValueError) as e:
            log.warning("old vector index in %s cannot be read (%s): its papers will be embedded again", self.dir, e)
            return 0
        keys = np.asarray(old.keys(), dtype=np.int64)
        done = 0
        for s in range(0, keys.size, 4096):
            chunk = keys[s:s + 4096]
            vecs = old.vectors_for(chunk)
            found = vectors_sql.texts(db, chunk.tolist())
            rows: list[tuple[int, int, str, np.ndarray | None]] = []
            for k, v in zip(chunk.tolist(), vecs, strict=True):
                if k in found and found[k][0] <= int(state.get("seq", 0)):
                    seq, title, abstract = found[k]
                    rows.append((k, seq, text_hash(text_of(title, abstract)), np.asarray(v, np.float32)))
            vectors_sql.write(db, self.model, rows)
            done += len(rows)
        log.info("imported %d vectors of %s from the old vector index into the store", done, self.model)
        self.index, self.seq = None, 0  # rebuilt from the store by the catch-up that follows
        self.state_path.unlink(missing_ok=True)
        return done

    def save(self) -> None:
        if self.index is None:
            return
        self.index = upgrade_index(self.index, len(self.index))  # exact -> IVF once it outgrows EXACT_MAX
        name = save_index(self.index, self.dir / "index")
        write_json_atomic(self.state_path, {"model": self.model, "dim": self.index.dim, "seq": self.seq,
                                            "file": name, "count": len(self.index)})
        self._stamp = self._file_stamp()
        self._unsaved = 0
        self._saved_at = time.monotonic()

    def clear(self) -> None:
        """Owner: forget the index (a ``reindex`` rebuilds it from the store)."""
        self.index, self.seq, self._unsaved = None, 0, 0
        self.state_path.unlink(missing_ok=True)

    def search(self, vector: np.ndarray, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        index = self.index
        if index is None or len(index) == 0:
            return []
        keys = None if allowed is None else np.fromiter(allowed, dtype=np.int64, count=len(allowed))
        return [(int(key), float(s)) for key, s in index.search(vector, k, keys)]


class QueryEncoder:
    """The embedding model, loaded once on first use (under a lock) and shared by all threads;
    a model that failed to load is remembered, not retried on every request. Query vectors are
    kept in a small locked LRU cache (pagination and repeats are free)."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self._embedder: Any = None
        self._error: ImportError | None = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def embedder(self) -> Any:
        if self._embedder is not None:
            return self._embedder
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._embedder is None:
                from papersift.index.embedders import load_embedder

                t0 = time.perf_counter()
                try:
                    self._embedder = load_embedder(self.name)
                except ImportError as e:
                    log.error("embedding model %s cannot load: %s", self.name or "default", e)
                    self._error = e
                    raise
                log.info("loaded embedding model %s in %.1fs", self._embedder.name, time.perf_counter() - t0)
        return self._embedder

    def query_vector(self, query: str) -> np.ndarray:
        with self._cache_lock:
            vec = self._cache.get(query)
            if vec is not None:
                self._cache.move_to_end(query)
                return vec
        vec = self.embedder().embed_query(query)
        with self._cache_lock:
            self._cache[query] = vec
            while len(self._cache) > QUERY_CACHE:
                self._cache.popitem(last=False)
        return vec


class Semantic:
    """What search needs of the dense side: the vector index and the query encoder."""

    def __init__(self, vectors: VectorSide, encoder: QueryEncoder) -> None:
        self.vectors = vectors
        self.encoder = encoder

    @property
    def model(self) -> str:
        return self.vectors.model

    def ready(self) -> bool:
        """True when the index has vectors (the model itself is loaded only when a query needs it)."""
        return len(self.vectors) > 0

    def __len__(self) -> int:
        return len(self.vectors)

    def query_vector(self, query: str) -> np.ndarray:
        return self.encoder.query_vector(query)

    def search(self, query: str, k: int, allowed: set[int] | None = None,
               vector: np.ndarray | None = None) -> list[tuple[int, float]]:
        if not self.ready():
            return []
        qv = self.query_vector(query) if vector is None else vector
        return self.vectors.search(qv, k, allowed)
