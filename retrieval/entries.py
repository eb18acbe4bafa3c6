"""Index entries: the servable Q&As and note chunks of the corpus, with answers trimmed for display.

The typed corpus keeps everything it parsed, including Q&As with empty answers and answers that are
only a link to a shared document. Those are never presented as answers, so they are left out of the
index here, in one place. Note chunks (``Doc``) become entries of kind 'doc': the heading path plays
the question, the chunk text the answer; chunks with too few words (a lone link, ``FROM``) are left out.

Example:
    >>> clean_answer("A：用 PriorityClass。 --- [石墨文档](https://shimo.im/x)")
    '用 PriorityClass。'
    >>> is_junk_answer("[提问链接](https://shimo.im/docs/x) ---")
    True
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.corpus.models import Corpus, Doc

ENTRIES_VERSION = "2"

_ANSWER_PREFIX = re.compile(r"^\s*(?:A\s*\d*(?:[-.]\d+)*\s*[：:]\s*)+", re.IGNORECASE)
_QUESTION_PREFIX = re.compile(r"^\s*Q\s*\d*(?:[-.]\d+)*\s*[：:]?\s*", re.IGNORECASE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_URL = re.compile(r"https?://\S+")
_SHARED_DOC = re.compile(r"(?:---\s*)?\[(?:石墨文档|提问链接|[^\]]{0,6}链接)\]\([^)]*\)\s*$")
_FOOTER = re.compile(r"\s*以上内容根据.{0,40}?整理.*$", re.DOTALL)
_TRAILING_RULE = re.compile(r"(?:\s*-{3,}\s*)+$")
_WORD = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
_HEADING_DATE = re.compile(r"(?<!\d)(20\d\d)-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(?!\d)")
# Undated notes carry this placeholder with date_known=False (see retrieval.models.SessionRef).
UNDATED = "1970-01-01"
NOTE_MIN_WORD_CHARS = 40
_NOTE_URL = re.compile(r"(?:https?:)?//\S+")


@dataclass(frozen=True)
class Entry:
    """One searchable unit: a Q&A (``kind='qa'``) or a note chunk (``kind='doc'``) with its citation.

    For a note chunk ``session_id`` names the note file, ``title`` is the heading path, ``question``
    the section heading, ``source``/``line`` where it is; ``date_known`` is False when ``date`` is
    only the placeholder.
    """

    id: str
    kind: str
    session_id: str
    date: str
    title: str
    question: str
    answer: str
    source: str = ""
    line: int = 0
    date_known: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(**data)


def clean_question(text: str) -> str:
    """The question without its 'Q12：' label."""
    return _QUESTION_PREFIX.sub("", text.strip(), count=1).strip()


def clean_answer(text: str) -> str:
    """The answer as shown to a user: no 'A：' label, trailing '---', shared-doc link or session footer."""
    out = text.strip()
    out = _ANSWER_PREFIX.sub("", out, count=1)
    out = _FOOTER.sub("", out)
    for _ in range(3):
        before = out
        out = _TRAILING_RULE.sub("", out)
        out = _SHARED_DOC.sub("", out).rstrip()
        if out == before:
            break
    return out.strip()


def is_junk_answer(text: str) -> bool:
    """True when nothing answer-like is left once labels, links, URLs and punctuation are removed."""
    body = _MD_LINK.sub(lambda m: m.group(1), clean_answer(text))
    body = _URL.sub("", body)
    body = re.sub(r"石墨文档|提问链接|链接", "", body)
    words = _WORD.findall(body)
    return len(words) < 2 or all(ch.isdigit() for ch in words)


def note_date(headings: tuple[str, ...] | list[str]) -> str | None:
    """A date a note states in its headings ('20201013', '2020-10-13'), ISO formatted, or None."""
    for heading in headings:
        m = _HEADING_DATE.search(heading)
        if m:
            return f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    return None


def note_entry(doc: Doc) -> Entry | None:
    """The entry of one note chunk, or None when it has too few words to answer anything."""
    text = doc.text.strip()
    body = _NOTE_URL.sub("", _MD_LINK.sub(lambda m: m.group(1), text))
    if len(_WORD.findall(body)) < NOTE_MIN_WORD_CHARS:
        return None
    headings = list(doc.heading_path) or [doc.title]
    date = note_date(headings)
    section = headings[-1] + (f" ({doc.part}/{doc.parts})" if doc.parts > 1 else "")
    return Entry(
        id=doc.id,
        kind="doc",
        session_id=f"note:{doc.source}",
        date=date or UNDATED,
        title=doc.title,
        question=section,
        answer=text,
        source=doc.source,
        line=doc.line,
        date_known=date is not None,
    )


def entries_from_corpus(corpus: Corpus) -> list[Entry]:
    """Servable Q&As in corpus order, then note chunks. Empty, junk and question-less Q&As are left out."""
    sessions = {s.id: s for s in corpus.sessions}
    out: list[Entry] = []
    for qa in corpus.qas:
        session = sessions.get(qa.session_id)
        if session is None or qa.empty_answer or not qa.answer.strip() or is_junk_answer(qa.answer):
            continue
        question = clean_question(qa.question)
        if not question:
            continue
        out.append(
            Entry(
                id=qa.id,
                kind="qa",
                session_id=session.id,
                date=session.date.isoformat(),
                title=session.title,
                question=question,
                answer=clean_answer(qa.answer),
            )
        )
    out.extend(e for e in map(note_entry, corpus.docs) if e is not None)
    return out
