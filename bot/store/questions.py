"""Questions asked, feedback given, and Slack event ids already handled.

Three tables on the shared ``Database`` (SQLite or PostgreSQL):

* ``questions``: one row per question: who, where, when, which transport, answered or not, the
  top hit ids, latency, and where the reply was posted (so a thread follow-up and the feedback
  buttons find it again). The question text is kept: the knowledge digest lists questions that
  went unanswered for humans to pick up. It is data, not a log line.
* ``feedback``: one row per (message, user); a second click updates the row.
* ``processed_events``: deduplication of Slack deliveries across retries and replicas. A delivery
  *claims* its event id; a duplicate finds the claim and is skipped. A claim that was never
  finished (the replica died) can be taken over after a lease, so a crash loses nothing.

Times are Unix seconds (UTC) in DOUBLE PRECISION columns: portable, and easy to query by period.

Example:
    >>> from bot.store.db import Database
    >>> store = QuestionStore(Database.sqlite(":memory:"))
    >>> store.claim_event("Ev1", owner="a", lease_s=60)
    True
    >>> store.claim_event("Ev1", owner="b", lease_s=60)
    False
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.store.db import Database

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS questions (
        id TEXT PRIMARY KEY,
        asked_at DOUBLE PRECISION NOT NULL,
        user_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        thread_ts TEXT,
        reply_ts TEXT,
        transport TEXT NOT NULL,
        trigger TEXT NOT NULL,
        language TEXT NOT NULL,
        question TEXT NOT NULL,
        context TEXT,
        answered BIGINT NOT NULL,
        reason TEXT,
        top_hit_ids TEXT NOT NULL,
        session_ids TEXT NOT NULL,
        latency_ms DOUBLE PRECISION
    )""",
    "CREATE INDEX IF NOT EXISTS questions_asked_at ON questions (asked_at)",
    "CREATE INDEX IF NOT EXISTS questions_thread ON questions (channel_id, thread_ts)",
    "CREATE INDEX IF NOT EXISTS questions_reply ON questions (channel_id, reply_ts)",
    """CREATE TABLE IF NOT EXISTS feedback (
        message_key TEXT NOT NULL,
        user_id TEXT NOT NULL,
        question_id TEXT NOT NULL,
        value BIGINT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (message_key, user_id)
    )""",
    "CREATE INDEX IF NOT EXISTS feedback_updated_at ON feedback (updated_at)",
    """CREATE TABLE IF NOT EXISTS processed_events (
        event_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        claimed_at DOUBLE PRECISION NOT NULL,
        done_at DOUBLE PRECISION
    )""",
]


class QuestionRecord(BaseModel):
    """One question as stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    asked_at: float
    user_id: str
    channel_id: str
    thread_ts: str | None = Field(default=None, description="Root of the thread the reply went to.")
    reply_ts: str | None = Field(default=None, description="ts of the reply message, once posted.")
    transport: str = Field(description="'slack' or 'console'.")
    trigger: str = Field(description="mention, dm, ask, thread, auto, console…")
    language: str
    question: str
    context: str | None = Field(default=None, description="The earlier question of the thread, for follow-ups.")
    answered: bool
    reason: str | None = None
    top_hit_ids: list[str] = Field(default_factory=list)
    session_ids: list[str] = Field(default_factory=list)
    latency_ms: float | None = None


class FeedbackRecord(BaseModel):
    """One user's latest verdict on one answer message."""

    model_config = ConfigDict(frozen=True)

    message_key: str
    user_id: str
    question_id: str
    value: Literal[1, -1]
    created_at: float
    updated_at: float


_COLUMNS = (
    "id, asked_at, user_id, channel_id, thread_ts, reply_ts, transport, trigger, language, question, "
    "context, answered, reason, top_hit_ids, session_ids, latency_ms"
)


def _row_to_question(row: Sequence[Any]) -> QuestionRecord:
    return QuestionRecord(
        id=row[0], asked_at=float(row[1]), user_id=row[2], channel_id=row[3], thread_ts=row[4],
        reply_ts=row[5], transport=row[6], trigger=row[7], language=row[8], question=row[9],
        context=row[10], answered=bool(row[11]), reason=row[12], top_hit_ids=json.loads(row[13]),
        session_ids=json.loads(row[14]), latency_ms=None if row[15] is None else float(row[15]),
    )


