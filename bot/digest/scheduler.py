"""The scheduler thread inside `firstmate serve`.

Each tick asks the runner to handle every configured schedule's due slot; the runner is
idempotent and cheap when there is nothing to do (a few indexed reads), so ticking more often
than the schedules fire is safe, and a failed post is retried on a later tick after its backoff.
Between ticks the thread sleeps until the next fire time (at most ``poll_seconds``), and wakes at
once on ``stop()``.

Several replicas may each run this thread: the outbox makes exactly one of them post.

Example:
    >>> handle = SchedulerHandle(None, None)
    >>> handle.stop()
    >>> handle.running
    False
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from bot.digest.clock import Clock
from bot.digest.models import RunOutcome
from bot.digest.runner import DigestRunner
from bot.digest.schedule import CronSchedule
from bot.settings.digest import DigestSchedule

log = logging.getLogger(__name__)

_QUIET_STATUSES = ("done", "not_due", "backed_off")


class DigestScheduler:
    """Ticks the runner for each schedule.

    Example:
        >>> DigestScheduler.__name__
        'DigestScheduler'
    """

    def __init__(
        self,
        *,
        runner: DigestRunner,
        schedules: Sequence[DigestSchedule],
        clock: Clock,
        poll_seconds: float = 30.0,
        backfill_first: bool = False,
        on_outcome: Callable[[RunOutcome], None] | None = None,
    ) -> None:
        self.runner = runner
        self.schedules = [s for s in schedules if s.enabled]
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.backfill_first = backfill_first
        self.on_outcome = on_outcome
        self._crons = {s.key: CronSchedule(s.cron, s.timezone) for s in self.schedules}

    def tick(self) -> list[RunOutcome]:
        """Run every schedule once; one schedule's failure never stops the others."""
        outcomes: list[RunOutcome] = []
        for schedule in self.schedules:
            try:
                outcome = self.runner.run(schedule, backfill_first=self.backfill_first)
            except Exception:
                log.exception("digest %s: run failed; will retry on the next tick", schedule.key)
                continue
            level = logging.DEBUG if outcome.status in _QUIET_STATUSES else logging.INFO
            log.log(level, "digest %s: %s %s", schedule.key, outcome.status, outcome.reason)
            outcomes.append(outcome)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        return outcomes

    def seconds_until_next(self) -> float:
        """Sleep until the earliest next fire time, but at most ``poll_seconds`` (retries, clock jumps)."""
        if not self._crons:
            return self.poll_seconds
        now = self.clock.now()
        soonest = min(cron.next_fire(now) for cron in self._crons.values())
        return max(0.05, min(self.poll_seconds, (soonest - now).total_seconds() + 0.05))

    def start(self) -> SchedulerHandle:
        """Start the daemon thread; ``stop()`` on the handle ends it."""
        stop = threading.Event()

        def loop() -> None:
            log.info("digest scheduler started with %d schedule(s)", len(self.schedules))
            while not stop.is_set():
                self.tick()
                stop.wait(self.seconds_until_next())
            log.info("digest scheduler stopped")

        thread = threading.Thread(target=loop, name="firstmate-digests", daemon=True)
        thread.start()
        return SchedulerHandle(thread, stop)


class SchedulerHandle:
    """What `start_scheduler` returns: ``stop()`` ends the thread (idempotent)."""

    def __init__(self, thread: threading.Thread | None, event: threading.Event | None) -> None:
        self._thread = thread
        self._event = event

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, *, timeout: float = 10.0) -> None:
        if self._event is not None:
            self._event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
