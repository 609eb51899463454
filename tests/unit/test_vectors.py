"""Vector indexes: protocol conformance, add/remove/search, filtered search, atomic save/load."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from papersift.index import vectors as V

HAVE_USEARCH = importlib.util.find_spec("usearch") is not None
HAVE_FAISS = importlib.util.find_spec("faiss") is not None
needs_usearch = pytest.mark.skipif(not HAVE_USEARCH, reason="needs usearch")
needs_faiss = pytest.mark.skipif(not HAVE_FAISS, reason="needs faiss-cpu (papersift[embed])")

DIM = 32
FACTORIES: dict[str, Callable[[], V.VectorIndex]] = {
    "exact": lambda: V.ExactIndex(DIM, model_name="test-model"),
    # 8 lists, all probed: trains at 64 vectors, so small tests cover the exact buffer and larger
    # ones the trained IVF path with exhaustive (exact) scans
    "faiss": lambda: V.FaissIVFIndex(DIM, model_name="test-model", nlist=8, nprobe=8, train_size=64,
                                     storage="Flat"),
    "usearch": lambda: V.USearchIndex(DIM, model_name="test-model"),
}
# f16 storage + HNSW: scores agree with float64 cosine to ~1e-3
ATOL = {"exact": 1e-5, "faiss": 1e-5, "usearch": 5e-3}


@pytest.fixture(params=["exact", pytest.param("faiss", marks=needs_faiss),
                        pytest.param("usearch", marks=needs_usearch)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def index(kind: str) -> V.VectorIndex:
    return FACTORIES[kind]()


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def filled(index: V.VectorIndex, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    keys = rng.choice(10**9, size=n, replace=False).astype(np.int64)
    vecs = unit(rng, n)
    index.add(keys, vecs)
    return keys, vecs


def clustered(rng: np.random.Generator, n: int, dim: int, centers: int = 50) -> np.ndarray:
    c = unit(rng, centers, dim)
    noise = 0.35 / np.sqrt(dim) * rng.standard_normal((n, dim)).astype(np.float32)
    x = c[rng.integers(0, centers, n)] + noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_top(keys: np.ndarray, vecs: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    s = vecs.astype(np.float64) @ (q / np.linalg.norm(q))
    return keys[np.argsort(-s, kind="stable")[:k]].tolist()


# --------------------------------------------------------------------------- basics


def test_protocol_conformance(index: V.VectorIndex) -> None:
    assert isinstance(index, V.VectorIndex)
    assert index.dim == DIM and index.model_name == "test-model"
    assert len(index) == 0


def test_empty_index_search_returns_empty(index: V.VectorIndex) -> None:
    q = np.ones(DIM, np.float32)
    assert index.search(q, 10) == []
    assert index.search(q, 10, allowed=np.array([1, 2], np.int64)) == []


def test_one_vector_index(index: V.VectorIndex) -> None:
    v = np.arange(1, DIM + 1, dtype=np.float32)
    index.add(np.array([42], np.int64), v[None, :])
    [(key, score)] = index.search(v * 3.0, 10)  # query norm does not matter
    assert key == 42 and isinstance(key, int) and isinstance(score, float)
    assert score == pytest.approx(1.0, abs=1e-3)
    assert 42 in index and 7 not in index


def test_add_and_search(index: V.VectorIndex, kind: str) -> None:
    keys, vecs = filled(index)
    assert len(index) == keys.size
    q = vecs[17] + 0.05 * unit(np.random.default_rng(9), 1)[0]
    hits = index.search(q, 10)
    assert len(hits) == 10
    assert hits[0][0] == keys[17]
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    cos = vecs.astype(np.float64) @ (q / np.linalg.norm(q))
    want = {int(k): float(s) for k, s in zip(keys, cos, strict=True)}
    for key, score in hits:
        assert score == pytest.approx(want[key], abs=ATOL[kind])
    assert [k for k, _ in hits][:5] == exact_top(keys, vecs, q, 5)


def test_vectors_are_normalised_on_add(index: V.VectorIndex, kind: str) -> None:
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((20, DIM)).astype(np.float32) * 7.0
    index.add(np.arange(20, dtype=np.int64), raw)
    [(key, score)] = index.search(raw[4], 1)
    assert key == 4 and score == pytest.approx(1.0, abs=ATOL[kind])


def test_k_larger_than_index(index: V.VectorIndex) -> None:
    keys, vecs = filled(index, n=7)
    hits = index.search(vecs[0], 100)
    assert sorted(k for k, _ in hits) == sorted(keys.tolist())
    assert index.search(vecs[0], 0) == []


def test_add_replaces_existing_key(index: V.VectorIndex) -> None:
    keys, vecs = filled(index, n=50)
    new = -vecs[0]
    index.add(keys[:1], new[None, :])
    assert len(index) == 50
    assert index.search(new, 1)[0][0] == keys[0]
    assert keys[0] not in [k for k, _ in index.search(vecs[0], 3)]


def test_duplicate_keys_in_one_add_keep_the_last(index: V.VectorIndex) -> None:
    rng = np.random.default_rng(5)
    v = unit(rng, 3)
    index.add(np.array([9, 9, 10], np.int64), v)
    assert len(index) == 2
    assert index.search(v[1], 1)[0][0] == 9


def test_remove(index: V.VectorIndex) -> None:
    keys, vecs = filled(index, n=100)
    assert index.remove(keys[:10]) == 10
    assert len(index) == 90
    assert index.remove(keys[:10]) == 0  # already gone
    assert index.remove(np.array([123456789012], np.int64)) == 0  # never there
    assert index.remove(np.array([], np.int64)) == 0
    for i in range(10):
        assert keys[i] not in [k for k, _ in index.search(vecs[i], 5)]
    assert index.search(vecs[50], 1)[0][0] == keys[50]
    assert sorted(index.keys().tolist()) == sorted(keys[10:].tolist())
    index.add(keys[:1], vecs[:1])  # re-add after remove
    assert index.search(vecs[0], 1)[0][0] == keys[0]


def test_remove_everything_then_search(index: V.VectorIndex) -> None:
    keys, vecs = filled(index, n=5)
    index.remove(keys)
    assert len(index) == 0 and index.search(vecs[0], 3) == []


def test_bad_input(index: V.VectorIndex) -> None:
    with pytest.raises(ValueError):
        index.add(np.array([1, 2], np.int64), np.ones((3, DIM), np.float32))
    with pytest.raises(ValueError):
        index.add(np.array([1], np.int64), np.ones((1, DIM + 1), np.float32))
    with pytest.raises(ValueError):
        index.add(np.array([-1], np.int64), np.ones((1, DIM), np.float32))
    with pytest.raises(ValueError):
        index.add(np.array([1], np.int64), np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(ValueError):
        index.search(np.ones(DIM + 1, np.float32), 3)


# --------------------------------------------------------------------------- filtered search


def test_filtered_search_small_allowed_set_is_exact(index: V.VectorIndex, kind: str) -> None:
    """Small allowed sets are scanned exactly (usearch: over f16-rounded vectors, so near-ties may swap)."""
    keys, vecs = filled(index)
    rng = np.random.default_rng(1)
    allowed = rng.choice(keys, size=40, replace=False)
    q = unit(rng, 1)[0]
    hits = index.search(q, 10, allowed=allowed)
    assert len(hits) == 10 and {k for k, _ in hits} <= set(allowed.tolist())
    mask = np.isin(keys, allowed)
    truth = exact_top(keys[mask], vecs[mask], q, 10)
    if kind in ("exact", "faiss"):
        assert [k for k, _ in hits] == truth
    else:
        assert len(set(truth) & {k for k, _ in hits}) >= 9
        want = dict(zip(keys.tolist(), (vecs.astype(np.float64) @ q).tolist(), strict=True))
        assert all(abs(s - want[k]) < ATOL[kind] for k, s in hits)


def test_filtered_search_ignores_unknown_keys(index: V.VectorIndex) -> None:
    keys, vecs = filled(index, n=50)
    allowed = np.array([keys[3], keys[3], 999_999_999_999], np.int64)
    assert [k for k, _ in index.search(vecs[0], 5, allowed=allowed)] == [keys[3]]
    assert index.search(vecs[0], 5, allowed=np.array([], np.int64)) == []
    assert index.search(vecs[0], 5, allowed=np.array([999_999_999_999], np.int64)) == []


@needs_usearch
def test_filtered_search_large_allowed_set_uses_the_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above FILTER_BRUTE_FORCE_MAX the HNSW path over-fetches and widens until k allowed hits."""
    monkeypatch.setattr(V, "FILTER_BRUTE_FORCE_MAX", 10)
    index = V.USearchIndex(DIM)
    keys, vecs = filled(index, n=2000)
    rng = np.random.default_rng(2)
    allowed = rng.choice(keys, size=100, replace=False)  # 5%: needs several widenings
    q = unit(rng, 1)[0]
    hits = index.search(q, 10, allowed=allowed)
    assert len(hits) == 10 and {k for k, _ in hits} <= set(allowed.tolist())
    mask = np.isin(keys, allowed)
    truth = exact_top(keys[mask], vecs[mask], q, 10)
    assert len(set(truth) & {k for k, _ in hits}) >= 8


