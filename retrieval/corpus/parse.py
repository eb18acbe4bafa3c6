"""Parse Q&A markdown (``### YYYY-MM-DD：title`` sessions, ``> Q…`` questions, ``A：`` answers).

The seed is hand-collected chat minutes, so the parser is a forgiving line state machine:

* headings with stray blanks or colons (``2020-01-02 ：…``, ``2019-12-18:：…``), any ``#`` level;
* labelled (``Q1：``, ``Q7-0.1``, ``Q12 `` without colon, ``Ｑ：``), unlabelled and bare ``Q：`` questions;
* questions over several ``>`` lines, or continued in plain text before the ``A：``;
* answers without ``A：`` (plain text after a question), ``A1：``/``A:``/``> A：`` prefixes;
* a question glued into an answer line (``…要点：> Q：…``), an answer glued to its question;
* follow-ups (``===》追问：…`` / ``===》A:``) become their own Q&A pointing at their parent;
* empty answers are kept and flagged; "两个问题我一并回答" absorbs the unanswered question before;
* footers ("以上内容根据…整理", "分享人…", chat signatures) are split off into ``Session.footer``.

Example:
    >>> text = "### 2020-01-02 ：Demo\\n\\n> Q1：What is a Pod?\\n\\nA：The smallest unit.\\n"
    >>> parsed = parse_qa_markdown(text, source="demo.md")
    >>> [(s.title, len(parsed.qas)) for s in parsed.sessions]
    [('Demo', 1)]
    >>> parsed.qas[0].answer
    'The smallest unit.'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from retrieval.corpus.errors import CorpusError
from retrieval.corpus.ids import IdAllocator
from retrieval.corpus.models import QA, Session
from retrieval.corpus.noise import clean_noise
from retrieval.corpus.qa_lines import (
    ABSORB,
    ABSORB_COUNTS,
    BULLET,
    Q_LABEL,
    QUOTE,
    Segment,
    blankish,
    is_merged,
    join_lines,
    segments,
)

SESSION_HEADING = re.compile(
    r"^(?P<hashes>#{1,6})[ \t]*(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"
    r"[ \t]*[：:]*[ \t]*(?P<title>.*?)[ \t]*$"
)
ANY_HEADING = re.compile(r"^(?P<hashes>#{1,6})[ \t]+\S")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_SEPARATOR = re.compile(r"^(?:-{3,}|\*{3,}|_{3,})$")
_LINK_LINE = re.compile(r"^(?:\[[^\]]*\]\((?P<u1>https?://[^)\s]+)\)|<?(?P<u2>https?://\S+?)>?)$")
_FOOTER = re.compile(
    r"^(?:以上内容|\**分享人|\**分享嘉宾|`?来自.{0,40}\d{4}-\d{1,2}-\d{1,2}[ \t]+\d{1,2}:\d{2})"
)
_SPEAKER = re.compile(r"分享(?:人|嘉宾)\s*[：:]?\s*\**\s*(?P<name>[^，,：:*\s（(。]{2,16})")


@dataclass
class _Draft:
    """A Q&A being assembled line by line."""

    line: int
    label: str | None
    question: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    answering: bool = False
    follow_up: bool = False
    missing_question: bool = False
    end_line: int = 0


@dataclass
class _Clean:
    """A finished draft with its noise stripped."""

    draft: _Draft
    question: str
    answer: str
    noise: bool
    merged: bool = False
    line: int = 0
    label: str | None = None

    def __post_init__(self) -> None:
        self.line = self.line or self.draft.line
        self.label = self.label or self.draft.label


@dataclass
class ParsedQA:
    """What one Q&A file yielded."""

    sessions: list[Session] = field(default_factory=list)
    qas: list[QA] = field(default_factory=list)
    noise_chars_removed: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


def iter_session_headings(text: str) -> Iterator[tuple[int, re.Match[str]]]:
    """(line number, match) for each ``### YYYY-MM-DD title`` heading outside code fences."""
    in_fence = False
    for number, line in enumerate(text.split("\n"), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence and line.startswith("#"):
            match = SESSION_HEADING.match(line)
            if match:
                yield number, match


def first_question_line(text: str) -> tuple[int, int]:
    """(line of the first labelled ``> Q…：`` question or 0, number of such lines)."""
    first = 0
    count = 0
    for number, line in enumerate(text.split("\n"), 1):
        quote = QUOTE.match(line)
        if quote and Q_LABEL.match(BULLET.sub("", line[quote.end() :])):
            count += 1
            first = first or number
    return first, count


class _SessionParser:
    """Turns the lines of one session into a Session and its Q&As."""

    def __init__(self, *, source: str, where: str, ids: IdAllocator, uncertain: Mapping[int, int] | None):
        self.source = source
        self.where = where
        self.ids = ids
        self.uncertain = uncertain
        self.drafts: list[_Draft] = []
        self.current: _Draft | None = None
        self.footer: list[str] = []
        self.intro: list[str] = []
        self.source_url: str | None = None
        self.in_footer = False
        self.in_fence = False
        self.noise_removed = 0

    def _start(self, number: int, label: str | None, text: str, *, follow_up: bool = False) -> None:
        self._finish()
        self.current = _Draft(line=number, label=label, question=[text] if text else [], follow_up=follow_up)

    def _finish(self) -> None:
        draft = self.current
        if draft is None:
            return
        if not draft.answering and draft.pending:
            draft.answer.extend(draft.pending)  # plain text after a question: an answer without "A："
            draft.pending = []
        self.drafts.append(draft)
        self.current = None

    def _blank(self) -> None:
        draft = self.current
        if draft is None:
            return
        if draft.answering:
            draft.answer.append("")
        elif draft.pending:
            draft.pending.append("")

    def feed(self, number: int, line: str) -> None:
        stripped = line.strip()
        if _FENCE.match(line):
            self.in_fence = not self.in_fence
        if self.in_fence or _FENCE.match(line):
            self._text(number, line.rstrip())
            return
        if self.in_footer:
            if not Q_LABEL.match(QUOTE.sub("", line).strip()):
                if not _SEPARATOR.match(stripped):
                    self.footer.append(stripped)
                return
            self.in_footer = False
        if not stripped or QUOTE.fullmatch(line) or _SEPARATOR.match(stripped):
            self._blank()
            return
        if _FOOTER.match(stripped):
            self._finish()
            self.in_footer = True
            self.footer.append(stripped)
            return
        for segment in segments(line):
            self._segment(number, segment)
        if self.current is not None:
            self.current.end_line = number

    def _segment(self, number: int, seg: Segment) -> None:
        draft = self.current
        if seg.kind in ("q", "followup"):
            self._start(number, seg.label, seg.text, follow_up=seg.kind == "followup")
        elif seg.kind == "a":
            if draft is None:
                if self.drafts:  # a second answer after a finished Q&A: same answer, new paragraph
                    draft = self.current = self.drafts.pop()
                    draft.answer.append("")
                else:  # an answer whose question was lost
                    draft = self.current = _Draft(line=number, label=None, missing_question=True)
            if not draft.answering:
                draft.question.extend(line for line in draft.pending if line)
                draft.pending = []
                draft.answering = True
            elif draft.answer:
                draft.answer.append("")
            if seg.text:
                draft.answer.append(seg.text)
        elif seg.kind == "quoted":
            if draft is not None and not draft.answering:
                draft.question.extend(line for line in draft.pending if line)
                draft.pending = []
                if seg.text:
                    draft.question.append(seg.text)
            elif seg.text:
                self._start(number, None, seg.text)
        else:
            self._text(number, seg.text)

    def _text(self, number: int, text: str) -> None:
        draft = self.current
        if draft is None and not self.drafts:
            link = _LINK_LINE.match(text.strip())
            if link and self.source_url is None:
                self.source_url = link.group("u1") or link.group("u2")
            elif text.strip():
                self.intro.append(text.strip())
            return
        if draft is None:  # text after a finished Q&A without a new question: more answer
            draft = self.current = self.drafts.pop()
            if draft.answering:
                draft.answer.append("")
        if draft.answering:
            draft.answer.append(text)
        else:
            draft.pending.append(text)

    def build(self, *, number: int, date: dt.date, title: str) -> tuple[Session, list[QA]]:
        self._finish()
        footer = join_lines(self.footer) or None
        speaker = _SPEAKER.search(footer) if footer else None
        session = Session(
            id=self.ids.allocate(f"s-{date:%Y%m%d}-", title, length=6),
            date=date,
            title=title,
            source_url=self.source_url,
            footer=footer,
            source=self.source,
            line=number,
            speaker=speaker.group("name") if speaker else None,
            intro=join_lines(self.intro) or None,
        )
        return session, self._qas(session)

    def _cleaned(self) -> list[_Clean]:
        out: list[_Clean] = []
        for draft in self.drafts:
            q = clean_noise(join_lines(draft.question))
            a = clean_noise(join_lines(draft.answer))
            self.noise_removed += q.removed + a.removed
            if not q.text and not a.text and (q.found or a.found):
                continue  # a "question" that was nothing but noise
            out.append(_Clean(draft, q.text, a.text, q.found or a.found))
        return out

    @staticmethod
    def _absorb(items: list[_Clean]) -> list[_Clean]:
        """ "两个问题我一并回答": fold the unanswered question(s) just before into this Q&A."""
        out: list[_Clean] = []
        for item in items:
            match = ABSORB.match(item.answer)
            if match and out:
                wanted = ABSORB_COUNTS.get(match.group("n"), 99)
                taken: list[_Clean] = []
                while (
                    out and len(taken) < wanted and blankish(out[-1].answer) and not out[-1].draft.follow_up
                ):
                    taken.insert(0, out.pop())
                if taken:
                    item.line = taken[0].line
                    item.label = "+".join(t.label or "Q" for t in [*taken, item])
                    item.question = "\n".join([*(t.question for t in taken), item.question])
                    item.noise = item.noise or any(t.noise for t in taken)
                    item.merged = True
            out.append(item)
        return out

    def _qas(self, session: Session) -> list[QA]:
        qas: list[QA] = []
        parent: str | None = None
        for ordinal, item in enumerate(self._absorb(self._cleaned()), 1):
            draft = item.draft
            key = item.question if item.question else "answer:" + item.answer[:200]
            qa_id = self.ids.allocate("qa-", f"{session.id}\n{key}")
            qas.append(
                QA(
                    id=qa_id,
                    session_id=session.id,
                    ordinal=ordinal,
                    label=item.label,
                    question=item.question,
                    answer=item.answer,
                    empty_answer=blankish(item.answer),
                    merged_questions=item.merged or is_merged(item.question),
                    noise=item.noise,
                    uncertain_chars=self._uncertain(draft, item.question, item.answer),
                    line=item.line,
                    follow_up_of=parent if draft.follow_up else None,
                    missing_question=draft.missing_question or not item.question,
                )
            )
            if not draft.follow_up:
                parent = qa_id
        return qas

    def _uncertain(self, draft: _Draft, question: str, answer: str) -> int:
        if self.uncertain is None:
            return question.count("\ufffd") + answer.count("\ufffd")
        last = max(draft.end_line, draft.line)
        return sum(self.uncertain.get(n, 0) for n in range(draft.line, last + 1))


def _front_matter_end(lines: list[str]) -> int:
    """Number of lines taken by a YAML front matter block (``---`` … ``---``) at the top."""
    if not lines or lines[0].strip() != "---":
        return 0
    for index in range(1, min(len(lines), 200)):
        if lines[index].strip() in ("---", "..."):
            return index + 1
    return 0


def parse_qa_markdown(
    text: str,
    *,
    source: str,
    where: str | None = None,
    ids: IdAllocator | None = None,
    uncertain_lines: Mapping[int, int] | None = None,
) -> ParsedQA:
    """Parse one Q&A markdown file into sessions and Q&As.

    ``source`` is stored on the models (a file name); ``where`` names the file in error messages.
    ``ids`` shares occurrence counters across files of one corpus. ``uncertain_lines`` maps a line
    number to the characters the repair left uncertain on it (default: count U+FFFD).
    """
    where = where or source
    ids = ids or IdAllocator()
    lines = text.split("\n")
    result = ParsedQA()
    start = _front_matter_end(lines)
    parser: _SessionParser | None = None
    header: tuple[int, dt.date, str, int] | None = None
    skipping: tuple[int, str] | None = None
    in_fence = False

    def close() -> None:
        nonlocal parser, header
        if parser is not None and header is not None:
            session, qas = parser.build(number=header[0], date=header[1], title=header[2])
            result.sessions.append(session)
            result.qas.extend(qas)
            result.noise_chars_removed += parser.noise_removed
        parser = None
        header = None

    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = session_match = None
        if not in_fence and line.startswith("#"):
            session_match = SESSION_HEADING.match(line)
            heading = ANY_HEADING.match(line)
        if session_match:
            close()
            skipping = None
            level = len(session_match.group("hashes"))
            header = (number, _session_date(session_match, where, number), _title(session_match), level)
            parser = _SessionParser(source=source, where=where, ids=ids, uncertain=uncertain_lines)
            continue
        if heading and (header is None or len(heading.group("hashes")) <= header[3]):
            close()
            skipping = (number, line.strip())
            result.skipped.append(skipping)
            continue
        if parser is not None:
            parser.feed(number, line)
            continue
        quote = QUOTE.match(line)
        if quote and Q_LABEL.match(BULLET.sub("", line[quote.end() :])):
            if skipping is not None:
                raise CorpusError(
                    f"{where}:{number}: question under heading {skipping[1]!r} (line {skipping[0]}), "
                    "which is not a session heading like '### 2020-06-02：title'"
                )
            raise CorpusError(
                f"{where}:{number}: question before the first session heading ('### YYYY-MM-DD：title')"
            )
    close()
    return result


def _session_date(match: re.Match[str], where: str, number: int) -> dt.date:
    try:
        return dt.date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
    except ValueError:
        raw = f"{match.group('y')}-{match.group('m')}-{match.group('d')}"
        raise CorpusError(f"{where}:{number}: invalid session date {raw!r}") from None


def _title(match: re.Match[str]) -> str:
    title = match.group("title").strip().strip("：:").strip()
    return title or "(untitled)"
