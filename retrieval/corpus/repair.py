"""Repair of the damaged seed (placeholder: a lossy re-decode; the real repair replaces it)."""

from __future__ import annotations

from pydantic import BaseModel


class RepairResult(BaseModel):
    """Repaired text plus how much was repaired and how much stays uncertain."""

    text: str
    repaired: int = 0
    uncertain: int = 0


def repair_text(text: str) -> RepairResult:
    """Undo cp1252 mojibake; characters whose bytes were dropped become U+FFFD."""
    try:
        raw = text.encode("cp1252")
    except UnicodeEncodeError:
        return RepairResult(text=text)
    fixed = raw.decode("utf-8", errors="replace")
    broken = fixed.count("\ufffd")
    return RepairResult(text=fixed, repaired=0, uncertain=broken)
