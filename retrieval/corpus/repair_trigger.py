"""Topic evidence for the repair: which damageable characters the surrounding words call for.

An n-gram model sees a few characters either side. Whether "挂成X" is 卷 or 号 is settled by the
paragraph: PV, 存储 and 挂载 a dozen characters away make 卷 likely. This is a trigger model in the
sense of Lau, Rosenfeld and Roukos: from the training text it counts how often each Chinese
character *x* occurs within ``reach`` tokens of each damageable character *c*, and scores a
candidate by

    log( mean over the Chinese context characters x of P(c | x) ) - log P(c)

where P(c | x) is smoothed towards P(c). Averaging (a mixture) rather than multiplying keeps one
odd neighbour from deciding anything, and the score is 0 where the context says nothing. The
``gap`` characters next to the position are left out: the n-gram models cover those.

Example:
    >>> text = "把数据卷挂载到节点上，卷的容量不够就扩容。" * 5 + "他的编号是多少？编号写在门口。" * 5
    >>> model = TriggerModel([tokens(text)], reach=6, gap=0)
    >>> ctx = tokens("存储挂载节点\\x00容量扩容")
    >>> at = np.array([6, 6]); cand = np.array([ord("卷"), ord("号")])
    >>> s = model.score(ctx, at, cand)
    >>> bool(s[0] > s[1])
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from retrieval.corpus.repair_codec import DROPPED
from retrieval.corpus.repair_lm import Codes, Floats, _count, _lookup, key2, tokens

__all__ = ["TriggerModel", "tokens"]

_SHIFT = 21


@lru_cache(maxsize=65536)
def damageable(code: int) -> bool:
    """True for a character whose UTF-8 form contains a byte the damage drops."""
    raw = chr(code).encode("utf-8", errors="surrogatepass")
    return len(raw) > 1 and any(b in DROPPED for b in raw[1:])


def _han(x: Codes) -> npt.NDArray[np.bool_]:
    return ((x >= 0x4E00) & (x <= 0x9FFF)) | ((x >= 0x3400) & (x <= 0x4DBF))


class TriggerModel:
    """Co-occurrence of damageable characters with the Chinese characters around them."""

    def __init__(
        self, streams: Sequence[Codes], *, reach: int = 20, gap: int = 4, smoothing: float = 20.0
    ) -> None:
        self.offsets = [o for o in range(-reach, reach + 1) if abs(o) > gap]
        self.smoothing = smoothing
        s = (
            np.concatenate([np.asarray(x, dtype=np.int64) for x in streams])
            if streams
            else np.zeros(0, np.int64)
        )
        codes = np.unique(s)
        hit = np.array([damageable(int(c)) for c in codes], dtype=np.bool_)
        pos = np.flatnonzero(np.isin(s, codes[hit])) if len(codes) else np.zeros(0, np.intp)
        keys: list[Codes] = []
        for off in self.offsets:
            j = pos + off
            ok = (j >= 0) & (j < len(s))
            x, c = s[j[ok]], s[pos[ok]]
            keys.append(key2(x, c)[_han(x)])
        self.pair_keys, self.pair_counts = _count(
            np.concatenate(keys) if keys else np.zeros(0, np.int64), None
        )
        # Per context character: its co-occurrences with any damageable character.
        self.ctx_keys, self.ctx_counts = _count(self.pair_keys >> _SHIFT, self.pair_counts)
        self.char_keys, self.char_counts = _count(s[pos], None)
        self.total = float(self.char_counts.sum())

    def prior(self, cand: Codes) -> Floats:
        """P(c) among the damageable characters of the training text (add-half smoothed)."""
        return (_lookup(self.char_keys, self.char_counts, cand) + 0.5) / (self.total + 0.5 * 5000)

    def score(self, ctx: Codes, at: Codes, cand: Codes) -> Floats:
        """Trigger evidence for candidate *cand* at index *at* of the token array *ctx*, per row.
        Context tokens that are not Chinese characters (damaged ones not decided yet) are skipped."""
        p_c = self.prior(cand)
        mass = np.zeros(len(cand))
        seen = np.zeros(len(cand))
        beta = self.smoothing
        for off in self.offsets:
            j = at + off
            inside = (j >= 0) & (j < len(ctx))
            x = np.where(inside, ctx[np.clip(j, 0, max(len(ctx) - 1, 0))], 0)
            han = _han(x) & inside
            together = _lookup(self.pair_keys, self.pair_counts, key2(x, cand))
            x_total = _lookup(self.ctx_keys, self.ctx_counts, x)
            mass += np.where(han, (together + beta * p_c) / (x_total + beta), 0.0)
            seen += han
        mean = np.where(seen > 0, mass / np.maximum(seen, 1.0), p_c)
        return np.asarray(np.log(mean) - np.log(p_c), dtype=np.float64)
