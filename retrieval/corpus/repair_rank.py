"""Ranking helpers of the repair's decoder: rows are (damaged position, candidate) pairs laid out
position by position (``starts``/``counts``), scores are in nats.

Example:
    >>> score = np.array([1.0, 3.0, 2.0, 0.5])
    >>> top_rows(score, np.array([0, 3]), np.array([3, 1]), 2).tolist()
    [[1, 2], [3, -1]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retrieval.corpus.repair_lm import Codes, Floats


@dataclass
class Decision:
    """Per damaged position: the chosen character and its lead (in nats) over the runner-up."""

    choice: list[str]
    margin: Floats
    top: npt.NDArray[np.int64]  # (positions, 4) best candidate rows, -1 where fewer
    posterior: Floats  # per row
    cand_chars: list[str]  # per row

    def ranked(self, i: int) -> list[tuple[str, float]]:
        """Up to four candidates of position *i* with their posterior probability, best first."""
        return [(self.cand_chars[r], float(self.posterior[r])) for r in self.top[i].tolist() if r >= 0]


def argmax_per_slot(score: Floats, starts: Codes, counts: Codes) -> Codes:
    return top_rows(score, starts, counts, 1)[:, 0]


def neutral_fill(values: dict[int, float | None]) -> dict[int, float]:
    """Word evidence where it exists; rows it says nothing about (punctuation) get the best of the
    others, so words rank Chinese candidates without pushing punctuation up or down."""
    known = [v for v in values.values() if v is not None]
    neutral = max(known) if known else 0.0
    return {k: (neutral if v is None else v) for k, v in values.items()}


def top_rows(score: Floats, starts: Codes, counts: Codes, k: int) -> npt.NDArray[np.int64]:
    """Row indices of each slot's *k* best candidates, best first (-1 where a slot has fewer)."""
    row_slot = np.repeat(np.arange(len(starts)), counts)
    order = np.lexsort((-score, row_slot))  # by slot, then by descending score (ties: lower row first)
    rank = np.arange(len(order)) - starts[row_slot[order]]
    keep = rank < k
    out = np.full((len(starts), k), -1, dtype=np.int64)
    out[row_slot[order][keep], rank[keep]] = order[keep]
    return out


def posteriors(score: Floats, starts: Codes, counts: Codes) -> Floats:
    top = np.maximum.reduceat(score, starts)
    row_top = np.repeat(top, counts)
    e = np.exp(score - row_top)
    z = np.add.reduceat(e, starts)
    return np.asarray(e / np.repeat(z, counts), dtype=np.float64)


def decision(score: Floats, starts: Codes, counts: Codes, cand_chars: list[str]) -> Decision:
    top = top_rows(score, starts, counts, 4)
    post = posteriors(score, starts, counts)
    second = top[:, 1]
    margin = np.where(second >= 0, score[top[:, 0]] - score[np.maximum(second, 0)], np.inf)
    choice = [cand_chars[row] for row in top[:, 0].tolist()]
    return Decision(choice=choice, margin=margin, top=top, posterior=post, cand_chars=cand_chars)
