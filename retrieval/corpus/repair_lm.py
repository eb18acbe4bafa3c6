"""Character n-gram statistics for the repair, as sorted numpy arrays queried in bulk.

Text is first turned into a token stream (:func:`tokens`): each Chinese character or symbol is its
own token, a run of Latin letters/digits becomes one placeholder token, and spaces vanish, so
"Kubernetes 中" and "k8s中" give the same context. Counting and querying are vectorised: a repair
scores every (damaged character, candidate) pair of a 1.6 MB file in one pass.

Example:
    >>> lm = NgramModel.from_tokens([tokens("容器中的数据")])
    >>> bool(lm.logprob(*[np.array([ord(c)]) for c in "器中的"])[0] > lm.logprob(*[np.array([ord(c)]) for c in "器不的"])[0])
    True
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

SLOT = 0  #: token of a character not decided yet: never counted, and terms predicting it are skipped
LATIN = ord("A")  #: placeholder for a run of Latin letters (and digits)
DIGITS = ord("0")  #: placeholder for a run of digits
NEWLINE = ord("\n")

_ALNUM_RE = re.compile(r"[A-Za-z0-9_\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+")
_LETTER_RE = re.compile(r"[A-Za-z_\uff21-\uff3a\uff41-\uff5a]")
_DROP_RE = re.compile(r"[ \t\r\f\v\u00a0\u3000\u200b\ufeff\x01-\x08\x0e-\x1f]+")
_SHIFT = 21  # code points fit in 21 bits: a trigram key fits in an int64


def _alnum(match: re.Match[str]) -> str:
    return "A" if _LETTER_RE.search(match.group()) else "0"


def normalize(text: str) -> str:
    """The token stream as a string (one character per token); ``\\x00`` marks stay in place."""
    return _DROP_RE.sub("", _ALNUM_RE.sub(_alnum, text))


def tokens(text: str) -> Codes:
    """Token codes of *text* (see the module docstring)."""
    return as_codes(normalize(text))


def as_codes(normalized: str) -> Codes:
    """Code points of an already normalized string, as int64."""
    return np.frombuffer(normalized.encode("utf-32-le"), dtype="<u4").astype(np.int64)


def key2(a: Codes, b: Codes) -> Codes:
    return (a << _SHIFT) | b


def key3(a: Codes, b: Codes, c: Codes) -> Codes:
    return (a << (2 * _SHIFT)) | (b << _SHIFT) | c


def _group(sorted_keys: Codes) -> tuple[Codes, npt.NDArray[np.intp]]:
    """Distinct keys of a sorted array and the index where each run starts."""
    if len(sorted_keys) == 0:
        return sorted_keys, np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    return sorted_keys[starts], starts


def _count(keys: Codes, weights: Floats | None) -> tuple[Codes, Floats]:
    """Distinct keys (sorted) and their (weighted) counts. Sorting beats np.unique here."""
    if weights is None:
        ordered = np.sort(keys)
        uniq, starts = _group(ordered)
        return uniq, np.diff(np.append(starts, len(ordered))).astype(np.float64)
    order = np.argsort(keys, kind="stable")
    uniq, starts = _group(keys[order])
    if len(uniq) == 0:
        return uniq, np.zeros(0)
    return uniq, np.add.reduceat(weights[order], starts).astype(np.float64)


def _find(keys: Codes, query: Codes) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Index of each query in the sorted *keys*, and whether it is there."""
    if len(keys) == 0 or len(query) == 0:
        return np.zeros(len(query), dtype=np.intp), np.zeros(len(query), dtype=np.bool_)
    idx = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return idx, keys[idx] == query


def _lookup(keys: Codes, values: Floats, query: Codes) -> Floats:
    idx, found = _find(keys, query)
    if len(values) == 0:
        return np.zeros(len(query))
    return np.where(found, values[idx], 0.0)