@needs_usearch
def test_usearch_recall_against_exact() -> None:
    rng = np.random.default_rng(11)
    vecs = clustered(rng, 3000, 64)
    keys = np.arange(3000, dtype=np.int64) * 3
    ann, exact = V.USearchIndex(64), V.ExactIndex(64)
    ann.add(keys, vecs)
    exact.add(keys, vecs)
    queries = clustered(rng, 50, 64)
    recall = np.mean([len({k for k, _ in ann.search(q, 10)} & {k for k, _ in exact.search(q, 10)}) / 10
                      for q in queries])
    assert recall >= 0.9


# --------------------------------------------------------------------------- persistence


def test_save_load_round_trip(index: V.VectorIndex, kind: str, tmp_path: Path) -> None:
    keys, vecs = filled(index, n=200)
    index.remove(keys[:5])
    path = tmp_path / "idx.psvec"
    index.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx.psvec"]  # no temp file left
    loaded = type(index).load(path)
    again = V.load_index(path)
    for other in (loaded, again):
        assert type(other) is type(index)
        assert len(other) == len(index) and other.dim == DIM and other.model_name == "test-model"
        assert sorted(other.keys().tolist()) == sorted(index.keys().tolist())
        for q in vecs[5:15]:
            assert [k for k, _ in other.search(q, 5)] == [k for k, _ in index.search(q, 5)]
    # a loaded index keeps working
    loaded.add(np.array([7], np.int64), vecs[:1])
    assert loaded.search(vecs[0], 1)[0][0] in (7, keys[0])


