"""Exactly-once orchestration of one scheduled digest.

One call of :meth:`DigestRunner.run` handles the slot that is due now for one schedule:

1. **Leftovers.** Pending rows of earlier slots (a runner crashed) are taken over once their
   lease has run out. If the crashed runner may already have posted (``maybe_posted``), the
   channel history is searched for the digest id: found → marked posted; not found → the row is
   *superseded*, and the digest being made now covers its period.
2. **Claim.** The current slot's row is inserted *before* anything is posted. The unique
   (kind, channel, period) constraint makes a concurrent runner's insert fail: it backs off.
   The period starts where the last posted digest ended, so after downtime exactly one digest
   covers the whole gap, labelled late; never one per missed run, never none.
3. **Build once, post, mark.** The digest is built once and stored in the row. ``maybe_posted``
   is committed before the Slack call; ``posted`` with the ts (and the snapshot for the next
   digest's "what changed") is committed after Slack confirms.

A crash anywhere leaves either no row, a pending row without ``maybe_posted`` (post again), or a
pending row with it (search the history first). :data:`CHECKPOINTS` names the crash points the
tests inject.

Example:
    >>> CHECKPOINTS
    ('claimed', 'before_post', 'after_post', 'before_commit')
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping

from bot.core.replies import Reply
from bot.digest.clock import Clock
from bot.digest.models import (
    BuiltDigest,
    DigestBuilder,
    DigestPoster,
    DigestPostError,
    DigestRequest,
    RunOutcome,
    Status,
    digest_id_for,
    label_late,
)
from bot.digest.schedule import CronSchedule, Period
from bot.settings.digest import DigestSchedule, DigestSettings
from bot.store.outbox import NewDigest, OutboxRow, OutboxStore

log = logging.getLogger(__name__)

CHECKPOINTS = ("claimed", "before_post", "after_post", "before_commit")
HISTORY_MARGIN = dt.timedelta(minutes=10)  # clock skew between replicas and Slack


def default_owner() -> str:
    """A runner id unique per process and instance: 'host:pid:abcd1234'."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DigestRunner:
    """Runs scheduled digests exactly once per (kind, channel, period).

    Example:
        >>> import datetime as dt
        >>> from bot.digest.clock import ManualClock
        >>> from bot.store.db import Database
        >>> runner = DigestRunner(outbox=OutboxStore(Database.sqlite(":memory:")), poster=None,  # doctest: +SKIP
        ...                       builders={}, clock=ManualClock(dt.datetime.now(dt.UTC)), settings=DigestSettings())
    """

    def __init__(
        self,
        *,
        outbox: OutboxStore,
        poster: DigestPoster,
        builders: Mapping[str, DigestBuilder],
        clock: Clock,
        settings: DigestSettings,
        owner: str | None = None,
        checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.poster = poster
        self.builders = dict(builders)
        self.clock = clock
        self.settings = settings
        self.owner = owner or default_owner()
        self._checkpoint = checkpoint or (lambda name: None)

    # -- public --------------------------------------------------------------------------------

    def run(self, schedule: DigestSchedule, *, backfill_first: bool = True) -> RunOutcome:
        """Handle the slot due now for ``schedule``; safe to call as often as you like.

        ``backfill_first`` (the CLI/CronJob default) posts the latest slot even when there is no
        history and it is already late; the scheduler thread passes False and starts with the
        next slot instead, so a fresh install does not greet the channel with a late digest.
        """
        cron = CronSchedule(schedule.cron, schedule.timezone)
        now = self.clock.now()
        slot = cron.latest_fire(now)
        kind, channel = schedule.kind, schedule.channel
        digest_id = digest_id_for(kind, channel, slot)

        def outcome(
            status: Status, reason: str = "", *, digest_id: str | None = None, slack_ts: str | None = None
        ) -> RunOutcome:
            return RunOutcome(
                status=status,
                kind=kind,
                channel=channel,
                slot=slot,
                reason=reason,
                digest_id=digest_id,
                slack_ts=slack_ts,
            )

        try:
            blocked = self._resolve_leftovers(kind, channel, slot, digest_id)
        except DigestPostError as exc:
            log.warning(
                "digest %s: cannot check the channel history of an unfinished digest: %s", digest_id, exc
            )
            return outcome("failed", f"history search failed: {exc}", digest_id=digest_id)
        if blocked is not None:
            return outcome("backed_off", blocked, digest_id=digest_id)

        t = now.timestamp()
        row = self.outbox.for_slot(kind, channel, slot)
        if row is None:
            if (covering := self.outbox.covered_from(kind, channel, slot)) is not None:
                return outcome("done", f"covered by {covering.digest_id}", digest_id=covering.digest_id)
            start = self._period_start(kind, channel, cron, slot)
            if start is None:  # no history at all
                start = cron.previous_fire(slot)
                if not backfill_first and self._is_late(now, slot):
                    nxt = cron.next_fire(now)
                    return outcome("not_due", f"no digest history; the first one is due at {nxt.isoformat()}")
            missed = max(0, len(cron.fires_between(start, slot)) - 1)
            late = missed > 0 or self._is_late(now, slot)
            new = NewDigest(digest_id, kind, channel, start, slot, late=late, missed=missed)
            if not self.outbox.claim(new, owner=self.owner, now=t, lease_seconds=self.settings.lease_seconds):
                log.info("digest %s: claimed by another runner; backing off", digest_id)
                return outcome("backed_off", "claimed by another runner", digest_id=digest_id)
            log.info("digest %s: claimed (late=%s, missed=%d)", digest_id, late, missed)
            self._checkpoint("claimed")
        elif row.done:
            return outcome("done", f"already {row.state}", digest_id=digest_id, slack_ts=row.slack_ts)
        elif row.state == "superseded":
            return outcome("done", f"covered by {row.superseded_by}", digest_id=digest_id)
        elif row.lease_live(t):
            holder = "this runner (retrying later)" if row.owner == self.owner else f"runner {row.owner}"
            why = f"; last error: {row.last_error}" if row.last_error else ""
            return outcome("backed_off", f"held by {holder} until lease ends{why}", digest_id=digest_id)
        elif not self.outbox.take_over(
            digest_id, owner=self.owner, now=t, lease_seconds=self.settings.lease_seconds
        ):
            return outcome("backed_off", "taken over by another runner", digest_id=digest_id)
        else:
            log.info("digest %s: took over an unfinished digest (attempts=%d)", digest_id, row.attempts)

        claimed = self.outbox.get(digest_id)
        assert claimed is not None
        return self._complete(claimed, cron, schedule)

    def preview(self, schedule: DigestSchedule) -> RunOutcome:
        """Build the digest that :meth:`run` would post now, without writing or posting anything."""
        cron = CronSchedule(schedule.cron, schedule.timezone)
        now = self.clock.now()
        slot = cron.latest_fire(now)
        row = self.outbox.for_slot(schedule.kind, schedule.channel, slot)
        if row is not None:
            period, missed = Period(row.period_start, row.period_end), row.missed
            late = self._row_late(row, now)
        else:
            start = self._period_start(schedule.kind, schedule.channel, cron, slot) or cron.previous_fire(
                slot
            )
            missed = max(0, len(cron.fires_between(start, slot)) - 1)
            period, late = Period(start, slot), missed > 0 or self._is_late(now, slot)
        digest_id = digest_id_for(schedule.kind, schedule.channel, slot)
        request = self._request(schedule, cron, digest_id, period, late=late, missed=missed, now=now)
        built = self._builder(schedule.kind).build(request)
        return RunOutcome(
            status="preview",
            kind=schedule.kind,
            channel=schedule.channel,
            slot=slot,
            digest_id=digest_id,
            period=period,
            late=late,
            reason="dry run: nothing posted or stored",
            reply=built.reply,
        )

    # -- internals -----------------------------------------------------------------------------

    def _period_start(
        self, kind: str, channel: str, cron: CronSchedule, slot: dt.datetime
    ) -> dt.datetime | None:
        """Where the digest of ``slot`` starts: the end of the last posted one, so periods never leave a gap.

        With nothing posted yet but earlier claims superseded (a crash, then downtime), it starts
        where the oldest of those started. None when there is no history at all.
        """
        last = self.outbox.last_done(kind, channel, before=slot)
        if last is not None:
            return last.period_end
        first = self.outbox.earliest_superseded(kind, channel, before=slot)
        return first.period_start if first is not None else None

    def _is_late(self, now: dt.datetime, slot: dt.datetime) -> bool:
        return (now - slot).total_seconds() > self.settings.late_after_seconds

    def _row_late(self, row: OutboxRow, now: dt.datetime) -> bool:
        """A claimed digest is late if it was claimed late, or goes out only now, well after its slot."""
        return row.late or self._is_late(now, row.period_end)

    def _builder(self, kind: str) -> DigestBuilder:
        try:
            return self.builders[kind]
        except KeyError:
            raise DigestPostError(
                f"no builder for digest kind {kind!r}", definite=True, exit_code=2
            ) from None

    def _request(
        self,
        schedule: DigestSchedule,
        cron: CronSchedule,
        digest_id: str,
        period: Period,
        *,
        late: bool,
        missed: int,
        now: dt.datetime,
    ) -> DigestRequest:
        snap = self.outbox.snapshot(schedule.kind, schedule.channel)
        if snap is not None and snap.period_end > period.start:
            snap = None  # a snapshot from a later digest is no baseline for this one
        return DigestRequest(
            kind=schedule.kind,
            channel=schedule.channel,
            digest_id=digest_id,
            period=period,
            schedule=cron,
            late=late,
            missed=missed,
            now=now,
            previous=snap.facts if snap else None,
            previous_id=snap.digest_id if snap else None,
            top_n=self.settings.top_n,
            all_quiet=schedule.all_quiet or self.settings.all_quiet,
            quote_from=tuple(schedule.quote_from),
        )

    def _resolve_leftovers(self, kind: str, channel: str, slot: dt.datetime, current_id: str) -> str | None:
        """Finish or supersede pending rows of earlier slots; a reason string if we must back off."""
        for old in self.outbox.pending_before(kind, channel, slot):
            t = self.clock.now().timestamp()
            if old.lease_live(t):
                return f"runner {old.owner} still holds the earlier digest {old.digest_id}"
            if not self.outbox.take_over(
                old.digest_id, owner=self.owner, now=t, lease_seconds=self.settings.lease_seconds
            ):
                return f"another runner took over the earlier digest {old.digest_id}"
            if old.maybe_posted:
                ts = self.poster.find_digest(
                    channel=channel, digest_id=old.digest_id, oldest=old.period_end - HISTORY_MARGIN
                )
                if ts is not None:
                    self.outbox.mark_posted(old.digest_id, slack_ts=ts, now=self.clock.now().timestamp())
                    log.info(
                        "digest %s: found in the channel history after a crash; marked posted", old.digest_id
                    )
                    continue
            self.outbox.mark_superseded(old.digest_id, by=current_id, now=self.clock.now().timestamp())
            log.info("digest %s: never posted; superseded by %s", old.digest_id, current_id)
        return None

    def _retry_at(self, row: OutboxRow, now: float) -> float:
        backoff = min(float(self.settings.lease_seconds), 30.0 * (2 ** min(row.attempts, 6)))
        return now + backoff

    def _fail(self, row: OutboxRow, exc: Exception, *, definite: bool) -> RunOutcome:
        now = self.clock.now().timestamp()
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.outbox.attempt_failed(
            row.digest_id,
            owner=self.owner,
            now=now,
            error=message,
            definite=definite,
            retry_at=self._retry_at(row, now),
        )
        log.error("digest %s: %s (will retry)", row.digest_id, message)
        return RunOutcome(
            status="failed",
            kind=row.kind,
            channel=row.channel,
            slot=row.period_end,
            digest_id=row.digest_id,
            period=Period(row.period_start, row.period_end),
            late=row.late,
            reason=message,
        )

    def _complete(self, row: OutboxRow, cron: CronSchedule, schedule: DigestSchedule) -> RunOutcome:
        period = Period(row.period_start, row.period_end)
        # Claimed on time but going out only now (a crash or failed posts, then a retry well after
        # the slot): it is labelled late after all.
        now = self.clock.now()
        late = self._row_late(row, now)

        def outcome(
            status: Status,
            reason: str = "",
            *,
            slack_ts: str | None = None,
            reply: Reply | None = None,
            was_late: bool | None = None,
        ) -> RunOutcome:
            return RunOutcome(
                status=status,
                kind=row.kind,
                channel=row.channel,
                slot=row.period_end,
                digest_id=row.digest_id,
                period=period,
                late=late if was_late is None else was_late,
                reason=reason,
                slack_ts=slack_ts,
                reply=reply,
            )

        # a. A previous attempt may have posted before dying: look before posting again.
        if row.maybe_posted:
            try:
                ts = self.poster.find_digest(
                    channel=row.channel, digest_id=row.digest_id, oldest=row.period_end - HISTORY_MARGIN
                )
            except DigestPostError as exc:
                return self._fail(row, exc, definite=False)
            if ts is not None:
                self.outbox.mark_posted(
                    row.digest_id,
                    slack_ts=ts,
                    now=self.clock.now().timestamp(),
                    before_commit=lambda: self._checkpoint("before_commit"),
                )
                log.info(
                    "digest %s: already in the channel (ts found in history); marked posted", row.digest_id
                )
                return outcome("recovered", "found in the channel history", slack_ts=ts, was_late=row.late)

        # b. Build once; a retry posts the stored payload.
        if row.payload is None:
            request = self._request(
                schedule, cron, row.digest_id, period, late=late, missed=row.missed, now=now
            )
            try:
                built: BuiltDigest = self._builder(row.kind).build(request)
            except Exception as exc:
                log.exception("digest %s: building failed", row.digest_id)
                return self._fail(row, exc, definite=True)
            if built.quiet and request.all_quiet == "skip":
                self.outbox.mark_skipped(row.digest_id, now=self.clock.now().timestamp(), facts=built.facts)
                log.info("digest %s: all quiet; skipped (all_quiet=skip)", row.digest_id)
                return outcome("skipped", "all quiet", reply=built.reply)
            payload = built.reply.model_dump(mode="json")
            if not self.outbox.save_build(
                row.digest_id,
                owner=self.owner,
                payload=payload,
                facts=built.facts,
                now=self.clock.now().timestamp(),
            ):
                return outcome("backed_off", "lost the lease while building")
            reply = built.reply
        else:
            reply = Reply.model_validate(row.payload)
            if late and not row.late:
                reply = label_late(reply)

        # c. Post, then mark.
        if not self.outbox.begin_attempt(
            row.digest_id,
            owner=self.owner,
            now=self.clock.now().timestamp(),
            lease_seconds=self.settings.lease_seconds,
            late=late,
        ):
            return outcome("backed_off", "lost the lease before posting")
        self._checkpoint("before_post")
        try:
            ts = self.poster.post_digest(channel=row.channel, digest_id=row.digest_id, reply=reply)
        except DigestPostError as exc:
            return self._fail(row, exc, definite=exc.definite)
        except Exception as exc:  # unknown outcome: the message may exist
            log.exception("digest %s: posting failed", row.digest_id)
            return self._fail(row, exc, definite=False)
        self._checkpoint("after_post")
        self.outbox.mark_posted(
            row.digest_id,
            slack_ts=ts,
            now=self.clock.now().timestamp(),
            before_commit=lambda: self._checkpoint("before_commit"),
        )
        log.info("digest %s: posted (late=%s)", row.digest_id, late)
        return outcome("posted", "late" if late else "", slack_ts=ts, reply=reply)
