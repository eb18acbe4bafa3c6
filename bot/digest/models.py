"""Typed pieces the digest runner is assembled from: requests, built digests, outcomes, and the
two narrow interfaces it needs from the outside world (a poster and a builder).

Example:
    >>> import datetime as dt
    >>> digest_id_for("cluster", "C0123OPS", dt.datetime(2024, 3, 11, 1, tzinfo=dt.UTC))
    'fm-digest-cluster-C0123OPS-20240311T0100Z'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.core.replies import Reply, Section
from bot.digest.schedule import CronSchedule, Period
from bot.errors import UserError

DigestKind = Literal["cluster", "knowledge"]
METADATA_EVENT_TYPE = "firstmate_digest"
LATE_TITLE = "⏰ Late"
LATE_AFTER_SLOT = "Late digest: posted after its scheduled time."


def digest_id_for(kind: str, channel: str, period_end: dt.datetime) -> str:
    """The stable id of (kind, channel, period): the same on every runner and every retry."""
    stamp = period_end.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")
    return f"fm-digest-{kind}-{channel}-{stamp}"


class DigestPostError(UserError):
    """Posting (or searching the history) failed.

    ``definite`` is True when Slack answered with an error, so nothing was posted; False when the
    outcome is unknown (timeout, connection reset, 5xx), so the message may exist.
    """

    def __init__(self, message: str, *, definite: bool, exit_code: int = 5) -> None:
        super().__init__(message, exit_code=exit_code)
        self.definite = definite


class DigestPoster(Protocol):
    """Where digests go. Slack's is bot/slack/digest_poster.py; tests and --dry-run have others."""

    def post_digest(self, *, channel: str, digest_id: str, reply: Reply) -> str:
        """Post ``reply`` with ``digest_id`` in its metadata and blocks; return the message ts."""
        ...

    def find_digest(self, *, channel: str, digest_id: str, oldest: dt.datetime) -> str | None:
        """Search the channel history since ``oldest`` for a message carrying ``digest_id``; its ts or None."""
        ...


@dataclass(frozen=True)
class DigestRequest:
    """Everything a builder needs to build one digest."""

    kind: str
    channel: str
    digest_id: str
    period: Period
    schedule: CronSchedule
    late: bool
    missed: int
    now: dt.datetime
    previous: dict[str, Any] | None = None
    previous_id: str | None = None
    top_n: int = 5
    all_quiet: Literal["post", "skip"] = "post"
    quote_from: tuple[str, ...] = ()

    def may_quote(self, channel_id: str) -> bool:
        """Whether a question asked in ``channel_id`` may be quoted in this digest's channel."""
        if channel_id.startswith("D"):
            return False
        return channel_id == self.channel or channel_id in self.quote_from or "*" in self.quote_from

    def period_label(self) -> str:
        """'Fri 2024-03-08 09:00 CST → Mon 2024-03-11 09:00 CST'."""
        return (
            f"{self.schedule.format_local(self.period.start)} → {self.schedule.format_local(self.period.end)}"
        )

    def late_note(self) -> str | None:
        """The label a late digest carries, or None for an on-time one."""
        if not self.late:
            return None
        if self.missed > 0:
            runs = "run" if self.missed == 1 else "runs"
            return f"Late digest: {self.missed} scheduled {runs} missed; this one covers the whole gap."
        return LATE_AFTER_SLOT

    def late_section(self) -> Section | None:
        """The section a late digest starts with (the builders put it first)."""
        note = self.late_note()
        return Section(title=LATE_TITLE, body=note) if note is not None else None

    def base_meta(self) -> dict[str, str]:
        return {
            "digest_id": self.digest_id,
            "digest_kind": self.kind,
            "channel": self.channel,
            "period_start": self.period.start.isoformat(),
            "period_end": self.period.end.isoformat(),
            "late": "true" if self.late else "false",
            "missed_runs": str(self.missed),
        }


def label_late(reply: Reply) -> Reply:
    """``reply`` marked late: a stored digest that only goes out now, after its slot."""
    if any(section.title == LATE_TITLE for section in reply.sections):
        return reply
    late = Section(title=LATE_TITLE, body=LATE_AFTER_SLOT)
    return reply.model_copy(update={"sections": [late, *reply.sections], "meta": {**reply.meta, "late": "true"}})


@dataclass(frozen=True)
class BuiltDigest:
    """A builder's output: the reply to post, the facts to remember, and whether nothing happened."""

    reply: Reply
    facts: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False


class DigestBuilder(Protocol):
    """Builds one kind of digest (bot/digest/cluster.py, bot/digest/knowledge.py)."""

    kind: str

    def build(self, request: DigestRequest) -> BuiltDigest:
        """The digest for ``request.period``; ``quiet`` when there is nothing to report."""
        ...


Status = Literal[
    "posted",  # posted now
    "recovered",  # found in the channel history after a crash; marked posted without posting again
    "skipped",  # empty period, all_quiet=skip
    "done",  # already posted/skipped (or covered by a later digest)
    "backed_off",  # another runner holds it
    "not_due",  # first run, slot already late, and the scheduler only starts with the next slot
    "failed",  # posting failed; the row stays pending and is retried later
    "preview",  # --dry-run: built, not stored, not posted
]


@dataclass(frozen=True)
class RunOutcome:
    """What one run did for one schedule."""

    status: Status
    kind: str
    channel: str
    slot: dt.datetime
    digest_id: str | None = None
    slack_ts: str | None = None
    period: Period | None = None
    late: bool = False
    reason: str = ""
    reply: Reply | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "kind": self.kind,
            "channel": self.channel,
            "slot": self.slot.isoformat(),
            "digest_id": self.digest_id,
            "slack_ts": self.slack_ts,
            "period": (
                {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()}
                if self.period
                else None
            ),
            "late": self.late,
            "reason": self.reason,
        }
