"""Checking and cleaning what users type before it reaches the index.

Slack, a terminal or a script can send anything: nothing at all, a pasted 20,000-character log,
only emoji, control characters, or text with a lone UTF-16 surrogate (invalid in UTF-8, and it
would crash JSON output later). Each case gets a clear reason instead of an exception.

Example:
    >>> check_query("  怎么 \\x00 回滚  ", max_chars=100).text
    '怎么 回滚'
    >>> check_query("🙂🙂", max_chars=100).problem
    'the question has no words to search for (only emoji, symbols or punctuation)'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SPACES = re.compile(r"\s+")
_HAS_WORD = re.compile(r"[0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class CheckedQuery:
    """The cleaned text (safe to print and encode) and, if it cannot be searched, why."""

    text: str
    problem: str | None = None


def clean_text(raw: str) -> str:
    """Drop lone surrogates, control and format characters; collapse whitespace."""
    out = []
    for ch in raw:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat == "Cf":
            out.append(" " if ch in "\t\n\r\x0b\x0c" else "")
            continue
        out.append(ch)
    return _SPACES.sub(" ", "".join(out)).strip()


def check_query(raw: str, *, max_chars: int) -> CheckedQuery:
    """Clean ``raw``; ``problem`` is set when it is empty, too long, or has no searchable words."""
    if len(raw) > max_chars:
        preview = clean_text(raw[:60])
        return CheckedQuery(
            preview + "…",
            f"the question is too long ({len(raw):,} characters; the limit is {max_chars:,}): "
            "ask about one thing, or paste only the key error line",
        )
    text = clean_text(raw)
    if not text:
        return CheckedQuery("", "the question is empty: type what you want to know")
    if not _HAS_WORD.search(text):
        return CheckedQuery(text, "the question has no words to search for (only emoji, symbols or punctuation)")
    return CheckedQuery(text)
