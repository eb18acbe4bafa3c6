"""Find and strip injected noise in Q&A text: random digit runs, keyboard gibberish, repeated fragments.

The seed has junk typed into some answers (``24177411244444117 期``, ``7d;)eexsnjnkm&/hfb6;``,
``说切让说切让说切让…``). Each detector is conservative: it must never eat a URL, a path, a hash,
a version number or a code token, so anything that sits inside a URL/path-like token is left alone.

Example:
    >>> clean_noise("维护成本也低 24177411244444117 期，好用").text
    '维护成本也低 期，好用'
    >>> clean_noise("用 https://x.io/1575857978783.png 看").found
    False
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A run of 13+ digits standing alone (not glued to letters, a path, a URL or an arithmetic expression).
_LONG_DIGITS = re.compile(r"(?<![\w./:=#%&?@*+\-])\d{13,}(?![\w./%*+\-])")
# 7+ digits standing alone: only noise when it sits right next to another noise span.
_MID_DIGITS = re.compile(r"(?<![\w./:=#%&?@*+\-])\d{7,12}(?![\w./%*+\-])")
# Printable ASCII tokens (no spaces); tested individually below.
_ASCII_TOKEN = re.compile(r"[\x21-\x7e]{6,}")
_KEYBOARD_PUNCT = set(";&)(*^$#@!~|\\")
_CODE_MARKERS = ("://", "=", ".", "_", '"', "'", ",", "{", "}", "[", "]", "<", ">", "$(", "`", ":")
_TRANSITION = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])|(?<=[a-z])(?=[A-Z])")
_HEX = re.compile(r"[0-9a-fA-F]+")
_LETTER_REPEAT = re.compile(r"([a-z]{3,})\1")
# A fragment of 2–8 characters repeated 4+ times in a row (must contain a letter or a CJK character).
_REPEATED = re.compile(r"(.{2,8}?)\1{3,}")
_MIN_LINE_LEFT = 2
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_HAS_WORD = re.compile(r"[A-Za-z\u3400-\u9fff]")


@dataclass(frozen=True)
class NoiseResult:
    """Text with the obvious noise runs removed, and whether any noise was seen."""

    text: str
    found: bool
    removed: int = 0


def _is_gibberish_token(token: str, before: str) -> bool:
    """Keyboard mashing like ``7d;)eexsnjnkm&/hfb6;`` or ``ingres1PS7hig4``, never URLs or code."""
    if before in "/=._-@:#?&%" and before != "":
        return False
    if any(marker in token for marker in _CODE_MARKERS):
        return False
    punct = sum(1 for ch in token if ch in _KEYBOARD_PUNCT)
    letters = sum(1 for ch in token if ch.isalpha())
    if punct >= 3 and letters >= 4 and len(token) >= 10:
        return True
    if token.isalnum() and not _HEX.fullmatch(token):
        transitions = len(_TRANSITION.findall(token))
        if transitions >= 4 and any(ch.islower() for ch in token) and any(ch.isupper() for ch in token):
            return True
    return bool(token.isalpha() and token.islower() and len(token) >= 8 and _LETTER_REPEAT.search(token))


def _spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = [(m.start(), m.end()) for m in _LONG_DIGITS.finditer(text)]
    for m in _ASCII_TOKEN.finditer(text):
        before = text[m.start() - 1] if m.start() > 0 else ""
        if _is_gibberish_token(m.group(0), before):
            spans.append((m.start(), m.end()))
    for m in _REPEATED.finditer(text):
        unit = m.group(1)
        if not _HAS_WORD.search(unit) or unit.strip() != unit:
            continue
        start, end = m.start(), m.end()
        # An ASCII run inside a longer ASCII token takes the whole token with it.
        if unit.isascii():
            while start > 0 and text[start - 1].isascii() and not text[start - 1].isspace():
                start -= 1
            while end < len(text) and text[end].isascii() and not text[end].isspace():
                end += 1
        spans.append((start, end))
    if spans:
        for m in _MID_DIGITS.finditer(text):
            if any(_adjacent(text, (m.start(), m.end()), s) for s in spans):
                spans.append((m.start(), m.end()))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _adjacent(text: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
    lo, hi = (a, b) if a[0] < b[0] else (b, a)
    gap = text[lo[1] : hi[0]]
    return hi[0] >= lo[1] and len(gap) <= 2 and not gap.strip()


def _clean_line(line: str) -> tuple[str, int]:
    spans = _spans(line)
    if not spans:
        return line, 0
    out: list[str] = []
    pos = 0
    removed = 0
    for start, end in spans:
        start = max(start, pos)
        kept = line[pos:start]
        # Take the blanks after the run with it when it stood between blanks (no double space).
        if not kept or kept[-1] in " \t":
            while end < len(line) and line[end] in " \t":
                end += 1
        if end >= len(line):
            kept = kept.rstrip(" \t")
        out.append(kept)
        removed += end - start
        pos = end
    out.append(line[pos:])
    cleaned = "".join(out)
    if len(cleaned.strip()) <= _MIN_LINE_LEFT:  # what is left of a junk line is junk too
        return "", len(line)
    return cleaned, removed


def clean_noise(text: str) -> NoiseResult:
    """Strip the noise runs this module can recognise safely; report whether there was any."""
    lines: list[str] = []
    removed = 0
    touched = False
    for line in text.split("\n"):
        cleaned, count = _clean_line(line)
        if count:
            touched = True
            removed += count
            if not cleaned:
                continue
        lines.append(cleaned)
    if not touched:
        return NoiseResult(text=text, found=False)
    joined = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return NoiseResult(text=joined, found=True, removed=removed)
