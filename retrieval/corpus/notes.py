"""Split knowledge notes (markdown or plain text) into ``Doc`` chunks by heading.

Markdown headings come from markdown-it (so ``#`` lines inside code fences are not headings); a
paragraph that is only bold text (``**OAM**``) is a pseudo-heading below the current heading.
Plain-text notes with numbered headings (``一、概念介绍``, ``1.1 Docker``, an indented ``1. Docker历史``)
are split on those instead. Each section keeps its heading path as the title; sections longer
than the size cap are split on paragraph boundaries, keeping code fences whole when they fit.

Example:
    >>> docs = split_note("## Pods\\n\\nA pod is a group of containers.\\n", source="k8s.md")
    >>> [(d.title, d.text) for d in docs]
    [('Pods', 'A pod is a group of containers.')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

from retrieval.corpus.ids import IdAllocator
from retrieval.corpus.models import Doc

TITLE_SEPARATOR = " › "
DEFAULT_CHUNK_CHARS = 400  # same default as RetrievalSettings.note_chunk_chars
_PSEUDO_LEVEL = 7
_MIN_WORD_CHARS = 8
_BOLD_ONLY = re.compile(r"^(?:\*\*|__)(?P<t>[^*_\n]{1,60})(?:\*\*|__)[:：]?$")
_CN_HEADING = re.compile(r"^[一二三四五六七八九十]{1,3}、[ \t]*\S.{0,40}$")
_DOTTED_HEADING = re.compile(r"^\d{1,2}\.\d{1,2}(?:\.\d{1,2})?[ \t]+\S.{0,40}$")
_INDENTED_ITEM = re.compile(r"^[ \t]+\d{1,2}\.[ \t]+(?P<t>\S.{0,20})$")
_SENTENCE_PUNCT = re.compile(r"[，。,;；:：!！?？]")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_TOC = re.compile(r"^\s*\[TOC\]\s*$", re.IGNORECASE)
_WORD = re.compile(r"\w")
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


@dataclass(frozen=True)
class _Heading:
    index: int  # 0-based line of the heading
    body: int  # 0-based first line of the body
    level: int
    title: str


def _markdown_headings(text: str) -> list[_Heading]:
    # Block structure only: inline parsing (links, emphasis) is not needed and dominates the cost.
    tokens = MarkdownIt("commonmark").disable("inline").parse(text)
    found: list[_Heading] = []
    for position, token in enumerate(tokens):
        if token.level != 0 or token.map is None or position + 1 >= len(tokens):
            continue
        inline = tokens[position + 1]
        if token.type == "heading_open":
            title = _clean_title(inline.content)
            if title:
                found.append(_Heading(token.map[0], token.map[1], int(token.tag[1:]), title))
        elif token.type == "paragraph_open" and token.map[1] - token.map[0] == 1:
            bold = _BOLD_ONLY.match(inline.content.strip())
            if bold and not _SENTENCE_PUNCT.search(bold.group("t").rstrip("：:")):
                found.append(
                    _Heading(token.map[0], token.map[1], _PSEUDO_LEVEL, _clean_title(bold.group("t")))
                )
    return found


def _plain_headings(lines: list[str]) -> list[_Heading]:
    found: list[_Heading] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if (
        first is not None
        and len(lines[first].strip()) <= 60
        and not _SENTENCE_PUNCT.search(lines[first][-1:])
    ):
        found.append(_Heading(first, first + 1, 0, lines[first].strip()))
    for index, line in enumerate(lines):
        if index == first:
            continue
        stripped = line.rstrip()
        blank_around = (index == 0 or not lines[index - 1].strip()) and (
            index + 1 >= len(lines) or not lines[index + 1].strip()
        )
        if _CN_HEADING.match(stripped):
            level = 1
        elif _DOTTED_HEADING.match(stripped) and not _SENTENCE_PUNCT.search(stripped):
            level = stripped.split()[0].count(".") + 1
        elif (
            (item := _INDENTED_ITEM.match(stripped))
            and blank_around
            and not _SENTENCE_PUNCT.search(item["t"])
        ):
            level = 4
        else:
            continue
        found.append(_Heading(index, index + 1, level, _clean_title(stripped.strip())))
    return found


def _clean_title(text: str) -> str:
    return text.strip().strip("*_").strip().rstrip("：:").strip()


def _is_plain_numbered(text: str, markdown: list[_Heading]) -> bool:
    lines = text.split("\n")
    numbered = sum(1 for line in lines if _CN_HEADING.match(line.rstrip()))
    real = [h for h in markdown if h.level < _PSEUDO_LEVEL]
    return numbered >= 2 and not any(h.level >= 2 for h in real)


def _blocks(lines: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """Paragraphs (blank-line separated), with a fenced code block always inside one block."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    in_fence = False
    for number, line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                blocks.append((start, current))
                current = []
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append((start, current))
    return blocks


