"""Vector indexes for cosine-similarity search over unit vectors, keyed by int64 paper keys.

``ExactIndex``    numpy matrix, brute-force dot products: exact; the default up to 50k vectors.
``FaissIVFIndex`` faiss inverted-file index (IVF, fp16 vectors): approximate; default above 50k.
``USearchIndex``  usearch HNSW graph (f16): kept as an alternative / fallback; on clustered
                  1M-vector data its recall@10 fell to 0.6-0.8 (see docs/embedding-notes.md).
``make_index(dim, n_expected)`` picks one; ``upgrade_index`` swaps an outgrown ExactIndex for an
IVF copy. Defaults come from benchmarks/vector_index.py: recall@10 against exact search on real
MiniLM embeddings of SciFact abstracts grown to 100k / 1M with synthetic neighbours.

All store one vector per key (adding an existing key replaces it), take float vectors of any
norm (they are L2-normalised on the way in, so scores are cosine similarities), and support a
filtered search restricted to an ``allowed`` subset of keys. Keys must be non-negative.

On disk an index is ONE file: an 8-byte magic, a 4-byte header length, a JSON header
(kind, dim, model_name, count, settings) and the payload; ``save`` writes it atomically
(temp file beside it + fsync + ``os.replace``). ``load_index`` opens any kind.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import time
import warnings
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from papersift.fsutil import open_atomic

MAGIC = b"PSVECv1\n"
EXACT_MAX = 50_000  # make_index: exact search up to this many vectors, IVF above
# IVF defaults (benchmarks/vector_index.py): nlist = pow2 near 2*sqrt(n) (512 at 100k, 2048 at
# 1M), nprobe = max(64, nlist / 32) (64 at both): recall@10 0.976 at 100k, 0.981 at 1M.
IVF_STORAGE = "SQfp16"  # fp16 vectors in the lists: half of "Flat" (float32) memory, same recall
IVF_NPROBE_MIN = 64
IVF_NPROBE_DIVISOR = 32
IVF_OVERFETCH_MIN_SELECTIVITY = 0.05  # filtered IVF search: over-fetch + filter above this fraction
# usearch HNSW settings (alternative index)
ANN_DTYPE = "f16"
ANN_CONNECTIVITY = 16
ANN_EXPANSION_ADD = 128
ANN_EXPANSION_SEARCH = 128
# Filtered HNSW search scans the allowed vectors exactly when there are at most
# min(FILTER_BRUTE_FORCE_MAX, sqrt(k * n)) of them (fetching a stored vector costs ~3-6 us, a graph
# search over-fetching 2*k*n/|allowed| candidates costs about the same there), else over-fetches.
FILTER_BRUTE_FORCE_MAX = 4096


@runtime_checkable
class VectorIndex(Protocol):
    """Cosine-similarity index of unit vectors under int64 keys."""

    dim: int
    model_name: str  # the embedder the vectors came from

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace one vector per key."""
        ...

    def remove(self, keys: np.ndarray) -> int:
        """Drop these keys (unknown keys are ignored); returns how many were present."""
        ...

    def search(self, query_vec: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to k (key, cosine) pairs, best first; only keys in ``allowed`` when it is given."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...

    def keys(self) -> np.ndarray: ...

    def save(self, path: str | os.PathLike[str]) -> None: ...

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VectorIndex: ...


# --------------------------------------------------------------------------- helpers


def _as_keys(keys: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(keys))
    if arr.ndim != 1:
        raise ValueError("keys must be a 1-d array")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"keys must be integers, got {arr.dtype}")
    if arr.dtype.kind == "u" and arr.max() > np.iinfo(np.int64).max:
        raise ValueError("keys must fit in int64")
    arr = arr.astype(np.int64, copy=False)
    if arr.min() < 0:
        raise ValueError("keys must be non-negative")
    return arr


