"""The search backend: query → lexical + vector channels → fusion → folded, cited hits or abstention.

Example:
    >>> from retrieval.config import RetrievalSettings
    >>> s = Searcher(RetrievalSettings(embedder="hash"))
    >>> s.ready
    False
    >>> s.search("").reason
    'the question is empty: type what you want to know'
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrieval.build import (
    REBUILD_HINT,
    IndexStale,
    IndexUnavailable,
    LoadedIndex,
    build_index,
    load_index,
)
from retrieval.colloquial import colloquial_terms
from retrieval.config import RetrievalSettings
from retrieval.crosslingual import lemmas
from retrieval.dense import Embedder, make_embedder
from retrieval.fuse import Candidate, Decision, Evidence, decide, fold, fuse, max_score
from retrieval.glossary import ALIASES, GLOSSARY, english_terms
from retrieval.lexical import EN_STOP, normalize, top_indices
from retrieval.models import Hit, SearchResult, SessionRef
from retrieval.query import check_query
from retrieval.terms import Vocabulary

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

CHANNEL_MODES = ("fused", "lexical", "vector")
# Product-like words: Latin words with a capital letter or a digit (Karpenter, HTTPRoute, k8s, etcd3).
_LATIN_WORD = re.compile(r"(?<![a-z0-9])[a-z][a-z\-]*[a-z](?![a-z0-9])")
_NAME_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:[A-Z0-9][A-Za-z0-9]*)?(?![A-Za-z0-9])")
_JOINER = re.compile(r"[-/.=_:+]+")


def _compound_forms(tokens: Iterable[str]) -> set[str]:
    """Latin compounds among ``tokens`` (bare-host, auth/tls, e.g) and their glued forms (barehost).

    The tokenizer emits a compound's parts as tokens of their own, so a compound the index does not
    know adds nothing to a query but would count as a word nobody uses.
    """
    out: set[str] = set()
    for token in tokens:
        parts = [p for p in _JOINER.split(token) if p]
        if token.isascii() and len(parts) > 1:
            out.update((token, "".join(parts)))
    return out


@dataclass(frozen=True)
class QueryUnit:
    """One thing the query asks for, with the tokens that count as finding it."""

    weight: float
    alternatives: frozenset[str]
    known: bool = True  # some alternative occurs in the index
    untranslated: bool = False  # an English word that neither the index nor the dictionaries render


@dataclass(frozen=True)
class Explained:
    """Internals of one search, for the benchmark and for debugging."""

    result: SearchResult
    candidates: list[Candidate]
    coverage: float
    evidence: Evidence | None = None
    confidence: float = 0.0


class Searcher:
    """Hybrid search over the built index; implements `retrieval.models.SearchBackend`.

    Loading is lazy: the first `search()` (or an explicit `warm_up()`) loads the index, building or
    rebuilding it when it is missing, stale or damaged and ``settings.auto_rebuild`` is on.

    Example:
        searcher = Searcher(settings.retrieval)
        searcher.warm_up()
        result = searcher.search("普通用户能自定义 Pod 优先级吗？", top_k=3)
    """

    def __init__(
        self,
        settings: RetrievalSettings,
        *,
        embedder: Embedder | None = None,
        progress: bool = False,
        say: Callable[[str], None] | None = None,
        check_fresh: bool = True,
    ) -> None:
        self.settings = settings
        self._check_fresh = check_fresh
        self._embedder = embedder
        self._progress = progress
        self._say = say or (lambda msg: log.info("%s", msg))
        self._index: LoadedIndex | None = None
        self._signatures: dict[int, frozenset[str]] = {}
        self._vocabulary: Vocabulary | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    @property
    def ready(self) -> bool:
        return self._index is not None

    @property
    def index(self) -> LoadedIndex:
        self.warm_up()
        assert self._index is not None
        return self._index

    @property
    def vocabulary(self) -> Vocabulary:
        """Document frequencies and English lexicon of the loaded index, for query-term analysis."""
        if self._vocabulary is None:
            index = self.index
            english = set(index.crosslingual.english) | set(EN_STOP) | {w for k in GLOSSARY for w in k.split()}
            self._vocabulary = Vocabulary(
                index.lexical.df,
                num_docs=index.lexical.num_docs,
                english=english,
                cohesion_floor=self.settings.bigram_cohesion_floor,
                words=[t for t in index.lexical.vocab if t[:1].isascii() and t[:1].isalpha()],
            )
        return self._vocabulary

    def warm_up(self) -> None:
        """Load (or build) the index, the tokenizer and the query encoder."""
        if self._index is not None:
            return
        with self._lock:
            if self._index is not None:
                return
            embedder = self.embedder
            try:
                index = load_index(self.settings, model_id=embedder.model_id, check_fresh=self._check_fresh)
            except IndexUnavailable as exc:
                if not self.settings.auto_rebuild:
                    hint = f"; {REBUILD_HINT}" if isinstance(exc, IndexStale) else ""
                    raise IndexUnavailable(f"{exc}{hint}") from exc
                self._say(f"{exc}; building the index now")
                build_index(self.settings, embedder=embedder, progress=self._progress, say=self._say)
                index = load_index(self.settings, model_id=embedder.model_id, check_fresh=False)
            index.tokenizer.warm_up()
            embedder.warm_up()
            self._index = index

    # --- query analysis -------------------------------------------------------------------

    def _units(self, text: str) -> tuple[list[QueryUnit], set[str]]:
        """What the query asks for, and which expansion tokens came from the dictionary (weaker)."""
        index = self.index
        tok = index.tokenizer
        lex = index.lexical
        units: dict[str, set[str]] = {t: {t, *ALIASES.get(t, ())} for t in dict.fromkeys(tok.tokenize(text))}
        vocab = self.vocabulary
        dictionary: set[str] = set()
        if self.settings.spelling:
            for key in list(units):
                fixed = vocab.correction(key)
                if fixed:  # a typo of a word the corpus uses: the fix counts as a dictionary rendering
                    units[key].add(fixed)
                    dictionary.add(fixed)
        covered: set[str] = set()
        spoken = colloquial_terms(text) if self.settings.colloquial else []
        for phrase, renderings in [*english_terms(text), *spoken]:
            alts = {t for r in renderings for t in tok.tokenize(r)}
            words = [w for w in tok.tokenize(phrase) if w in units] or [phrase]
            covered.update(phrase.split())
            for w in words:
                units.setdefault(w, {w}).update(alts)
        if self.settings.dictionary_weight > 0:
            for word, zh_words in index.crosslingual.expand(text, skip=covered):
                alts = {t for r in zh_words for t in tok.tokenize(r)}
                dictionary.update(alts - units.get(word, set()))
                units.setdefault(word, {word}).update(alts)
        if self.settings.reverse_dictionary:
            for zh_word, en_words in index.crosslingual.expand_chinese(text):
                alts = set(en_words) - set(units)
                dictionary.update(alts)
                for key in [w for w in tok.tokenize(zh_word) if w in units and len(w) > 1]:
                    units[key].update(alts)
        out = []
        derived = _compound_forms(units)
        for key, alts in units.items():
            known = [lex.idf(a) for a in alts if a in lex.vocab]
            if not known and key in derived:
                continue  # an unknown compound (bare-host, auth/tls) or its glued form: its parts stand for it
            weight = (min(known) if known else lex.idf(key)) * vocab.cohesion(key) * self._unigram_factor(key)
            # An English word no table translates is neither found nor missed: coverage leaves it out.
            untranslated = not known and vocab.is_english(key)
            out.append(QueryUnit(weight, frozenset(alts), known=bool(known), untranslated=untranslated))
        return out, dictionary

    def _weighted_tokens(self, units: list[QueryUnit], text: str, dictionary: set[str]) -> dict[str, float]:
        own = set(self.index.tokenizer.tokenize(text))
        cohesion = self.vocabulary.cohesion
        weights: dict[str, float] = {}
        for unit in units:
            for t in unit.alternatives:
                if t in own:
                    w = cohesion(t) * self._unigram_factor(t)
                elif t in dictionary:
                    w = self.settings.dictionary_weight
                else:
                    w = self.settings.glossary_weight
                weights[t] = max(weights.get(t, 0.0), w)
        return weights

    def _unigram_factor(self, token: str) -> float:
        """Query weight of a lone Chinese character (bigramuni/mixuni): a fallback signal, weaker than words."""
        return self.settings.unigram_weight if len(token) == 1 and token >= "\u3400" else 1.0

    def _coverage(self, units: list[QueryUnit], idx: int) -> tuple[float, float, float, float]:
        """Shares of the query's IDF mass: found in hit ``idx``, found among the words the index knows,
        never used by the index, and English words nothing translates (left out of the first three)."""
        everything = sum(u.weight for u in units)
        units = [u for u in units if not u.untranslated]
        total = sum(u.weight for u in units)
        if total <= 0:
            return 0.0, 0.0, 0.0, 1.0 if everything > 0 else 0.0
        has = self.index.lexical.doc_has
        found = sum(u.weight for u in units if any(has(idx, t) for t in u.alternatives))
        known = sum(u.weight for u in units if u.known)
        return found / total, (found / known if known > 0 else 0.0), 1.0 - known / total, 1.0 - total / everything

    def _has_unknown_name(self, text: str) -> bool:
        """Whether a Latin word of the query names something the index never mentions (see retrieval.terms)."""
        vocab = self.vocabulary
        return any(
            vocab.unknown_name(w) and not self._rendered(w)
            for w in dict.fromkeys(_LATIN_WORD.findall(normalize(text)))
        )

    def _rendered(self, word: str) -> bool:
        """Whether an alias (k8s → kubernetes) or the glossary (Didi → 滴滴) turns ``word`` into words the index uses."""
        tok, vocab = self.index.tokenizer, self.index.lexical.vocab
        return any(a in vocab for a in ALIASES.get(word, ())) or any(
            t in vocab for r in GLOSSARY.get(word, ()) for t in tok.tokenize(r)
        )

    def _readable(self, text: str) -> float:
        share = getattr(self.embedder, "unknown_share", None)
        return 1.0 - float(share(text)) if share is not None else 1.0

    def _names(self, text: str) -> set[str]:
        return {
            m.group().casefold() for m in _NAME_RE.finditer(text) if any(c.isupper() or c.isdigit() for c in m.group())
        } - EN_STOP

    def _unknown_names(self, text: str) -> list[str]:
        """Name-like words the whole archive never uses (nor their letters-only stem: etcd3 → etcd).

        Inflected forms of archive words (VMs → vm) and plain English words or acronyms (SMS) are not
        names of unknown products; the soft ``missing_names`` feature still weighs them.
        """
        vocab = self.index.lexical.vocab
        out = []
        for name in sorted(self._names(text)):
            stem = name.rstrip("0123456789")
            forms = {name, stem, *lemmas(name)}
            if len(name) >= 3 and name.endswith("s"):
                forms.add(name[:-1])  # short plurals lemmas() leaves alone: VMs, PVs
            if any(f in vocab for f in forms) or self._rendered(name) or (
                stem == name and self.vocabulary.is_english(name)
            ):
                continue
            out.append(name)
        return out

    def _missing_names(self, text: str, idx: int) -> float:
        """Share of name-like words (capitals or digits: Karpenter, HTTPRoute, etcd3) the hit lacks.

        A question about a product the knowledge base never mentions is not answered by a hit that
        only shares the generic words around it.
        """
        names = self._names(text)
        if not names:
            return 0.0
        has = self.index.lexical.doc_has
        missing = [n for n in names if not any(has(idx, a) for a in (n, *ALIASES.get(n, ())))]
        return len(missing) / len(names)

    def _signature(self, idx: int) -> frozenset[str]:
        sig = self._signatures.get(idx)
        if sig is None:
            e = self.index.entries[idx]
            s = "".join(ch for ch in normalize(e.question + e.answer[:400]) if ch.isalnum())
            sig = frozenset(s[i : i + 2] for i in range(len(s) - 1))
            self._signatures[idx] = sig
        return sig

    def _vector_blind(self, text: str) -> bool:
        """True when the embedding model cannot read enough of the query for its vector to help."""
        share = getattr(self.embedder, "unknown_share", None)
        return share is not None and self.settings.vector_skip_unknown <= 1 and share(text) >= self.settings.vector_skip_unknown

    # --- channels -------------------------------------------------------------------------

    def _lexical(self, weights: dict[str, float], n: int) -> list[tuple[int, float]]:
        scores = self.index.lexical.scores(weights, max_df=self.settings.lexical_max_df)
        return [(int(i), float(scores[i])) for i in top_indices(scores, n)]

    def _vector(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        index = self.index
        per = index.vectors_per_entry
        sims, ids = index.vectors.search(qvec.reshape(1, -1), k=n * per)
        best: dict[int, float] = {}
        for vid, sim in zip(ids[0].tolist(), sims[0].tolist(), strict=True):
            if vid < 0:
                continue
            e = vid // per
            if e not in best:
                best[e] = sim
        return sorted(best.items(), key=lambda kv: -kv[1])[:n]

    # --- public ---------------------------------------------------------------------------

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        """Ranked, cited hits for ``query``, or an abstention whose hits are only 'maybe related'."""
        return self.explain(query, top_k=top_k).result

    def explain(self, query: str, *, top_k: int = 5, mode: str = "fused") -> Explained:
        """`search` plus its internals; ``mode`` 'lexical' or 'vector' uses one channel (benchmarks)."""
        if mode not in CHANNEL_MODES:
            raise ValueError(f"mode must be one of {CHANNEL_MODES}")
        checked = check_query(query, max_chars=self.settings.max_query_chars)
        if checked.problem:
            return Explained(SearchResult(query=checked.text, answered=False, hits=[], reason=checked.problem), [], 0.0)
        text = checked.text
        st = self.settings
        top_k = max(1, min(top_k, 50))
        units, dictionary = self._units(text)
        weighted = self._weighted_tokens(units, text, dictionary)
        lexical = self._lexical(weighted, st.candidates) if mode != "vector" else []
        vector: list[tuple[int, float]] = []
        if mode == "vector" or (mode == "fused" and not self._vector_blind(text)):
            vector = self._vector(self.embedder.encode_queries([text])[0], st.candidates)
        method, rrf_k, vector_weight = st.fusion()
        lw = st.lexical_weight if mode != "vector" else 1.0
        vw = vector_weight if mode != "lexical" else 1.0
        fused = fuse(lexical, vector, method=method, rrf_k=rrf_k, lexical_weight=lw, vector_weight=vw)
        kept = fold(fused, signature=self._signature, threshold=st.fold_threshold, limit=top_k)
        coverage, coverage_known, unknown_mass, untranslated = (
            self._coverage(units, kept[0].idx) if kept else (0.0, 0.0, 0.0, 0.0)
        )
        sims = [sim for _, sim in vector[:20]]
        evidence = Evidence(
            coverage=coverage,
            lexical_top=lexical[0][1] if lexical else 0.0,
            lexical_tenth=lexical[min(9, len(lexical) - 1)][1] if lexical else 0.0,
            vector_margin=(sims[0] - sum(sims) / len(sims)) if sims else 0.0,
            agree=bool(lexical and vector and lexical[0][0] == vector[0][0]),
            missing_names=self._missing_names(text, kept[0].idx) if kept else 0.0,
            unknown_mass=unknown_mass,
            untranslated=untranslated,
            coverage_known=coverage_known,
            readable=self._readable(text) if vector else 0.0,
            unknown_names=self._has_unknown_name(text),
        )
        weights, threshold = st.abstention()
        decision = decide(kept[0] if kept else None, evidence, weights=weights, threshold=threshold)
        unknown = self._unknown_names(text) if decision.answered else []
        if unknown:
            decision = Decision(
                False,
                decision.confidence,
                f"the archive never mentions {', '.join(unknown)}; these sessions may be related",
            )
        scale = max_score(method=method, rrf_k=rrf_k, lexical_weight=lw, vector_weight=vw)
        hits = [self._hit(rank, c, scale) for rank, c in enumerate(kept, 1)]
        result = SearchResult(
            query=text,
            answered=decision.answered,
            hits=hits,
            reason=decision.reason,
            confidence=round(decision.confidence, 4) if kept else None,
        )
        return Explained(result, kept, coverage, evidence, decision.confidence)

    def _hit(self, rank: int, cand: Candidate, scale: float) -> Hit:
        entries = self.index.entries
        e = entries[cand.idx]
        note = e.kind == "doc"
        return Hit(
            rank=rank,
            score=round(min(1.0, cand.score / scale), 4),
            qa_id=e.id,
            session=SessionRef(
                id=e.session_id,
                date=dt.date.fromisoformat(e.date),
                title=e.title,
                kind="note" if note else "session",
                date_known=e.date_known,
            ),
            question=e.question,
            answer=e.answer,
            channels=cand.channels,
            folded=[entries[i].id for i in cand.folded],
            kind=e.kind,
            source=e.source if note else None,
            section=e.title if note else None,
            line=e.line if note else None,
        )
