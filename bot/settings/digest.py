"""Digest section: which digests run, on which cron schedule, in which time zone, to which channel.

Example YAML (``FIRSTMATE_CONFIG``)::

    digest:
      schedules:
        - kind: cluster
          channel: C0123OPS
          cron: "0 9 * * 1-5"
          timezone: Asia/Shanghai
        - kind: knowledge
          channel: C0456TEAM
          cron: "0 18 * * 5"
          timezone: Europe/Berlin
          all_quiet: skip
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class DigestSchedule(BaseModel):
    """One scheduled digest: a kind, a target channel, a cron expression and its time zone.

    Example:
        >>> DigestSchedule(kind="cluster", channel="C0123OPS", cron="0 9 * * 1-5").timezone
        'UTC'
    """

    kind: Literal["cluster", "knowledge"]
    channel: str = Field(description="Slack channel ID (C…/G…), not a #name.")
    cron: str = Field(description="Five-field cron expression, evaluated in `timezone`.")
    timezone: str = Field(default="UTC", description="IANA zone, e.g. Asia/Shanghai.")
    all_quiet: Literal["post", "skip"] | None = Field(
        default=None,
        description="Empty period: post a short 'all quiet' digest, or nothing. Default: digest.all_quiet.",
    )
    enabled: bool = True
    quote_from: list[str] = Field(
        default_factory=list,
        description=(
            "Knowledge digests: channel IDs (besides the digest's own) whose questions may be quoted; "
            '["*"] for every channel. Others are counted, not quoted, so a private channel\'s '
            "questions never leak into a wider one. Direct messages are never quoted."
        ),
    )

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        value = value.strip()
        if not _CHANNEL.match(value):
            raise ValueError(f"channel {value!r} must be a Slack channel ID such as C0123ABCD (not a #name)")
        return value

    @model_validator(mode="after")
    def _cron_and_zone(self) -> DigestSchedule:
        from bot.digest.schedule import CronSchedule  # croniter is light, but keep settings import-cheap

        CronSchedule(self.cron, self.timezone)  # raises ValueError with a clear message
        return self

    @property
    def key(self) -> str:
        """How logs and the CLI name this schedule: 'cluster→C0123OPS'."""
        return f"{self.kind}→{self.channel}"


class DigestSettings(BaseModel):
    """Digest schedules and the exactly-once machinery's knobs.

    Example:
        >>> DigestSettings().enabled
        True
    """

    enabled: bool = True
    schedules: list[DigestSchedule] = Field(default_factory=list)
    all_quiet: Literal["post", "skip"] = Field(
        default="post", description="Default for empty periods: a short 'all quiet' digest, or none."
    )
    late_after_seconds: int = Field(
        default=900,
        ge=0,
        description="A digest posted this long after its slot (or covering missed slots) is labelled late.",
    )
    lease_seconds: int = Field(
        default=300,
        ge=30,
        description="How long a runner owns an outbox row before another may take it over.",
    )
    poll_seconds: float = Field(default=30.0, gt=0, description="Longest sleep of the scheduler thread.")
    max_rate_limit_wait_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Longest total Retry-After wait while posting one digest (kept below the lease).",
    )
    history_pages: int = Field(
        default=10, ge=1, description="conversations.history pages searched for a digest id after a crash."
    )
    post_first_missed: bool = Field(
        default=False,
        description="Scheduler thread only: with no digest history, post the latest slot even if it is already late.",
    )
    top_n: int = Field(
        default=5, ge=1, le=20, description="Rows per list in a digest (top reasons, sessions…)."
    )

    @model_validator(mode="after")
    def _lease_covers_waits(self) -> DigestSettings:
        # One post may wait out 429s and then a 30 s HTTP timeout; the lease must outlast both, or
        # another runner could take over while this one is still posting.
        if self.max_rate_limit_wait_seconds + 60 > self.lease_seconds:
            raise ValueError(
                "digest.max_rate_limit_wait_seconds + 60 s must not exceed digest.lease_seconds "
                "(a runner must still hold its claim when Slack answers)"
            )
        return self

    def find(self, *, kind: str, channel: str) -> DigestSchedule | None:
        """The enabled schedule for (kind, channel), if configured."""
        for schedule in self.schedules:
            if schedule.enabled and schedule.kind == kind and schedule.channel == channel:
                return schedule
        return None
