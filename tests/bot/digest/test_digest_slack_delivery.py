"""The digest protocol through the real slack_sdk against the fake Slack Web API (tests/fakes/slack_api.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from digest_helpers import Killed, PeriodBuilder, kill_at, make_runner
from fakes.slack_api import FakeSlack
from slack_sdk import WebClient

from bot.config import Settings
from bot.digest.clock import ManualClock
from bot.digest.models import METADATA_EVENT_TYPE, digest_id_for
from bot.settings.digest import DigestSchedule, DigestSettings
from bot.slack.digest_poster import SlackDigestPoster, carries_digest
from bot.slack.sender import SlackSender
from bot.store.db import Database
from bot.store.outbox import OutboxStore

UTC = dt.UTC
CHANNEL = "C0DIGEST1"
LEASE = dt.timedelta(seconds=DigestSettings().lease_seconds + 1)
MONDAY_ID = digest_id_for("knowledge", CHANNEL, dt.datetime(2024, 3, 11, 1, tzinfo=UTC))


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def poster(slack: FakeSlack) -> SlackDigestPoster:
    settings = Settings(slack={"bot_token": slack.bot_token, "api_url": slack.url})
    return SlackDigestPoster.from_settings(settings)


def test_digest_is_posted_with_its_id_in_metadata_and_a_block(
    sqlite_db: Database,
    clock: ManualClock,
    daily: DigestSchedule,
    slack: FakeSlack,
    poster: SlackDigestPoster,
) -> None:
    outcome = make_runner(sqlite_db, poster, clock).run(daily)
    assert outcome.status == "posted"
    [message] = slack.posted(CHANNEL)
    assert message["ts"] == outcome.slack_ts
    assert message["metadata"]["event_type"] == METADATA_EVENT_TYPE
    assert message["metadata"]["event_payload"]["digest_id"] == MONDAY_ID
    assert MONDAY_ID in message["blocks"][-1]["elements"][0]["text"]  # visible marker, also searchable
    assert message["text"].startswith("knowledge digest")  # notification fallback
    [call] = slack.calls_to("chat.postMessage")
    assert call.token == slack.bot_token
    row = OutboxStore(sqlite_db).get(MONDAY_ID)
    assert row is not None and row.state == "posted" and row.slack_ts == message["ts"]


def test_slack_429_while_posting_is_delivered_after_the_wait(
    sqlite_db: Database,
    clock: ManualClock,
    daily: DigestSchedule,
    slack: FakeSlack,
    poster: SlackDigestPoster,
) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    outcome = make_runner(sqlite_db, poster, clock).run(daily)
    assert outcome.status == "posted"
    attempts = slack.calls_to("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]  # told to wait, waited, delivered
    assert len(slack.posted(CHANNEL)) == 1


def test_rate_limited_beyond_the_bound_fails_and_retries_later(
    sqlite_db: Database, clock: ManualClock, daily: DigestSchedule, slack: FakeSlack
) -> None:
    settings = DigestSettings(max_rate_limit_wait_seconds=1, lease_seconds=120)
    monotonic = [1000.0]  # the sender's own clock, moved with the runner's
    sender = SlackSender(WebClient(token=slack.bot_token, base_url=slack.url, retry_handlers=[]),
                         max_wait_s=settings.max_rate_limit_wait_seconds, retries=0, clock=lambda: monotonic[0])
    poster = SlackDigestPoster(sender)
    slack.rate_limit("chat.postMessage", retry_after=30, times=1)
    runner = make_runner(sqlite_db, poster, clock, settings=settings)
    failed = runner.run(daily)
    assert failed.status == "failed" and "ratelimited" in failed.reason
    assert slack.posted(CHANNEL) == []
    assert runner.run(daily).status == "backed_off"  # the retry waits for its backoff
    clock.advance(dt.timedelta(minutes=2))
    monotonic[0] += 120
    assert runner.run(daily).status == "posted"
    assert slack.calls_to("conversations.history") == []  # a 429 is a definite "not posted"
    assert len(slack.posted(CHANNEL)) == 1


@pytest.mark.parametrize("point", ["after_post", "before_commit"])
def test_crash_after_posting_is_found_in_channel_history_not_posted_twice(
    sqlite_db: Database,
    clock: ManualClock,
    daily: DigestSchedule,
    slack: FakeSlack,
    poster: SlackDigestPoster,
    point: str,
) -> None:
    with pytest.raises(Killed):
        make_runner(sqlite_db, poster, clock, owner="a", checkpoint=kill_at(point)).run(daily)
    assert len(slack.posted(CHANNEL)) == 1
    clock.advance(LEASE)
    outcome = make_runner(sqlite_db, poster, clock, owner="b").run(daily)
    assert outcome.status == "recovered"
    assert outcome.slack_ts == slack.posted(CHANNEL)[0]["ts"]
    [history] = slack.calls_to("conversations.history")
    assert (
        history.args["channel"] == CHANNEL
        and float(history.args["oldest"]) < dt.datetime(2024, 3, 11, 1, tzinfo=UTC).timestamp()
    )
    assert len(slack.posted(CHANNEL)) == 1 and len(slack.calls_to("chat.postMessage")) == 1


def test_crash_before_posting_searches_history_then_posts_once(
    sqlite_db: Database,
    clock: ManualClock,
    daily: DigestSchedule,
    slack: FakeSlack,
    poster: SlackDigestPoster,
) -> None:
    slack.posted(CHANNEL)  # empty channel
    with pytest.raises(Killed):
        make_runner(sqlite_db, poster, clock, owner="a", checkpoint=kill_at("before_post")).run(daily)
    clock.advance(LEASE)
    assert make_runner(sqlite_db, poster, clock, owner="b").run(daily).status == "posted"
    assert len(slack.calls_to("conversations.history")) == 1
    assert len(slack.posted(CHANNEL)) == 1


def test_channel_not_found_is_reported_and_nothing_is_lost(
    sqlite_db: Database,
    clock: ManualClock,
    daily: DigestSchedule,
    slack: FakeSlack,
    poster: SlackDigestPoster,
) -> None:
    slack.missing_channels.add(CHANNEL)
    runner = make_runner(sqlite_db, poster, clock)
    failed = runner.run(daily)
    assert failed.status == "failed" and "channel_not_found" in failed.reason
    row = OutboxStore(sqlite_db).get(MONDAY_ID)
    assert row is not None and row.state == "pending" and not row.maybe_posted
    assert row.last_error is not None and "channel_not_found" in row.last_error
    slack.missing_channels.clear()  # someone invited the bot / fixed the channel id
    clock.advance(dt.timedelta(minutes=5))
    assert runner.run(daily).status == "posted"
    assert slack.calls_to("conversations.history") == []
    assert len(slack.posted(CHANNEL)) == 1


def test_unreadable_history_never_leads_to_a_blind_repost(
    sqlite_db: Database,
    clock: ManualClock,
    daily: DigestSchedule,
    slack: FakeSlack,
    poster: SlackDigestPoster,
) -> None:
    with pytest.raises(Killed):
        make_runner(sqlite_db, poster, clock, owner="a", checkpoint=kill_at("after_post")).run(daily)
    slack.fail("conversations.history", "missing_scope", times=1)
    clock.advance(LEASE)
    runner = make_runner(sqlite_db, poster, clock, owner="b")
    outcome = runner.run(daily)
    assert outcome.status == "failed" and "missing_scope" in outcome.reason
    assert len(slack.posted(CHANNEL)) == 1
    clock.advance(dt.timedelta(minutes=5))
    assert runner.run(daily).status == "recovered"  # the scope came back: found, still one message
    assert len(slack.posted(CHANNEL)) == 1


def test_history_match_needs_app_metadata_or_an_app_message() -> None:
    by_app = {
        "bot_id": "B1",
        "blocks": [{"type": "context", "elements": [{"text": f"firstmate digest `{MONDAY_ID}`"}]}],
    }
    quoted_by_person = {"user": "U123", "text": f"did {MONDAY_ID} go out?"}
    other_digest = {
        "metadata": {"event_type": METADATA_EVENT_TYPE, "event_payload": {"digest_id": "fm-digest-x"}}
    }
    assert carries_digest(by_app, MONDAY_ID)
    assert not carries_digest(quoted_by_person, MONDAY_ID)
    assert not carries_digest(other_digest, MONDAY_ID)


def test_big_digest_fits_slack_limits(
    sqlite_db: Database,
    clock: ManualClock,
    daily: DigestSchedule,
    slack: FakeSlack,
    poster: SlackDigestPoster,
) -> None:
    class Huge(PeriodBuilder):
        def build(self, request):  # type: ignore[no-untyped-def]
            from bot.core.replies import Reply, Section
            from bot.digest.models import BuiltDigest

            sections = [Section(title=f"S{i}", body="<!channel> " + "x" * 5000) for i in range(80)]
            return BuiltDigest(
                reply=Reply(kind="digest", summary="big", sections=sections, meta=request.base_meta())
            )

    outcome = make_runner(sqlite_db, poster, clock, builder=Huge()).run(daily)
    assert outcome.status == "posted"  # the fake rejects >50 blocks or >3000-char sections
    [message] = slack.posted(CHANNEL)
    assert len(message["blocks"]) <= 50 and MONDAY_ID in str(message["blocks"][-1])
    assert "<!channel>" not in str(message["blocks"])