class QuestionStore:
    """The questions/feedback/dedup tables behind a small interface (SQLite or PostgreSQL).

    Example:
        >>> from bot.store.db import Database
        >>> s = QuestionStore(Database.sqlite(":memory:"))
        >>> s.record_feedback(message_key="C1:1.0", user_id="U1", question_id="q1", value=1)
        'inserted'
        >>> s.record_feedback(message_key="C1:1.0", user_id="U1", question_id="q1", value=-1)
        'updated'
    """

    def __init__(self, db: Database, *, event_retention_s: float = 7 * 86400) -> None:
        self.db = db
        self.event_retention_s = event_retention_s
        self._claims = 0
        db.ensure_schema("questions", SCHEMA)

    # -- questions ---------------------------------------------------------------------------
    def record_question(self, record: QuestionRecord) -> None:
        """Insert one question (idempotent on its id: a replay changes nothing)."""
        self.db.execute(
            f"INSERT INTO questions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            (
                record.id, record.asked_at, record.user_id, record.channel_id, record.thread_ts,
                record.reply_ts, record.transport, record.trigger, record.language, record.question,
                record.context, int(record.answered), record.reason, json.dumps(record.top_hit_ids),
                json.dumps(record.session_ids), record.latency_ms,
            ),
        )

    def attach_reply(self, question_id: str, *, reply_ts: str | None, latency_ms: float | None = None) -> None:
        """Remember where the reply was posted, and the end-to-end latency."""
        self.db.execute(
            "UPDATE questions SET reply_ts = COALESCE(?, reply_ts), latency_ms = COALESCE(?, latency_ms) WHERE id = ?",
            (reply_ts, latency_ms, question_id),
        )

    def get_question(self, question_id: str) -> QuestionRecord | None:
        """One question by id."""
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM questions WHERE id = ?", (question_id,))
        return _row_to_question(row) if row else None

    def thread_question(self, channel_id: str, thread_ts: str) -> QuestionRecord | None:
        """The first question firstmate answered in this thread (by root ts or its own reply ts)."""
        row = self.db.fetchone(
            f"SELECT {_COLUMNS} FROM questions WHERE channel_id = ? AND (thread_ts = ? OR reply_ts = ?) "
            "ORDER BY asked_at ASC LIMIT 1",
            (channel_id, thread_ts, thread_ts),
        )
        return _row_to_question(row) if row else None

    def questions_between(self, start: float, end: float, *, limit: int = 10_000) -> list[QuestionRecord]:
        """Questions asked in [start, end) (Unix seconds), oldest first: the digests' view."""
        rows = self.db.fetchall(
            f"SELECT {_COLUMNS} FROM questions WHERE asked_at >= ? AND asked_at < ? ORDER BY asked_at ASC LIMIT ?",
            (start, end, limit),
        )
        return [_row_to_question(row) for row in rows]

    def count_questions(self) -> int:
        """How many questions are stored (all time)."""
        row = self.db.fetchone("SELECT COUNT(*) FROM questions")
        return int(row[0]) if row else 0

    # -- feedback ----------------------------------------------------------------------------
    def record_feedback(
        self, *, message_key: str, user_id: str, question_id: str, value: int, now: float | None = None
    ) -> Literal["inserted", "updated", "unchanged"]:
        """Store a 👍 (1) or 👎 (-1); a second click by the same user on the same message updates it."""
        if value not in (1, -1):
            raise ValueError("feedback value must be 1 or -1")
        at = time.time() if now is None else now
        with self.db.transaction() as tx:
            row = tx.fetchone(
                "SELECT value FROM feedback WHERE message_key = ? AND user_id = ?", (message_key, user_id)
            )
            tx.execute(
                "INSERT INTO feedback (message_key, user_id, question_id, value, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_key, user_id) DO UPDATE SET "
                "value = excluded.value, updated_at = excluded.updated_at, question_id = excluded.question_id",
                (message_key, user_id, question_id, value, at, at),
            )
        if row is None:
            return "inserted"
        return "unchanged" if int(row[0]) == value else "updated"

    def feedback_for(self, message_key: str) -> list[FeedbackRecord]:
        """Every user's verdict on one message."""
        rows = self.db.fetchall(
            "SELECT message_key, user_id, question_id, value, created_at, updated_at FROM feedback "
            "WHERE message_key = ? ORDER BY user_id",
            (message_key,),
        )
        return [self._feedback(row) for row in rows]

    def feedback_between(self, start: float, end: float) -> list[FeedbackRecord]:
        """Feedback last changed in [start, end) (Unix seconds)."""
        rows = self.db.fetchall(
            "SELECT message_key, user_id, question_id, value, created_at, updated_at FROM feedback "
            "WHERE updated_at >= ? AND updated_at < ? ORDER BY updated_at",
            (start, end),
        )
        return [self._feedback(row) for row in rows]

    @staticmethod
    def _feedback(row: Sequence[Any]) -> FeedbackRecord:
        return FeedbackRecord(
            message_key=row[0], user_id=row[1], question_id=row[2], value=1 if int(row[3]) > 0 else -1,
            created_at=float(row[4]), updated_at=float(row[5]),
        )

    # -- deduplication -----------------------------------------------------------------------
    def claim_event(self, event_id: str, *, owner: str, lease_s: float, now: float | None = None) -> bool:
        """True for the first delivery of ``event_id``; False for duplicates.

        A claim that was never finished and is older than ``lease_s`` is taken over (the replica that
        held it died), so Slack's later retry still gets an answer.
        """
        at = time.time() if now is None else now
        self._claims += 1
        if self._claims % 1000 == 0:  # keep the table small in a long-running process
            self.purge_events(older_than_s=self.event_retention_s, now=at)
        with self.db.transaction() as tx:
            inserted = tx.execute(
                "INSERT INTO processed_events (event_id, owner, claimed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (event_id) DO NOTHING",
                (event_id, owner, at),
            )
            if inserted == 1:
                return True
            taken = tx.execute(
                "UPDATE processed_events SET owner = ?, claimed_at = ? "
                "WHERE event_id = ? AND done_at IS NULL AND claimed_at < ?",
                (owner, at, event_id, at - lease_s),
            )
            return taken == 1

    def finish_event(self, event_id: str, *, now: float | None = None) -> None:
        """Mark a claimed event as handled for good."""
        self.db.execute(
            "UPDATE processed_events SET done_at = ? WHERE event_id = ?",
            (time.time() if now is None else now, event_id),
        )

    def purge_events(self, *, older_than_s: float, now: float | None = None) -> int:
        """Forget event ids older than Slack's retry window (kept much longer by default)."""
        cutoff = (time.time() if now is None else now) - older_than_s
        return self.db.execute("DELETE FROM processed_events WHERE claimed_at < ?", (cutoff,))
