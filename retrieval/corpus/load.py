"""Load the corpus: find the files, read and check them, repair, and parse Q&A files or notes.

A file is Q&A markdown when it has ``### YYYY-MM-DD：title`` session headings with questions under
them; otherwise it is a note, split into ``Doc`` chunks. Every problem a user can fix raises
``CorpusError`` naming the file (and line): a missing path, a file too large, not UTF-8, binary,
empty, or Q&A without sessions. Nothing is returned half-built: either the whole corpus loads or
the first problem is raised.

Example:
    >>> corpus = load_corpus([DEFAULT_CORPUS_DIR])
    >>> len(corpus.sessions)
    225
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.config import DEFAULT_CORPUS_DIR, RetrievalSettings
from retrieval.corpus.errors import CorpusError
from retrieval.corpus.ids import IdAllocator
from retrieval.corpus.models import QA, Corpus, Doc, Session, SourceFile
from retrieval.corpus.notes import DEFAULT_CHUNK_CHARS, split_note
from retrieval.corpus.parse import first_question_line, iter_session_headings, parse_qa_markdown
from retrieval.corpus.repair import repair_text

__all__ = [
    "DEFAULT_CORPUS_DIR",
    "CorpusFile",
    "decode_text",
    "find_files",
    "load_configured_corpus",
    "load_corpus",
]

MIB = 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 16 * MIB
SUFFIXES = (".txt", ".md", ".markdown")


@dataclass(frozen=True)
class CorpusFile:
    """A file to read: where it is, and the name stored on the models (relative to its folder)."""

    path: Path
    name: str


def find_files(paths: Sequence[Path]) -> list[CorpusFile]:
    """Files named directly, plus *.txt/*.md found recursively in folders (hidden ones skipped)."""
    if not paths:
        raise CorpusError("no corpus paths configured (retrieval.corpus_paths is empty)")
    found: list[CorpusFile] = []
    seen: set[Path] = set()
    for path in paths:
        path = Path(path).expanduser()
        if not path.exists():
            raise CorpusError(f"{path}: no such file or directory")
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not inside:
                raise CorpusError(f"{path}: folder has no .txt or .md files")
            candidates = [CorpusFile(p, p.relative_to(path).as_posix()) for p in inside]
        elif path.is_file():
            candidates = [CorpusFile(path, path.name)]
        else:
            raise CorpusError(f"{path}: not a regular file or folder")
        for candidate in candidates:
            key = candidate.path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def decode_text(raw: bytes, *, where: str, verbatim: bool = False) -> str:
    """Bytes to text with ``\\n`` line ends; refuses binary, non-UTF-8 and empty input.

    ``verbatim`` keeps a byte-order mark and ``\\r\\n`` as they are (for the repair filter).
    """
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise CorpusError(f"{where}:{line}: binary data (NUL byte), not a text file")
    if raw.startswith(b"\xef\xbb\xbf") and not verbatim:
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        raise CorpusError(
            f"{where}:{line}: not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    if not text.strip():
        raise CorpusError(f"{where}: empty file")
    if verbatim:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read(path: Path, *, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(_too_large(str(path), size, max_bytes))
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:  # grew while we looked
        raise CorpusError(_too_large(str(path), len(raw), max_bytes))
    return raw


def _too_large(where: str, size: int, max_bytes: int) -> str:
    return (
        f"{where}: file is {size / MIB:.1f} MiB, over the corpus file limit of {max_bytes / MIB:.1f} MiB "
        "(raise retrieval.corpus_max_file_mb, env FIRSTMATE_RETRIEVAL__CORPUS_MAX_FILE_MB)"
    )


def _is_qa(text: str, where: str) -> bool:
    has_sessions = next(iter_session_headings(text), None) is not None
    first_question, questions = first_question_line(text)
    if has_sessions:
        return questions > 0 or "\nA：" in text or "\nA:" in text
    if questions >= 2:
        raise CorpusError(
            f"{where}:{first_question}: {questions} '> Q…' questions but no session heading "
            "('### YYYY-MM-DD：title'); a Q&A file needs one above each session's questions"
        )
    return False


def _uncertain_lines(text: str, offsets: Sequence[int] | None) -> dict[int, int] | None:
    """Uncertain characters per line, when the repair says where they are (character offsets).

    Without offsets the parser counts U+FFFD in each Q&A, which is how an unsettled character
    shows when the repair leaves it as a replacement character.
    """
    if offsets is None:
        return None
    starts = list(itertools.accumulate((len(line) + 1 for line in text.split("\n")), initial=0))
    counts: dict[int, int] = {}
    for offset in offsets:
        line = bisect.bisect_right(starts, offset)
        counts[line] = counts.get(line, 0) + 1
    return counts


def load_corpus(
    paths: Sequence[Path],
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    note_chunk_chars: int = DEFAULT_CHUNK_CHARS,
) -> Corpus:
    """Read, repair and parse every corpus file under ``paths`` into one typed ``Corpus``."""
    ids = IdAllocator()
    sessions: list[Session] = []
    qas: list[QA] = []
    docs: list[Doc] = []
    files: list[SourceFile] = []
    repaired = uncertain = 0
    for item in find_files(paths):
        where = str(item.path)
        raw = _read(item.path, max_bytes=max_file_bytes)
        result = repair_text(decode_text(raw, where=where))
        text = result.text
        repaired += result.repaired
        uncertain += result.uncertain
        digest = hashlib.sha256(raw).hexdigest()
        if _is_qa(text, where):
            lines = _uncertain_lines(text, getattr(result, "uncertain_offsets", None))
            parsed = parse_qa_markdown(text, source=item.name, where=where, ids=ids, uncertain_lines=lines)
            sessions.extend(parsed.sessions)
            qas.extend(parsed.qas)
            files.append(
                SourceFile(
                    name=item.name,
                    path=where,
                    kind="qa",
                    sha256=digest,
                    size=len(raw),
                    sessions=len(parsed.sessions),
                    qas=len(parsed.qas),
                    repaired_chars=result.repaired,
                    uncertain_chars=result.uncertain,
                    noise_chars_removed=parsed.noise_chars_removed,
                )
            )
        else:
            chunks = split_note(text, source=item.name, max_chars=note_chunk_chars, ids=ids)
            docs.extend(chunks)
            files.append(
                SourceFile(
                    name=item.name,
                    path=where,
                    kind="notes",
                    sha256=digest,
                    size=len(raw),
                    docs=len(chunks),
                    repaired_chars=result.repaired,
                    uncertain_chars=result.uncertain,
                )
            )
    if not sessions and not docs:
        names = ", ".join(str(p) for p in paths)
        raise CorpusError(f"{names}: no Q&A sessions and no note text found")
    return Corpus(
        sessions=tuple(sessions),
        qas=tuple(qas),
        docs=tuple(docs),
        repaired_chars=repaired,
        uncertain_chars=uncertain,
        files=tuple(files),
    )


def load_configured_corpus(settings: RetrievalSettings) -> Corpus:
    """``load_corpus`` with the paths and limits from the settings."""
    return load_corpus(
        settings.corpus_paths,
        max_file_bytes=int(settings.corpus_max_file_mb * MIB),
        note_chunk_chars=settings.note_chunk_chars,
    )
