"""The audit trail of cluster commands: an intent row before execution, its outcome after.

Keyed by the Slack event id (or a generated id for the CLI), so a retried event adds no second
record. It holds who, where, the normalised command, the decision and rule, duration and result
size — never output and never secret values. An intent left without an outcome (a crash between
the two writes) reads as outcome ``unknown`` once it is older than ``unknown_after_s``, and
``sweep()`` writes that down.

Example:
    >>> from bot.store.db import Database
    >>> log = AuditLog(Database.sqlite(":memory:"), clock=lambda: 100.0)
    >>> log.begin(request_id="Ev1", source="slack", user="U1", channel="C1", command="get pods",
    ...           verb="get", scope="shop", decision="allowed", rule="channels.C1", reason="allowed")
    True
    >>> log.begin(request_id="Ev1", source="slack", user="U1", channel="C1", command="get pods",
    ...           verb="get", scope="shop", decision="allowed", rule="channels.C1", reason="allowed")
    False
    >>> log.finish("Ev1", outcome="ok", duration_ms=12, result_rows=3, result_bytes=200)
    >>> log.get("Ev1").outcome
    'ok'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bot.store.db import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cluster_audit (
        request_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        user_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        command TEXT NOT NULL,
        verb TEXT,
        scope TEXT,
        decision TEXT NOT NULL,
        rule TEXT,
        reason TEXT,
        started_at DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION,
        outcome TEXT,
        duration_ms BIGINT,
        result_rows BIGINT,
        result_bytes BIGINT,
        error TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS cluster_audit_started ON cluster_audit (started_at)",
)
OUTCOMES = ("ok", "denied", "usage", "error", "unknown")
_COLUMNS = (
    "request_id, source, user_id, channel, command, verb, scope, decision, rule, reason, "
    "started_at, finished_at, outcome, duration_ms, result_rows, result_bytes, error"
)


@dataclass(frozen=True)
class AuditRecord:
    """One audited request; ``outcome`` is 'pending' while running and 'unknown' if it never finished."""

    request_id: str
    source: str
    user: str
    channel: str
    command: str
    verb: str | None
    scope: str | None
    decision: str
    rule: str | None
    reason: str | None
    started_at: float
    finished_at: float | None
    outcome: str
    duration_ms: int | None
    result_rows: int | None
    result_bytes: int | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """Plain dict for `firstmate audit tail --json`."""
        return asdict(self)


class AuditLog:
    """Writes and reads the audit trail in the shared store (SQLite by default, PostgreSQL by URL)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time, unknown_after_s: float = 300.0) -> None:
        self._db = db
        self._clock = clock
        self._unknown_after = unknown_after_s
        db.ensure_schema("cluster_audit", SCHEMA)

    def begin(
        self,
        *,
        request_id: str,
        source: str,
        user: str,
        channel: str,
        command: str,
        verb: str | None,
        scope: str | None,
        decision: str,
        rule: str | None,
        reason: str | None,
    ) -> bool:
        """Record the intent; False when this request id was already recorded (a retried delivery)."""
        count = self._db.execute(
            f"INSERT INTO cluster_audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL) "
            "ON CONFLICT (request_id) DO NOTHING",
            (request_id, source, user[:64], channel[:64], command[:600], verb, scope, decision, rule, (reason or "")[:300], self._clock()),
        )
        return count == 1

    def finish(
        self,
        request_id: str,
        *,
        outcome: str,
        duration_ms: int,
        result_rows: int | None = None,
        result_bytes: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record the outcome of an intent (once; a second call changes nothing)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self._db.execute(
            "UPDATE cluster_audit SET finished_at = ?, outcome = ?, duration_ms = ?, result_rows = ?, result_bytes = ?, error = ? "
            "WHERE request_id = ? AND outcome IS NULL",
            (self._clock(), outcome, duration_ms, result_rows, result_bytes, (error or None) and error[:200], request_id),
        )

    def sweep(self) -> int:
        """Write outcome 'unknown' on intents that never got one (the process died between the two writes)."""
        return self._db.execute(
            "UPDATE cluster_audit SET outcome = 'unknown' WHERE outcome IS NULL AND started_at < ?",
            (self._clock() - self._unknown_after,),
        )

    def _record(self, row: tuple[Any, ...]) -> AuditRecord:
        values = list(row)
        if values[12] is None:
            values[12] = "unknown" if values[10] < self._clock() - self._unknown_after else "pending"
        for i in (13, 14, 15):
            values[i] = None if values[i] is None else int(values[i])
        return AuditRecord(*values)

    def get(self, request_id: str) -> AuditRecord | None:
        """One record by request id."""
        row = self._db.fetchone(f"SELECT {_COLUMNS} FROM cluster_audit WHERE request_id = ?", (request_id,))
        return None if row is None else self._record(row)

    def tail(self, *, limit: int = 20) -> list[AuditRecord]:
        """The latest ``limit`` records, oldest first."""
        rows = self._db.fetchall(
            f"SELECT {_COLUMNS} FROM cluster_audit ORDER BY started_at DESC, request_id DESC LIMIT ?", (max(1, limit),)
        )
        return [self._record(r) for r in reversed(rows)]
