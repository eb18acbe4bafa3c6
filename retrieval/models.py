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
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class SessionRef(BaseModel):
    """The citation part of a hit: which session an answer came from."""

    model_config = ConfigDict(frozen=True)

    id: str
    date: dt.date
    title: str
    source_url: str | None = None


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


class SearchResult(BaseModel):
    """The answer to one query. When ``answered`` is false, ``hits`` are only 'maybe related'."""

    model_config = ConfigDict(frozen=True)

    query: str
    answered: bool
    hits: list[Hit]
    reason: str | None = Field(default=None, description="Why it abstained or rejected the query.")


class SearchBackend(Protocol):
    """What callers (answering, diagnose, digests) need from search; `retrieval.search.Searcher` implements it."""

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        """Ranked hits for ``query``, or an abstention."""
        ...
