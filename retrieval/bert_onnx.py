"""Query-time encoder for BERT sentence-transformers models on ONNX Runtime (same vectors, ~2× faster).

Why: a query costs one forward pass of a 6-layer MiniLM. The numpy port (`bert_numpy`) does it in
~10 ms on this machine; ONNX Runtime's fused CPU kernels do the same float32 arithmetic in ~4–5 ms,
which is most of the warm-query budget. The graph is written here from the model's safetensors
(no torch, no export step that needs the hub): embeddings → N × (self-attention, GELU feed-forward,
post-LayerNorm) → mean over tokens → L2 normalisation, exactly what `bert_numpy` computes (a test
checks the two agree).

Building the graph needs the `onnx` package and ~1 s, so the file is written once per model into a
cache folder (atomically: temp file + rename) and reused; loading it takes ~0.1 s. Anything that goes
wrong (runtime missing, unreadable file) raises `OnnxUnavailable`, and the caller falls back to numpy.

Example:
    >>> cache_name(Path("/nonexistent"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/model.safetensors'
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.bert_numpy import _check
from retrieval.onnx_graph import Dense, GraphWriter, drop_older_graphs

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

GRAPH_VERSION = "1"


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime (or the `onnx` package, to write the graph) is missing, or the graph is unusable."""


def cache_name(model_dir: Path) -> str:
    """File name of the graph for this model: changes when the weights or this builder change.

    The weights are identified by path, size and modification time rather than hashed: hashing
    90 MB would cost ~0.2 s on every fresh `firstmate ask`.
    """
    h = hashlib.sha256(f"bert-onnx-v{GRAPH_VERSION}".encode())
    st = (model_dir / "model.safetensors").stat()
    h.update(f"{model_dir.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update((model_dir / "config.json").read_bytes())
    return f"{model_dir.parent.name if model_dir.name == 'model' else model_dir.name}-{h.hexdigest()[:16]}.onnx"


def write_graph(model_dir: Path, out: Path) -> None:
    """Write the encoder graph of ``model_dir`` to ``out`` (atomically)."""
    try:
        import numpy as np
        from onnx import TensorProto, helper
        from safetensors.numpy import load_file
    except ImportError as exc:
        raise OnnxUnavailable(f"cannot write the ONNX query encoder: {exc}") from exc
    config, normalize, _ = _check(model_dir)
    raw = {k.removeprefix("bert."): np.asarray(v, dtype=np.float32) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
    hidden = int(config["hidden_size"])
    g = GraphWriter(eps=float(config.get("layer_norm_eps", 1e-12)))

    def ln(name: str) -> tuple[np.ndarray, np.ndarray]:
        return raw[name + ".weight"], raw[name + ".bias"]

    def dense(name: str) -> Dense:
        return g.dense(name, raw[name + ".weight"].T, raw[name + ".bias"])

    words = g.node("Gather", [g.init("word_emb", raw["embeddings.word_embeddings.weight"]), "ids"], axis=0)
    x = g.embeddings(
        words,
        positions=raw["embeddings.position_embeddings.weight"],
        type0=raw["embeddings.token_type_embeddings.weight"][0],
        ln=ln("embeddings.LayerNorm"),
    )
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        a = p + "attention.self."
        qkv = g.dense(
            a + "qkv",
            np.concatenate([raw[a + t + ".weight"].T for t in ("query", "key", "value")], axis=1),
            np.concatenate([raw[a + t + ".bias"] for t in ("query", "key", "value")]),
        )
        x = g.encoder_layer(
            x,
            i,
            hidden=hidden,
            heads=int(config["num_attention_heads"]),
            qkv=qkv,
            attn_out=dense(p + "attention.output.dense"),
            attn_ln=ln(p + "attention.output.LayerNorm"),
            ffn_in=dense(p + "intermediate.dense"),
            ffn_out=dense(p + "output.dense"),
            out_ln=ln(p + "output.LayerNorm"),
        )
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["tokens"]) for n in ("ids", "pos")]
    g.save(x, out, inputs=inputs, hidden=hidden, normalize=normalize)


def ensure_graph(model_dir: Path, cache_dir: Path) -> Path:
    """The cached graph file for ``model_dir``, written first when missing."""
    path = cache_dir / cache_name(model_dir)
    if not path.is_file():
        log.info("writing the ONNX query encoder %s", path)
        write_graph(model_dir, path)
        drop_older_graphs(path)
    return path


class OnnxBertEncoder:
    """Mean-pooled BERT sentence embeddings on ONNX Runtime, one thread; same numbers as `bert_numpy`."""

    def __init__(self, model_dir: Path, *, cache_dir: Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise OnnxUnavailable("onnxruntime is not installed") from exc
        from tokenizers import Tokenizer

        _, _, max_len = _check(model_dir)
        try:
            path = ensure_graph(model_dir, cache_dir)
        except OSError as exc:  # e.g. a read-only cache folder
            raise OnnxUnavailable(f"cannot write the ONNX query encoder into {cache_dir}: {exc}") from exc
        opts = ort.SessionOptions()
        # One thread: a query is a few tiny products; waking a second thread on a shared 2-core
        # machine costs more than it saves (same finding as for numpy's BLAS).
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged cache file: drop it so the next start rewrites it
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            raise OnnxUnavailable(f"cannot load {path}: {exc}") from exc
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_len)
        self.tokenizer.no_padding()
        self.path = path

    def encode_one(self, text: str) -> np.ndarray:
        """One float32 vector for ``text`` (unit length when the model normalizes)."""
        import numpy as np

        ids = np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)
        out = self._session.run(None, {"ids": ids, "pos": np.arange(len(ids), dtype=np.int64)})[0]
        vec: np.ndarray = np.asarray(out[0], dtype=np.float32)
        return vec