def test_save_empty_index(index: V.VectorIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "e")
    loaded = V.load_index(tmp_path / "e")
    assert len(loaded) == 0 and loaded.search(np.ones(DIM, np.float32), 3) == []


def test_save_overwrites_atomically(index: V.VectorIndex, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _, vecs = filled(index, n=20)
    path = tmp_path / "idx"
    index.save(path)
    before = path.read_bytes()
    index.add(np.array([5], np.int64), vecs[:1])

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(V, "_write_header", boom)
    with pytest.raises(OSError, match="disk full"):
        index.save(path)
    assert path.read_bytes() == before  # old file untouched
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # and no temp file left


def test_load_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"not an index at all")
    with pytest.raises(ValueError):
        V.load_index(bad)
    with pytest.raises(FileNotFoundError):
        V.load_index(tmp_path / "missing")


def test_load_wrong_kind(tmp_path: Path) -> None:
    V.ExactIndex(DIM).save(tmp_path / "x")
    if HAVE_USEARCH:
        with pytest.raises(ValueError):
            V.USearchIndex.load(tmp_path / "x")


def test_save_index_generations(tmp_path: Path) -> None:
    idx = V.ExactIndex(DIM)
    filled(idx, n=10)
    names = [V.save_index(idx, tmp_path / "index") for _ in range(4)]
    assert len(set(names)) == 4
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(names[-2:])  # newest + the one a stale state file may still name
    assert len(V.load_index(tmp_path / names[-1])) == 10


# --------------------------------------------------------------------------- factory


def test_make_index_picks_by_size() -> None:
    small = V.make_index(16, 1000, model_name="m")
    assert isinstance(small, V.ExactIndex) and small.model_name == "m"
    assert isinstance(V.make_index(16, V.EXACT_MAX), V.ExactIndex)


@needs_faiss
def test_make_index_large_is_ivf_with_measured_defaults() -> None:
    big = V.make_index(16, 1_000_000, model_name="m")
    assert isinstance(big, V.FaissIVFIndex) and big.model_name == "m"
    assert (big.nlist, big.nprobe, big.storage, big.train_size) == (2048, 64, "SQfp16", 39 * 2048)
    assert V.default_nlist(100_000) == 512 and V.default_nlist(10) == 64