def _pieces(block: tuple[int, list[str]], cap: int) -> list[tuple[int, str]]:
    """A block that exceeds the cap, cut on line boundaries (a single huge line is cut hard)."""
    start, lines = block
    text = "\n".join(lines)
    if len(text) <= cap:
        return [(start, text)]
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    buffer_start = start
    for offset, line in enumerate(lines):
        for cut in range(0, max(len(line), 1), cap):
            part = line[cut : cut + cap]
            if buffer and len("\n".join([*buffer, part])) > cap:
                out.append((buffer_start, "\n".join(buffer)))
                buffer = []
            if not buffer:
                buffer_start = start + offset
            buffer.append(part)
    if buffer:
        out.append((buffer_start, "\n".join(buffer)))
    return out


def _pack(lines: list[tuple[int, str]], cap: int) -> list[tuple[int, str]]:
    chunks: list[tuple[int, str]] = []
    text = ""
    text_start = 0
    for block in _blocks(lines):
        for start, piece in _pieces(block, cap):
            if text and len(text) + 2 + len(piece) > cap:
                chunks.append((text_start, text))
                text = ""
            if not text:
                text_start = start
                text = piece
            else:
                text = f"{text}\n\n{piece}"
    if text:
        if chunks and len(text) < cap // 8 and len(chunks[-1][1]) + len(text) <= cap + cap // 4:
            start, previous = chunks.pop()  # a scrap of a tail reads better with what came before
            text, text_start = f"{previous}\n\n{text}", start
        chunks.append((text_start, text))
    return chunks


def split_note(
    text: str,
    *,
    source: str,
    max_chars: int = DEFAULT_CHUNK_CHARS,
    ids: IdAllocator | None = None,
) -> list[Doc]:
    """Chunks of one note: one per heading section, split further when longer than ``max_chars``."""
    ids = ids or IdAllocator()
    lines = text.split("\n")
    markdown = _markdown_headings(text)
    headings = _plain_headings(lines) if _is_plain_numbered(text, markdown) else markdown
    bounds = [*headings, _Heading(len(lines), len(lines), 0, "")]
    sections: list[tuple[tuple[str, ...], int, int, int]] = []  # (path, heading line, body start, end)
    if not headings or headings[0].index > 0:
        sections.append(((), 0, 0, bounds[0].index))
    stack: list[_Heading] = []
    for heading, following in zip(headings, bounds[1:], strict=True):
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
        sections.append((tuple(h.title for h in stack), heading.index, heading.body, following.index))
    docs: list[Doc] = []
    for path, heading_line, body_start, end in sections:
        body = [(n + 1, lines[n].rstrip()) for n in range(body_start, end) if not _TOC.match(lines[n])]
        if len(_WORD.findall("".join(line for _, line in body))) < _MIN_WORD_CHARS:
            continue
        chunks = _pack(body, max_chars)
        title = TITLE_SEPARATOR.join(path) or source
        for part, (start, chunk) in enumerate(chunks, 1):
            chunk = _BLANK_RUN.sub("\n\n", chunk).strip("\n")
            docs.append(
                Doc(
                    id=ids.allocate("doc-", f"{title}\n{chunk}"),
                    source=source,
                    title=title,
                    text=chunk,
                    line=heading_line + 1 if part == 1 and path else start,
                    heading_path=path,
                    part=part,
                    parts=len(chunks),
                )
            )
    return docs
