"""Repair of the damaged seed: undo cp1252 mojibake and restore the bytes that were dropped.

The seed is UTF-8 that was decoded as cp1252 and written back as UTF-8; the bytes cp1252 leaves
undefined (0x81 0x8D 0x8F 0x90 0x9D) and the soft hyphen 0xAD were lost. The repair

1. re-encodes each run of cp1252 characters to bytes (:mod:`repair_codec`), decodes the intact
   UTF-8 and marks every truncated sequence (a lead byte with too few continuation bytes);
2. lists the characters each one could have been by re-inserting the lost bytes (only bytes the
   input shows were lost: where 中 came through intact, 0xAD was not dropped and 不 stays 不);
3. chooses among them with a language model that reads both sides (:mod:`repair_decode`): a
   Kneser-Ney 5-gram model of in-domain text (:mod:`repair_kn`: ~159k Chinese characters of
   technical prose and chat written as training text, ``data/train/``, plus the corpus as repaired
   once, :mod:`repair_domain`, cached under ``index/build/repair/``), trigrams of general running
   Chinese, jieba's dictionary (boosted for words CC-CEDICT lists), the tech lexicon
   (``data/tech_lexicon.txt``: completing 高可用 or 控制面 is strong evidence), a "在/从/到 X 中"
   frame, and topic triggers from the training text (:mod:`repair_trigger`: PV and 挂载 nearby
   call for 卷). The weights were fitted on damaged training text and the dev text. Long inputs
   also teach themselves (EM), and neighbouring damaged characters are settled jointly.

Text that was never damaged (clean Chinese, ASCII, "café") comes back byte-identical. Choices whose
runner-up is close are reported in ``uncertain_spans``: kept as the best guess, never dropped.

Example:
    >>> from retrieval.corpus.repair_codec import damage
    >>> result = repair_text(damage("数据存储在哪里？"))
    >>> result.text, result.repaired
    ('数据存储在哪里？', 2)
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from retrieval.corpus.repair_codec import scan

if TYPE_CHECKING:
    from retrieval.corpus.repair_decode import Decoder

#: A choice is uncertain when the runner-up scores within this many nats of it (posterior odds
#: below about 7 : 1; the weights were fitted as a log-linear model, so the odds are calibrated).
#: On the dev texts 1.1% of the damaged characters fall under it and they hold about half of the
#: wrong choices (at 1.0: 0.6% flagged, 37% of the errors; at 4.0: 2.1% flagged, 61%).
UNCERTAIN_MARGIN = 2.0


class UncertainSpan(BaseModel):
    """One restored character the model was not sure about."""

    offset: int = Field(description="Character offset in the repaired text.")
    source_offset: int = Field(description="Character offset of the damaged sequence in the input.")
    source: str = Field(description="The damaged characters as they were in the input.")
    chosen: str
    alternatives: list[str] = Field(description="Runner-up candidates, most likely first.")
    confidence: float = Field(description="Posterior probability of the chosen character.")
    margin: float = Field(description="Score lead over the runner-up, in nats.")


class RepairResult(BaseModel):
    """Repaired text plus how much was repaired and how much stays uncertain.

    Example:
        >>> RepairResult(text="ok").uncertain
        0
    """

    text: str
    repaired: int = Field(default=0, description="Damaged characters restored (best guess each).")
    uncertain: int = Field(default=0, description="Restored characters whose choice was close.")
    uncertain_offsets: list[int] = Field(default_factory=list, description="Offsets of those, in `text`.")
    uncertain_spans: list[UncertainSpan] = Field(default_factory=list)
    decoded: int = Field(default=0, description="Mojibake characters that were intact and just re-decoded.")
    unresolved: int = Field(default=0, description="Truncated sequences no character fits; kept as written.")


_lock = threading.Lock()


class _State:
    decoder: Decoder | None = None
    base: Decoder | None = None  # without the domain model: for the corpus it was learned from
    sources: frozenset[str] = frozenset()
    domain: str = ""  # the vendored corpus as the first decoder repaired it


def _decoder(text: str | None = None) -> Decoder:
    """Build the decoder once per process: the general sources, then the domain model (from the
    cache under index/build/repair/, or learned from the vendored corpus on the first run)."""
    with _lock:
        if _State.decoder is None:
            from retrieval.config import DEFAULT_BUILD_DIR, DEFAULT_CORPUS_DIR
            from retrieval.corpus import repair_sources as sources
            from retrieval.corpus.repair_decode import BASE_WEIGHTS, Decoder, Weights
            from retrieval.corpus.repair_domain import domain_text
            from retrieval.corpus.repair_kn import KNModel
            from retrieval.corpus.repair_lm import tokens
            from retrieval.corpus.repair_words import build_word_model

            words = build_word_model(
                sources.dictionary_words(), curated=sources.curated_words(), lexicon=sources.lexicon_terms()
            )
            general, dictionary = sources.general_model(), sources.dict_bigram()
            frame, trigger = sources.general_frame(), sources.trigger_model()

            def make(weights: Weights, indomain: KNModel, streams: list[str]) -> Decoder:
                return Decoder(
                    weights=weights,
                    general=general,
                    dictionary=dictionary,
                    words=words,
                    frame=frame,
                    trigger=trigger,
                    indomain=indomain,
                    domain_streams=[tokens(t) for t in streams],
                )

            # First decoder: in-domain model of the training text alone. It repairs the vendored
            # corpus once (cached); that repair then joins the in-domain model of the final one.
            base = make(BASE_WEIGHTS, sources.indomain_model(), [])
            domain = domain_text(
                lambda scanned: base.decide(scanned).choice,
                corpus_dir=DEFAULT_CORPUS_DIR,
                cache_dir=DEFAULT_BUILD_DIR / "repair",
                min_slots=Weights().em_min_slots,
            )
            extra = [domain.text] if domain.text else []
            _State.decoder = make(Weights(), sources.indomain_model(*extra), extra)
            _State.base, _State.sources, _State.domain = base, domain.sources, domain.text
        if text is not None and _State.sources and _State.base is not None:
            from retrieval.corpus.repair_domain import text_hash

            if text_hash(text) in _State.sources:
                return _State.base
        return _State.decoder


def warm_up() -> None:
    """Load the repair's models now instead of on the first damaged text."""
    _decoder()


