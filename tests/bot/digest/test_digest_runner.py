"""Exactly-once orchestration on SQLite: catch-up, crashes at every step, leases, empty periods.

The poster here is an in-memory channel; tests/bot/digest/test_digest_slack_delivery.py runs the
same protocol through the real slack_sdk against the fake Slack Web API.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from digest_helpers import Killed, MemoryPoster, PeriodBuilder, kill_at, make_runner

from bot.digest.clock import ManualClock
from bot.digest.models import DigestPostError, digest_id_for
from bot.digest.scheduler import DigestScheduler
from bot.settings.digest import DigestSchedule, DigestSettings
from bot.store.db import Database
from bot.store.outbox import OutboxStore

UTC = dt.UTC
LEASE = dt.timedelta(seconds=DigestSettings().lease_seconds + 1)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def assert_tiles(db: Database, kind: str, channel: str) -> None:
    """Posted/skipped periods follow each other with no gap and no overlap."""
    rows = sorted(
        (r for r in OutboxStore(db).history(kind=kind, channel=channel, limit=1000) if r.done),
        key=lambda r: r.period_end,
    )
    for a, b in itertools.pairwise(rows):
        assert b.period_start == a.period_end, f"gap or overlap between {a.digest_id} and {b.digest_id}"


def test_one_post_per_period_however_often_it_runs(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    poster = MemoryPoster()
    runner = make_runner(sqlite_db, poster, clock)
    first = runner.run(daily)
    assert first.status == "posted" and not first.late
    assert first.period is not None and first.period.end == utc(2024, 3, 11, 1, 0)
    assert first.period.start == utc(2024, 3, 10, 1, 0)
    for _ in range(3):
        assert runner.run(daily).status == "done"
    assert poster.ids() == [digest_id_for("knowledge", "C0DIGEST1", utc(2024, 3, 11, 1))]
    row = OutboxStore(sqlite_db).get(poster.ids()[0])
    assert row is not None and row.state == "posted" and row.slack_ts == poster.messages[0].ts
    assert poster.history_calls == 0  # nothing to recover: no history search

    clock.advance(dt.timedelta(days=1))
    nxt = runner.run(daily)
    assert nxt.status == "posted" and nxt.period is not None
    assert nxt.period.start == first.period.end
    assert len(poster.messages) == 2
    assert_tiles(sqlite_db, "knowledge", "C0DIGEST1")


def test_catch_up_after_three_days_down_posts_exactly_one_late_digest(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    poster = MemoryPoster()
    builder = PeriodBuilder()
    runner = make_runner(sqlite_db, poster, clock, builder=builder)
    assert runner.run(daily).status == "posted"  # Monday 09:00

    # Down from Monday 09:01 until Thursday 11:00 CST: Tue, Wed and Thu slots were missed.
    clock.set(utc(2024, 3, 14, 3, 0))
    scheduler = DigestScheduler(runner=runner, schedules=[daily], clock=clock)
    outcomes = [o for _ in range(5) for o in scheduler.tick()]  # the thread ticks many times

    posted = [o for o in outcomes if o.status == "posted"]
    assert len(posted) == 1 and all(o.status == "done" for o in outcomes[1:])
    late = posted[0]
    assert late.late and late.period is not None
    assert late.period.start == utc(2024, 3, 11, 1, 0)  # where the last digest ended: no gap
    assert late.period.end == utc(2024, 3, 14, 1, 0)  # the slot due now
    assert builder.requests[-1].missed == 2  # Tue and Wed never got their own digest
    assert late.reply is not None
    assert "Late digest: 2 scheduled runs missed" in late.reply.to_text()
    assert late.reply.meta["late"] == "true"
    assert len(poster.messages) == 2
    assert_tiles(sqlite_db, "knowledge", "C0DIGEST1")

    # Back to normal on Friday: on time, not late.
    clock.set(utc(2024, 3, 15, 1, 0, 5))
    friday = runner.run(daily)
    assert friday.status == "posted" and not friday.late
    assert friday.reply is not None and "Late" not in friday.reply.to_text()


def test_late_by_hours_without_missed_runs_is_labelled_late(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    poster = MemoryPoster()
    runner = make_runner(sqlite_db, poster, clock)
    runner.run(daily)
    clock.set(utc(2024, 3, 12, 4, 0))  # Tuesday's slot, three hours late
    outcome = runner.run(daily)
    assert outcome.status == "posted" and outcome.late
    assert outcome.reply is not None and "posted after its scheduled time" in outcome.reply.to_text()


@pytest.mark.parametrize("point", ["claimed", "before_post"])
def test_a_digest_claimed_on_time_but_built_after_a_long_outage_is_labelled_late(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule, point: str
) -> None:
    poster = MemoryPoster()
    with pytest.raises(Killed):
        make_runner(sqlite_db, poster, clock, owner="a", checkpoint=kill_at(point)).run(daily)
    row = OutboxStore(sqlite_db).for_slot("knowledge", "C0DIGEST1", utc(2024, 3, 11, 1))
    assert row is not None and not row.late  # claimed 30 s after the slot: on time then
    clock.set(utc(2024, 3, 11, 5, 0))  # back four hours later, still before Tuesday's slot
    outcome = make_runner(sqlite_db, poster, clock, owner="b").run(daily)
    assert outcome.status == "posted" and outcome.late
    [message] = poster.messages  # built now ("claimed"), or built on time and posted now ("before_post")
    assert message.reply.to_text().count("posted after its scheduled time") == 1
    assert message.reply.meta["late"] == "true"
    row = OutboxStore(sqlite_db).get(message.digest_id)
    assert row is not None and row.state == "posted" and row.late


@pytest.mark.parametrize("point", ["claimed", "before_post", "after_post", "before_commit"])
def test_a_kill_at_any_step_ends_with_exactly_one_digest_per_period(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule, point: str
) -> None:
    poster = MemoryPoster()
    dying = make_runner(sqlite_db, poster, clock, owner="replica-a", checkpoint=kill_at(point))
    with pytest.raises(Killed):
        dying.run(daily)
    posted_before_restart = len(poster.messages)
    assert posted_before_restart == (1 if point in ("after_post", "before_commit") else 0)
    row = OutboxStore(sqlite_db).for_slot("knowledge", "C0DIGEST1", utc(2024, 3, 11, 1))
    assert row is not None and row.state == "pending"  # the crash left the claim behind, not a gap

    restarted = make_runner(sqlite_db, poster, clock, owner="replica-b")
    held = restarted.run(daily)
    assert held.status == "backed_off"  # the dead runner's lease has not run out yet
    assert len(poster.messages) == posted_before_restart

    clock.advance(LEASE)
    outcome = restarted.run(daily)
    assert outcome.status == ("recovered" if posted_before_restart else "posted")
    assert len(poster.messages) == 1
    assert poster.history_calls == (0 if point == "claimed" else 1)  # searched only when it may have posted
    row = OutboxStore(sqlite_db).get(poster.messages[0].digest_id)
    assert row is not None and row.state == "posted" and row.slack_ts == poster.messages[0].ts

    # The next period follows on without a gap, and the snapshot was saved by the recovery.
    clock.set(utc(2024, 3, 12, 1, 0, 10))
    nxt = restarted.run(daily)
    assert nxt.status == "posted"
    assert [m.digest_id for m in poster.messages] == [
        digest_id_for("knowledge", "C0DIGEST1", utc(2024, 3, 11, 1)),
        digest_id_for("knowledge", "C0DIGEST1", utc(2024, 3, 12, 1)),
    ]
    assert OutboxStore(sqlite_db).snapshot("knowledge", "C0DIGEST1") is not None
    assert_tiles(sqlite_db, "knowledge", "C0DIGEST1")


@pytest.mark.parametrize(("point", "first_posted"), [("before_post", False), ("after_post", True)])
def test_a_crash_followed_by_downtime_neither_duplicates_nor_leaves_a_gap(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule, point: str, first_posted: bool
) -> None:
    poster = MemoryPoster()
    with pytest.raises(Killed):
        make_runner(sqlite_db, poster, clock, owner="a", checkpoint=kill_at(point)).run(daily)
    clock.set(utc(2024, 3, 13, 2, 0))  # down until Wednesday: Tuesday's slot was missed too
    outcome = make_runner(sqlite_db, poster, clock, owner="b").run(daily)
    assert outcome.status == "posted" and outcome.late and outcome.period is not None
    monday = OutboxStore(sqlite_db).get(digest_id_for("knowledge", "C0DIGEST1", utc(2024, 3, 11, 1)))
    assert monday is not None
    if first_posted:
        # Monday's digest was in the channel: found in history and kept; Wednesday's covers Mon→Wed.
        assert monday.state == "posted"
        assert outcome.period.start == utc(2024, 3, 11, 1)
        assert len(poster.messages) == 2
    else:
        # Monday's was never posted: superseded, and Wednesday's late digest covers Sun→Wed.
        assert monday.state == "superseded" and monday.superseded_by == outcome.digest_id
        assert outcome.period.start == utc(2024, 3, 10, 1)
        assert len(poster.messages) == 1
    assert outcome.period.end == utc(2024, 3, 13, 1)
    assert len({m.digest_id for m in poster.messages}) == len(poster.messages)
    assert_tiles(sqlite_db, "knowledge", "C0DIGEST1")


def test_a_second_runner_backs_off_while_the_first_holds_the_claim(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    poster = MemoryPoster()
    second_result: list[str] = []
    second = make_runner(sqlite_db, poster, clock, owner="b")

    def checkpoint(name: str) -> None:
        if name == "before_post":  # while A is about to post, B tries the same slot
            second_result.append(second.run(daily).status)

    first = make_runner(sqlite_db, poster, clock, owner="a", checkpoint=checkpoint)
    assert first.run(daily).status == "posted"
    assert second_result == ["backed_off"]
    assert len(poster.messages) == 1


def test_definite_slack_error_is_retried_later_without_a_history_search(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    poster = MemoryPoster(
        fail_next=[DigestPostError("chat.postMessage: Slack error not_in_channel", definite=True)]
    )
    runner = make_runner(sqlite_db, poster, clock)
    failed = runner.run(daily)
    assert failed.status == "failed" and "not_in_channel" in failed.reason
    again = runner.run(daily)
    assert again.status == "backed_off" and "not_in_channel" in again.reason  # backoff before the retry
    clock.advance(dt.timedelta(minutes=2))
    assert runner.run(daily).status == "posted"
    assert poster.history_calls == 0 and len(poster.messages) == 1


def test_unknown_outcome_is_checked_in_history_before_the_retry(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    poster = MemoryPoster(fail_next=[DigestPostError("chat.postMessage: timed out", definite=False)])
    runner = make_runner(sqlite_db, poster, clock)
    assert runner.run(daily).status == "failed"
    clock.advance(dt.timedelta(minutes=2))
    assert runner.run(daily).status == "posted"
    assert poster.history_calls == 1 and len(poster.messages) == 1


def test_history_search_failure_never_posts_blindly(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    poster = MemoryPoster()
    with pytest.raises(Killed):
        make_runner(sqlite_db, poster, clock, owner="a", checkpoint=kill_at("after_post")).run(daily)
    clock.advance(LEASE)

    def broken_history(**_: object) -> str | None:
        raise DigestPostError("conversations.history: Slack error missing_scope", definite=True)

    poster.find_digest = broken_history  # type: ignore[method-assign]
    outcome = make_runner(sqlite_db, poster, clock, owner="b").run(daily)
    assert outcome.status == "failed" and "missing_scope" in outcome.reason
    assert len(poster.messages) == 1  # not posted a second time


@pytest.mark.parametrize(("all_quiet", "posts"), [("post", 1), ("skip", 0)])
def test_empty_period_posts_all_quiet_or_nothing_as_configured(
    sqlite_db: Database, clock: ManualClock, all_quiet: str, posts: int
) -> None:
    schedule = DigestSchedule(
        kind="knowledge", channel="C0DIGEST1", cron="0 9 * * *", timezone="Asia/Shanghai"
    )
    poster = MemoryPoster()
    settings = DigestSettings(all_quiet=all_quiet)  # type: ignore[arg-type]
    runner = make_runner(sqlite_db, poster, clock, builder=PeriodBuilder(quiet=True), settings=settings)
    outcome = runner.run(schedule)
    assert outcome.status == ("posted" if posts else "skipped")
    assert len(poster.messages) == posts
    if posts:
        assert "all quiet" in poster.messages[0].reply.summary
    assert runner.run(schedule).status == "done"  # a skipped period is covered too
    clock.advance(dt.timedelta(days=1))
    runner.builders["knowledge"] = PeriodBuilder()  # something happened on Tuesday
    tuesday = runner.run(schedule)
    assert tuesday.status == "posted" and not tuesday.late and tuesday.period is not None
    assert tuesday.period.start == utc(2024, 3, 11, 1)  # starts after the skipped period: no gap
    assert_tiles(sqlite_db, "knowledge", "C0DIGEST1")


def test_per_schedule_all_quiet_overrides_the_default(sqlite_db: Database, clock: ManualClock) -> None:
    schedule = DigestSchedule(kind="knowledge", channel="C0DIGEST1", cron="0 9 * * *", all_quiet="skip")
    clock.set(utc(2024, 3, 11, 9, 0, 1))
    runner = make_runner(sqlite_db, MemoryPoster(), clock, builder=PeriodBuilder(quiet=True))
    assert runner.run(schedule).status == "skipped"


def test_scheduler_starts_with_the_next_slot_on_a_fresh_install(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    clock.set(utc(2024, 3, 11, 7, 0))  # 15:00 CST: today's 09:00 slot is long past
    poster = MemoryPoster()
    runner = make_runner(sqlite_db, poster, clock)
    scheduler = DigestScheduler(runner=runner, schedules=[daily], clock=clock, poll_seconds=30)
    assert [o.status for o in scheduler.tick()] == ["not_due"]
    assert scheduler.seconds_until_next() == 30  # capped by poll_seconds
    clock.set(utc(2024, 3, 12, 1, 0, 2))
    assert [o.status for o in scheduler.tick()] == ["posted"]
    # The CLI (a CronJob) posts the due slot even on a fresh install.
    other = DigestSchedule(kind="knowledge", channel="C0OTHER01", cron="0 9 * * *", timezone="Asia/Shanghai")
    clock.set(utc(2024, 3, 12, 7, 0))
    assert runner.run(other).status == "posted"


def test_preview_builds_without_writing(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule
) -> None:
    poster = MemoryPoster()
    runner = make_runner(sqlite_db, poster, clock)
    preview = runner.preview(daily)
    assert preview.status == "preview" and preview.reply is not None
    assert poster.messages == [] and OutboxStore(sqlite_db).history(limit=5) == []
    assert runner.run(daily).status == "posted"


def test_scheduler_thread_stops_promptly(sqlite_db: Database, daily: DigestSchedule) -> None:
    clock = ManualClock(utc(2024, 3, 11, 7, 0))
    runner = make_runner(sqlite_db, MemoryPoster(), clock)
    handle = DigestScheduler(runner=runner, schedules=[daily], clock=clock, poll_seconds=3600).start()
    assert handle.running
    handle.stop()
    assert not handle.running
