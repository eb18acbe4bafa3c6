"""Fit the weights of the repair's score (``repair_decode.Weights`` and ``BASE_WEIGHTS``).

The score of a candidate is a weighted sum of evidence (general trigrams, jieba's dictionary, the
in-domain Kneser-Ney model and its prior, word evidence, the 在…中 frame, topic triggers). This
script fits the weights as a conditional log-linear model, the true character against the other
candidates of its position, by maximum likelihood (L-BFGS, a little L2):

* half of the weight goes to the damaged *training* text (``retrieval/corpus/data/train``), each
  group of files (by first letter: a_, b_, c_, d_) repaired with in-domain models learned from the
  other groups only, so the in-domain model is never scored on text it has seen;
* half goes to the dev text (the files ``bench/repair.py --dev`` reads).

The held-out benchmark text is never read. Neighbouring characters are taken from the clean text
(the decoder fills them in over its sweeps), so the fit is an approximation of the decoder's
real use. ``--base`` fits the first decoder (in-domain model of the training text alone); the
default fits the final one (training text plus the repaired vendored corpus).

    .venv/bin/python bench/repair_fit.py
    .venv/bin/python bench/repair_fit.py --base
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from repair import dev_files  # noqa: E402

from retrieval.corpus import repair_sources as sources  # noqa: E402
from retrieval.corpus.repair import learned_domain_text  # noqa: E402
from retrieval.corpus.repair_codec import damage, scan  # noqa: E402
from retrieval.corpus.repair_decode import BASE_WEIGHTS, PAD, Weights  # noqa: E402
from retrieval.corpus.repair_kn import KNModel, model_of  # noqa: E402
from retrieval.corpus.repair_lm import (  # noqa: E402
    NEWLINE,
    SLOT,
    DictBigram,
    FrameModel,
    NgramModel,
    as_codes,
    frame_flags,
    normalize,
)
from retrieval.corpus.repair_rank import neutral_fill  # noqa: E402
from retrieval.corpus.repair_trigger import TriggerModel, tokens  # noqa: E402
from retrieval.corpus.repair_words import WordModel, build_word_model  # noqa: E402

NAMES = ["general", "general_prior", "dictionary", "indomain", "indomain_prior", "words", "frame", "trigger"]


@dataclass(frozen=True)
class Shared:
    """The parts that do not depend on the training text."""

    general: NgramModel
    dictionary: DictBigram
    frame: FrameModel
    words: WordModel


Part = tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.int64]]


def features(clean: str, kn: KNModel, trigger: TriggerModel, shared: Shared) -> Part:
    """(rows × features, is-true-candidate, slot of each row) for one damaged text."""
    scanned = scan(damage(clean))
    chars = list(clean)
    for slot in scanned.slots:
        chars[slot.pos] = "\x00"
    toks = as_codes(normalize("".join(chars)))
    slot_tok = np.flatnonzero(toks == SLOT)
    truth = toks.copy()
    truth[slot_tok] = [ord(clean[s.pos]) for s in scanned.slots]
    counts = np.array([len(s.choices) for s in scanned.slots])
    row_slot = np.repeat(np.arange(len(scanned.slots)), counts)
    cand_chars = [c for s in scanned.slots for c in s.choices]
    cand = np.array([ord(c) for c in cand_chars], dtype=np.int64)
    label = np.array([c == clean[scanned.slots[i].pos] for i, c in zip(row_slot, cand_chars, strict=True)])
    edge = np.full(PAD, NEWLINE, dtype=np.int64)
    pad = np.concatenate((edge, truth, edge))
    t = slot_tok[row_slot] + PAD
    l2, l1, r1, r2 = pad[t - 2], pad[t - 1], pad[t + 1], pad[t + 2]
    general, dictionary, frame, words = shared.general, shared.dictionary, shared.frame, shared.words
    cols = {
        "general": general.logprob(l2, l1, cand)
        + general.logprob(l1, cand, r1)
        + general.logprob(cand, r1, r2),
        "general_prior": general.prior(cand),
        "dictionary": dictionary.logprob(l1, cand) + dictionary.logprob(cand, r1),
        "indomain": kn.window_score(kn.dense(pad), t, [kn.dense(cand)]),
        "indomain_prior": kn.logprob(np.zeros((len(cand), 0), dtype=np.int64), kn.dense(cand)),
        "frame": frame.logratio(cand, frame_flags(truth)[slot_tok][row_slot]),
        "trigger": trigger.score(pad, t, cand),
    }
    bonus = np.zeros(len(cand))
    start = 0
    for slot in scanned.slots:
        left = max(0, slot.pos - words.reach + 1)
        window = clean[left : slot.pos + words.reach]
        rows = range(start, start + len(slot.choices))
        filled = neutral_fill({r: words.bonus(window, slot.pos - left, cand_chars[r]) for r in rows})
        for r, value in filled.items():
            bonus[r] = value
        start += len(slot.choices)
    cols["words"] = bonus
    return np.stack([cols[n] for n in NAMES], axis=1), label, row_slot


def fit(
    parts: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.int64], float]],
    l2: float = 1e-3,
) -> npt.NDArray[np.float64]:
    """Maximum-likelihood weights; each part is (X, label, row_slot, weight per slot)."""
    xs, labels, slots, sw = [], [], [], []
    offset = 0
    for x, label, row_slot, w in parts:
        xs.append(x)
        labels.append(label)
        slots.append(row_slot + offset)
        sw.append(np.full(row_slot.max() + 1, w))
        offset += row_slot.max() + 1
    x, label, row_slot, weight = (
        np.concatenate(xs),
        np.concatenate(labels),
        np.concatenate(slots),
        np.concatenate(sw),
    )
    starts = np.flatnonzero(np.r_[True, row_slot[1:] != row_slot[:-1]])
    sizes = np.diff(np.r_[starts, len(row_slot)])
    row_weight = np.repeat(weight, sizes)

    def loss(w: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        s = x @ w
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - np.repeat(top, sizes))
        z = np.add.reduceat(e, starts)
        p = e / np.repeat(z, sizes)
        ll = (s[label] * weight).sum() - ((np.log(z) + top) * weight).sum()
        grad = (x[label] * weight[:, None]).sum(0) - ((p * row_weight)[:, None] * x).sum(0)
        return -ll + l2 * w @ w, -grad + 2 * l2 * w

    result = minimize(loss, np.full(x.shape[1], 0.1), jac=True, method="L-BFGS-B")
    return np.asarray(result.x, dtype=np.float64)


def errors(
    x: npt.NDArray[np.float64],
    label: npt.NDArray[np.bool_],
    row_slot: npt.NDArray[np.int64],
    w: npt.NDArray[np.float64],
) -> int:
    s = x @ w
    order = np.lexsort((-s, row_slot))
    first = order[np.r_[True, row_slot[order][1:] != row_slot[order][:-1]]]
    return int((~label[first]).sum())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", action="store_true", help="fit the first decoder (training text only)")
    args = parser.parse_args()
    extra = [] if args.base else [learned_domain_text()]
    shared = Shared(
        general=sources.general_model(),
        dictionary=sources.dict_bigram(),
        frame=sources.general_frame(),
        words=build_word_model(
            sources.dictionary_words(), curated=sources.curated_words(), lexicon=sources.lexicon_terms()
        ),
    )
    files = sources.train_files()
    train = []
    for group in sorted({f.name[0] for f in files}):
        others = [f.read_text(encoding="utf-8") for f in files if f.name[0] != group]
        kn = model_of(others + extra)
        trigger = TriggerModel([tokens(t) for t in others])
        for f in files:
            if f.name[0] == group:
                train.append(features(f.read_text(encoding="utf-8"), kn, trigger, shared))
    texts = [f.read_text(encoding="utf-8") for f in files]
    kn, trigger = model_of(texts + extra), TriggerModel([tokens(t) for t in texts])
    dev = [features(p.read_text(encoding="utf-8"), kn, trigger, shared) for p in dev_files()]
    n_train = sum(int(r.max()) + 1 for _, _, r in train)
    n_dev = sum(int(r.max()) + 1 for _, _, r in dev)
    total = n_train + n_dev
    w = fit([(*p, 0.5 * total / n_train) for p in train] + [(*p, 0.5 * total / n_dev) for p in dev])
    current = BASE_WEIGHTS if args.base else Weights()
    now = np.array([getattr(current, n) for n in NAMES])
    print("fitted weights:", ", ".join(f"{n}={v:.3f}" for n, v in zip(NAMES, w, strict=True)))
    for name, parts in (("training text (held-out groups)", train), ("dev text", dev)):
        slots = sum(int(r.max()) + 1 for _, _, r in parts)
        wrong = sum(errors(x, label, r, w) for x, label, r in parts)
        before = sum(errors(x, label, r, now) for x, label, r in parts)
        print(
            f"{name}: {slots} damaged characters, wrong with clean neighbours: {wrong} fitted, "
            f"{before} with the weights in repair_decode"
        )


if __name__ == "__main__":
    main()
