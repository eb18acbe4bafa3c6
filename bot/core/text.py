"""Cutting text to a budget cleanly: never inside a character, a combining sequence or an emoji.

Slack counts limits in characters; we count UTF-16 code units (what JavaScript and Slack's API
count), so an emoji costs 2. The cut prefers a paragraph, sentence or word boundary near the end,
and appends an ellipsis that fits inside the budget. A per-character ``cost`` lets a renderer
account for escaping (``&`` becomes ``&amp;``) before it escapes.

Example:
    >>> cut("Kubernetes schedules pods. Then it watches them.", 30)
    ('Kubernetes schedules pods. …', True)
    >>> cut("短文本", 10)
    ('短文本', False)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

ELLIPSIS = "…"
_JOINERS = {"\u200d", "\u20e3"}  # zero-width joiner, combining enclosing keycap
_SENTENCE_ENDS = "。！？；.!?;\n"


def utf16_units(ch: str) -> int:
    """Cost of one code point in UTF-16 code units."""
    return 2 if ord(ch) > 0xFFFF else 1


def measure(text: str, *, cost: Callable[[str], int] = utf16_units) -> int:
    """Length of ``text`` under ``cost``."""
    return sum(cost(ch) for ch in text)


def _attached(ch: str) -> bool:
    """True when ``ch`` belongs to the character before it (so we must not cut before it)."""
    return (
        unicodedata.combining(ch) != 0
        or ch in _JOINERS
        or "\ufe00" <= ch <= "\ufe0f"  # variation selectors
        or "\U0001f3fb" <= ch <= "\U0001f3ff"  # skin tone modifiers
        or "\U000e0020" <= ch <= "\U000e007f"  # tag characters (flag sequences)
        or unicodedata.category(ch) == "Mc"
    )


def cut(text: str, limit: int, *, cost: Callable[[str], int] = utf16_units, ellipsis: str = ELLIPSIS) -> tuple[str, bool]:
    """``text`` if it fits in ``limit``, else a clean prefix plus ``ellipsis``; and whether it was cut."""
    if measure(text, cost=cost) <= limit:
        return text, False
    budget = limit - measure(ellipsis, cost=cost) - 1  # room for a space before the ellipsis
    if budget <= 0:
        return "", True
    used = 0
    end = 0
    for i, ch in enumerate(text):
        c = cost(ch)
        if used + c > budget:
            break
        used += c
        end = i + 1
    # Back off so the cut does not split a grapheme (combining marks, ZWJ emoji sequences).
    while 0 < end < len(text) and (_attached(text[end]) or text[end - 1] in _JOINERS):
        end -= 1
    head = text[:end]
    # Prefer a boundary in the last 30 % of the kept text.
    floor = int(len(head) * 0.7)
    best = max(head.rfind(mark) for mark in _SENTENCE_ENDS)
    if best >= floor:
        head = head[: best + 1]
    else:
        space = head.rfind(" ")
        if space >= floor:
            head = head[:space]
    head = head.rstrip()
    sep = " " if head and head[-1] in ".!?;" else ""
    return head + sep + ellipsis, True
