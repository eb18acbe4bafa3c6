"""Query-time encoder for BERT-style sentence-transformers models, in plain numpy.

Why: importing torch + sentence-transformers takes ~6 s on this machine, which alone would break
the "`firstmate ask` from a fresh process in ≤ 3 s" target. A query is a few dozen tokens, so the
forward pass of a 6-layer MiniLM is a handful of small matrix products that numpy does in a few
milliseconds. The index itself is still built with sentence-transformers; a slow test checks that
both produce the same vectors.

Supported: `model_type == "bert"`, mean pooling, optional Normalize — the layout of
all-MiniLM-L6-v2 and most of the sentence-transformers BERT family. Anything else raises
`UnsupportedModel`, and the caller falls back to sentence-transformers.

Example:
    >>> supports(Path("/nonexistent"))
    False
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


_INV_SQRT2 = 1.0 / math.sqrt(2.0)


class UnsupportedModel(ValueError):
    """The model folder is not a BERT + mean-pooling sentence-transformers model."""


def _read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def supports(model_dir: Path) -> bool:
    """True when ``model_dir`` can be run by `NumpyBertEncoder`."""
    try:
        _check(model_dir)
    except (UnsupportedModel, OSError, ValueError):
        return False
    return True


def _check(model_dir: Path) -> tuple[dict[str, Any], bool, int]:
    config = _read_json(model_dir / "config.json")
    if config.get("model_type") != "bert" or config.get("hidden_act", "gelu") != "gelu":
        raise UnsupportedModel(f"{model_dir}: not a BERT model with GELU")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise UnsupportedModel(f"{model_dir}: unsupported position embeddings")
    if not (model_dir / "tokenizer.json").is_file() or not (model_dir / "model.safetensors").is_file():
        raise UnsupportedModel(f"{model_dir}: needs tokenizer.json and model.safetensors")
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Normalize",) for k in kinds[2:]):
        raise UnsupportedModel(f"{model_dir}: module stack {kinds} is not Transformer+Pooling(+Normalize)")
    pooling_dir = model_dir / modules[1].get("path", "1_Pooling")
    pooling = _read_json(pooling_dir / "config.json")
    if not pooling.get("pooling_mode_mean_tokens") or any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    ):
        raise UnsupportedModel(f"{model_dir}: only mean pooling is supported")
    st_config = model_dir / "sentence_bert_config.json"
    max_len = int(_read_json(st_config).get("max_seq_length", 256)) if st_config.is_file() else 256
    return config, "Normalize" in kinds, max_len


class NumpyBertEncoder:
    """Mean-pooled BERT sentence embeddings with numpy; same numbers as sentence-transformers."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config, self.normalize, self.max_len = _check(model_dir)
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        import numpy as np

        raw = load_file(str(model_dir / "model.safetensors"))
        # Own, aligned float32 copies; dense weights pre-transposed so each product is a plain GEMM.
        self.w = {}
        for key, value in raw.items():
            name = key.removeprefix("bert.")
            arr = np.asarray(value, dtype=np.float32)
            if name.endswith(".weight") and arr.ndim == 2 and not name.startswith("embeddings."):
                arr = arr.T
            self.w[name] = np.ascontiguousarray(arr)
        # Query, key and value projections fused into one product per layer.
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}.attention.self."
            self.w[p + "qkv.weight"] = np.ascontiguousarray(
                np.concatenate([self.w[p + f"{t}.weight"] for t in ("query", "key", "value")], axis=1)
            )
            self.w[p + "qkv.bias"] = np.concatenate([self.w[p + f"{t}.bias"] for t in ("query", "key", "value")])
        self.dim = int(self.w["embeddings.word_embeddings.weight"].shape[1])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.tokenizer.no_padding()
        from threadpoolctl import ThreadpoolController

        self._blas = ThreadpoolController()

    def _ln(self, x: np.ndarray, name: str) -> np.ndarray:
        import numpy as np

        x = x - x.mean(-1, keepdims=True)
        var = np.einsum("ij,ij->i", x, x)[:, None] / x.shape[-1]
        x *= 1.0 / np.sqrt(var + self.eps)
        x *= self.w[name + ".weight"]
        x += self.w[name + ".bias"]
        return x

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        out: np.ndarray = x @ self.w[name + ".weight"]
        out += self.w[name + ".bias"]
        return out

    def encode_one(self, text: str) -> np.ndarray:
        """One unit-length (if the model normalizes) float32 vector for ``text``."""
        # One BLAS thread: these products are tiny, and waking a second thread on a shared 2-core
        # machine costs more than the arithmetic (measured 10 ms vs 0.4 ms per product).
        with self._blas.limit(limits=1, user_api="blas"):
            return self._encode(text)

    def _encode(self, text: str) -> np.ndarray:
        import numpy as np
        from scipy.special import erf

        enc = self.tokenizer.encode(text)
        ids = np.asarray(enc.ids, dtype=np.int64)
        types = np.asarray(enc.type_ids, dtype=np.int64)
        n = len(ids)
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        h, d = self.heads, self.dim // self.heads
        # Python floats, not numpy float64 scalars: those would silently promote every product to
        # float64 and convert each weight matrix on the fly (measured: 2× slower).
        scale = 1.0 / math.sqrt(d)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            qkv = self._dense(x, p + "attention.self.qkv")
            q = qkv[:, : self.dim].reshape(n, h, d).transpose(1, 0, 2)
            k = qkv[:, self.dim : 2 * self.dim].reshape(n, h, d).transpose(1, 2, 0)
            v = qkv[:, 2 * self.dim :].reshape(n, h, d).transpose(1, 0, 2)
            att = q @ k * scale
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(1, 0, 2).reshape(n, self.dim)
            x = self._ln(self._dense(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            inter = self._dense(x, p + "intermediate.dense")
            gate = erf(inter * _INV_SQRT2)  # exact (erf) GELU, in place: x·(1 + erf(x/√2))/2
            gate += 1.0
            gate *= 0.5
            inter *= gate
            x = self._ln(self._dense(inter, p + "output.dense") + x, p + "output.LayerNorm")
        assert x.dtype == np.float32, x.dtype
        vec = x.mean(0)
        if self.normalize:
            vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return vec.astype(np.float32)
