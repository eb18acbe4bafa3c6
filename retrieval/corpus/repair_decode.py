"""Choose a character for every damaged position, with context on both sides.

Each (damaged position, candidate) pair is a row. A row's score adds, with fixed weights:

- the general trigram model on the three trigrams that contain the candidate
  (``l2 l1 c``, ``l1 c r1``, ``c r1 r2``: left and right context), minus a share of its unigram
  prior for the candidate;
- the in-domain Kneser-Ney 5-gram model (:mod:`repair_kn`) on the five 5-grams that contain it,
  minus a share of that model's own prior (each n-gram term backs off to the unigram, so without
  the correction a frequent character such as 号 or 不 would be counted several times over);
- jieba's dictionary read as character bigrams (``l1 c``, ``c r1``);
- the best dictionary word the candidate completes, and whether it completes a lexicon term
  (:mod:`repair_words`);
- how likely the candidate is inside an open "在/从/到 X 中" frame;
- the topic triggers of the paragraph around it (:mod:`repair_trigger`);
- for a long input only, a domain model of the input itself: its undamaged text plus,
  re-estimated a few times (EM), the expected counts of its repaired characters. A long input
  such as the 1.6 MB seed teaches itself its vocabulary (告警, 集群中, Pod 吗).

Neighbouring damaged characters start unknown and then take their current best choice, so runs
like 存储 with both characters damaged are settled jointly over the sweeps. Everything is a pure
function of the input and the shipped data (plus the vendored corpus, through the in-domain
model), so the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.corpus.repair_codec import Scan
from retrieval.corpus.repair_kn import KNModel
from retrieval.corpus.repair_lm import (
    NEWLINE,
    SLOT,
    Codes,
    DictBigram,
    Floats,
    FrameModel,
    NgramModel,
    as_codes,
    frame_flags,
    key2,
    key3,
    normalize,
)
from retrieval.corpus.repair_rank import (
    Decision,
    argmax_per_slot,
    decision,
    neutral_fill,
    posteriors,
    top_rows,
)
from retrieval.corpus.repair_trigger import TriggerModel
from retrieval.corpus.repair_words import WordModel

#: Context tokens padded onto each end of the input (enough for a 5-gram's history).
PAD = 4


@dataclass(frozen=True)
class Weights:
    """Weights of the score's parts and the search's limits.

    The weights of the parts were fitted as a conditional log-linear model (the true character
    against the other candidates of its position), half on the damaged training text (its in-domain
    model learned from the *other* groups of training files, a/b/c/d, and the repaired corpus), half
    on the dev text (``bench/repair.py --dev``); ``bench/repair_fit.py`` does that fit. Both priors
    come out negative: the five in-domain and three general n-gram terms each back off to their
    model's unigram, so a frequent character (号 in news text, 不 anywhere) would be counted several
    times over. The held-out text never influenced the weights. The limits and ``domain`` (the
    self-learned model of long inputs) were set on the dev text."""

    general: float = 0.292
    general_prior: float = -0.219  # the general model's unigram probability of the candidate
    dictionary: float = 0.218
    domain: float = 0.5
    words: float = 0.371
    frame: float = 1.464
    indomain: float = 0.791  # the Kneser-Ney 5-gram model of the in-domain text
    indomain_prior: float = -0.177  # that model's unigram probability of the candidate
    trigger: float = 0.956  # topic evidence (:mod:`repair_trigger`)
    sweeps: int = 2  # re-scoring rounds with neighbouring damaged characters filled in
    em_min_slots: int = 3000  # learn a domain model from the input itself only when it is this big
    word_top: int = 6  # candidates per position that get the (slower) word evidence
    pair_top: int = 5  # candidates per position tried jointly with a damaged neighbour
    pair_margin: float = 5.0  # ... if within this many nats of the position's best
    pairs_again: bool = True  # settle pairs again before each later sweep (with the domain model)
    keep_top: int = 6  # candidates per position kept after the first sweep
    keep_margin: float = 12.5  # ... if within this many nats of the best
    word_margin: float = 8.0  # skip word evidence when the best leads by more than this


#: Weights of the first decoder, whose in-domain model knows only the training text (it repairs the
#: vendored corpus, whose repair then joins the in-domain model of the final decoder). Fitted the
#: same way as :class:`Weights`, with that smaller model.
BASE_WEIGHTS = Weights(
    general=0.322,
    general_prior=-0.185,
    dictionary=0.239,
    words=0.407,
    frame=1.621,
    indomain=0.890,
    indomain_prior=-0.287,
    trigger=0.907,
)


class Decoder:
    """Scores rows of (position, candidate) against the models; see the module docstring."""

    def __init__(
        self,
        *,
        general: NgramModel,
        dictionary: DictBigram,
        words: WordModel,
        weights: Weights | None = None,
        frame: FrameModel | None = None,
        domain_streams: Sequence[Codes] = (),
        indomain: KNModel | None = None,
        trigger: TriggerModel | None = None,
    ) -> None:
        self.indomain = indomain
        self.trigger = trigger
        self.frame = frame
        self.general = general
        self.dictionary = dictionary
        self.words = words
        self.w = weights or Weights()
        self.domain_streams = list(domain_streams)

    def decide(self, scan: Scan) -> Decision:
        slots = scan.slots
        if not slots:
            return Decision([], np.zeros(0), np.zeros((0, 4), dtype=np.int64), np.zeros(0), [])
        toks, slot_tok = _token_stream(scan)
        # Rows: one per (slot, candidate).
        counts = np.array([len(s.choices) for s in slots])
        row_slot = np.repeat(np.arange(len(slots)), counts)
        cand_chars = [c for s in slots for c in s.choices]
        cand = np.array([ord(c) for c in cand_chars], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        edge = np.full(PAD, NEWLINE, dtype=np.int64)
        pad = np.concatenate((edge, toks, edge))
        t = slot_tok[row_slot] + PAD  # index into pad
        is_slot = pad == SLOT
        static = self._static(toks, pad, slot_tok, row_slot, t, cand)
        learn = len(slots) >= self.w.em_min_slots
        domain: NgramModel | None = None
        # First sweep: neighbouring damaged characters unknown.
        score = self._score(pad, t, cand, domain) + static
        # Keep the few candidates still in the race: later sweeps score far fewer rows.
        keep = top_rows(score, starts, counts, self.w.keep_top)
        ok = (keep >= 0) & (score[np.maximum(keep, 0)] >= score[keep[:, :1]] - self.w.keep_margin)
        rows = keep[ok]
        counts = ok.sum(axis=1)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        cand, t, static, score = cand[rows], t[rows], static[rows], score[rows]
        cand_chars = [cand_chars[r] for r in rows.tolist()]
        if self.trigger is not None and self.w.trigger:  # costly per row: only for those kept
            topic = self.w.trigger * self.trigger.score(pad, t, cand)
            static, score = static + topic, score + topic
        best = argmax_per_slot(score, starts, counts)
        best = self._joint_pairs(
            scan, pad, slot_tok, cand, cand_chars, score, starts, counts, best, domain, static
        )
        for sweep in range(self.w.sweeps):
            if sweep and self.w.pairs_again:
                best = self._joint_pairs(
                    scan, pad, slot_tok, cand, cand_chars, score, starts, counts, best, domain, static
                )
            current = pad.copy()
            current[slot_tok + PAD] = cand[best]
            if learn:
                post = posteriors(score, starts, counts)
                domain = self._domain(toks, current, t, cand, post, is_slot)
            score = self._score(current, t, cand, domain) + static
            score = score + self._word_scores(scan, score, starts, counts, cand_chars, best)
            best = argmax_per_slot(score, starts, counts)
        return decision(score, starts, counts, cand_chars)

    def _static(
        self, toks: Codes, pad: Codes, slot_tok: Codes, row_slot: Codes, t: Codes, cand: Codes
    ) -> Floats:
        """Row terms that do not depend on neighbouring damaged characters: the 在…中 frame and
        the general and in-domain models' own priors for the candidate (negative weights: they
        undo the unigram the n-gram terms count several times). The topic triggers join after
        pruning."""
        w = self.w
        total = np.zeros(len(cand))
        if self.frame is not None and w.frame:
            inside = frame_flags(toks)[slot_tok][row_slot]
            total += w.frame * self.frame.logratio(cand, inside)
        if w.general_prior:
            total += w.general_prior * self.general.prior(cand)
        if self.indomain is not None and w.indomain_prior:
            kn = self.indomain
            total += w.indomain_prior * kn.logprob(np.zeros((len(cand), 0), dtype=np.int64), kn.dense(cand))
        return total

    def _joint_pairs(
        self,
        scan: Scan,
        pad: Codes,
        slot_tok: Codes,
        cand: Codes,
        cand_chars: list[str],
        score: Floats,
        starts: Codes,
        counts: Codes,
        best: Codes,
        domain: NgramModel | None,
        static: Floats,
    ) -> Codes:
        """Settle two damaged characters side by side (名字, 源码) together: every pair of their
        leading candidates is scored on all n-grams touching either, plus the word evidence."""
        pair_first = np.flatnonzero(slot_tok[1:] == slot_tok[:-1] + 1)
        if len(pair_first) == 0:
            return best
        k = self.w.pair_top
        top = top_rows(score, starts, counts, k)  # (slots, k) row indices, -1 where fewer
        # Candidates far behind their position's best are not worth pairing up.
        lead = score[np.maximum(top, 0)] >= score[top[:, :1]] - self.w.pair_margin
        top = np.where(lead, top, -1)
        first, second = top[pair_first], top[pair_first + 1]
        ra = np.repeat(first, k, axis=1).ravel()
        rb = np.tile(second, (1, k)).ravel()
        pair_of = np.repeat(np.arange(len(pair_first)), k * k)
        valid = (ra >= 0) & (rb >= 0)
        ra, rb, pair_of = ra[valid], rb[valid], pair_of[valid]
        current = pad.copy()
        current[slot_tok + PAD] = cand[best]
        ti = slot_tok[pair_first][pair_of] + PAD
        a, b = cand[ra], cand[rb]
        l2, l1, r1, r2 = current[ti - 2], current[ti - 1], current[ti + 2], current[ti + 3]
        w = self.w
        total = np.zeros(len(ra))
        models: list[tuple[NgramModel, float]] = [(self.general, w.general)]
        if domain is not None:
            models.append((domain, w.domain))
        for model, weight in models:
            total += weight * (
                model.logprob(l2, l1, a)
                + model.logprob(l1, a, b)
                + model.logprob(a, b, r1)
                + model.logprob(b, r1, r2)
            )
        dic = self.dictionary
        total += w.dictionary * (dic.logprob(l1, a) + dic.logprob(a, b) + dic.logprob(b, r1))
        total += static[ra] + static[rb]
        if self.indomain is not None and w.indomain:
            kn = self.indomain
            total += w.indomain * kn.window_score(kn.dense(current), ti, [kn.dense(a), kn.dense(b)])
        if w.words:
            chars = list(scan.chars)
            for slot, row in zip(scan.slots, best.tolist(), strict=True):
                chars[slot.pos] = cand_chars[row]
            values: dict[int, float | None] = {}
            for n, (x, y, p) in enumerate(zip(ra.tolist(), rb.tolist(), pair_of.tolist(), strict=True)):
                pos = scan.slots[int(pair_first[p])].pos
                left = max(0, pos - self.words.reach + 1)
                window = chars[left : pos + self.words.reach + 1]
                window[pos - left] = cand_chars[x]
                window[pos - left + 1] = cand_chars[y]
                values[n] = self.words.pair_bonus("".join(window), pos - left)
            by_pair: dict[int, dict[int, float | None]] = {}
            for n, p in enumerate(pair_of.tolist()):
                by_pair.setdefault(p, {})[n] = values[n]
            for group in by_pair.values():
                for n, value in neutral_fill(group).items():
                    total[n] += w.words * value
        order = np.lexsort((-total, pair_of))
        first_of_pair = order[np.concatenate(([True], pair_of[order][1:] != pair_of[order][:-1]))]
        best = best.copy()
        best[pair_first[pair_of[first_of_pair]]] = ra[first_of_pair]
        best[pair_first[pair_of[first_of_pair]] + 1] = rb[first_of_pair]
        return best

    def _score(self, ctx: Codes, t: Codes, cand: Codes, domain: NgramModel | None) -> Floats:
        l2, l1, r1, r2 = ctx[t - 2], ctx[t - 1], ctx[t + 1], ctx[t + 2]
        has_r1 = r1 != SLOT
        has_r2 = has_r1 & (r2 != SLOT)
        w = self.w
        total = np.zeros(len(t))
        models: list[tuple[NgramModel, float]] = [(self.general, w.general)]
        if domain is not None:
            models.append((domain, w.domain))
        for model, weight in models:
            s = model.logprob(l2, l1, cand)
            s = s + np.where(has_r1, model.logprob(l1, cand, r1), 0.0)
            s = s + np.where(has_r2, model.logprob(cand, r1, r2), 0.0)
            total += weight * s
        d = self.dictionary.logprob(l1, cand) + np.where(has_r1, self.dictionary.logprob(cand, r1), 0.0)
        total += w.dictionary * d
        if self.indomain is not None and w.indomain:
            kn = self.indomain
            total += w.indomain * kn.window_score(kn.dense(ctx), t, [kn.dense(cand)])
        return np.asarray(total, dtype=np.float64)

    def _domain(
        self,
        toks: Codes,
        ctx: Codes,
        t: Codes,
        cand: Codes,
        post: Floats,
        is_slot: np.ndarray,
    ) -> NgramModel:
        """Domain model: the input's undamaged n-grams plus expected counts at damaged positions."""
        l2, l1, r1, r2 = ctx[t - 2], ctx[t - 1], ctx[t + 1], ctx[t + 2]
        s_l2, s_l1, s_r1, s_r2 = is_slot[t - 2], is_slot[t - 1], is_slot[t + 1], is_slot[t + 2]
        one = np.ones(len(t))
        grams = [
            (cand, post, one),
            (key2(l1, cand), post, 1 + s_l1),
            (key2(cand, r1), post, 1 + s_r1),
            (key3(l2, l1, cand), post, 1 + s_l2 + s_l1),
            (key3(l1, cand, r1), post, 1 + s_l1 + s_r1),
            (key3(cand, r1, r2), post, 1 + s_r1 + s_r2),
        ]
        orders = [0, 1, 1, 2, 2, 2]
        extra: list[tuple[list[Codes], list[Floats]]] = [([], []), ([], []), ([], [])]
        for (keys, p, share), order in zip(grams, orders, strict=True):
            extra[order][0].append(keys)
            extra[order][1].append(p / share)
        merged = [(np.concatenate(k), np.concatenate(w)) for k, w in extra]
        return NgramModel.from_tokens([toks, *self.domain_streams], extra=merged)

    def _word_scores(
        self,
        scan: Scan,
        score: Floats,
        starts: Codes,
        counts: Codes,
        cand_chars: list[str],
        best: Codes,
    ) -> Floats:
        w = self.w
        bonus = np.zeros(len(score))
        if w.words == 0:
            return bonus
        chars = list(scan.chars)
        for slot, b in zip(scan.slots, best.tolist(), strict=True):
            chars[slot.pos] = cand_chars[b]
        top = top_rows(score, starts, counts, w.word_top)
        close = (top[:, 1] >= 0) & (score[top[:, 0]] - score[np.maximum(top[:, 1], 0)] <= w.word_margin)
        for i in np.flatnonzero(close).tolist():
            pos = scan.slots[i].pos
            left = max(0, pos - self.words.reach + 1)
            window = "".join(chars[left : pos + self.words.reach])
            values = {
                row: self.words.bonus(window, pos - left, cand_chars[row])
                for row in top[i].tolist()
                if row >= 0
            }
            bonus_of_slot = neutral_fill(values)
            lo, n = int(starts[i]), int(counts[i])
            floor = min(bonus_of_slot.values())
            bonus[lo : lo + n] = w.words * floor  # candidates outside the top get the lowest
            for row, value in bonus_of_slot.items():
                bonus[row] = w.words * value
        return bonus


def _token_stream(scan: Scan) -> tuple[Codes, Codes]:
    """Normalized token codes of the scanned text, with the token index of every slot."""
    pieces: list[str] = []
    prev = 0
    for slot in scan.slots:
        pieces.append("".join(scan.chars[prev : slot.pos]).replace("\x00", ""))
        prev = slot.pos + 1
    pieces.append("".join(scan.chars[prev:]).replace("\x00", ""))
    text = "\x00".join(pieces)
    toks = as_codes(normalize(text))
    slot_tok = np.flatnonzero(toks == SLOT)
    if len(slot_tok) != len(scan.slots):  # pragma: no cover - normalize never drops \x00
        raise AssertionError("slot markers lost in normalization")
    return toks, slot_tok
