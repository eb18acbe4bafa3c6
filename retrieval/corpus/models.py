"""Typed corpus models shared by every later stage (index, search, Slack, digests).

Ids are content hashes, so they stay the same across rebuilds while the text is unchanged.

Example:
    >>> from datetime import date
    >>> s = Session(id="s-1", date=date(2017, 11, 15), title="Kubernetes 调度详解", source="qa.txt", line=10)
    >>> s.title
    'Kubernetes 调度详解'
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class Session(BaseModel):
    """One sharing session: a dated talk with its Q&A."""

    model_config = ConfigDict(frozen=True)

    id: str
    date: dt.date
    title: str
    source_url: str | None = None
    footer: str | None = Field(default=None, description="Speaker bio / '以上内容根据…整理' footer, split off.")
    source: str = Field(description="Corpus file name the session came from.")
    line: int = Field(description="1-based line of the session heading in the source file.")


class QA(BaseModel):
    """One question and its answer inside a session."""

    model_config = ConfigDict(frozen=True)

    id: str
    session_id: str
    ordinal: int = Field(description="1-based position inside the session.")
    label: str | None = Field(default=None, description="The label as written, e.g. 'Q7-0.1'.")
    question: str
    answer: str
    empty_answer: bool = False
    merged_questions: bool = False
    noise: bool = False
    uncertain_chars: int = Field(default=0, description="Characters the repair could not settle.")
    line: int


class Doc(BaseModel):
    """A chunk of a markdown note, split by heading; the heading path is its title."""

    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    title: str
    text: str
    line: int


class CorpusStats(BaseModel):
    """Counts for `firstmate corpus stats`."""

    sessions: int
    qas: int
    empty_answers: int
    merged_questions: int
    noise: int
    docs: int
    repaired_chars: int
    uncertain_chars: int
    qas_per_year: dict[int, int]


class Corpus(BaseModel):
    """Everything parsed from the configured corpus paths."""

    model_config = ConfigDict(frozen=True)

    sessions: tuple[Session, ...] = ()
    qas: tuple[QA, ...] = ()
    docs: tuple[Doc, ...] = ()
    repaired_chars: int = 0
    uncertain_chars: int = 0