class NgramModel:
    """Interpolated absolute-discounting trigram model over token codes.

    Built from token arrays (with optional per-n-gram weights for expected counts); queried with
    arrays of (a, b, c) to get log P(c | a b) for every row at once.
    """

    DISCOUNT = 0.75
    VOCAB = 60000.0  # for the floor given to unseen tokens

    def __init__(self, grams: Sequence[tuple[Codes, Floats]]) -> None:
        (self.k1, self.c1), (self.k2, self.c2), (self.k3, self.c3) = grams
        self.total = float(self.c1.sum())
        # Context statistics: total count and number of distinct followers of each context.
        self.ctx1, self.ctx1_tot, self.ctx1_n = self._contexts(self.k2, self.c2)
        self.ctx2, self.ctx2_tot, self.ctx2_n = self._contexts(self.k3, self.c3)

    @staticmethod
    def _contexts(keys: Codes, counts: Floats) -> tuple[Codes, Floats, Floats]:
        # keys are sorted, so their contexts (key >> SHIFT) are sorted too: group without sorting.
        ctx, starts = _group(keys >> _SHIFT)
        if len(ctx) == 0:
            return ctx, np.zeros(0), np.zeros(0)
        tot = np.add.reduceat(counts, starts).astype(np.float64)
        # Probability mass freed by discounting (counts may be fractional: never discount more
        # than the count itself), handed to the lower order.
        freed = np.add.reduceat(np.minimum(counts, NgramModel.DISCOUNT), starts)
        return ctx, tot, freed.astype(np.float64)

    @classmethod
    def from_tokens(
        cls,
        streams: Sequence[Codes],
        *,
        extra: Sequence[tuple[Codes, Floats]] = (),
    ) -> NgramModel:
        """Count uni/bi/trigrams of *streams*; n-grams touching :data:`SLOT` are skipped.

        *extra* adds weighted keys per order, ``(keys, weights)`` for unigrams, bigrams
        (:func:`key2`) and trigrams (:func:`key3`): the expected counts at damaged positions.
        """
        parts: list[list[Codes]] = [[], [], []]
        weights: list[list[Floats]] = [[], [], []]
        for s in streams:
            if len(s) == 0:
                continue
            ok1 = s != SLOT
            ok2 = ok1[:-1] & ok1[1:]
            ok3 = ok2[:-1] & ok1[2:]
            keys = (s[ok1], key2(s[:-1], s[1:])[ok2], key3(s[:-2], s[1:-1], s[2:])[ok3])
            for order, k in enumerate(keys):
                parts[order].append(k)
                weights[order].append(np.ones(len(k)))
        for order, (k, w) in enumerate(extra):
            parts[order].append(np.asarray(k, dtype=np.int64))
            weights[order].append(np.asarray(w, dtype=np.float64))
        grams = []
        for order in range(3):
            keys_all = np.concatenate(parts[order]) if parts[order] else np.zeros(0, np.int64)
            if extra:
                grams.append(
                    _count(keys_all, np.concatenate(weights[order]) if weights[order] else np.zeros(0))
                )
            else:
                grams.append(_count(keys_all, None))
        return cls(grams)

    def prior(self, c: Codes) -> Floats:
        """log P(c), the unigram the trigrams back off to, floored at a count of one.

        The floor matters because the prior's weight is negative: without it a character the
        general text never contains (扭 for 歉) would score as the most "surprising", and win.
        """
        counts = np.maximum(_lookup(self.k1, self.c1, c), 1.0)
        p = (counts + 0.5) / (self.total + 0.5 * self.VOCAB)
        return np.asarray(np.log(p), dtype=np.float64)

    def logprob(self, a: Codes, b: Codes, c: Codes) -> Floats:
        """log P(c | a b) per row."""
        d = self.DISCOUNT
        p = (_lookup(self.k1, self.c1, c) + 0.5) / (self.total + 0.5 * self.VOCAB)
        for ctx, ctx_tot, ctx_freed, keys, counts, query_ctx, query in (
            (self.ctx1, self.ctx1_tot, self.ctx1_n, self.k2, self.c2, b, key2(b, c)),
            (self.ctx2, self.ctx2_tot, self.ctx2_n, self.k3, self.c3, key2(a, b), key3(a, b, c)),
        ):
            idx, found = _find(ctx, query_ctx)
            tot = np.where(found, ctx_tot[idx], 0.0) if len(ctx) else np.zeros(len(query))
            freed = np.where(found, ctx_freed[idx], 0.0) if len(ctx) else np.zeros(len(query))
            cnt = _lookup(keys, counts, query)
            safe = np.maximum(tot, 1e-12)
            p = np.where(tot > 0, (cnt - np.minimum(cnt, d)) / safe + freed / safe * p, p)
        return np.asarray(np.log(p), dtype=np.float64)