def learned_domain_text() -> str:
    """The vendored corpus as the first decoder repaired it (part of the in-domain model); empty
    when there is none. For tools such as ``bench/repair_fit.py``."""
    _decoder()
    return _State.domain


def repair_text(text: str, *, uncertain_margin: float = UNCERTAIN_MARGIN) -> RepairResult:
    """Repair *text*; see the module docstring. Deterministic; undamaged text is returned as is."""
    if text.isascii():
        return RepairResult(text=text)
    scanned = scan(text)
    if not scanned.slots:
        fixed = "".join(scanned.chars)
        return RepairResult(text=fixed, decoded=scanned.decoded, unresolved=len(scanned.unresolvable))
    decision = _decoder(text).decide(scanned)
    chars = scanned.chars
    spans: list[UncertainSpan] = []
    for i, (slot, choice, margin) in enumerate(
        zip(scanned.slots, decision.choice, decision.margin.tolist(), strict=True)
    ):
        chars[slot.pos] = choice
        if margin < uncertain_margin:
            ranked = decision.ranked(i)
            spans.append(
                UncertainSpan(
                    offset=slot.pos,
                    source_offset=slot.src_start,
                    source=text[slot.src_start : slot.src_end],
                    chosen=choice,
                    alternatives=[c for c, _ in ranked[1:]],
                    confidence=round(ranked[0][1], 4),
                    margin=round(margin, 3),
                )
            )
    fixed = "".join(chars)
    return RepairResult(
        text=fixed,
        repaired=len(scanned.slots),
        uncertain=len(spans),
        uncertain_offsets=[s.offset for s in spans],
        uncertain_spans=spans,
        decoded=scanned.decoded,
        unresolved=len(scanned.unresolvable),
    )
