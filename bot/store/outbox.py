"""The digest outbox: one row per (kind, channel, period), written before posting.

The row is the digest's claim ticket and its memory across crashes:

* ``UNIQUE (kind, channel, period_end)`` makes a second runner's claim fail, so it backs off;
* ``owner`` + ``lease_until`` say who works on a pending row, and let another runner take over
  once the lease has run out (the owner crashed);
* ``maybe_posted`` is set *before* the Slack call and cleared only by a definite Slack error, so
  a runner that finds it set searches the channel history before posting again;
* ``payload`` and ``facts`` are built once, so a retry posts the same digest and the snapshot
  for the next digest's "what changed" is saved in the same transaction as ``posted``.

States: ``pending`` → ``posted`` (with the Slack ts) | ``skipped`` (empty period, configured to
stay silent) | ``superseded`` (never posted; a later catch-up digest covers its period).

Times are UTC: periods as sortable ISO text, leases as epoch seconds from the injected clock.

Example:
    >>> import datetime as dt
    >>> from bot.store.db import Database
    >>> box = OutboxStore(Database.sqlite(":memory:"))
    >>> end = dt.datetime(2024, 3, 11, 1, tzinfo=dt.UTC)
    >>> row = NewDigest("dg-x", "cluster", "C1", end - dt.timedelta(days=1), end, late=False, missed=0)
    >>> box.claim(row, owner="a", now=0.0, lease_seconds=60), box.claim(row, owner="b", now=0.0, lease_seconds=60)
    (True, False)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.store.db import Database, _Tx

State = Literal["pending", "posted", "skipped", "superseded"]
DONE_STATES: tuple[str, ...] = ("posted", "skipped")

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS digest_outbox (
        digest_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        channel TEXT NOT NULL,
        period_start TEXT NOT NULL,
        period_end TEXT NOT NULL,
        state TEXT NOT NULL,
        late BIGINT NOT NULL DEFAULT 0,
        missed BIGINT NOT NULL DEFAULT 0,
        owner TEXT,
        lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
        attempts BIGINT NOT NULL DEFAULT 0,
        maybe_posted BIGINT NOT NULL DEFAULT 0,
        slack_ts TEXT,
        payload TEXT,
        facts TEXT,
        superseded_by TEXT,
        last_error TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        posted_at DOUBLE PRECISION,
        UNIQUE (kind, channel, period_end)
    )""",
    "CREATE INDEX IF NOT EXISTS digest_outbox_by_state ON digest_outbox (kind, channel, state, period_end)",
    """CREATE TABLE IF NOT EXISTS digest_snapshot (
        kind TEXT NOT NULL,
        channel TEXT NOT NULL,
        digest_id TEXT NOT NULL,
        period_end TEXT NOT NULL,
        facts TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (kind, channel)
    )""",
]

_COLUMNS = (
    "digest_id, kind, channel, period_start, period_end, state, late, missed, owner, lease_until, "
    "attempts, maybe_posted, slack_ts, payload, facts, superseded_by, last_error, posted_at"
)


def iso(when: dt.datetime) -> str:
    """Sortable UTC text for a period boundary: '2024-03-11T01:00:00Z'."""
    if when.tzinfo is None:
        raise ValueError("period boundaries must be timezone-aware")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> dt.datetime:
    """Inverse of :func:`iso`."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class NewDigest:
    """What a runner claims: the digest's identity and the period it covers."""

    digest_id: str
    kind: str
    channel: str
    period_start: dt.datetime
    period_end: dt.datetime
    late: bool
    missed: int


@dataclass(frozen=True)
class OutboxRow:
    """One outbox row as read back."""

    digest_id: str
    kind: str
    channel: str
    period_start: dt.datetime
    period_end: dt.datetime
    state: str
    late: bool
    missed: int
    owner: str | None
    lease_until: float
    attempts: int
    maybe_posted: bool
    slack_ts: str | None
    payload: dict[str, Any] | None
    facts: dict[str, Any] | None
    superseded_by: str | None
    last_error: str | None
    posted_at: float | None

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    def lease_live(self, now: float) -> bool:
        return self.lease_until > now

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> OutboxRow:
        return cls(
            digest_id=row[0],
            kind=row[1],
            channel=row[2],
            period_start=parse_iso(row[3]),
            period_end=parse_iso(row[4]),
            state=row[5],
            late=bool(row[6]),
            missed=int(row[7]),
            owner=row[8],
            lease_until=float(row[9]),
            attempts=int(row[10]),
            maybe_posted=bool(row[11]),
            slack_ts=row[12],
            payload=json.loads(row[13]) if row[13] else None,
            facts=json.loads(row[14]) if row[14] else None,
            superseded_by=row[15],
            last_error=row[16],
            posted_at=float(row[17]) if row[17] is not None else None,
        )


@dataclass(frozen=True)
class Snapshot:
    """The facts of the last posted digest for (kind, channel): the base of "what changed"."""

    digest_id: str
    period_end: dt.datetime
    facts: dict[str, Any]