def _as_vectors(vectors: Any, n: int, dim: int) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1 and n == 1:
        v = v[None, :]
    if v.shape != (n, dim):
        raise ValueError(f"expected vectors of shape ({n}, {dim}), got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("vectors contain NaN or inf")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.ascontiguousarray(v / np.maximum(norms, 1e-12))


def _as_query(query_vec: Any, dim: int) -> np.ndarray:
    q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
    if q.shape != (dim,):
        raise ValueError(f"expected a query of shape ({dim},), got {q.shape}")
    return q / max(float(np.linalg.norm(q)), 1e-12)


def _batch(keys: np.ndarray, vectors: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated keys and unit vectors for add(): one row per key (the last when a key repeats)."""
    k = _as_keys(keys)
    return _dedupe_last(k, _as_vectors(vectors, k.size, dim))


def _dedupe_last(keys: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """When a key repeats in one add() call, keep its last vector."""
    if keys.size < 2:
        return keys, vectors
    _, first_in_reversed = np.unique(keys[::-1], return_index=True)
    if first_in_reversed.size == keys.size:
        return keys, vectors
    last = np.sort(keys.size - 1 - first_in_reversed)
    return keys[last], vectors[last]


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique, but sort-based (np.unique is ~10x slower on numpy 2.4 for 50k int64)."""
    if a.size < 2:
        return a
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the k largest scores, best first (ties: lower index first)."""
    if k >= scores.size:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def _write_header(fh: IO[bytes], header: dict[str, Any]) -> None:
    blob = json.dumps(header, sort_keys=True).encode("utf-8")
    fh.write(MAGIC)
    fh.write(struct.pack("<I", len(blob)))
    fh.write(blob)


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, Any], int]:
    """(header, payload offset) of a saved index file."""
    with open(path, "rb") as fh:
        magic = fh.read(len(MAGIC))
        if magic != MAGIC:
            raise ValueError(f"{path}: not a papersift vector index file")
        (n,) = struct.unpack("<I", fh.read(4))
        header = json.loads(fh.read(n).decode("utf-8"))
    return header, len(MAGIC) + 4 + n


# --------------------------------------------------------------------------- exact


class ExactIndex:
    """Brute-force cosine search over a float32 matrix; exact results."""

    kind: ClassVar[str] = "exact"

    def __init__(self, dim: int, *, model_name: str = "", capacity: int = 1024) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dim = int(dim)
        self.model_name = model_name
        self._n = 0
        self._keys = np.empty(max(1, capacity), dtype=np.int64)
        self._vecs = np.empty((max(1, capacity), self.dim), dtype=np.float32)
        self._pos: dict[int, int] = {}

    def __len__(self) -> int:
        return self._n

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int | np.integer) and int(key) in self._pos

    def __repr__(self) -> str:
        return f"ExactIndex(dim={self.dim}, n={self._n}, model_name={self.model_name!r})"

    def keys(self) -> np.ndarray:
        return self._keys[: self._n].copy()

    def vectors(self) -> np.ndarray:
        """(len, dim) unit vectors in the order of ``keys()``."""
        return self._vecs[: self._n].copy()

    def vectors_for(self, keys: np.ndarray) -> np.ndarray:
        """Stored (unit) vectors of these keys, all of which must be present (KeyError if not)."""
        return self._vecs[[self._pos[k] for k in _as_keys(keys).tolist()]]

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        if need <= self._keys.shape[0]:
            return
        cap = max(need, 2 * self._keys.shape[0])
        keys = np.empty(cap, dtype=np.int64)
        vecs = np.empty((cap, self.dim), dtype=np.float32)
        keys[: self._n] = self._keys[: self._n]
        vecs[: self._n] = self._vecs[: self._n]
        self._keys, self._vecs = keys, vecs

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys, vecs = _batch(keys, vectors, self.dim)
        self._reserve(keys.size)
        for key, vec in zip(keys.tolist(), vecs, strict=True):
            row = self._pos.get(key)
            if row is None:
                row = self._n
                self._pos[key] = row
                self._keys[row] = key
                self._n += 1
            self._vecs[row] = vec

    def remove(self, keys: np.ndarray) -> int:
        removed = 0
        for key in _as_keys(keys).tolist():
            row = self._pos.pop(key, None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:  # move the last row into the hole
                moved = int(self._keys[last])
                self._keys[row] = moved
                self._vecs[row] = self._vecs[last]
                self._pos[moved] = row
            self._n -= 1
            removed += 1
        return removed

    def _rows_for(self, allowed: np.ndarray) -> np.ndarray:
        allowed = _as_keys(allowed)
        if allowed.size <= 64:
            pos = self._pos
            return np.asarray(sorted({pos[k] for k in allowed.tolist() if k in pos}), dtype=np.int64)
        return np.flatnonzero(np.isin(self._keys[: self._n], allowed))

    def search(self, query_vec: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        q = _as_query(query_vec, self.dim)
        if k <= 0 or self._n == 0:
            return []
        if allowed is None:
            rows = None
            scores = self._vecs[: self._n] @ q
        else:
            rows = self._rows_for(allowed)
            if rows.size == 0:
                return []
            scores = self._vecs[rows] @ q
        best = _top_k(scores, k)
        keys = self._keys[best] if rows is None else self._keys[rows[best]]
        return list(zip(keys.tolist(), scores[best].astype(float).tolist(), strict=True))

    def save(self, path: str | os.PathLike[str]) -> None:
        header = {"kind": self.kind, "dim": self.dim, "model_name": self.model_name, "count": self._n}
        with open_atomic(Path(path), "wb") as fh:
            _write_header(fh, header)
            fh.write(np.ascontiguousarray(self._keys[: self._n]).tobytes())
            fh.write(np.ascontiguousarray(self._vecs[: self._n]).tobytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExactIndex:
        header, offset = read_header(path)
        if header.get("kind") != cls.kind:
            raise ValueError(f"{path}: holds a {header.get('kind')!r} index, not {cls.kind!r}")
        n, dim = int(header["count"]), int(header["dim"])
        index = cls(dim, model_name=header.get("model_name", ""), capacity=max(n, 1))
        with open(path, "rb") as fh:
            fh.seek(offset)
            keys = np.fromfile(fh, dtype=np.int64, count=n)
            vecs = np.fromfile(fh, dtype=np.float32, count=n * dim)
        if keys.size != n or vecs.size != n * dim:
            raise ValueError(f"{path}: truncated index file")
        index._keys[:n] = keys
        index._vecs[:n] = vecs.reshape(n, dim)
        index._n = n
        index._pos = {key: row for row, key in enumerate(keys.tolist())}
        return index


# --------------------------------------------------------------------------- HNSW (usearch)


class USearchIndex:
    """Approximate cosine search: an HNSW graph from usearch (vectors stored as f16 by default)."""

    kind: ClassVar[str] = "usearch"

    def __init__(self, dim: int, *, model_name: str = "", dtype: str = ANN_DTYPE,
                 connectivity: int = ANN_CONNECTIVITY, expansion_add: int = ANN_EXPANSION_ADD,
                 expansion_search: int = ANN_EXPANSION_SEARCH, threads: int = 0) -> None:
        try:
            from usearch.index import Index
        except ImportError as e:  # pragma: no cover - usearch is a core dependency
            raise ImportError("the HNSW vector index needs usearch: pip install usearch") from e
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dim = int(dim)
        self.model_name = model_name
        self.dtype = dtype
        self.connectivity = int(connectivity)
        self.expansion_add = int(expansion_add)
        self.expansion_search = int(expansion_search)
        self.threads = int(threads)  # 0: all cores
        self._index = Index(ndim=self.dim, metric="cos", dtype=dtype, connectivity=self.connectivity,
                            expansion_add=self.expansion_add, expansion_search=self.expansion_search)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or int(key) < 0:
            return False
        return bool(self._index.contains(np.uint64(int(key))))

    def __repr__(self) -> str:
        return (f"USearchIndex(dim={self.dim}, n={len(self)}, dtype={self.dtype!r}, "
                f"M={self.connectivity}, ef={self.expansion_search}, model_name={self.model_name!r})")

    def keys(self) -> np.ndarray:
        if len(self) == 0:
            return np.empty(0, dtype=np.int64)
        return np.asarray(self._index.keys, dtype=np.uint64).astype(np.int64)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys, vecs = _batch(keys, vectors, self.dim)
        if keys.size == 0:
            return
        ukeys = keys.astype(np.uint64)
        if len(self):
            present = np.atleast_1d(self._index.contains(ukeys))
            if present.any():
                self._index.remove(ukeys[present])
        self._index.add(ukeys, vecs, threads=self.threads)

    def remove(self, keys: np.ndarray) -> int:
        ukeys = _as_keys(keys).astype(np.uint64)
        if ukeys.size == 0 or len(self) == 0:
            return 0
        present = np.atleast_1d(self._index.contains(ukeys))
        if not present.any():
            return 0
        gone = _sorted_unique(ukeys[present])
        self._index.remove(gone)
        return int(gone.size)

    def vectors_for(self, keys: np.ndarray) -> np.ndarray:
        """Stored vectors of these keys (as float32), all of which must be present."""
        got = self._index.get(_as_keys(keys).astype(np.uint64), dtype="f32")
        assert got is not None  # many keys give a tuple, never None
        if any(v is None for v in got):
            raise KeyError("some keys are not in the index")
        return np.stack([np.asarray(v, np.float32).reshape(-1) for v in got]) if len(got) else \
            np.empty((0, self.dim), np.float32)

    def _matches(self, q: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        m = self._index.search(q, count, threads=self.threads)
        return np.asarray(m.keys, dtype=np.uint64).astype(np.int64), 1.0 - np.asarray(m.distances, np.float64)

    def _exact_subset(self, q: np.ndarray, keys: np.ndarray, k: int) -> list[tuple[int, float]]:
        got = self._index.get(keys.astype(np.uint64), dtype="f32")
        if isinstance(got, np.ndarray) and got.ndim == 2:
            mat = got
        else:
            assert got is not None  # many keys give a tuple, never None
            mat = np.stack([np.asarray(v, np.float32).reshape(-1) for v in got])
        norms = np.linalg.norm(mat, axis=1)
        scores = (mat @ q) / np.maximum(norms, 1e-12)
        best = _top_k(scores, k)
        return list(zip(keys[best].tolist(), scores[best].astype(float).tolist(), strict=True))

    def search(self, query_vec: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        q = _as_query(query_vec, self.dim)
        n = len(self)
        if k <= 0 or n == 0:
            return []
        if allowed is None:
            keys, scores = self._matches(q, min(k, n))
            return list(zip(keys.tolist(), scores.tolist(), strict=True))
        allowed = _as_keys(allowed)
        if allowed.size == 0:
            return []
        allowed = allowed[np.atleast_1d(self._index.contains(allowed.astype(np.uint64)))]
        if allowed.size == 0:
            return []
        if allowed.size <= max(k, min(FILTER_BRUTE_FORCE_MAX, int(math.sqrt(k * n)))):
            return self._exact_subset(q, _sorted_unique(allowed), k)
        # Large allowed set: over-fetch from the graph, keep allowed keys, widen until k are found.
        count = min(n, max(4 * k, math.ceil(2 * k * n / allowed.size)))
        while True:
            keys, scores = self._matches(q, count)
            keep = np.isin(keys, allowed)
            if keep.sum() >= k:
                return list(zip(keys[keep][:k].tolist(), scores[keep][:k].tolist(), strict=True))
            if count >= n:  # the graph could not reach k allowed keys: scan them (rare)
                return self._exact_subset(q, _sorted_unique(allowed), k)
            count = min(n, count * 4)

    def save(self, path: str | os.PathLike[str]) -> None:
        header = {"kind": self.kind, "dim": self.dim, "model_name": self.model_name, "count": len(self),
                  "dtype": self.dtype, "connectivity": self.connectivity, "expansion_add": self.expansion_add,
                  "expansion_search": self.expansion_search}
        blob = self._index.save()  # serialized usearch index (bytes)
        with open_atomic(Path(path), "wb") as fh:
            _write_header(fh, header)
            fh.write(blob)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> USearchIndex:
        header, offset = read_header(path)
        if header.get("kind") != cls.kind:
            raise ValueError(f"{path}: holds a {header.get('kind')!r} index, not {cls.kind!r}")
        index = cls(int(header["dim"]), model_name=header.get("model_name", ""), dtype=header["dtype"],
                    connectivity=header["connectivity"], expansion_add=header["expansion_add"],
                    expansion_search=header["expansion_search"])
        payload = np.memmap(path, dtype=np.uint8, mode="r", offset=offset)
        try:
            # copies into the index's own memory; usearch takes any buffer, though it annotates bytes-likes only
            index._index.load(payload)  # type: ignore[arg-type]
        finally:
            del payload
        if len(index) != int(header["count"]):
            raise ValueError(f"{path}: index holds {len(index)} vectors, header says {header['count']}")
        return index


# --------------------------------------------------------------------------- IVF (faiss)


def default_nlist(n_expected: int) -> int:
    """IVF list count: the power of two nearest 2*sqrt(n), within [64, 65536] (2048 at 1M)."""
    target = 2.0 * math.sqrt(max(n_expected, 1))
    return int(min(65536, max(64, 2 ** round(math.log2(target)))))


class FaissIVFIndex:
    """Approximate cosine search: a faiss inverted-file index (k-means lists, exact scoring in lists).

    IVF needs training: vectors are held in an exact buffer (searched exactly) until
    ``train_size`` (39 x nlist) of them exist; then k-means is trained on them and every later
    add goes straight into the lists. A search scans the ``nprobe`` lists nearest to the query.
    Filtered search: an allowed set covering >= 5% of the index over-fetches ~2k/selectivity
    candidates and keeps the allowed ones; rarer sets use faiss' id selector inside the scan with
    ``nprobe`` widened by 1/selectivity, so very small allowed sets are scanned exhaustively (exact).
    """

    kind: ClassVar[str] = "faiss-ivf"

    def __init__(self, dim: int, *, model_name: str = "", n_expected: int = 1_000_000,
                 nlist: int | None = None, nprobe: int | None = None, storage: str = IVF_STORAGE,
                 train_size: int | None = None) -> None:
        try:
            import faiss
        except ImportError as e:
            raise ImportError("the IVF vector index needs faiss-cpu: pip install 'papersift[embed]'") from e
        if dim <= 0:
            raise ValueError("dim must be positive")
        self._faiss = faiss
        self.dim = int(dim)
        self.model_name = model_name
        self.nlist = int(nlist or default_nlist(n_expected))
        self.nprobe = int(nprobe or max(IVF_NPROBE_MIN, self.nlist // IVF_NPROBE_DIVISOR))
        self.storage = storage
        self.train_size = int(train_size or 39 * self.nlist)
        self._buffer: ExactIndex | None = ExactIndex(self.dim)
        self._ivf: Any = None

    @property
    def trained(self) -> bool:
        return self._ivf is not None

    def __len__(self) -> int:
        return len(self._buffer) if self._buffer is not None else int(self._ivf.ntotal)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or int(key) < 0:
            return False
        if self._buffer is not None:
            return int(key) in self._buffer
        try:
            self._ivf.reconstruct(int(key))
        except RuntimeError:
            return False
        return True

    def __repr__(self) -> str:
        return (f"FaissIVFIndex(dim={self.dim}, n={len(self)}, nlist={self.nlist}, nprobe={self.nprobe}, "
                f"storage={self.storage!r}, trained={self.trained}, model_name={self.model_name!r})")

    def keys(self) -> np.ndarray:
        if self._buffer is not None:
            return self._buffer.keys()
        faiss = self._faiss
        inv = faiss.extract_index_ivf(self._ivf).invlists
        parts = [faiss.rev_swig_ptr(inv.get_ids(i), inv.list_size(i)).copy()
                 for i in range(self.nlist) if inv.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)

    def vectors_for(self, keys: np.ndarray) -> np.ndarray:
        """Stored (unit) vectors of these keys, all of which must be present."""
        keys = _as_keys(keys)
        if self._buffer is not None:
            return self._buffer.vectors_for(keys)
        try:
            return self._ivf.reconstruct_batch(keys)
        except RuntimeError as e:
            raise KeyError("some keys are not in the index") from e

    def train(self) -> None:
        """Train the lists on the buffered vectors now (needs at least nlist of them)."""
        if self._buffer is None:
            return
        if len(self._buffer) < self.nlist:
            raise ValueError(f"need at least nlist={self.nlist} vectors to train, have {len(self._buffer)}")
        faiss = self._faiss
        keys, vecs = self._buffer.keys(), self._buffer.vectors()
        ivf = faiss.index_factory(self.dim, f"IVF{self.nlist},{self.storage}", faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vecs if len(vecs) <= 64 * self.nlist else vecs[rng.choice(len(vecs), 64 * self.nlist, False)]
        faiss.extract_index_ivf(ivf).cp.niter = 20
        ivf.train(np.ascontiguousarray(sample))
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct / remove by key
        ivf.add_with_ids(vecs, keys)
        ivf.nprobe = self.nprobe
        self._ivf, self._buffer = ivf, None

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys, vecs = _batch(keys, vectors, self.dim)
        if keys.size == 0:
            return
        if self._buffer is not None:
            self._buffer.add(keys, vecs)
            if len(self._buffer) >= self.train_size:
                self.train()
            return
        self._ivf.remove_ids(self._faiss.IDSelectorArray(keys))  # replace existing keys
        self._ivf.add_with_ids(vecs, keys)

    def remove(self, keys: np.ndarray) -> int:
        keys = _sorted_unique(_as_keys(keys))
        if keys.size == 0:
            return 0
        if self._buffer is not None:
            return self._buffer.remove(keys)
        return int(self._ivf.remove_ids(self._faiss.IDSelectorArray(keys)))

    def _scan(self, q: np.ndarray, k: int, nprobe: int, sel: Any = None) -> list[tuple[int, float]]:
        params = self._faiss.SearchParametersIVF()
        params.nprobe = int(min(self.nlist, max(1, nprobe)))
        if sel is not None:
            params.sel = sel
        scores, ids = self._ivf.search(q[None, :], int(k), params=params)
        keep = ids[0] >= 0
        return list(zip(ids[0][keep].tolist(), scores[0][keep].astype(float).tolist(), strict=True))

    def search(self, query_vec: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        q = _as_query(query_vec, self.dim)
        n = len(self)
        if k <= 0 or n == 0:
            return []
        if self._buffer is not None:
            return self._buffer.search(q, k, allowed)
        k = min(k, n)
        if allowed is None:
            return self._scan(q, k, self.nprobe)
        allowed = _as_keys(allowed)
        if allowed.size == 0:
            return []
        selectivity = min(1.0, allowed.size / n)
        if selectivity >= IVF_OVERFETCH_MIN_SELECTIVITY:
            # common filter: plain search for ~2k/selectivity candidates, keep the allowed ones
            fetch = min(n, math.ceil(2 * k / selectivity))
            cand = self._scan(q, fetch, self.nprobe)
            ids = np.fromiter((key for key, _ in cand), dtype=np.int64, count=len(cand))
            keep = np.flatnonzero(np.isin(ids, allowed))
            if keep.size >= k:
                return [cand[i] for i in keep[:k]]
        # rare filter: faiss' id selector inside the scan, nprobe widened by 1/selectivity
        # (~nprobe/nlist of the allowed keys sit in the scanned lists); exhaustive if still short
        sel = self._faiss.IDSelectorBatch(allowed)
        nprobe = math.ceil(self.nprobe / max(selectivity, 1e-9))
        hits = self._scan(q, k, nprobe, sel)
        if len(hits) < k and nprobe < self.nlist:
            hits = self._scan(q, k, self.nlist, sel)
        return hits

    def save(self, path: str | os.PathLike[str]) -> None:
        header = {"kind": self.kind, "dim": self.dim, "model_name": self.model_name, "count": len(self),
                  "nlist": self.nlist, "nprobe": self.nprobe, "storage": self.storage,
                  "train_size": self.train_size, "trained": self.trained}
        with open_atomic(Path(path), "wb") as fh:
            _write_header(fh, header)
            if self._buffer is not None:
                fh.write(np.ascontiguousarray(self._buffer.keys()).tobytes())
                fh.write(np.ascontiguousarray(self._buffer.vectors()).tobytes())
            else:
                fh.write(self._faiss.serialize_index(self._ivf).tobytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FaissIVFIndex:
        header, offset = read_header(path)
        if header.get("kind") != cls.kind:
            raise ValueError(f"{path}: holds a {header.get('kind')!r} index, not {cls.kind!r}")
        index = cls(int(header["dim"]), model_name=header.get("model_name", ""), nlist=header["nlist"],
                    nprobe=header["nprobe"], storage=header["storage"], train_size=header["train_size"])
        n, dim = int(header["count"]), index.dim
        if not header["trained"]:
            with open(path, "rb") as fh:
                fh.seek(offset)
                keys = np.fromfile(fh, dtype=np.int64, count=n)
                vecs = np.fromfile(fh, dtype=np.float32, count=n * dim)
            if keys.size != n or vecs.size != n * dim:
                raise ValueError(f"{path}: truncated index file")
            if n:
                index._buffer.add(keys, vecs.reshape(n, dim))  # type: ignore[union-attr]
            return index
        blob = np.fromfile(path, dtype=np.uint8, offset=offset)
        index._ivf = index._faiss.deserialize_index(blob)
        index._ivf.nprobe = index.nprobe
        index._buffer = None
        if int(index._ivf.ntotal) != n:
            raise ValueError(f"{path}: index holds {index._ivf.ntotal} vectors, header says {n}")
        return index


# --------------------------------------------------------------------------- factory / files

AnyIndex = ExactIndex | USearchIndex | FaissIVFIndex
_KINDS: dict[str, type[ExactIndex] | type[USearchIndex] | type[FaissIVFIndex]] = {
    "exact": ExactIndex, "usearch": USearchIndex, "faiss-ivf": FaissIVFIndex}


def _ann_index(dim: int, n_expected: int, model_name: str) -> AnyIndex:
    try:
        return FaissIVFIndex(dim, model_name=model_name, n_expected=n_expected)
    except ImportError:
        pass
    try:
        index: AnyIndex = USearchIndex(dim, model_name=model_name)
        warnings.warn("faiss-cpu is not installed: using the usearch HNSW index, whose recall@10 fell to "
                      "0.6-0.8 at 1M clustered vectors (pip install 'papersift[embed]')", RuntimeWarning,
                      stacklevel=3)
        return index
    except ImportError:
        warnings.warn("no ANN library installed (faiss-cpu): exact search over all vectors "
                      "(pip install 'papersift[embed]')", RuntimeWarning, stacklevel=3)
        return ExactIndex(dim, model_name=model_name)


def make_index(dim: int, n_expected: int, *, model_name: str = "", exact_max: int = EXACT_MAX) -> AnyIndex:
    """Exact search while the collection is small (<= ``exact_max``), a faiss IVF index above."""
    if n_expected <= exact_max:
        return ExactIndex(dim, model_name=model_name, capacity=max(1024, min(n_expected, exact_max)))
    return _ann_index(dim, n_expected, model_name)


def upgrade_index(index: AnyIndex, n_expected: int, *, exact_max: int = EXACT_MAX) -> AnyIndex:
    """The index to use for ``n_expected`` vectors: ``index`` itself, or an IVF copy of an
    ExactIndex that has outgrown ``exact_max`` (call it after loading / before embedding more)."""
    if isinstance(index, ExactIndex) and max(n_expected, len(index)) > exact_max:
        target = _ann_index(index.dim, max(n_expected, len(index)), index.model_name)
        if not isinstance(target, ExactIndex):
            _copy_into(index, target)
            if isinstance(target, FaissIVFIndex) and len(target) >= target.nlist:
                target.train()
            return target
    return index


def _copy_into(source: AnyIndex, target: AnyIndex) -> None:
    keys = source.keys()
    for s in range(0, keys.size, 65_536):
        chunk = keys[s:s + 65_536]
        target.add(chunk, source.vectors_for(chunk))


def convert_index(index: AnyIndex, kind: str, **kwargs: Any) -> AnyIndex:
    """Copy ``index`` into a new index of ``kind`` ("exact", "faiss-ivf" or "usearch")."""
    target = _KINDS[kind](index.dim, model_name=index.model_name, **kwargs)
    _copy_into(index, target)
    return target


def load_index(path: str | os.PathLike[str]) -> AnyIndex:
    """Open a saved index of either kind (FileNotFoundError when ``path`` does not exist)."""
    header, _ = read_header(path)
    cls = _KINDS.get(header.get("kind", ""))
    if cls is None:
        raise ValueError(f"{path}: unknown index kind {header.get('kind')!r}")
    return cls.load(path)


def save_index(index: VectorIndex, path: str | os.PathLike[str]) -> str:
    """Save under a NEW file name beside ``path`` and return that name.

    ``<path.name>-<generation>.psvec``: the caller records the returned name (e.g. in a state
    file written after this returns), so a crash at any point leaves a consistent pair. Older
    generations are deleted except the newest previous one, which a not-yet-updated state file
    may still name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = f"{path.name}-{time.time_ns():x}.psvec"
    index.save(path.parent / name)
    pattern = re.compile(re.escape(path.name) + r"-([0-9a-f]+)\.psvec")
    gens = sorted((int(m.group(1), 16), p) for p in path.parent.iterdir() if (m := pattern.fullmatch(p.name)))
    for _, old in gens[:-2]:
        old.unlink(missing_ok=True)
    return name
