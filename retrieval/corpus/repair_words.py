"""Word evidence for the repair: does a candidate complete a dictionary word with its neighbours?

A character n-gram model gives 告警 little weight (告 is followed by 要 far more often), but 告警 is a
word in jieba's dictionary. For each candidate this module finds the dictionary words that cover
the damaged position and agree with the surrounding characters, and scores the best one by how much
likelier the word is than its characters taken one by one (a pointwise mutual information).

Example:
    >>> model = WordModel([("告警", 106), ("告", 5000), ("警", 800), ("要", 300000)])
    >>> model.bonus("告警", 1, "警") > model.bonus("告要", 1, "要")
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


def is_han(ch: str) -> bool:
    """A CJK unified ideograph (basic block or extension A)."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


#: Pseudo-count a CC-CEDICT listing adds to a word's jieba frequency (jieba's total is 60M).
CURATED_COUNT = 50.0
#: Pseudo-counts for the tech lexicon's tiers (1 very common ... 3 specialised).
TIER_COUNTS: dict[int, float] = {1: 2000.0, 2: 1000.0, 3: 500.0}
#: Bonus per character of a lexicon term a candidate completes (nats, before the decoder's weight).
LISTED_PER_CHAR: dict[int, float] = {1: 3.0, 2: 3.0, 3: 3.0}


def build_word_model(
    words: Iterable[tuple[str, int]], *, curated: Iterable[str], lexicon: Mapping[str, int]
) -> WordModel:
    """The repair's word model: jieba's frequencies, boosted for curated words, plus a bonus for
    completing a term of the tech lexicon (longer terms are stronger evidence)."""
    counts = merged_counts(
        words, curated=curated, lexicon=lexicon, curated_count=CURATED_COUNT, tier_counts=TIER_COUNTS
    )
    listed = {term: LISTED_PER_CHAR.get(tier, 0.0) * len(term) for term, tier in lexicon.items()}
    return WordModel(counts.items(), listed=listed)


def merged_counts(
    words: Iterable[tuple[str, int]],
    *,
    curated: Iterable[str] = (),
    lexicon: Mapping[str, int] | None = None,
    curated_count: float = 0.0,
    tier_counts: Mapping[int, float] | None = None,
) -> dict[str, float]:
    """jieba's frequencies plus pseudo-counts for words a curated source lists.

    jieba counts 南段 132 times and 字段 6; CC-CEDICT lists 字段 and not 南段, and the tech lexicon
    lists 高可用 and 控制面. Each listing adds a fixed count (per lexicon tier), so a listed word
    outweighs an unlisted one of similar raw frequency without erasing frequency differences.
    """
    counts: dict[str, float] = {}
    for word, freq in words:
        counts[word] = counts.get(word, 0.0) + float(freq)
    if curated_count:
        for word in curated:
            counts[word] = counts.get(word, 0.0) + curated_count
    for word, tier in (lexicon or {}).items():
        boost = (tier_counts or {}).get(tier, 0.0)
        if boost:
            counts[word] = counts.get(word, 0.0) + boost
    return counts


