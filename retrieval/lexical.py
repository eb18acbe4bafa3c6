"""Lexical channel: a Chinese-aware tokenizer and weighted BM25 scoring over a bm25s index.

Chinese has no spaces, and jieba's dictionary lacks most cloud-native jargon (服务网格, 灰度发布…),
so CJK runs are cut with jieba's search mode plus a domain dictionary mined from the corpus, and
also into character bigrams (robust to words jieba splits wrongly and to characters the encoding
repair could not recover, U+FFFD, which act as separators). Latin and code tokens are kept whole
and case-folded (`kubectl`, `statefulset`, `--net=host`), plus their parts and their glued
spelling (`kube-proxy` → `kube`, `proxy`, `kubeproxy`).

Example:
    >>> tok = Tokenizer(mode="bigram")
    >>> tok.tokenize("用 kubectl 查看 StatefulSet")
    ['kubectl', '查看', 'statefulset']
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

TOKENIZER_VERSION = "6"
MODES = ("bigram", "jieba", "mix", "mixuni", "bigramuni")

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"(?P<lat>-{{0,2}}[a-z0-9][a-z0-9_.+#/=:\-]*)|(?P<cjk>[{_CJK}]+)")
_PART_SPLIT = re.compile(r"[\-_./=:+#]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_FRAME = re.compile(
    "是?干(?:什么|嘛|啥)的?|有(?:什么|啥)(?:用|区别|不同|优势|好处)?|是(?:什么|啥)|为(?:什么|啥)|怎么(?:办|样|回事|做|弄|搞)?"
    "|咋(?:办|整|样|弄|搞)?|如何|请问|是不是|能不能|有没有|可不可以"
)
_VERSIONED = re.compile(r"^([a-z]{3,})v?\d+$")

# Function words that carry no topic. IDF already damps them; removing them keeps the abstention
# coverage score honest (a query is not "covered" because a document also says 怎么).
EN_STOP = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "doing", "have", "has", "had", "having", "i", "me", "my", "we", "our", "you", "your", "he", "she", "it", "its", "they", "them", "their", "this", "that", "these", "those", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "can", "could", "should", "would", "will", "shall", "may", "might", "must", "not", "no", "yes", "so", "than", "too", "very", "just", "about", "into", "over", "under", "again", "more", "most", "other", "some", "such", "only", "own", "same", "any", "each", "few", "both", "all", "there", "here", "then", "once", "up", "down", "out", "off", "also", "there's", "it's", "what's", "i'm", "don't", "doesn't", "isn't", "anyone", "anybody", "someone", "something", "get", "got", "use", "using", "used", "way", "ways", "best", "thing", "things", "please", "thanks", "vs"]
)
ZH_STOP = frozenset(
    ["的", "了", "是", "吗", "呢", "啊", "吧", "么", "嘛", "呀", "和", "与", "及", "在", "有", "我", "你", "他", "她", "它", "我们", "你们", "他们", "这", "那", "这个", "那个", "这些", "那些", "什么", "怎么", "怎样", "怎么样", "如何", "请问", "一下", "可以", "还是", "或者", "是否", "没有", "有没有", "哪些", "哪个", "为什么", "为啥", "咋", "啥", "就", "都", "也", "还", "会", "能", "要", "吧", "被", "把", "给", "对", "从", "到", "用", "个", "些", "请", "下", "上", "中", "里", "大家", "一个", "一些", "问", "问题", "谢谢", "老师", "其他", "之类", "比如", "以及", "如果", "那么", "是不是", "能否", "能不能", "么", "嗯"]
)
ZH_STOP_BIGRAMS = frozenset(
    ["请问", "什么", "怎么", "一下", "我们", "你们", "这个", "那个", "是否", "如何", "有没", "没有", "可以", "还是", "或者", "为什", "么样", "是不", "不是", "能否", "谢谢", "老师", "大家", "一个", "一些"]
)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width) and case folding, so `ＫＵＢＥＣＴＬ` and `kubectl` match."""
    return unicodedata.normalize("NFKC", text).casefold()


def _latin_tokens(token: str) -> list[str]:
    token = token.rstrip(".:/=-_+")
    if not token or token.strip("-") == "":
        return []
    out = [token]
    bare = token.lstrip("-")
    parts = [p for p in _PART_SPLIT.split(bare) if p]
    if len(parts) > 1:
        out.extend(p for p in parts if len(p) > 1 or p.isdigit())
        # The glued spelling too: host-gw and HOSTGW, docker-compose and dockercompose are one name.
        if bare.count("-") + bare.count("_") == len(parts) - 1 and all(p.isalnum() for p in parts):
            out.append("".join(parts))
    elif bare != token:
        out.append(bare)
    # A version glued to a name also yields the name: etcd3 → etcd, centos7 → centos (not k8s, log4j).
    out.extend(m.group(1) for p in parts if (m := _VERSIONED.match(p)))
    return [t for t in out if t not in EN_STOP]