@pytest.mark.parametrize("kind", [pytest.param("faiss", marks=needs_faiss),
                                  pytest.param("usearch", marks=needs_usearch)])
def test_convert_index_both_ways(kind: str) -> None:
    exact = V.ExactIndex(DIM, model_name="m")
    keys, vecs = filled(exact, n=100)
    ann = V.convert_index(exact, "faiss-ivf" if kind == "faiss" else kind)
    assert ann.model_name == "m" and len(ann) == 100
    back = V.convert_index(ann, "exact")
    assert sorted(back.keys().tolist()) == sorted(keys.tolist())
    assert back.search(vecs[3], 1)[0][0] == keys[3]
    np.testing.assert_allclose(back.vectors_for(keys[:5]), vecs[:5], atol=2e-3)


@needs_faiss
def test_upgrade_index_swaps_an_outgrown_exact_index() -> None:
    exact = V.ExactIndex(DIM, model_name="m")
    keys, vecs = filled(exact, n=300)
    assert V.upgrade_index(exact, 200) is exact  # still small
    ivf = V.upgrade_index(exact, 1000, exact_max=100)
    assert isinstance(ivf, V.FaissIVFIndex) and ivf.trained and ivf.nlist == 64 and len(ivf) == 300
    assert ivf.model_name == "m" and ivf.search(vecs[7], 1)[0][0] == keys[7]
    assert V.upgrade_index(ivf, 10**6) is ivf


@needs_faiss
def test_faiss_trains_once_enough_vectors_arrive() -> None:
    idx = V.FaissIVFIndex(DIM, nlist=8, train_size=100)
    rng = np.random.default_rng(4)
    keys = np.arange(150, dtype=np.int64)
    vecs = unit(rng, 150)
    idx.add(keys[:60], vecs[:60])
    assert not idx.trained and len(idx) == 60 and idx.search(vecs[5], 1)[0][0] == 5
    idx.add(keys[60:], vecs[60:])
    assert idx.trained and len(idx) == 150
    assert 5 in idx and 999 not in idx
    assert sorted(idx.keys().tolist()) == keys.tolist()
    idx.add(keys[:1], -vecs[:1])  # replace after training
    assert len(idx) == 150 and idx.search(-vecs[0], 1)[0][0] == 0


@needs_faiss
def test_faiss_ivf_recall_and_filtered_widening() -> None:
    rng = np.random.default_rng(12)
    vecs = clustered(rng, 5000, 64)
    keys = np.arange(5000, dtype=np.int64) * 5 + 1
    ivf = V.FaissIVFIndex(64, n_expected=5000, nprobe=16)  # default nlist 128; 1/8 of lists probed
    ivf.add(keys, vecs)
    assert ivf.trained and (ivf.nlist, ivf.nprobe) == (128, 16)
    exact = V.ExactIndex(64)
    exact.add(keys, vecs)
    queries = clustered(rng, 50, 64)
    recall = np.mean([len({k for k, _ in ivf.search(q, 10)} & {k for k, _ in exact.search(q, 10)}) / 10
                      for q in queries])
    assert recall >= 0.95
    allowed = rng.choice(keys, size=60, replace=False)  # 1.2%: widened to an exhaustive scan
    for q in queries[:10]:
        got = [k for k, _ in ivf.search(q, 10, allowed=allowed)]
        assert got == [k for k, _ in exact.search(q, 10, allowed=allowed)]
    common = rng.choice(keys, size=1500, replace=False)  # 30%: over-fetch, then filter
    overlap = []
    for q in queries[:20]:
        got = [k for k, _ in ivf.search(q, 10, allowed=common)]
        assert len(got) == 10 and set(got) <= set(common.tolist())
        overlap.append(len(set(got) & {k for k, _ in exact.search(q, 10, allowed=common)}) / 10)
    assert np.mean(overlap) >= 0.9


@needs_faiss
def test_faiss_untrained_round_trip(tmp_path: Path) -> None:
    idx = V.FaissIVFIndex(DIM, model_name="m", nlist=8, train_size=1000)
    keys, vecs = filled(idx, n=40)
    idx.save(tmp_path / "buf")
    loaded = V.load_index(tmp_path / "buf")
    assert isinstance(loaded, V.FaissIVFIndex) and not loaded.trained and len(loaded) == 40
    assert loaded.train_size == 1000 and loaded.search(vecs[9], 1)[0][0] == keys[9]
