"""Cron schedules with time zones, and the periods a digest covers.

Cron parsing is croniter's; this module adds what digests need on top of it:

* fire times are computed in the schedule's own time zone (``0 9 * * 1-5`` in ``Asia/Shanghai``
  is 01:00 UTC) and returned in UTC;
* a digest's *period* is the interval between the previous fire time and the current one,
  ``[start, end)``;
* daylight saving follows classic cron: a wall time skipped by spring-forward fires once at the
  first instant after the gap, and a wall time repeated by fall-back fires once, unless the hour
  field is a wildcard (``0 * * * *`` keeps both real hours).

Example:
    >>> import datetime as dt
    >>> s = CronSchedule("0 9 * * 1-5", "Asia/Shanghai")
    >>> p = s.period_ending(s.latest_fire(dt.datetime(2024, 3, 11, 3, 0, tzinfo=dt.UTC)))
    >>> p.start.isoformat(), p.end.isoformat()
    ('2024-03-08T01:00:00+00:00', '2024-03-11T01:00:00+00:00')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter

from bot.digest.clock import aware_utc

_MAX_STEPS = 100_000  # bound on iterations when counting fire times in a long gap


@dataclass(frozen=True)
class Period:
    """The interval a digest covers: ``start`` inclusive, ``end`` (the slot's fire time) exclusive.

    Example:
        >>> import datetime as dt
        >>> p = Period(dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
        >>> p.contains(dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC))
        True
    """

    start: dt.datetime
    end: dt.datetime

    def contains(self, when: dt.datetime) -> bool:
        return self.start <= when < self.end

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start


class CronSchedule:
    """A five-field cron expression evaluated in an IANA time zone.

    Example:
        >>> import datetime as dt
        >>> CronSchedule("0 9 * * *", "UTC").next_fire(dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC)).day
        2
    """

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        expr = " ".join(expression.split())
        fields = expr.split(" ")
        if len(fields) != 5:
            raise ValueError(
                f"cron {expression!r}: expected 5 fields (minute hour day-of-month month day-of-week), "
                f"got {len(fields)}"
            )
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"time zone {timezone!r} is not a known IANA zone (e.g. Asia/Shanghai)") from exc
        try:
            croniter(expr, dt.datetime(2024, 1, 1, tzinfo=self.tz))
        except (CroniterBadCronError, CroniterNotAlphaError, ValueError, KeyError) as exc:
            raise ValueError(f"cron {expression!r}: {exc}") from exc
        self.expression = expr
        self.timezone = timezone
        # Classic cron runs a job at a fixed hour once when fall-back repeats that hour.
        self._keep_repeated_hour = fields[1].startswith("*")
        try:
            self.next_fire(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        except CroniterBadDateError as exc:
            raise ValueError(f"cron {expression!r} never fires") from exc

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.timezone!r})"

    def _is_repeat(self, local: dt.datetime) -> bool:
        """True for the second occurrence of a wall time that fall-back repeats."""
        if self._keep_repeated_hour:
            return False
        wall = local.replace(tzinfo=None)
        first = wall.replace(tzinfo=self.tz, fold=0)
        second = wall.replace(tzinfo=self.tz, fold=1)
        if first.utcoffset() == second.utcoffset():
            return False
        return aware_utc(local) == aware_utc(second)

    def next_fire(self, after: dt.datetime) -> dt.datetime:
        """The first fire time strictly after ``after`` (UTC)."""
        it = croniter(self.expression, aware_utc(after).astimezone(self.tz))
        for _ in range(_MAX_STEPS):
            candidate: dt.datetime = it.get_next(dt.datetime)
            if not self._is_repeat(candidate):
                return aware_utc(candidate)
        raise ValueError(f"cron {self.expression!r}: no fire time found")  # pragma: no cover

    def latest_fire(self, at: dt.datetime) -> dt.datetime:
        """The last fire time at or before ``at`` (UTC): the slot that is due at ``at``."""
        start = aware_utc(at) + dt.timedelta(microseconds=1)
        return self.previous_fire(start)

    def previous_fire(self, before: dt.datetime) -> dt.datetime:
        """The last fire time strictly before ``before`` (UTC)."""
        it = croniter(self.expression, aware_utc(before).astimezone(self.tz))
        for _ in range(_MAX_STEPS):
            candidate: dt.datetime = it.get_prev(dt.datetime)
            if aware_utc(candidate) >= aware_utc(before):  # croniter may return ``before`` itself
                continue
            if not self._is_repeat(candidate):
                return aware_utc(candidate)
        raise ValueError(f"cron {self.expression!r}: no fire time found")  # pragma: no cover

    def fires_between(
        self, start: dt.datetime, end: dt.datetime, *, limit: int = 10_000
    ) -> list[dt.datetime]:
        """Fire times in ``(start, end]`` (UTC), at most ``limit`` of them."""
        out: list[dt.datetime] = []
        cursor = aware_utc(start)
        stop = aware_utc(end)
        while len(out) < limit:
            cursor = self.next_fire(cursor)
            if cursor > stop:
                break
            out.append(cursor)
        return out

    def period_ending(self, end: dt.datetime) -> Period:
        """The regular period of the slot firing at ``end``: from the previous fire time to ``end``."""
        end_utc = aware_utc(end)
        return Period(start=self.previous_fire(end_utc), end=end_utc)

    def local(self, when: dt.datetime) -> dt.datetime:
        """``when`` in the schedule's zone, for display."""
        return aware_utc(when).astimezone(self.tz)

    def format_local(self, when: dt.datetime) -> str:
        """E.g. 'Mon 2024-03-11 09:00 CST'."""
        local = self.local(when)
        return local.strftime("%a %Y-%m-%d %H:%M ") + (local.tzname() or self.timezone)
