"""What search returns: ranked, cited hits, or an abstention with maybe-related sessions.

These models are the contract between retrieval and its callers (CLI, Slack, diagnose, digests),
and the JSON of `firstmate ask --json`.

Example:
    >>> r = SearchResult(query="q", answered=False, hits=[])
    >>> r.answered
    False
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field


class SessionRef(BaseModel):
    """The citation part of a hit: which session (or, for ``kind='note'``, which note) it came from.

    A note has no session date. ``date`` is then the date the note states in its headings when it
    states one, else the placeholder 1970-01-01 with ``date_known=False``: render it as "undated".
    """

    model_config = ConfigDict(frozen=True)

    id: str
    date: dt.date
    title: str
    source_url: str | None = None
    kind: Literal["session", "note"] = Field(default="session", description="'note' for an engineer's note chunk.")
    date_known: bool = Field(default=True, description="False when ``date`` is only the undated placeholder.")

    def label(self) -> str:
        """How a citation names its source: ``2017-11-15 · title`` or ``note · heading path (undated)``."""
        if self.kind == "note":
            when = self.date.isoformat() if self.date_known else "undated"
            return f"note · {self.title} ({when})"
        return f"{self.date.isoformat()} · {self.title}"


class Hit(BaseModel):
    """One ranked answer candidate."""

    model_config = ConfigDict(frozen=True)

    rank: int
    score: float
    qa_id: str
    session: SessionRef
    question: str
    answer: str
    channels: list[str] = Field(default_factory=list, description="Which channels found it: lexical, vector.")
    folded: list[str] = Field(default_factory=list, description="Ids of near-duplicates folded into this hit.")
    kind: str = Field(default="qa", description="'qa' for a corpus Q&A, 'doc' for a note chunk.")
    source: str | None = Field(default=None, description="Note file name (doc hits only).")
    section: str | None = Field(default=None, description="Heading path inside the note, 'a › b' (doc hits only).")
    line: int | None = Field(default=None, description="1-based line of the section in the note file (doc hits only).")


class SearchResult(BaseModel):
    """The answer to one query. When ``answered`` is false, ``hits`` are only 'maybe related'."""

    model_config = ConfigDict(frozen=True)

    query: str
    answered: bool
    hits: list[Hit]
    reason: str | None = Field(default=None, description="Why it abstained or rejected the query.")
    confidence: float | None = Field(
        default=None, description="0..1 score of the answer/abstain model for the best hit (None: query refused)."
    )


class SearchBackend(Protocol):
    """What callers (answering, diagnose, digests) need from search; `retrieval.search.Searcher` implements it."""

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        """Ranked hits for ``query``, or an abstention."""
        ...
