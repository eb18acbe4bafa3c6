"""A higher-order character model for the repair: interpolated modified Kneser-Ney, vectorised.

The general trigram model (:mod:`repair_lm`) sees two characters either side. Telling 中 from 不 or
卷 from 号 often needs more: "在容器X运行" or "挂成X，" are decided four or five characters away. This
model counts n-grams up to order 5 (of the same token stream as :func:`repair_lm.tokens`) and
smooths them the Kneser-Ney way (Chen & Goodman's modified variant: three discounts per order,
estimated from the counts of counts; lower orders count distinct left contexts, not occurrences).

N-grams are stored as a *reverse trie*: the key of ``w1 … wk`` is the id of its suffix ``w2 … wk``
(its index among the (k-1)-grams) times the vocabulary size, plus ``w1``. Extending a history one
token to the left is then one binary search, so both the contexts and the n-grams a query needs come
out of two short chains of look-ups over sorted arrays: thousands of rows per millisecond.

Example:
    >>> lm = KNModel.from_tokens([tokens("数据在容器中运行。数据在磁盘中保存。")], order=4)
    >>> h = lm.dense(tokens("数据在容器"))[None, 1:]
    >>> bool(lm.logprob(h, lm.dense(tokens("中")))[0] > lm.logprob(h, lm.dense(tokens("不")))[0])
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from retrieval.corpus.repair_lm import NEWLINE, SLOT, Codes, Floats, tokens

__all__ = ["KNModel", "tokens"]

#: Dense id of a token the model never saw (breaks a history chain, gets the uniform floor).
UNKNOWN = 0
#: Dense id of a damaged position not decided yet (breaks a chain; predicting it is skipped).
UNDECIDED = -1


class _Order:
    """The n-grams of one order: sorted keys, discounted counts, and statistics of their contexts."""

    def __init__(self, keys: Codes, adjusted: Floats, ctx_total: Floats, ctx_gamma: Floats) -> None:
        self.keys = keys
        self.adjusted = adjusted  # max(count - D(count), 0), per n-gram
        self.ctx_total = ctx_total  # per context node (an n-gram of the order below; root for order 1)
        self.ctx_gamma = ctx_gamma  # mass freed by discounting / total, per context node


def _discounts(counts: Floats) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from the counts of counts (Chen & Goodman)."""
    n = [float(np.count_nonzero(counts == r)) for r in (1, 2, 3, 4)]
    if min(n) == 0:
        return 0.5, 1.0, 1.5  # too little data to estimate: conventional values
    y = n[0] / (n[0] + 2 * n[1])
    d = (1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2])
    return tuple(float(np.clip(v, 0.05, r + 1)) for r, v in enumerate(d))  # type: ignore[return-value]


def _find(keys: Codes, query: Codes) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    idx = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
    found = keys[idx] == query if len(keys) else np.zeros(len(query), dtype=np.bool_)
    return idx, found