def _bigrams(run: str) -> list[str]:
    out: list[str] = []
    # Question framing (是干什么的, 有啥用, 怎么办…) names no topic: no bigram spans it, so 干什 or 么的
    # (rare, hence high IDF) cannot make an unrelated question look like a match.
    for part in _FRAME.split(run):
        if len(part) == 1:
            out.extend([] if part in ZH_STOP else [part])
        else:
            out.extend(g for g in (part[i : i + 2] for i in range(len(part) - 1)) if g not in ZH_STOP_BIGRAMS)
    return out


class Tokenizer:
    """Turns text into BM25 tokens. ``mode``: 'bigram', 'jieba' or 'mix' (both).

    ``domain_words`` are added to a private jieba dictionary (jieba's global one is left alone).
    jieba loads lazily, on the first text that needs it.
    """

    def __init__(self, *, mode: str = "mix", domain_words: Sequence[str] = ()) -> None:
        if mode not in MODES:
            raise ValueError(f"tokenizer mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.domain_words = tuple(sorted(set(domain_words)))
        self._jieba: Any = None

    @property
    def version(self) -> str:
        """Changes whenever the tokens could change: code version, mode, domain dictionary."""
        digest = hashlib.sha256("\n".join(self.domain_words).encode()).hexdigest()[:12]
        return f"v{TOKENIZER_VERSION}-{self.mode}-{digest}"

    def warm_up(self) -> None:
        """Load jieba and the domain dictionary now rather than on the first query."""
        if self.mode in ("jieba", "mix", "mixuni"):
            self._jieba_tokenizer()

    def _jieba_tokenizer(self) -> Any:
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            for word in self.domain_words:
                tok.add_word(word, freq=2000)
            self._jieba = tok
        return self._jieba

    def _cjk_tokens(self, run: str) -> list[str]:
        out: list[str] = []
        if self.mode in ("jieba", "mix", "mixuni"):
            words = self._jieba_tokenizer().cut_for_search(run, HMM=False)
            out.extend(w for w in words if len(w) > 1 and w not in ZH_STOP)
            if self.mode == "jieba" and len(run) == 1 and run not in ZH_STOP:
                out.append(run)
        if self.mode in ("bigram", "mix", "mixuni", "bigramuni"):
            out.extend(_bigrams(run))
        if self.mode in ("mixuni", "bigramuni"):
            # Single characters: a weak signal, but the only one left where the repair could not
            # recover a neighbouring character (数据 stored as 数\ufffd still shares 数).
            out.extend(ch for ch in run if ch not in ZH_STOP)
        return out

    def tokenize(self, text: str) -> list[str]:
        """Tokens of ``text`` in order (repeats kept: BM25 counts term frequency)."""
        out: list[str] = []
        for m in _TOKEN_RE.finditer(normalize(text)):
            if m.lastgroup == "lat":
                out.extend(_latin_tokens(m.group()))
            else:
                out.extend(self._cjk_tokens(m.group()))
        return out


def mine_domain_words(texts: Iterable[str], *, min_count: int = 6, min_entropy: float = 1.2) -> list[str]:
    """Frequent 2–4 character CJK terms with varied neighbours on both sides (a word, not a fragment).

    A fragment such as 务网 of 服务网格 always has the same neighbours; a real term such as 灰度发布
    appears after and before many different characters (high branching entropy) and its characters
    stick together (high cohesion). Returns terms of 3–4 characters plus cohesive 2-character ones.
    """
    counts: Counter[str] = Counter()
    left: dict[str, Counter[str]] = {}
    right: dict[str, Counter[str]] = {}
    chars: Counter[str] = Counter()
    for text in texts:
        for run in _CJK_RUN.findall(normalize(text)):
            chars.update(run)
            n = len(run)
            for size in (2, 3, 4):
                for i in range(n - size + 1):
                    gram = run[i : i + size]
                    counts[gram] += 1
                    left.setdefault(gram, Counter())[run[i - 1] if i > 0 else "^"] += 1
                    right.setdefault(gram, Counter())[run[i + size] if i + size < n else "$"] += 1
    total = max(1, sum(chars.values()))

    def entropy(c: Counter[str]) -> float:
        s = sum(c.values())
        return -sum(v / s * math.log(v / s) for v in c.values())

    words: list[str] = []
    for gram, count in counts.items():
        if count < min_count or gram in ZH_STOP or any(ch in ZH_STOP for ch in (gram[0], gram[-1])):
            continue
        if min(entropy(left[gram]), entropy(right[gram])) < min_entropy:
            continue
        cohesion = min(
            count * total / max(1, counts.get(gram[:k], chars[gram[:k]]) * counts.get(gram[k:], chars[gram[k:]]))
            for k in range(1, len(gram))
        )
        if cohesion >= (30.0 if len(gram) == 2 else 8.0):
            words.append(gram)
    return sorted(words)


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest positive scores, best first.

    On large arrays a threshold from a 1% sample prunes the candidates first (exact: if at least
    ``k`` scores reach the threshold, the k-th best does too): 0.3 ms instead of 10 ms for
    `argpartition` over a million scores here.
    """
    import numpy as np

    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    cand: np.ndarray | None = None
    if n > 50_000:
        sample = scores[::97]
        kk = max(1, int(len(sample) * k * 4 / n))
        threshold = np.partition(sample, len(sample) - kk)[len(sample) - kk]
        found = np.flatnonzero(scores >= threshold)
        if len(found) >= k:
            cand = found
    if cand is None:
        cand = np.arange(n)
    top = cand[np.argpartition(scores[cand], len(cand) - k)[len(cand) - k :]] if len(cand) > k else cand
    top = top[np.argsort(-scores[top], kind="stable")]
    out: np.ndarray = top[scores[top] > 0]
    return out


class LexicalIndex:
    """BM25 (bm25s) over token lists, with per-token query weights for glossary expansions."""

    def __init__(self, bm25: Any) -> None:
        self._bm25 = bm25
        self.vocab: dict[str, int] = bm25.vocab_dict
        scores = bm25.scores
        self._data = scores["data"]
        self._indices = scores["indices"]
        self._indptr = scores["indptr"]
        self.num_docs: int = int(scores["num_docs"])
        self._df = self._indptr[1:] - self._indptr[:-1]
        self._sorted = self._columns_sorted()

    def _columns_sorted(self) -> bool:
        import numpy as np

        if len(self._indices) < 2:
            return True
        drops = np.flatnonzero(np.diff(self._indices) < 0) + 1
        return bool(np.isin(drops, self._indptr).all())

    def doc_has(self, doc: int, token: str) -> bool:
        """Whether document ``doc`` contains ``token``."""
        import numpy as np

        tid = self.vocab.get(token)
        if tid is None:
            return False
        col = self._indices[int(self._indptr[tid]) : int(self._indptr[tid + 1])]
        if self._sorted:
            pos = int(np.searchsorted(col, doc))
            return pos < len(col) and int(col[pos]) == doc
        return bool((col == doc).any())

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> LexicalIndex:
        import bm25s

        bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        bm25.index([list(d) for d in docs], show_progress=False)
        return cls(bm25)

    def save(self, path: str) -> None:
        self._bm25.save(path, show_progress=False)

    @classmethod
    def load(cls, path: str) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(path, show_progress=False, verbosity=0))

    def df(self, token: str) -> int:
        """Number of documents containing ``token`` (0 when the index never saw it)."""
        tid = self.vocab.get(token)
        return int(self._df[tid]) if tid is not None else 0

    def idf(self, token: str) -> float:
        """Inverse document frequency; an unknown token gets the highest value (it is very specific)."""
        tid = self.vocab.get(token)
        df = int(self._df[tid]) if tid is not None else 0
        return math.log(1 + (self.num_docs - df + 0.5) / (df + 0.5))

    def scores(self, weighted_tokens: dict[str, float], *, max_df: float = 1.0) -> np.ndarray:
        """BM25 score of every document for the query ``{token: weight}``.

        Tokens found in more than ``max_df`` of all documents are skipped: they barely change the
        ranking (IDF near its floor) and, at a million entries, their posting lists are most of the work.
        """
        import numpy as np

        rows: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        limit = max_df * self.num_docs
        for token, weight in weighted_tokens.items():
            tid = self.vocab.get(token)
            if tid is None or weight <= 0 or (max_df < 1.0 and self._df[tid] > limit):
                continue
            lo, hi = int(self._indptr[tid]), int(self._indptr[tid + 1])
            rows.append(self._indices[lo:hi])
            vals.append(self._data[lo:hi] * weight)
        if not rows:
            return np.zeros(self.num_docs, dtype=np.float32)
        out: np.ndarray = np.bincount(np.concatenate(rows), weights=np.concatenate(vals), minlength=self.num_docs)
        return out
