"""Query-term analysis against the index vocabulary: bigram cohesion, Latin typos, unknown names.

Three things the lexical channel cannot tell by itself, each measured on the corpus, not listed by hand:

- **Bigram cohesion.** Character bigrams of a Chinese query include the ones that straddle two
  words (etcd 的备份和升级 → 的备, 份和, 和升). They are rare, hence high-IDF, and a document that
  happens to share one outranks the one that shares the words. A bigram whose characters occur
  together in the corpus far more often than chance (备份, 升级) is a word; one whose characters
  rarely meet (份和) is a seam. The query weight of a bigram scales with that cohesion
  (document-frequency PMI); the index is unchanged.
- **Typos in Latin words.** People type ``promethues`` or ``kuberntes``. A Latin query word the
  corpus never (or hardly) uses that is one edit (insert, delete, replace, swap) away from words
  the corpus uses gains the most frequent of them as an alternative. The first letter must match:
  a different first letter is another name (vcluster is not cluster).
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
from collections.abc import Callable, Collection, Iterable, Mapping

_CJK_BIGRAM = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2}$")
_LATIN_WORD = re.compile(r"^[a-z][a-z\-]*[a-z]$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"


def deletes1(word: str) -> set[str]:
    """The word and every string one deletion away: two words one edit apart share one of these."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def within_one_edit(a: str, b: str) -> bool:
    """Damerau distance ≤ 1 (insert, delete, replace, or swap of neighbours), in linear time."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1 :] == b[i + 1 :] or (a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1])
    return a[i + 1 :] == b[i:] if la > lb else a[i:] == b[i + 1 :]


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
        rare_df: int = 2,
        words: Iterable[str] | None = None,
    ) -> None:
        if callable(df):
            self._df: Callable[[str], int] = df
        else:
            table = df
            self._df = lambda t: int(table.get(t, 0))
        self.num_docs = max(1, num_docs)
        self.english = english
        self.cohesion_floor = cohesion_floor
        self.min_typo_len = min_typo_len
        self.rare_df = rare_df
        self._fixes: dict[str, str | None] = {}
        self._words = words
        self._neighbours: dict[str, list[str]] | None = None

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
        """The corpus word one edit away from a Latin ``word`` the corpus never or hardly uses, or None.

        Candidates keep the first letter; the most frequent wins. A word the corpus uses once or
        twice is corrected only towards one it uses far more (the archive has its own typos:
        ``promtheus`` once, ``prometheus`` dozens of times).
        """
        own = self.df(word) if len(word) >= self.min_typo_len and _LATIN_WORD.match(word) else self.num_docs
        if own > self.rare_df:
            return None
        if word in self._fixes:
            return self._fixes[word]
        best: tuple[int, str] | None = None
        for cand in self._candidates(word):
            if cand[:1] != word[:1] or cand == word:
                continue
            d = self.df(cand)
            if d > 0 and (best is None or (d, cand) > best):
                best = (d, cand)
        if best is not None and own > 0 and best[0] < max(10, 20 * own):
            best = None
        if len(self._fixes) > 10_000:  # a long-running bot sees endless new words: keep the memo bounded
            self._fixes.clear()
        self._fixes[word] = best[1] if best else None
        return self._fixes[word]

    def _candidates(self, word: str) -> Iterable[str]:
        """Corpus words one edit from ``word``: via a deletion index of the corpus's Latin words when
        they were given (a few dict lookups), else by generating every edit (about 40 per letter)."""
        if self._words is None:
            return edits1(word)
        if self._neighbours is None:
            table: dict[str, list[str]] = {}
            for w in self._words:
                if len(w) >= self.min_typo_len - 1 and _LATIN_WORD.match(w):
                    for d in deletes1(w):
                        table.setdefault(d, []).append(w)
            self._neighbours = table
        found = {w for d in deletes1(word) for w in self._neighbours.get(d, ())}
        return [w for w in found if within_one_edit(word, w)]

    def unknown_name(self, word: str) -> bool:
        """A Latin word that names something the corpus never mentions: unused, not English, not a typo."""
        if not _LATIN_WORD.match(word) or len(word) < 4 or self.df(word) > 0:
            return False
        parts = [p for p in word.split("-") if p]
        if len(parts) > 1 and all(self.df(p) > 0 for p in parts):
            return False
        return not self.is_english(word) and self.correction(word) is None
