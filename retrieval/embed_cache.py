"""Passage-vector cache for index builds: only texts that changed since the last build are embedded.

Embedding is most of a build (about a minute for the bundled corpus on this machine). When the
corpus repair improves a few hundred characters, or a lexical setting changes, the other vectors
are the same, so they are taken from the previous build's cache file instead of being recomputed.
Vectors are keyed by a hash of the exact text and the file is per model, so a stale vector can
never be served. It is not a query cache: queries are always encoded fresh.

Example:
    >>> EmbeddingCache.key("kubectl") == EmbeddingCache.key("kubectl")
    True
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from retrieval.dense import Embedder

log = logging.getLogger(__name__)


class EmbeddingCache:
    """Passage vectors of the previous build, by text hash: a rebuild only embeds texts that changed.

    One file per model (``models/embed-<model>.npz``), replaced atomically after each build and
    holding exactly that build's vectors. Any problem reading it just means embedding everything.
    """

    def __init__(self, folder: Path, *, model_id: str) -> None:
        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model_id)
        self.path = folder / f"embed-{slug}.npz"

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def load(self) -> dict[str, np.ndarray]:
        import numpy as np

        try:
            with np.load(self.path, allow_pickle=False) as data:
                return dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError) as exc:
            if self.path.exists():
                log.warning("ignoring the embedding cache %s: %s", self.path, exc)
            return {}

    def save(self, texts: list[str], vectors: np.ndarray) -> None:
        import numpy as np

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-embed-", suffix=".npz", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=np.asarray([self.key(t) for t in texts]), vectors=vectors)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def embed_with_cache(
    embedder: Embedder, texts: list[str], *, cache: EmbeddingCache | None, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, reusing cached ones; returns (vectors, how many were reused)."""
    import numpy as np

    known = cache.load() if cache else {}
    todo = [i for i, t in enumerate(texts) if EmbeddingCache.key(t) not in known]
    if progress and len(todo) < len(texts):
        progress(len(texts) - len(todo))
    fresh = embedder.encode_passages([texts[i] for i in todo], progress=progress) if todo else None
    if fresh is not None and len(todo) == len(texts):
        vecs = fresh
    else:
        dim = fresh.shape[1] if fresh is not None else len(next(iter(known.values())))
        vecs = np.zeros((len(texts), dim), dtype=np.float32)
        for i, t in enumerate(texts):
            if EmbeddingCache.key(t) in known:
                vecs[i] = known[EmbeddingCache.key(t)]
        if fresh is not None:
            vecs[np.asarray(todo)] = fresh
    if cache:
        cache.save(texts, vecs)
    return vecs, len(texts) - len(todo)
