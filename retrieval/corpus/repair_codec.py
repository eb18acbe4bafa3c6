"""Byte-level half of the repair: simulate the damage, find truncated UTF-8, list what it could have been.

The seed was UTF-8, decoded as cp1252 and written back as UTF-8. Bytes that cp1252 leaves undefined
(0x81 0x8D 0x8F 0x90 0x9D) were dropped, and so was 0xAD (the soft hyphen, stripped somewhere on the way:
the seed never contains it, while 存 = E5 AD 98 is common). All six are UTF-8 *continuation* bytes, so
every lead byte survives: the damaged stream still splits unambiguously into characters, and a damaged
character is a lead byte followed by too few continuation bytes. What is lost is where the missing bytes
went and which of the six they were; :func:`candidates` lists every choice that decodes.

The input itself says which bytes were lost. Text damaged exactly as the issue describes keeps its soft
hyphens: 中 (E4 B8 AD) and 存 (E5 AD 98) come through intact. When the decoded mojibake holds a byte of
the six intact, that byte was not dropped, and :func:`scan` stops re-inserting it (中 is then no
candidate for a damaged 不). The seed holds none of them, so it keeps all six.

Example:
    >>> damage("存储")
    'å˜å‚¨'
    >>> options = candidates(bytes([0xE5]), bytes([0x98]))  # 存 = E5 AD 98 lost its AD
    >>> "存" in options, len(options)
    (True, 12)
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

#: Bytes the cp1252 decoder leaves undefined; dropped by the damage the issue describes.
CP1252_UNDEFINED: frozenset[int] = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})
#: What the seed actually lost: the five above plus 0xAD (soft hyphen). The repair assumes this superset.
DROPPED: frozenset[int] = CP1252_UNDEFINED | {0xAD}
_DROPPED_SORTED = tuple(sorted(DROPPED))

# Characters cp1252 can encode (one per defined byte), as a regex class for finding runs of them.
_CP1252_CHARS = "".join(bytes([b]).decode("cp1252") for b in range(256) if b not in CP1252_UNDEFINED)
_RUN_RE = re.compile("[" + re.escape(_CP1252_CHARS) + "]+")
_SURROGATES_RE = re.compile("[\udc80-\udcff]+")
# Category of characters never chosen: unassigned, surrogate halves.
_IMPOSSIBLE = frozenset({"Cn", "Cs"})


def damage(text: str, *, dropped: frozenset[int] = DROPPED) -> str:
    """Damage *text* the way the seed was damaged (for tests and the benchmark).

    With ``dropped=CP1252_UNDEFINED`` it is exactly the issue's description; the default also drops
    0xAD, which is what the real seed shows.
    """
    raw = bytes(b for b in text.encode("utf-8") if b not in dropped)
    return raw.decode("cp1252", errors="ignore")


def _need(lead: int) -> int:
    """Continuation bytes a UTF-8 lead byte calls for; 0 for bytes that cannot lead."""
    if 0xC2 <= lead <= 0xDF:
        return 1
    if 0xE0 <= lead <= 0xEF:
        return 2
    if 0xF0 <= lead <= 0xF4:
        return 3
    return 0


@lru_cache(maxsize=65536)
def candidates(lead: bytes, conts: bytes, dropped: frozenset[int] = DROPPED) -> tuple[str, ...]:
    """Every character that *lead* + *conts* could be after re-inserting the missing dropped bytes.

    The surviving continuation bytes keep their order; each missing byte is one of *dropped*.
    Only valid UTF-8 that decodes to an assigned character is kept. Sorted by code point.
    """
    need = _need(lead[0])
    missing = need - len(conts)
    if missing <= 0:
        return ()
    fills = tuple(sorted(dropped))
    found: set[str] = set()
    for slots in itertools.combinations(range(need), missing):
        for fill in itertools.product(fills, repeat=missing):
            tail: list[int] = []
            rest = iter(conts)
            filled = iter(fill)
            for i in range(need):
                tail.append(next(filled) if i in slots else next(rest))
            try:
                char = (lead + bytes(tail)).decode("utf-8")
            except UnicodeDecodeError:
                continue
            if unicodedata.category(char) not in _IMPOSSIBLE:
                found.add(char)
    return tuple(sorted(found))


@dataclass(slots=True)
class Slot:
    """One damaged character: where it sits in the output, where it came from, what it could be."""

    pos: int  # index into Scan.chars
    src_start: int  # span of the damaged characters in the input text
    src_end: int
    choices: tuple[str, ...]


@dataclass(slots=True)
class Scan:
    """The input split into output characters; damaged ones are placeholders listed in ``slots``."""

    chars: list[str] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    unresolvable: list[Slot] = field(default_factory=list)  # truncated, but no candidate decodes
    decoded: int = 0  # intact multibyte characters recovered from mojibake
    survived: set[int] = field(default_factory=set)  # bytes of DROPPED seen intact in decoded mojibake


def scan(text: str) -> Scan:
    """Split *text* into characters, decoding mojibake and marking truncated sequences as slots.

    Only runs of cp1252-encodable characters can be mojibake. Each line of such a run is decoded
    when it carries evidence (a multibyte sequence that survived intact or lost only part of its
    continuation bytes) and not more stray bytes than evidence; otherwise it is kept as written,
    so clean text (Chinese, ASCII, "café", “quotes”) passes through unchanged.
    """
    out = Scan()
    last = 0
    for run in _RUN_RE.finditer(text):
        out.chars.extend(text[last : run.start()])
        _scan_run(text, run.start(), run.end(), out)
        last = run.end()
    out.chars.extend(text[last:])
    if out.survived:
        _narrow(text, out)
    return out


def _narrow(text: str, out: Scan) -> None:
    """Re-list each slot's candidates without the bytes the input shows were not dropped (a slot no
    candidate fits then keeps the full list: the input is inconsistent, guessing beats nothing)."""
    dropped = DROPPED - out.survived
    if not dropped:
        return
    for slot in out.slots:
        raw = text[slot.src_start : slot.src_end].encode("cp1252")
        narrowed = candidates(raw[:1], raw[1:], frozenset(dropped))
        if narrowed:
            slot.choices = narrowed


def _scan_run(text: str, start: int, end: int, out: Scan) -> None:
    run = text[start:end]
    if run.isascii():
        out.chars.extend(run)
        return
    offset = start
    for line in run.splitlines(keepends=True):
        _scan_line(line, offset, out)
        offset += len(line)


def _note_survivors(intact: bytes, out: Scan) -> None:
    """Record the bytes of :data:`DROPPED` present in *intact* (UTF-8 that decoded whole)."""
    for b in _DROPPED_SORTED:
        if b not in out.survived and bytes([b]) in intact:
            out.survived.add(b)


def _scan_line(line: str, offset: int, out: Scan) -> None:
    if line.isascii():
        out.chars.extend(line)
        return
    raw = line.encode("cp1252")
    decoded = raw.decode("utf-8", errors="surrogateescape")
    # Source offsets: one cp1252 char per byte, so byte index == index into `line`.
    pieces: list[tuple[int, str | tuple[bytes, bytes]]] = []  # (byte index, fixed text | (lead, conts))
    intact = 0
    evidence = 0
    strays = 0
    byte_at = 0
    last = 0
    whole: list[str] = []  # the stretches that decoded as valid UTF-8 (strays are kept apart)
    for bad in _SURROGATES_RE.finditer(decoded):
        good = decoded[last : bad.start()]
        whole.append(good)
        intact += sum(1 for ch in good if ord(ch) > 0x7F)
        pieces.append((byte_at, good))
        byte_at += len(good.encode("utf-8"))
        data = bytes(ord(ch) - 0xDC00 for ch in bad.group())
        i = 0
        while i < len(data):
            need = _need(data[i])
            j = i + 1
            while j < len(data) and j - i - 1 < need and 0x80 <= data[j] <= 0xBF:
                j += 1
            if need and j - i - 1 < need:
                if j - i > 1:
                    evidence += 1  # a lead byte kept some continuation bytes: clearly mojibake
                pieces.append((byte_at + i, (data[i : i + 1], data[i + 1 : j])))
                i = j
            else:  # stray continuation byte or invalid lead: keep the cp1252 character as written
                strays += 1
                pieces.append((byte_at + i, line[byte_at + i]))
                i += 1
        byte_at += len(data)
        last = bad.end()
    if not pieces:  # decoded cleanly: pure mojibake of intact characters
        out.chars.extend(decoded)
        out.decoded += sum(1 for ch in decoded if ord(ch) > 0x7F)
        _note_survivors(raw, out)
        return
    tail = decoded[last:]
    intact += sum(1 for ch in tail if ord(ch) > 0x7F)
    evidence += intact
    if evidence == 0 or strays > evidence:
        out.chars.extend(line)
        return
    out.decoded += intact
    pieces.append((byte_at, tail))
    _note_survivors("".join(whole).encode("utf-8") + tail.encode("utf-8"), out)
    for at, piece in pieces:
        if isinstance(piece, str):
            out.chars.extend(piece)
            continue
        lead, conts = piece
        slot = Slot(
            pos=len(out.chars),
            src_start=offset + at,
            src_end=offset + at + 1 + len(conts),
            choices=candidates(lead, conts),
        )
        if slot.choices:
            out.slots.append(slot)
            out.chars.append("\x00")
        else:
            out.unresolvable.append(slot)
            out.chars.extend(line[at : at + 1 + len(conts)])
