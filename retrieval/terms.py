"""Query-term analysis against the index vocabulary: bigram cohesion, Latin typos, unknown names.

Three things the lexical channel cannot tell by itself, each measured on the corpus, not listed by hand:

- **Bigram cohesion.** Character bigrams of a Chinese query include the ones that straddle two
  words (etcd 的备份和升级 → 的备, 份和, 和升). They are rare, hence high-IDF, and a document that
  happens to share one outranks the one that shares the words. A bigram whose characters occur
  together in the corpus far more often than chance (备份, 升级) is a word; one whose characters
  rarely meet (份和) is a seam. The query weight of a bigram scales with that cohesion
  (document-frequency PMI); the index is unchanged.
- **Typos in Latin words.** People type ``promethues`` or ``kuberntes``. A Latin query word the
  corpus never uses, that is not an English word, and that is one edit (insert, delete, replace,
  swap) away from words the corpus uses, gains the most frequent of them as an alternative. The
  first letter must match: a different first letter is another name (vcluster is not cluster).
- **Unknown names.** A Latin word the corpus never uses, that is neither an English word nor a
  typo of a corpus word, names something the archive does not cover (crossplane, kubevirt). The
  answer/abstain model sees whether a query has one.

Example:
    >>> v = Vocabulary({"prometheus": 40, "备份": 60, "备": 70, "份": 65, "和": 2000}, num_docs=2000)
    >>> v.correction("promethues")
    'prometheus'
    >>> round(v.cohesion("备份"), 2), round(v.cohesion("份和"), 2)
    (1.0, 0.25)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping

_CJK_BIGRAM = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2}$")
_LATIN_WORD = re.compile(r"^[a-z][a-z\-]*[a-z]$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"


def edits1(word: str) -> set[str]:
    """Strings one edit away from ``word`` (deletion, adjacent swap, replacement, insertion)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    out.update(a + c + b[1:] for a, b in splits if b for c in _ALPHABET)
    out.update(a + c + b for a, b in splits for c in _ALPHABET)
    out.discard(word)
    return out


class Vocabulary:
    """Document frequencies of the index's tokens, read for query analysis.

    ``df`` maps a token to the number of entries containing it (``LexicalIndex`` exposes one);
    ``english`` is a set of English words (any form) that are not names even if the corpus lacks them.
    """

    def __init__(
        self,
        df: Mapping[str, int] | Callable[[str], int],
        *,
        num_docs: int,
        english: Collection[str] = (),
        cohesion_floor: float = 0.25,
        min_typo_len: int = 5,
    ) -> None:
        self._df = df if callable(df) else (lambda t, d=df: int(d.get(t, 0)))  # type: ignore[misc]
        self.num_docs = max(1, num_docs)
        self.english = english
        self.cohesion_floor = cohesion_floor
        self.min_typo_len = min_typo_len

    def df(self, token: str) -> int:
        return self._df(token)

    def cohesion(self, token: str) -> float:
        """Query weight factor in [floor, 1]: 1 for a word-like CJK bigram (and any other token).

        Document-frequency PMI, smoothed: ``c = (df(ab) + 0.5) · N / (df(a) · df(b))``; a character
        the index does not hold (a stop character such as 的) counts as present everywhere. The
        factor is ``(1 + ln c) / 2`` clipped to [floor, 1]: 1 from c ≈ e (twice as often as chance and more).
        """
        if self.cohesion_floor >= 1.0 or not _CJK_BIGRAM.match(token):
            return 1.0
        n = self.num_docs
        da = self.df(token[0]) or n
        db = self.df(token[1]) or n
        c = (self.df(token) + 0.5) * n / (da * db)
        return min(1.0, max(self.cohesion_floor, (1.0 + math.log(c)) / 2.0))

    def is_english(self, word: str) -> bool:
        """True for an English word or one of its inflected forms (plural, -ed, -ing), or a hyphenated compound of them."""
        from retrieval.crosslingual import lemmas

        parts = [p for p in word.split("-") if p]
        if len(parts) > 1:
            return all(self.df(p) > 0 or self.is_english(p) for p in parts)
        return any(form in self.english for form in lemmas(word))

    def correction(self, word: str) -> str | None:
        """The corpus word one edit away from an unknown Latin ``word`` (most frequent; same first letter), or None."""
        if len(word) < self.min_typo_len or not _LATIN_WORD.match(word) or self.df(word) > 0:
            return None
        best: tuple[int, str] | None = None
        for cand in edits1(word):
            if cand[:1] != word[:1]:
                continue
            d = self.df(cand)
            if d > 0 and (best is None or (d, cand) > best):
                best = (d, cand)
        return best[1] if best else None

    def unknown_name(self, word: str) -> bool:
        """A Latin word that names something the corpus never mentions: unused, not English, not a typo."""
        if not _LATIN_WORD.match(word) or len(word) < 4 or self.df(word) > 0:
            return False
        parts = [p for p in word.split("-") if p]
        if len(parts) > 1 and all(self.df(p) > 0 for p in parts):
            return False
        return not self.is_english(word) and self.correction(word) is None
