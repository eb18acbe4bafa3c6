"""Index build and load: corpus → entries → BM25 + vectors, persisted with a manifest.

Layout under ``build_dir``::

    current -> index-20240601T120000-ab12cd/   (symlink, swapped atomically with os.replace)
    index-…/manifest.json   corpus hash, model id, tokenizer version, settings, build time, file hashes
    index-…/entries.json    the servable Q&As and note chunks with their citations
    index-…/bm25/           bm25s index (question counted twice + answer)
    index-…/vectors.faiss   FAISS index (ids: entry number, or 2·n / 2·n+1 for question/answer vectors)
    index-…/domain_words.txt
    index-…/crosslingual.json  English → Chinese words mined from CC-CEDICT for this corpus

A build writes a fresh folder, then swaps the symlink: a crash mid-build leaves the previous index
untouched. A lock file keeps two builds from racing. Loading checks the manifest against the
corpus and the settings (stale → rebuild) and every file's hash (truncated/corrupted → rebuild).

Example:
    >>> from retrieval.config import RetrievalSettings
    >>> len(settings_hash(RetrievalSettings(), model_id="hash-ngram-v1-256"))
    16
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.config import RetrievalSettings
from retrieval.corpus.repair_domain import steering_files
from retrieval.crosslingual import CrossLingual, english_words, mine_reverse, mine_table, read_cedict
from retrieval.dense import Embedder
from retrieval.embed_cache import EmbeddingCache, embed_with_cache
from retrieval.entries import ENTRIES_VERSION, Entry, entries_from_corpus
from retrieval.lexical import LexicalIndex, Tokenizer, mine_domain_words
from retrieval.vectors import VectorStore

if TYPE_CHECKING:
    import numpy as np

    from retrieval.corpus.models import Corpus

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
CURRENT = "current"
CORPUS_SUFFIXES = (".txt", ".md", ".markdown")
REBUILD_HINT = "run `firstmate index build --force` to rebuild it"


class IndexUnavailable(RuntimeError):
    """No usable index: the message says what is wrong and how to rebuild."""


class IndexStale(IndexUnavailable):
    """The index was built from another corpus or other settings."""


@dataclass(frozen=True)
class LoadedIndex:
    """Everything search needs, in memory."""

    path: Path
    manifest: dict[str, Any]
    entries: list[Entry]
    lexical: LexicalIndex
    vectors: VectorStore
    tokenizer: Tokenizer
    vectors_per_entry: int
    crosslingual: CrossLingual = field(default_factory=lambda: CrossLingual({}))


def corpus_files(paths: list[Path]) -> list[Path]:
    """The corpus files, in a stable order; a missing path is an error that names it."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CORPUS_SUFFIXES))
        else:
            raise IndexUnavailable(f"{path}: corpus path not found (retrieval.corpus_paths)")
    if not files:
        raise IndexUnavailable(f"no corpus files (*.txt, *.md) under {', '.join(map(str, paths))}")
    return files


def corpus_hash(paths: list[Path]) -> str:
    """Content hash of the corpus files plus the corpus-stage code that turns them into Q&As.

    Hashing the parser/repair sources means an improved repair triggers a rebuild even though the
    seed files did not change; hashing bytes (not names or paths) means a fresh clone elsewhere
    reuses nothing it should not and rebuilds nothing it need not.
    """
    h = hashlib.sha256(f"entries-v{ENTRIES_VERSION}".encode())
    for f in corpus_files(paths):
        h.update(hashlib.sha256(f.read_bytes()).digest())
    code_dir = Path(__file__).resolve().parent / "corpus"
    # The parser's code, and the repair's code, lexicon and training text.
    for src in sorted({*code_dir.glob("*.py"), *steering_files()}):
        h.update(src.relative_to(code_dir).as_posix().encode())
        h.update(hashlib.sha256(src.read_bytes()).digest())
    h.update(hashlib.sha256((Path(__file__).resolve().parent / "entries.py").read_bytes()).digest())
    return h.hexdigest()[:32]


