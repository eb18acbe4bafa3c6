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
from collections import Counter
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Session(BaseModel):
    """One sharing session: a dated talk with its Q&A."""

    model_config = ConfigDict(frozen=True)

    id: str
    date: dt.date
    title: str
    source_url: str | None = None
    footer: str | None = Field(
        default=None, description="Speaker bio / '以上内容根据…整理' footer, split off."
    )
    source: str = Field(description="Corpus file name the session came from.")
    line: int = Field(description="1-based line of the session heading in the source file.")
    speaker: str | None = Field(
        default=None, description="Speaker name from the footer ('分享人…'), if given."
    )
    intro: str | None = Field(default=None, description="Text between the heading and the first question.")


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
    follow_up_of: str | None = Field(
        default=None,
        description="Id of the Q&A this follow-up ('追问', or a question inside an answer) belongs to.",
    )
    missing_question: bool = Field(
        default=False, description="An answer whose question was lost in the source (question is empty)."
    )

    @property
    def answerable(self) -> bool:
        """True when this Q&A may be served as an answer (empty answers never are)."""
        return not self.empty_answer and bool(self.answer.strip())


class Doc(BaseModel):
    """A chunk of a markdown note, split by heading; the heading path is its title."""

    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    title: str
    text: str
    line: int
    heading_path: tuple[str, ...] = Field(
        default=(), description="Headings from the top down; joined, the title."
    )
    part: int = Field(default=1, description="1-based part when a long section was split by the size cap.")
    parts: int = 1


class SourceFile(BaseModel):
    """One file the corpus was read from: what it was taken for and what it yielded."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="File name, relative to the folder it was found in.")
    path: str = Field(description="Path as read (for messages); ids never depend on it.")
    kind: Literal["qa", "notes"]
    sha256: str = Field(description="Hash of the file's bytes as stored (before repair).")
    size: int
    sessions: int = 0
    qas: int = 0
    docs: int = 0
    repaired_chars: int = 0
    uncertain_chars: int = 0
    noise_chars_removed: int = 0


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
    files: int = 0
    follow_ups: int = 0
    missing_questions: int = 0
    answerable: int = Field(default=0, description="Q&As that may be served (non-empty answer).")
    noise_chars_removed: int = 0


class Corpus(BaseModel):
    """Everything parsed from the configured corpus paths."""

    model_config = ConfigDict(frozen=True)

    sessions: tuple[Session, ...] = ()
    qas: tuple[QA, ...] = ()
    docs: tuple[Doc, ...] = ()
    repaired_chars: int = 0
    uncertain_chars: int = 0
    files: tuple[SourceFile, ...] = ()

    @cached_property
    def _by_id(self) -> dict[str, Session | QA | Doc]:
        table: dict[str, Session | QA | Doc] = {s.id: s for s in self.sessions}
        table.update((qa.id, qa) for qa in self.qas)
        table.update((doc.id, doc) for doc in self.docs)
        return table

    def get(self, item_id: str) -> Session | QA | Doc | None:
        """The session, Q&A or note chunk with this id, or None."""
        return self._by_id.get(item_id)

    def qas_of(self, session_id: str) -> tuple[QA, ...]:
        """The Q&As of one session, in order."""
        return tuple(qa for qa in self.qas if qa.session_id == session_id)

    def stats(self) -> CorpusStats:
        """Counts for `firstmate corpus stats`."""
        session_year = {s.id: s.date.year for s in self.sessions}
        per_year = Counter(session_year[qa.session_id] for qa in self.qas if qa.session_id in session_year)
        return CorpusStats(
            sessions=len(self.sessions),
            qas=len(self.qas),
            empty_answers=sum(qa.empty_answer for qa in self.qas),
            merged_questions=sum(qa.merged_questions for qa in self.qas),
            noise=sum(qa.noise for qa in self.qas),
            docs=len(self.docs),
            repaired_chars=self.repaired_chars,
            uncertain_chars=self.uncertain_chars,
            qas_per_year=dict(sorted(per_year.items())),
            files=len(self.files),
            follow_ups=sum(qa.follow_up_of is not None for qa in self.qas),
            missing_questions=sum(qa.missing_question for qa in self.qas),
            answerable=sum(qa.answerable for qa in self.qas),
            noise_chars_removed=sum(f.noise_chars_removed for f in self.files),
        )