class OutboxStore:
    """Outbox rows and snapshots in the shared store (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("digest_outbox", SCHEMA)

    # -- reading -----------------------------------------------------------------------------

    def get(self, digest_id: str) -> OutboxRow | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM digest_outbox WHERE digest_id = ?", (digest_id,))
        return OutboxRow.from_row(row) if row else None

    def for_slot(self, kind: str, channel: str, period_end: dt.datetime) -> OutboxRow | None:
        row = self.db.fetchone(
            f"SELECT {_COLUMNS} FROM digest_outbox WHERE kind = ? AND channel = ? AND period_end = ?",
            (kind, channel, iso(period_end)),
        )
        return OutboxRow.from_row(row) if row else None

    def pending_before(self, kind: str, channel: str, period_end: dt.datetime) -> list[OutboxRow]:
        """Unfinished rows of earlier slots, oldest first: leftovers of a crash."""
        rows = self.db.fetchall(
            f"SELECT {_COLUMNS} FROM digest_outbox WHERE kind = ? AND channel = ? AND state = 'pending' "
            "AND period_end < ? ORDER BY period_end",
            (kind, channel, iso(period_end)),
        )
        return [OutboxRow.from_row(r) for r in rows]

    def last_done(self, kind: str, channel: str, *, before: dt.datetime | None = None) -> OutboxRow | None:
        """The latest posted or skipped row (its ``period_end`` is where the next period starts)."""
        sql = f"SELECT {_COLUMNS} FROM digest_outbox WHERE kind = ? AND channel = ? AND state IN ('posted', 'skipped')"
        params: list[Any] = [kind, channel]
        if before is not None:
            sql += " AND period_end < ?"
            params.append(iso(before))
        row = self.db.fetchone(sql + " ORDER BY period_end DESC LIMIT 1", params)
        return OutboxRow.from_row(row) if row else None

    def earliest_superseded(self, kind: str, channel: str, *, before: dt.datetime) -> OutboxRow | None:
        """The oldest never-posted row: with no digest posted yet, the catch-up period starts there."""
        row = self.db.fetchone(
            f"SELECT {_COLUMNS} FROM digest_outbox WHERE kind = ? AND channel = ? AND state = 'superseded' "
            "AND period_end < ? ORDER BY period_start LIMIT 1",
            (kind, channel, iso(before)),
        )
        return OutboxRow.from_row(row) if row else None

    def covered_from(self, kind: str, channel: str, period_end: dt.datetime) -> OutboxRow | None:
        """A done row ending at or after ``period_end``: that slot needs no digest of its own."""
        row = self.db.fetchone(
            f"SELECT {_COLUMNS} FROM digest_outbox WHERE kind = ? AND channel = ? "
            "AND state IN ('posted', 'skipped') AND period_end >= ? ORDER BY period_end LIMIT 1",
            (kind, channel, iso(period_end)),
        )
        return OutboxRow.from_row(row) if row else None

    def history(
        self, *, kind: str | None = None, channel: str | None = None, limit: int = 20
    ) -> list[OutboxRow]:
        """Most recent rows first (for `firstmate digest --history` and tests)."""
        sql = f"SELECT {_COLUMNS} FROM digest_outbox WHERE 1 = 1"
        params: list[Any] = []
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        if channel:
            sql += " AND channel = ?"
            params.append(channel)
        sql += " ORDER BY period_end DESC LIMIT ?"
        params.append(int(limit))
        return [OutboxRow.from_row(r) for r in self.db.fetchall(sql, params)]

    def snapshot(self, kind: str, channel: str) -> Snapshot | None:
        row = self.db.fetchone(
            "SELECT digest_id, period_end, facts FROM digest_snapshot WHERE kind = ? AND channel = ?",
            (kind, channel),
        )
        if row is None:
            return None
        return Snapshot(digest_id=row[0], period_end=parse_iso(row[1]), facts=json.loads(row[2]))

    def latest_snapshots(self, kind: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The stored facts of ``kind`` for every channel, newest first."""
        rows = self.db.fetchall(
            "SELECT facts FROM digest_snapshot WHERE kind = ? ORDER BY period_end DESC LIMIT ?",
            (kind, int(limit)),
        )
        return [json.loads(r[0]) for r in rows]

    # -- claiming and leases -----------------------------------------------------------------

    def claim(self, new: NewDigest, *, owner: str, now: float, lease_seconds: float) -> bool:
        """Insert the pending row; False when another runner already holds this (kind, channel, period)."""
        try:
            self.db.execute(
                "INSERT INTO digest_outbox (digest_id, kind, channel, period_start, period_end, state, late, "
                "missed, owner, lease_until, attempts, maybe_posted, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, 0, 0, ?, ?)",
                (
                    new.digest_id,
                    new.kind,
                    new.channel,
                    iso(new.period_start),
                    iso(new.period_end),
                    int(new.late),
                    int(new.missed),
                    owner,
                    now + lease_seconds,
                    now,
                    now,
                ),
            )
        except self.db.integrity_errors:
            return False
        return True

    def take_over(self, digest_id: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        """Own a pending row whose lease ran out; atomic, so of two runners only one gets it."""
        count = self.db.execute(
            "UPDATE digest_outbox SET owner = ?, lease_until = ?, updated_at = ? "
            "WHERE digest_id = ? AND state = 'pending' AND lease_until <= ?",
            (owner, now + lease_seconds, now, digest_id, now),
        )
        return count == 1

    def save_build(
        self, digest_id: str, *, owner: str, payload: dict[str, Any], facts: dict[str, Any], now: float
    ) -> bool:
        """Keep the built digest so a retry posts exactly the same thing."""
        count = self.db.execute(
            "UPDATE digest_outbox SET payload = ?, facts = ?, updated_at = ? "
            "WHERE digest_id = ? AND owner = ? AND state = 'pending'",
            (
                json.dumps(payload, ensure_ascii=False),
                json.dumps(facts, ensure_ascii=False),
                now,
                digest_id,
                owner,
            ),
        )
        return count == 1

    def begin_attempt(
        self, digest_id: str, *, owner: str, now: float, lease_seconds: float, late: bool = False
    ) -> bool:
        """Committed before the Slack call: from here on the message may exist in the channel."""
        count = self.db.execute(
            "UPDATE digest_outbox SET attempts = attempts + 1, maybe_posted = 1, lease_until = ?, updated_at = ?, "
            "late = CASE WHEN ? = 1 THEN 1 ELSE late END "
            "WHERE digest_id = ? AND owner = ? AND state = 'pending'",
            (now + lease_seconds, now, int(late), digest_id, owner),
        )
        return count == 1

    def attempt_failed(
        self, digest_id: str, *, owner: str, now: float, error: str, definite: bool, retry_at: float
    ) -> None:
        """Record a failed post; ``definite`` means Slack said no, so nothing was posted."""
        self.db.execute(
            "UPDATE digest_outbox SET last_error = ?, lease_until = ?, updated_at = ?, "
            "maybe_posted = CASE WHEN ? = 1 THEN 0 ELSE maybe_posted END "
            "WHERE digest_id = ? AND owner = ? AND state = 'pending'",
            (error[:300], retry_at, now, int(definite), digest_id, owner),
        )

    # -- finishing ---------------------------------------------------------------------------

    def _finish(
        self,
        tx: _Tx,
        digest_id: str,
        *,
        state: State,
        now: float,
        slack_ts: str | None = None,
        facts: dict[str, Any] | None = None,
    ) -> bool:
        if facts is not None:
            tx.execute(
                "UPDATE digest_outbox SET facts = ? WHERE digest_id = ? AND state = 'pending'",
                (json.dumps(facts, ensure_ascii=False), digest_id),
            )
        count = tx.execute(
            "UPDATE digest_outbox SET state = ?, slack_ts = ?, posted_at = ?, lease_until = 0, updated_at = ?, "
            "last_error = NULL WHERE digest_id = ? AND state = 'pending'",
            (state, slack_ts, now if state == "posted" else None, now, digest_id),
        )
        if count != 1:
            return False
        row = tx.fetchone(
            "SELECT kind, channel, period_end, facts FROM digest_outbox WHERE digest_id = ?", (digest_id,)
        )
        if row is not None and row[3]:
            tx.execute(
                "INSERT INTO digest_snapshot (kind, channel, digest_id, period_end, facts, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, channel) DO UPDATE SET "
                "digest_id = excluded.digest_id, period_end = excluded.period_end, facts = excluded.facts, "
                "updated_at = excluded.updated_at WHERE digest_snapshot.period_end <= excluded.period_end",
                (row[0], row[1], digest_id, row[2], row[3], now),
            )
        return True

    def mark_posted(
        self, digest_id: str, *, slack_ts: str, now: float, before_commit: Callable[[], None] | None = None
    ) -> bool:
        """``posted`` with the Slack ts, and the snapshot, in one transaction."""
        with self.db.transaction() as tx:
            done = self._finish(tx, digest_id, state="posted", now=now, slack_ts=slack_ts)
            if before_commit is not None:
                before_commit()
        return done

    def mark_skipped(self, digest_id: str, *, now: float, facts: dict[str, Any] | None = None) -> bool:
        """An empty period configured to stay silent: nothing to post, but the period is covered."""
        with self.db.transaction() as tx:
            return self._finish(tx, digest_id, state="skipped", now=now, facts=facts)

    def mark_superseded(self, digest_id: str, *, by: str, now: float) -> bool:
        """Never posted; the catch-up digest ``by`` covers its period."""
        count = self.db.execute(
            "UPDATE digest_outbox SET state = 'superseded', superseded_by = ?, lease_until = 0, updated_at = ? "
            "WHERE digest_id = ? AND state = 'pending'",
            (by, now, digest_id),
        )
        return count == 1