class DictBigram:
    """Character bigrams implied by a word list with frequencies (jieba's dictionary).

    Text is read as a chain of dictionary words: after character *a*, the next one continues the
    word (bigram counts inside words) or, when *a* ends a word, starts a new one. That knows 存储
    is a word but nothing of what follows a single-character word; the corpus model covers that.
    """

    EPS = 1e-4

    def __init__(self, words: Sequence[tuple[str, int]]) -> None:
        n1: dict[int, float] = {}
        n2: dict[int, float] = {}
        ends: dict[int, float] = {}
        starts: dict[int, float] = {}
        total = 0.0
        for word, freq in words:
            f = float(freq) + 1.0
            total += f
            codes = [ord(ch) for ch in word]
            for code in codes:
                n1[code] = n1.get(code, 0.0) + f
            for x, y in itertools.pairwise(codes):
                k = (x << _SHIFT) | y
                n2[k] = n2.get(k, 0.0) + f
            ends[codes[-1]] = ends.get(codes[-1], 0.0) + f
            starts[codes[0]] = starts.get(codes[0], 0.0) + f
        self.words_total = total
        self.k1, self.n1 = self._arrays(n1)
        self.ke, self.ne = self._arrays(ends)
        self.ks, self.ns = self._arrays(starts)
        self.k2, self.n2 = self._arrays(n2)
        self.chars_total = float(self.n1.sum())

    @staticmethod
    def _arrays(table: dict[int, float]) -> tuple[Codes, Floats]:
        keys = np.array(sorted(table), dtype=np.int64)
        return keys, np.array([table[int(k)] for k in keys], dtype=np.float64)

    def logprob(self, a: Codes, b: Codes) -> Floats:
        """log P(b | a) per row."""
        na = _lookup(self.k1, self.n1, a)
        start_b = (_lookup(self.ks, self.ns, b) + 0.5) / self.words_total
        inner = _lookup(self.k2, self.n2, key2(a, b))
        ends_a = _lookup(self.ke, self.ne, a)
        p = np.where(na > 0, (inner + ends_a * start_b) / np.maximum(na, 1e-9), start_b)
        base = (_lookup(self.k1, self.n1, b) + 0.5) / (self.chars_total + 1e5)
        return np.asarray(np.log((1 - self.EPS) * p + self.EPS * base), dtype=np.float64)


BREAKS = frozenset("，。？！；：,.?!;:\n（）()【】[]")
#: Prepositions that open a "在/从/于/到 X 中" frame (in X, from X, ...).
OPENERS = "在从于到向往将"
_BREAK_CODES = np.array(sorted(ord(ch) for ch in BREAKS), dtype=np.int64)


def frame_flags(
    toks: Codes, *, opener: str | None = None, closer: str = "中", reach: int = 12
) -> npt.NDArray[np.bool_]:
    """True where a position sits inside an open 在…中 frame: 在 came earlier in the same clause
    (no punctuation since, at most *reach* tokens back) and no 中 closed it yet."""
    idx = np.arange(len(toks))
    none = np.full(len(toks), -1, dtype=np.int64)

    def last(mask: npt.NDArray[np.bool_]) -> Codes:
        found = np.maximum.accumulate(np.where(mask, idx, none)) if len(toks) else none
        # the latest such token strictly before each position
        return np.concatenate(([-1], found[:-1])).astype(np.int64)

    openers = np.array([ord(ch) for ch in (OPENERS if opener is None else opener)], dtype=np.int64)
    last_open = last(np.isin(toks, openers))
    last_break = last(np.isin(toks, _BREAK_CODES))
    last_close = last(toks == ord(closer))
    return np.asarray(
        (last_open > last_break) & (last_open >= idx - reach) & (last_close < last_open) & (last_open >= 0),
        dtype=np.bool_,
    )


class FrameModel:
    """How much likelier each character is inside an open 在…中 frame than outside it.

    Inside "在容器X添加", X is 中 far more often than 不; a trigram cannot see the 在.
    """

    def __init__(self, toks: Codes) -> None:
        flags = frame_flags(toks)
        self.q = float(flags.mean()) if len(flags) else 0.0
        keys, total = _count(toks, None)
        inside_keys, inside = _count(toks[flags], None)
        inside_all = _lookup(inside_keys, inside, keys)
        self.keys = keys
        self.log_in = np.log((inside_all + 1.0) / (total * self.q + 1.0))
        self.log_out = np.log((total - inside_all + 1.0) / (total * (1.0 - self.q) + 1.0))

    def logratio(self, cand: Codes, inside: npt.NDArray[np.bool_]) -> Floats:
        return np.where(inside, _lookup(self.keys, self.log_in, cand), _lookup(self.keys, self.log_out, cand))
