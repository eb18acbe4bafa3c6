"""Character-level checks on a raw command, before any token is interpreted.

Size cap; no tabs, CR/LF or odd spaces as separators; no zero-width or bidi control characters;
NFKC, then nothing non-ASCII left; no quotes and no shell metacharacters.

Example:
    >>> check_characters("ｇｅｔ pods", max_chars=100)
    'get pods'
"""

from __future__ import annotations

import unicodedata

_METACHARS = set(";&|$`()<>\\*?{}[]#~^%")
_QUOTES = set("'\"")


class UsageError(ValueError):
    """The command is malformed or asks for something firstmate never reads; names the offending token."""

    def __init__(self, message: str, *, token: str | None = None) -> None:
        super().__init__(message)
        self.token = token


def _describe_char(ch: str) -> str:
    controls = {9: "CHARACTER TABULATION", 10: "LINE FEED", 11: "LINE TABULATION", 12: "FORM FEED", 13: "CARRIAGE RETURN"}
    name = controls.get(ord(ch)) or unicodedata.name(ch, "unnamed")
    return f"U+{ord(ch):04X} {name}"


def _token_around(text: str, index: int) -> str:
    start = text.rfind(" ", 0, index) + 1
    end = text.find(" ", index)
    return text[start : end if end >= 0 else len(text)]


def check_characters(text: str, *, max_chars: int) -> str:
    """Raw-text checks, NFKC, then ASCII-only and no shell metacharacters. Returns the normalised text."""
    if len(text) > max_chars:
        raise UsageError(f"the command is {len(text)} characters long; the limit is {max_chars}")
    for ch in text:
        if ch in "\t\r\n\v\f":
            label = {"\t": "tab", "\r": "carriage return", "\n": "line break"}.get(ch, "control character")
            raise UsageError(f"{label} ({_describe_char(ch)}) is not allowed; separate words with plain spaces")
        category = unicodedata.category(ch)
        if category == "Cf":
            raise UsageError(f"invisible formatting character {_describe_char(ch)} (zero-width or bidi) is not allowed")
        if category in {"Cc", "Cs", "Co", "Cn"}:
            raise UsageError(f"control or unassigned character {_describe_char(ch)} is not allowed")
        if category in {"Zs", "Zl", "Zp"} and ch != " ":
            raise UsageError(f"{_describe_char(ch)} is not allowed as a separator; use a plain space")
    normal = unicodedata.normalize("NFKC", text)
    if len(normal) > max_chars:
        raise UsageError(f"the command is {len(normal)} characters long once normalised; the limit is {max_chars}")
    for i, ch in enumerate(normal):
        if ord(ch) > 127:
            hint = " (your client may have turned '--' into a dash)" if ch in "‐‑‒–—―−" else ""
            raise UsageError(
                f"non-ASCII character {_describe_char(ch)} in '{_token_around(normal, i)}'{hint}",
                token=_token_around(normal, i),
            )
        if ch in _QUOTES:
            raise UsageError(
                f"quotes are not allowed ('{_token_around(normal, i)}'); names and selectors need none",
                token=_token_around(normal, i),
            )
        if ch in _METACHARS:
            token = _token_around(normal, i)
            raise UsageError(f"shell metacharacter '{ch}' in '{token}' is not allowed; one command per message", token=token)
        if ord(ch) < 32 or ord(ch) == 127:
            raise UsageError(f"control character {_describe_char(ch)} is not allowed")
    return normal