class KNModel:
    """Interpolated modified Kneser-Ney model of order 2-6 over token codes; see the module doc."""

    def __init__(self, vocab: Codes, orders: Sequence[_Order]) -> None:
        self.vocab = vocab  # sorted token codes; dense id = index + 1
        self.base = len(vocab) + 1
        self.orders = list(orders)
        self.order = len(self.orders)

    @classmethod
    def from_tokens(cls, streams: Sequence[Codes], *, order: int = 5) -> KNModel:
        """Count the n-grams of *streams* (joined by line breaks) up to *order* and smooth them."""
        if not 2 <= order <= 6:
            raise ValueError(f"order must be 2..6, got {order}")
        nl = np.array([NEWLINE], dtype=np.int64)
        parts = [p for s in streams for p in (nl, s[s != SLOT]) if len(s)]
        joined = np.concatenate([*parts, nl]) if parts else nl
        vocab = np.unique(joined)
        base = len(vocab) + 1
        seq = np.searchsorted(vocab, joined).astype(np.int64) + 1
        uniq: list[Codes] = []
        counts: list[Floats] = []
        ctx: list[Codes] = []  # per n-gram: node id of its (k-1)-token prefix (0 = root for order 1)
        node: Codes = np.zeros(0, dtype=np.int64)
        for k in range(1, order + 1):
            n = len(seq) - k + 1
            if n <= 0:
                break
            keys = seq[:n] if k == 1 else node[1 : 1 + n] * base + seq[:n]
            u, first, inv, cnt = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
            ctx.append(np.zeros(len(u), dtype=np.int64) if k == 1 else node[first])
            node = inv.astype(np.int64)
            uniq.append(u)
            counts.append(cnt.astype(np.float64))
        orders: list[_Order] = []
        for k, keys in enumerate(uniq):
            if k + 1 < len(uniq):  # lower orders: distinct left extensions (continuation counts)
                cont = np.bincount(uniq[k + 1] // base, minlength=len(keys)).astype(np.float64)
                c = np.maximum(cont, 1.0)
            else:
                c = counts[k]
            d1, d2, d3 = _discounts(c)
            disc = np.where(c >= 3, d3, np.where(c >= 2, d2, d1))
            n_ctx = 1 if k == 0 else len(uniq[k - 1])
            total = np.bincount(ctx[k], weights=c, minlength=n_ctx).astype(np.float64)
            freed = np.bincount(ctx[k], weights=np.minimum(disc, c), minlength=n_ctx)
            gamma = np.where(total > 0, freed / np.maximum(total, 1e-12), 1.0)
            orders.append(_Order(keys, np.maximum(c - disc, 0.0), total, gamma))
        return cls(vocab, orders)

    def dense(self, toks: Codes) -> Codes:
        """Dense ids of token codes: :data:`UNKNOWN` for unseen ones, :data:`UNDECIDED` for SLOT."""
        if len(self.vocab) == 0:
            return np.where(toks == SLOT, UNDECIDED, UNKNOWN).astype(np.int64)
        idx = np.minimum(np.searchsorted(self.vocab, toks), len(self.vocab) - 1)
        ids = np.where(self.vocab[idx] == toks, idx + 1, UNKNOWN)
        return np.where(toks == SLOT, UNDECIDED, ids).astype(np.int64)

    def logprob(self, history: Codes, word: Codes) -> Floats:
        """log P(word | history) per row; *history* is (rows, h) dense ids, oldest first (only the
        last ``order - 1`` are read). A history token that is unknown or undecided cuts the context
        there. Rows predicting an undecided token get 0 (they say nothing)."""
        first = self.orders[0]
        root_total = float(first.ctx_total[0]) if len(first.ctx_total) else 0.0
        uniform = 1.0 / self.base
        g_idx, g_ok = _find(first.keys, word)
        g_ok &= word > 0
        if root_total > 0:
            p = np.where(g_ok, first.adjusted[g_idx], 0.0) / root_total + first.ctx_gamma[0] * uniform
        else:
            p = np.full(len(word), uniform)
        c_node = np.zeros(len(word), dtype=np.int64)
        c_ok = np.ones(len(word), dtype=np.bool_)
        g_node = g_idx.astype(np.int64)
        reach = min(self.order - 1, history.shape[1])
        for k in range(1, reach + 1):
            h = history[:, -k]
            usable = h > 0
            below, here = self.orders[k - 1], self.orders[k]
            # Context: the k tokens before `word`, a node among the k-grams (order index k - 1).
            c_key = h if k == 1 else c_node * self.base + h
            c_idx, found = _find(below.keys, c_key)
            c_ok &= found & usable
            c_node = np.where(c_ok, c_idx, 0)
            # The (k+1)-gram ending in `word`.
            g_idx, found = _find(here.keys, g_node * self.base + h)
            g_ok &= found & usable & c_ok
            g_node = np.where(g_ok, g_idx, 0)
            total = np.where(c_ok, here.ctx_total[c_node], 0.0)
            live = total > 0
            adj = np.where(g_ok, here.adjusted[g_node], 0.0)
            p = np.where(live, adj / np.maximum(total, 1e-12) + here.ctx_gamma[c_node] * p, p)
            if not c_ok.any():
                break
        return np.where(word == UNDECIDED, 0.0, np.log(p))

    def window_score(self, dense_ctx: Codes, t: Codes, fills: Sequence[Codes]) -> Floats:
        """Sum of the log probabilities that depend on positions ``t … t+len(fills)-1`` of
        *dense_ctx* once they hold *fills*: every n-gram term whose span covers one of them.

        *dense_ctx* must be padded with at least ``order - 1`` tokens on each side of any *t*.
        """
        reach = self.order - 1
        width = len(fills)
        offsets = np.arange(-reach, width + reach)
        window = dense_ctx[t[:, None] + offsets[None, :]]
        for j, fill in enumerate(fills):
            window[:, reach + j] = fill
        total = np.zeros(len(t))
        for j in range(width + reach):
            total += self.logprob(window[:, j : j + reach], window[:, j + reach])
        return total


def model_of(texts: Sequence[str], *, order: int = 5) -> KNModel:
    """A :class:`KNModel` of *texts* (each tokenised as :func:`repair_lm.tokens`)."""
    return KNModel.from_tokens([tokens(t) for t in texts], order=order)
