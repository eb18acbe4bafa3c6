"""Writes BERT encoder graphs for ONNX Runtime, for both local models (MiniLM, multilingual-e5).

Why one writer: the two encoders differ only in where the weights come from (float32 safetensors,
or 4-bit blocks expanded and then stored as int8) and in how token vectors enter the graph.
The layer stack is the same: self-attention, exact-erf GELU feed-forward, post-LayerNorm, then the
mean over tokens and L2 normalisation.

One sequence per run, shape ``[tokens, hidden]``: a query is one sequence, and passages are run one
by one (no padding to compute).

Example:
    >>> g = GraphWriter(eps=1e-12)
    >>> g.node("Identity", ["x"]) == "identity_0"
    True
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

Dense = Callable[[str], str]  # one linear layer (weights + bias) applied to a tensor name


class GraphWriter:
    """Collects initializers and nodes; `encoder_layer` appends one transformer block."""

    def __init__(self, *, eps: float) -> None:
        self.eps = eps
        self.inits: list[Any] = []
        self.nodes: list[Any] = []

    def init(self, name: str, arr: np.ndarray) -> str:
        import numpy as np
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def layer_norm(self, x: str, name: str, weight: np.ndarray, bias: np.ndarray) -> str:
        return self.node("LayerNormalization", [x, self.init(name + ".w", weight), self.init(name + ".b", bias)], axis=-1, epsilon=self.eps)

    def dense(self, name: str, weight_in_out: np.ndarray, bias: np.ndarray) -> Dense:
        """A float32 linear layer; ``weight_in_out`` is (in, out)."""
        w, b = self.init(name + ".W", weight_in_out), self.init(name + ".B", bias)
        return lambda x: self.node("Add", [self.node("MatMul", [x, w]), b])

    def embeddings(self, words: str, *, positions: np.ndarray, type0: np.ndarray, ln: tuple[np.ndarray, np.ndarray]) -> str:
        """word vectors + position vectors (input ``pos``) + token type 0, then LayerNorm."""
        pos = self.node("Gather", [self.init("pos_emb", positions), "pos"], axis=0)
        x = self.node("Add", [self.node("Add", [words, pos]), self.init("type0", type0)])
        return self.layer_norm(x, "embeddings.LayerNorm", *ln)

    def encoder_layer(
        self,
        x: str,
        index: int,
        *,
        hidden: int,
        heads: int,
        qkv: Dense,
        attn_out: Dense,
        attn_ln: tuple[np.ndarray, np.ndarray],
        ffn_in: Dense,
        ffn_out: Dense,
        out_ln: tuple[np.ndarray, np.ndarray],
    ) -> str:
        import numpy as np
        from onnx import helper

        if index == 0:
            self.init("split_heads", np.array([-1, heads, hidden // heads], np.int64))
            self.init("merge_heads", np.array([-1, hidden], np.int64))
            self.init("scale", np.array(1.0 / math.sqrt(hidden // heads), np.float32))
            self.init("thirds", np.array([hidden, hidden, hidden], np.int64))
        q, k, v = (f"{part}{index}" for part in "qkv")
        self.nodes.append(helper.make_node("Split", [qkv(x), "thirds"], [q, k, v], axis=-1))
        q = self.node("Transpose", [self.node("Reshape", [q, "split_heads"])], perm=[1, 0, 2])
        k = self.node("Transpose", [self.node("Reshape", [k, "split_heads"])], perm=[1, 2, 0])
        v = self.node("Transpose", [self.node("Reshape", [v, "split_heads"])], perm=[1, 0, 2])
        att = self.node("Softmax", [self.node("Mul", [self.node("MatMul", [q, k]), "scale"])], axis=-1)
        ctx = self.node("Reshape", [self.node("Transpose", [self.node("MatMul", [att, v])], perm=[1, 0, 2]), "merge_heads"])
        x = self.layer_norm(self.node("Add", [attn_out(ctx), x]), f"layer{index}.attn_ln", *attn_ln)
        ffn = self.node("Gelu", [ffn_in(x)])  # exact (erf) GELU, as BERT uses
        return self.layer_norm(self.node("Add", [ffn_out(ffn), x]), f"layer{index}.out_ln", *out_ln)

    def save(self, x: str, out: Path, *, inputs: list[Any], hidden: int, normalize: bool) -> None:
        """Mean-pool ``x`` into output ``vec`` [1, hidden] and write the model atomically."""
        import numpy as np
        from onnx import TensorProto, helper

        pooled = self.node("ReduceMean", [x, self.init("axis0", np.array([0], np.int64))], keepdims=1)
        if normalize:
            self.nodes.append(helper.make_node("LpNormalization", [pooled], ["vec"], axis=1, p=2))
        else:
            self.nodes.append(helper.make_node("Identity", [pooled], ["vec"]))
        graph = helper.make_graph(
            self.nodes, "sentence-encoder", inputs, [helper.make_tensor_value_info("vec", TensorProto.FLOAT, [1, hidden])], self.inits
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
        model.ir_version = 9
        write_atomic(out, model.SerializeToString())


def write_atomic(out: Path, data: bytes) -> None:
    """Temp file + rename, readable by other users (the bot may run as another user than the build)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=out.suffix, dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def drop_older_graphs(path: Path) -> None:
    """Delete cached graphs of earlier weights or builder versions: same name up to the last '-'."""
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(f"{prefix}*.onnx"):
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink(missing_ok=True)