def settings_hash(settings: RetrievalSettings, *, model_id: str) -> str:
    payload = json.dumps({"settings": settings.index_fingerprint(), "model": model_id}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def load_corpus(settings: RetrievalSettings) -> Corpus:
    """The typed corpus from the configured paths (parse + repair stages)."""
    from retrieval.corpus.errors import CorpusError
    from retrieval.corpus.load import load_configured_corpus

    try:
        return load_configured_corpus(settings)
    except CorpusError as exc:
        raise IndexUnavailable(f"cannot read the corpus: {exc}") from exc


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def heading(entry: Entry) -> str:
    """What plays the question: the question of a Q&A, the heading path of a note chunk."""
    return entry.title if entry.kind == "doc" else entry.question


def _texts_to_embed(entries: list[Entry], mode: str) -> tuple[list[str], int]:
    if mode == "joint":
        return [f"{heading(e)}\n{e.answer}" for e in entries], 1
    if mode == "question":
        return [heading(e) for e in entries], 1
    texts: list[str] = []
    for e in entries:
        texts.extend((heading(e), e.answer))
    return texts, 2


def lexical_document(tokenizer: Tokenizer, entry: Entry, *, question_boost: int, title_boost: int = 0) -> list[str]:
    """BM25 tokens of an entry: the question (heading) counts ``question_boost`` times, then the answer
    (and a Q&A's session title ``title_boost`` times)."""
    title = tokenizer.tokenize(entry.title) * title_boost if title_boost and entry.kind == "qa" else []
    return tokenizer.tokenize(heading(entry)) * question_boost + tokenizer.tokenize(entry.answer) + title


@contextlib.contextmanager
def _build_lock(build_dir: Path) -> Iterator[None]:
    build_dir.mkdir(parents=True, exist_ok=True)
    with (build_dir / ".build.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _progress_bar(total: int, *, enabled: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="text", file=sys.stderr, disable=not enabled, leave=False)


def build_index(
    settings: RetrievalSettings,
    *,
    embedder: Embedder,
    corpus: Corpus | None = None,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
) -> Path:
    """Build the index into a new folder and make it current. Returns the new folder."""
    started = time.perf_counter()
    note = say or (lambda msg: log.info("%s", msg))
    build_dir = Path(settings.build_dir)
    with _build_lock(build_dir):
        waited = time.perf_counter() - started
        if waited > 1:
            note(f"waited {waited:.0f}s for another build to finish")
        started = time.perf_counter()
        c_hash = corpus_hash(list(settings.corpus_paths))
        corpus = corpus if corpus is not None else load_corpus(settings)
        entries = entries_from_corpus(corpus)
        if not entries:
            raise IndexUnavailable("the corpus has no servable Q&As; nothing to index")
        t_load = time.perf_counter()

        texts_all = [f"{heading(e)}\n{e.answer}" for e in entries]
        domain = mine_domain_words(texts_all) if settings.mine_domain_words and settings.tokenizer_mode in ("jieba", "mix", "mixuni") else []
        if settings.crosslingual:
            cedict = read_cedict()
            cross = CrossLingual(
                mine_table(texts_all, entries=cedict),
                mine_reverse(texts_all, entries=cedict),
                english_words(cedict),
            )
        else:
            cross = CrossLingual({})
        tokenizer = Tokenizer(mode=settings.tokenizer_mode, domain_words=domain)
        docs = [lexical_document(tokenizer, e, question_boost=settings.question_boost, title_boost=settings.title_boost)
                for e in entries]
        lexical = LexicalIndex.build(docs, k1=settings.bm25_k1, b=settings.bm25_b)
        t_lex = time.perf_counter()

        texts, per_entry = _texts_to_embed(entries, settings.embed_text)
        embedder.warm_up()
        cache = EmbeddingCache(build_dir / "models", model_id=embedder.model_id) if settings.embed_cache else None
        with _progress_bar(len(texts), enabled=progress, desc="embedding") as bar:
            vecs, reused = embed_with_cache(embedder, texts, cache=cache, progress=bar.update)
        import numpy as np

        vectors = VectorStore.build(
            vecs, np.arange(len(texts), dtype=np.int64), kind=settings.vector_index,
            hnsw_m=settings.hnsw_m, ivf_nlist=settings.ivf_nlist,
        )
        t_vec = time.perf_counter()

        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-index-", dir=build_dir))
        try:
            (tmp / "entries.json").write_text(
                json.dumps([e.to_json() for e in entries], ensure_ascii=False), encoding="utf-8"
            )
            (tmp / "domain_words.txt").write_text("\n".join(domain) + ("\n" if domain else ""), encoding="utf-8")
            (tmp / "crosslingual.json").write_text(json.dumps(cross.to_json(), ensure_ascii=False), encoding="utf-8")
            lexical.save(str(tmp / "bm25"))
            vectors.save(tmp / "vectors.faiss")
            files = {
                str(p.relative_to(tmp)): {"sha256": _file_sha(p), "size": p.stat().st_size}
                for p in sorted(tmp.rglob("*"))
                if p.is_file()
            }
            manifest = {
                "format": FORMAT_VERSION,
                "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "build_seconds": round(time.perf_counter() - started, 2),
                "timings": {
                    "corpus_s": round(t_load - started, 2),
                    "lexical_s": round(t_lex - t_load, 2),
                    "vectors_s": round(t_vec - t_lex, 2),
                },
                "vectors_reused": reused,
                "corpus_hash": c_hash,
                "corpus_files": [str(p) for p in corpus_files(list(settings.corpus_paths))],
                "settings_hash": settings_hash(settings, model_id=embedder.model_id),
                "settings": settings.index_fingerprint(),
                "model_id": embedder.model_id,
                "dim": vectors.dim,
                "tokenizer_version": tokenizer.version,
                "entries": len(entries),
                "note_chunks": sum(e.kind == "doc" for e in entries),
                "qas_in_corpus": len(corpus.qas),
                "vectors": vectors.size,
                "vectors_per_entry": per_entry,
                "files": files,
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            final = build_dir / f"index-{stamp}-{c_hash[:6]}-{secrets.token_hex(3)}"
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        link_tmp = build_dir / f".current-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            link_tmp.unlink()
        link_tmp.symlink_to(final.name)
        os.replace(link_tmp, build_dir / CURRENT)
        _remove_old(build_dir, keep=final)
        note(
            f"index built: {len(entries)} entries ({sum(e.kind == 'doc' for e in entries)} note chunks), {vectors.size} vectors ({embedder.model_id}, {settings.vector_index}) "
            f"in {time.perf_counter() - started:.1f}s → {final}"
        )
        return final


def _remove_old(build_dir: Path, *, keep: Path) -> None:
    for old in build_dir.iterdir():
        if old == keep or old.name == CURRENT or old.name.startswith(".build"):
            continue
        if old.is_dir() and (old.name.startswith("index-") or old.name.startswith(".tmp-index-")):
            shutil.rmtree(old, ignore_errors=True)


def current_path(settings: RetrievalSettings) -> Path:
    return Path(settings.build_dir) / CURRENT


def read_manifest(settings: RetrievalSettings) -> dict[str, Any]:
    """The current index's manifest; `IndexUnavailable` when missing or unreadable."""
    path = current_path(settings)
    mf = path / "manifest.json"
    if not mf.is_file():
        raise IndexUnavailable(f"no index at {settings.build_dir}; {REBUILD_HINT.replace(' --force', '')}")
    try:
        manifest: dict[str, Any] = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"index manifest {mf} is unreadable ({exc}); {REBUILD_HINT}") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexStale(f"index at {path} has format {manifest.get('format')}, expected {FORMAT_VERSION}")
    return manifest


def staleness(settings: RetrievalSettings, manifest: dict[str, Any], *, model_id: str) -> str | None:
    """Why the index no longer matches the corpus or settings, or None when it is current."""
    if manifest.get("settings_hash") != settings_hash(settings, model_id=model_id):
        if manifest.get("model_id") != model_id:
            return f"embedding model changed ({manifest.get('model_id')} → {model_id})"
        return "retrieval settings changed"
    if manifest.get("corpus_hash") != corpus_hash(list(settings.corpus_paths)):
        return "corpus changed"
    return None


def load_index(
    settings: RetrievalSettings, *, model_id: str, verify: bool = True, check_fresh: bool = True
) -> LoadedIndex:
    """Load the current index; raises `IndexStale` or `IndexUnavailable` (with a rebuild hint).

    ``check_fresh=False`` skips the corpus/settings comparison (right after a build, or to measure
    an existing index as it is); file integrity is still verified.
    """
    manifest = read_manifest(settings)
    reason = staleness(settings, manifest, model_id=model_id) if check_fresh else None
    if reason:
        raise IndexStale(f"index is stale: {reason}")
    path = current_path(settings).resolve()
    if verify:
        for name, meta in manifest.get("files", {}).items():
            f = path / name
            if not f.is_file() or f.stat().st_size != meta["size"] or _file_sha(f) != meta["sha256"]:
                raise IndexUnavailable(f"index file {f} is missing, truncated or corrupted; {REBUILD_HINT}")
    try:
        entries = [Entry.from_json(d) for d in json.loads((path / "entries.json").read_text(encoding="utf-8"))]
        words = (path / "domain_words.txt").read_text(encoding="utf-8").split()
        cross_path = path / "crosslingual.json"
        cross = CrossLingual.from_json(json.loads(cross_path.read_text(encoding="utf-8")) if cross_path.is_file() else {})
        tokenizer = Tokenizer(mode=manifest["settings"]["tokenizer_mode"], domain_words=words)
        lexical = LexicalIndex.load(str(path / "bm25"))
        vectors = VectorStore.load(path / "vectors.faiss", kind=manifest["settings"]["vector_index"])
    except Exception as exc:  # any parse/IO error of a damaged index
        raise IndexUnavailable(f"index at {path} cannot be loaded ({type(exc).__name__}: {exc}); {REBUILD_HINT}") from exc
    if tokenizer.version != manifest.get("tokenizer_version") or lexical.num_docs != len(entries):
        raise IndexStale("index was built by another tokenizer version")
    vectors.tune(hnsw_ef_search=settings.hnsw_ef_search, ivf_nprobe=settings.ivf_nprobe)
    return LoadedIndex(
        path=path,
        manifest=manifest,
        entries=entries,
        lexical=lexical,
        vectors=vectors,
        tokenizer=tokenizer,
        crosslingual=cross,
        vectors_per_entry=int(manifest.get("vectors_per_entry", 1)),
    )


def entry_vectors(index: LoadedIndex, ids: np.ndarray) -> np.ndarray:
    """Entry number of each vector id (two vectors per entry in 'separate' mode)."""
    out: np.ndarray = ids // index.vectors_per_entry
    return out
