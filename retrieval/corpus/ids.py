"""Stable, short content-hash ids for sessions, Q&As and note chunks.

An id is a hash of the normalised content that identifies the item (never the file path, never
repair flags), plus an occurrence number for exact repeats. Rebuilding from the same text gives
the same ids; editing one question changes only that question's id.

Example:
    >>> ids = IdAllocator()
    >>> a = ids.allocate("qa-", "s-1\\nwhat is a pod?")
    >>> a == IdAllocator().allocate("qa-", "s-1\\nWhat is a  pod?")
    True
    >>> len(a)
    13
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

from retrieval.corpus.errors import CorpusError

_BLANKS = re.compile(r"\s+")
# Characters that carry no content for identity: blanks, the replacement char, zero-width marks.
_NOT_CONTENT = re.compile("[\ufffd\u200b-\u200f\u2060\ufeff]")
_LENGTHS = (10, 16, 40, 64)


def normalise_key(text: str) -> str:
    """NFKC, case-folded, without blanks or replacement characters: the identity of a text."""
    text = unicodedata.normalize("NFKC", text)
    text = _NOT_CONTENT.sub("", text)
    return _BLANKS.sub("", text).casefold()


class IdAllocator:
    """Hands out ids for one corpus build; repeats get an occurrence number, clashes a longer hash."""

    def __init__(self) -> None:
        self._occurrences: Counter[str] = Counter()
        self._owners: dict[str, str] = {}

    def allocate(self, prefix: str, key: str, *, length: int = 10) -> str:
        """Id for ``key``: ``prefix`` + ``length`` hex digits (longer only on a clash)."""
        norm = normalise_key(key)
        occurrence = self._occurrences[prefix + norm]
        self._occurrences[prefix + norm] += 1
        full = f"{prefix}\x1f{norm}\x1f{occurrence}"
        digest = hashlib.sha256(full.encode("utf-8")).hexdigest()
        for size in (length, *(n for n in _LENGTHS if n > length)):
            candidate = prefix + digest[:size]
            owner = self._owners.setdefault(candidate, full)
            if owner == full:
                return candidate
        raise CorpusError(f"id clash for {prefix}{digest[:16]} (two different items hash alike)")
