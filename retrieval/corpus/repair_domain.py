"""Domain text for the repair, learned from the vendored damaged corpus and cached on disk.

The vendored Q&A corpus is 1.6 MB of how ops people write (容器中, 卷 as a word of its own, 告警
and 凭证), but its damaged characters are damaged everywhere, so it cannot be read as it is. It is
repaired once by a first decoder (general models, the in-domain model of the training text alone,
and EM over the corpus's own 38k damaged characters); the repaired text then joins the training
text in the in-domain Kneser-Ney model that repairs every other input (a benchmark text, a user's
file). The training text writes 里 where the corpus writes 中; together they are balanced. The
corpus files themselves keep that first repair: counting their own choices again as evidence would
only make the repair surer of them, not better.

That first repair takes several seconds, so its output is cached as plain text under
``index/build/repair/``, keyed by a hash of the corpus files, the lexicon, the training text and
the repair's code: a change to any of them rebuilds it. A read-only or missing build folder only
costs the time.

Example:
    >>> fingerprint([b"text"]) == fingerprint([b"text"])
    True
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.corpus.repair_codec import Scan, scan

#: Picks a character for every slot of a scan (the base decoder's ``decide(...).choice``).
Choose = Callable[[Scan], Sequence[str]]

log = logging.getLogger(__name__)

#: Bump to invalidate every cached domain text.
VERSION = "1"
_HERE = Path(__file__).resolve().parent
_SEPARATOR = "\n\x1e\n"  # between files in the cache (a record separator never found in text)


def steering_files() -> list[Path]:
    """Every file that decides how text is repaired: the repair code, its lexicon, its training text.

    Both the domain cache here and the index manifest hash these, so neither goes stale.
    """
    data = (path for path in (_HERE / "data").rglob("*") if path.is_file())
    return sorted([*_HERE.glob("repair*.py"), *data])


def fingerprint(parts: Iterable[bytes]) -> str:
    """Hash of the corpus files plus everything that decides how they are repaired."""
    digest = hashlib.sha256(VERSION.encode())
    for path in steering_files():
        digest.update(path.relative_to(_HERE).as_posix().encode() + b"\0" + path.read_bytes())
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()[:24]


def repair_with(choose: Choose, text: str) -> str:
    """*text* with every damaged character set to what *choose* picks (nothing flagged)."""
    scanned = scan(text)
    if not scanned.slots:
        return "".join(scanned.chars)
    chars = scanned.chars
    for slot, choice in zip(scanned.slots, choose(scanned), strict=True):
        chars[slot.pos] = choice
    return "".join(chars)


def damaged_files(corpus_dir: Path, *, min_slots: int) -> list[tuple[Path, str]]:
    """The corpus files big and damaged enough to learn from (as decoded text), by name."""
    found: list[tuple[Path, str]] = []
    if not corpus_dir.is_dir():
        return found
    for path in sorted(corpus_dir.glob("*.txt")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the corpus loader reports unreadable files; here they just teach nothing
        if len(scan(text).slots) >= min_slots:
            found.append((path, text))
    return found


def text_hash(text: str) -> str:
    """Identity of an input, to recognise the corpus files the domain text was learned from."""
    normal = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normal.encode("utf-8", errors="surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Domain:
    """The repaired corpus text, and the hashes (:func:`text_hash`) of the inputs it came from."""

    text: str = ""
    sources: frozenset[str] = frozenset()


def domain_text(choose: Choose, *, corpus_dir: Path, cache_dir: Path, min_slots: int) -> Domain:
    """The damaged corpus files repaired with *choose*, from the cache when it is current."""
    files = damaged_files(corpus_dir, min_slots=min_slots)
    if not files:
        return Domain()
    sources = frozenset(text_hash(t) for _, t in files)
    key = fingerprint(p.name.encode() + b"\0" + t.encode() for p, t in files)
    cached = cache_dir / f"domain-{key}.txt"
    try:
        return Domain(cached.read_text(encoding="utf-8"), sources)
    except (OSError, UnicodeDecodeError):
        pass
    log.info("repair: learning the domain model from %d damaged corpus file(s)", len(files))
    text = _SEPARATOR.join(repair_with(choose, t) for _, t in files)
    _write(cached, text)
    return Domain(text, sources)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("domain-*.txt"):
            old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".domain-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only checkout: recompute next time
        log.warning("repair: cannot cache the domain model in %s: %s", path.parent, exc)