class WordModel:
    """Dictionary words (Chinese characters only) with log probabilities, plus their prefixes."""

    MAX_LEN = 6

    def __init__(
        self, words: Iterable[tuple[str, float]], *, listed: Mapping[str, float] | None = None
    ) -> None:
        freq: dict[str, float] = {}
        total = 0.0
        for word, count in words:
            if not word or len(word) > self.MAX_LEN or not all(is_han(ch) for ch in word):
                continue
            freq[word] = freq.get(word, 0.0) + count
            total += count
        total = max(total, 1.0)
        self.logp = {w: math.log((f + 0.5) / total) for w, f in freq.items()}
        self.unknown = math.log(0.5 / total)
        self.prefixes = {w[:k] for w in freq for k in range(1, len(w))}
        self._splits: dict[str, float] = {}
        self._bonuses: dict[tuple[str, int, str], float | None] = {}  # the same windows recur
        # Curated listings (CC-CEDICT, the tech lexicon): word -> bonus for completing it.
        self.listed = {
            w: v for w, v in (listed or {}).items() if v > 0 and len(w) >= 2 and all(map(is_han, w))
        }
        self.listed_prefixes = {w[:k] for w in self.listed for k in range(1, len(w))}
        #: how far (in characters) either side of a position word evidence looks
        self.reach = max([self.MAX_LEN, *map(len, self.listed)])

    def single(self, ch: str) -> float:
        return self.logp.get(ch, self.unknown)

    def best_split(self, text: str) -> float:
        """Cached :meth:`_best_split` (the same short runs recur throughout a corpus)."""
        cache = self._splits
        value = cache.get(text)
        if value is None:
            if len(cache) > 500_000:
                cache.clear()
            value = cache[text] = self._best_split(text)
        return value

    def _best_split(self, text: str) -> float:
        """Log probability of the best segmentation of *text* (Chinese characters only) into
        dictionary words; characters no word covers count as unknown single words."""
        n = len(text)
        best = [0.0] + [-math.inf] * n
        logp = self.logp
        prefixes = self.prefixes
        for i in range(n):
            here = best[i]
            if here == -math.inf:
                continue
            word = ""
            for k in range(i, min(n, i + self.MAX_LEN)):
                word += text[k]
                lp = logp.get(word)
                if lp is None and k == i:
                    lp = self.unknown
                if lp is not None and here + lp > best[k + 1]:
                    best[k + 1] = here + lp
                if word not in prefixes:
                    break
        return best[n]

    def listing(self, text: str, i: int) -> float:
        """The best bonus of a listed word that covers position *i* of *text* as written."""
        best = 0.0
        listed, prefixes = self.listed, self.listed_prefixes
        if not listed:
            return best
        for j in range(max(0, i - self.reach + 1), i + 1):
            word = text[j:i]
            if j < i and word not in prefixes:
                continue
            for k in range(i, min(len(text), j + self.reach)):
                word += text[k]
                value = listed.get(word)
                if value is not None and value > best:
                    best = value
                if word not in prefixes:
                    break
        return best

    def _run(self, text: str, start: int, end: int) -> tuple[str, str]:
        """The Chinese characters left of *start* and right of *end* within word reach."""
        lo = start
        while lo > 0 and start - lo < self.MAX_LEN - 1 and is_han(text[lo - 1]):
            lo -= 1
        hi = end
        limit = min(len(text), end + self.MAX_LEN - 1)
        while hi < limit and is_han(text[hi]):
            hi += 1
        return text[lo:start], text[end:hi]

    def _cached(self, key: tuple[str, int, str]) -> tuple[bool, float | None]:
        cache = self._bonuses
        if key in cache:
            return True, cache[key]
        if len(cache) > 500_000:
            cache.clear()
        return False, None

    def bonus(self, text: str, i: int, cand: str) -> float | None:
        """Word evidence for *cand* at position *i* of *text*: how much better the surrounding
        Chinese characters segment into dictionary words with *cand* in place than with *cand*
        standing alone as a one-character word (a log ratio, never negative; 0 when it forms no
        word). ``None`` when *cand* is not a Chinese character: words say nothing about punctuation."""
        if not is_han(cand):
            return None
        text = text[:i] + cand + text[i + 1 :]
        hit, value = self._cached((text, i, ""))
        if hit:
            return value
        left, right = self._run(text, i, i + 1)
        joined = self.best_split(left + cand + right)
        pmi = max(0.0, joined - self.best_split(left) - self.single(cand) - self.best_split(right))
        value = self._bonuses[(text, i, "")] = pmi + self.listing(text, i)
        return value

    def pair_bonus(self, text: str, i: int) -> float | None:
        """:meth:`bonus` for the two characters at *i* and *i* + 1 taken together."""
        a, b = text[i], text[i + 1]
        if not (is_han(a) and is_han(b)):
            return None
        hit, value = self._cached((text, i, "pair"))
        if hit:
            return value
        left, right = self._run(text, i, i + 2)
        joined = self.best_split(left + a + b + right)
        alone = self.best_split(left) + self.single(a) + self.single(b) + self.best_split(right)
        value = max(0.0, joined - alone) + self.listing(text, i) + self.listing(text, i + 1)
        self._bonuses[(text, i, "pair")] = value
        return value
