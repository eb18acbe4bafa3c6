"""Line-level reading of Q&A markdown: what a line is (question, answer, quoted text, plain text).

The seed writes the same thing many ways: ``> Q1：``, ``> Q12 `` (no colon), ``> Ｑ：``, ``> - Q：``,
``>> Q：``, a bare ``Q：``; ``A：``, ``A1:``, ``A ：``, ``> A：``; follow-ups marked ``===》再问：``;
and sometimes two of them on one line (``…吗？ A：…`` or ``…要点：> Q：…``). ``segments`` turns one
line into the pieces the parser's state machine consumes; the helpers below judge finished Q&As.

Example:
    >>> [(s.kind, s.label, s.text) for s in segments("> Q：Rkt 有 API 吗？ A：没有")]
    [('q', 'Q', 'Rkt 有 API 吗？'), ('a', None, '没有')]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

QUOTE = re.compile(r"^[ \t]*>[> \t]*")
BULLET = re.compile(r"^[-*+][ \t]+")
_FOLLOW_MARK = re.compile(r"^=+[》>][ \t]*")
_NUM = r"[0-9０-９]+(?:[-.．][0-9０-９]+)*"
Q_LABEL = re.compile(rf"^(?P<q>[QＱ])(?:[ \t]*(?P<n1>{_NUM})?[ \t]*[：:]|(?P<n2>{_NUM})(?=[ \t]))[ \t]*")
_A_LABEL = re.compile(rf"^[AＡ][ \t]*(?:{_NUM})?[ \t]*[：:][ \t]*")
_FOLLOW_Q = re.compile(r"^(?P<word>[追再补]问)[ \t]*[：:][ \t]*")
_MARKED_FOLLOW_Q = re.compile(r"^(?P<word>\S{0,3}问)[ \t]*[：:][ \t]*")  # after "===》": 追问/再问/又问
_INLINE_A = re.compile(rf"(?<=[？?])[ \t]*[AＡ][ \t]*(?:{_NUM})?[ \t]*[：:][ \t]*")
_INLINE_Q = re.compile(rf"[ \t]*>[ \t]*(?=[QＱ][ \t]*(?:{_NUM})?[ \t]*[：:])")
ABSORB = re.compile(r"^(?:这|以上|上面|前面)?(?P<n>[两二三四几多])个问题.{0,8}(?:一并|一起|统一|合并)")
_ENUM = re.compile(r"(?:^|(?<=[\s，。；;：:？?！!、（(]))(?:问题[ \t]*)?(?P<n>[1-9])[ \t]*[.、．)）](?!\d)")
_CIRCLED = re.compile(r"[①②③④⑤⑥⑦⑧⑨]")
_MANY = re.compile(r"[两二三四几多]个问题|第[一二]个问题")
_LABEL_IN_TEXT = re.compile(rf"(?:^|(?<=[\s，。；;？?]))[QＱ][ \t]*(?:{_NUM})?[ \t]*[：:]")
_PUNCT_ONLY = re.compile(r"^[\W_]*$")
ABSORB_COUNTS = {"两": 1, "二": 1, "三": 2, "四": 3}


@dataclass
class Segment:
    """A piece of a line: a question start, a follow-up, an answer start, quoted or plain text."""

    kind: str  # "q", "followup", "a", "quoted", "text"
    text: str
    label: str | None = None


def _label(match: re.Match[str]) -> str:
    number = match.group("n1") or match.group("n2")
    return unicodedata.normalize("NFKC", "Q" + (number or ""))


def _question_segments(content: str, label: str | None, kind: str) -> Iterator[Segment]:
    inline = _INLINE_A.search(content)
    if inline:
        yield Segment(kind, content[: inline.start()].strip(), label)
        yield from _answer_segments(content[inline.end() :], "a")
    else:
        yield Segment(kind, content.strip(), label)


def _answer_segments(content: str, kind: str) -> Iterator[Segment]:
    inline = _INLINE_Q.search(content)
    if inline and inline.start() > 0:
        yield Segment(kind, content[: inline.start()].strip())
        rest = content[inline.end() :]
        q = Q_LABEL.match(rest)
        if q:
            yield from _question_segments(rest[q.end() :], _label(q), "q")
            return
        content = rest
    yield Segment(kind, content.strip())


def segments(line: str) -> Iterator[Segment]:
    """Split one source line into question / answer / text pieces."""
    quote = QUOTE.match(line)
    content = line[quote.end() :] if quote else line.strip()
    content = BULLET.sub("", content) if quote else content
    marked = _FOLLOW_MARK.match(content)
    if marked:
        content = content[marked.end() :]
    follow = (_MARKED_FOLLOW_Q if marked else _FOLLOW_Q).match(content)
    if follow:
        yield from _question_segments(content[follow.end() :], follow.group("word"), "followup")
        return
    q = Q_LABEL.match(content)
    if q:
        yield from _question_segments(content[q.end() :], _label(q), "q")
        return
    a = _A_LABEL.match(content)
    if a:
        yield from _answer_segments(content[a.end() :], "a")
        return
    if quote:
        yield Segment("quoted", content.strip())
    else:
        yield from _answer_segments(content, "text")


def join_lines(lines: list[str]) -> str:
    """Lines to text: blank markers become one paragraph break, never more."""
    out: list[str] = []
    for line in lines:
        if line == "":
            if out and out[-1] != "":
                out.append("")
        else:
            out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out).replace("\n\n\n", "\n\n")


def is_merged(question: str) -> bool:
    numbers = {m.group("n") for m in _ENUM.finditer(question)}
    if {"1", "2"} <= numbers:
        return True
    if len(_CIRCLED.findall(question)) >= 2 or _MANY.search(question):
        return True
    return len(_LABEL_IN_TEXT.findall(question)) >= 1


def blankish(text: str) -> bool:
    return not text.strip() or bool(_PUNCT_ONLY.match(text.strip()))
