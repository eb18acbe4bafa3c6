"""Clocks: the digest code never calls ``datetime.now()`` itself; it asks an injected clock.

That makes every time-dependent decision (which period is due, whether a lease expired, whether a
digest is late) testable by moving a ``ManualClock``, and lets `firstmate digest --at` run as if
it were another moment.

Example:
    >>> import datetime as dt
    >>> clock = ManualClock(dt.datetime(2024, 3, 11, 1, 0, tzinfo=dt.UTC))
    >>> clock.advance(dt.timedelta(days=3)).isoformat()
    '2024-03-14T01:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol


class Clock(Protocol):
    """The one source of "now" for schedules, leases and lateness."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


def aware_utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC; a naive time is an error (schedules and periods must never guess a zone)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()}: a timezone-aware time is required")
    return value.astimezone(dt.UTC)


class SystemClock:
    """Wall-clock time.

    Example:
        >>> SystemClock().now().tzinfo is not None
        True
    """

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that only moves when told to: tests and `--at`.

    Example:
        >>> import datetime as dt
        >>> c = ManualClock(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        >>> c.set(dt.datetime(2024, 1, 2, tzinfo=dt.UTC)).day
        2
    """

    def __init__(self, start: dt.datetime) -> None:
        self._now = aware_utc(start)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, value: dt.datetime) -> dt.datetime:
        """Jump to ``value`` (forwards or backwards)."""
        with self._lock:
            self._now = aware_utc(value)
            return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move forward by ``delta`` and return the new time."""
        with self._lock:
            self._now = self._now + delta
            return self._now
