"""The exactly-once protocol on a real PostgreSQL server: real kills, catch-up, and the schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from digest_helpers import MemoryPoster, make_runner
from fakes.slack_api import FakeSlack
from test_digest_crash import kill_then_restart

from bot.digest.clock import ManualClock
from bot.settings.digest import DigestSchedule
from bot.settings.store import StoreSettings
from bot.store.db import Database
from bot.store.outbox import NewDigest, OutboxStore


@pytest.fixture
def pg(postgres_fresh_url: str) -> Iterator[Database]:
    db = Database.from_settings(StoreSettings(url=postgres_fresh_url))  # type: ignore[arg-type]
    yield db
    db.close()


@pytest.mark.parametrize("point", ["claimed", "before_post", "after_post", "before_commit"])
def test_sigkill_at_each_step_on_postgres_ends_with_one_digest(
    postgres_fresh_url: str, pg: Database, point: str
) -> None:
    with FakeSlack() as slack:
        kill_then_restart(postgres_fresh_url, pg, slack, point)


def test_unique_constraint_and_lease_takeover_on_postgres(pg: Database) -> None:
    box = OutboxStore(pg)
    end = dt.datetime(2024, 3, 11, 1, tzinfo=dt.UTC)
    new = NewDigest("fm-digest-x", "cluster", "C1", end - dt.timedelta(days=1), end, late=False, missed=0)
    assert box.claim(new, owner="a", now=100.0, lease_seconds=60)
    assert not box.claim(new, owner="b", now=100.0, lease_seconds=60)  # unique violation → back off
    assert not box.take_over("fm-digest-x", owner="b", now=150.0, lease_seconds=60)  # lease still held
    assert box.take_over("fm-digest-x", owner="b", now=161.0, lease_seconds=60)
    assert not box.take_over("fm-digest-x", owner="c", now=161.0, lease_seconds=60)  # b holds it now
    assert box.mark_posted("fm-digest-x", slack_ts="1.0001", now=170.0)
    assert not box.mark_posted("fm-digest-x", slack_ts="2.0002", now=171.0)  # only once
    row = box.get("fm-digest-x")
    assert row is not None and row.state == "posted" and row.slack_ts == "1.0001"


def test_catch_up_after_three_days_on_postgres(pg: Database, daily: DigestSchedule) -> None:
    clock = ManualClock(dt.datetime(2024, 3, 11, 1, 0, 30, tzinfo=dt.UTC))
    poster = MemoryPoster()
    runner = make_runner(pg, poster, clock)
    assert runner.run(daily).status == "posted"
    clock.set(dt.datetime(2024, 3, 14, 3, 0, tzinfo=dt.UTC))
    outcomes = [runner.run(daily) for _ in range(3)]
    assert [o.status for o in outcomes] == ["posted", "done", "done"]
    assert outcomes[0].late and outcomes[0].period is not None
    assert outcomes[0].period.start == dt.datetime(2024, 3, 11, 1, tzinfo=dt.UTC)
    assert len(poster.messages) == 2
