"""`start_scheduler` as `firstmate serve` calls it: a real thread, stopped cleanly."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from digest_helpers import MemoryPoster, PeriodBuilder

from bot.config import Settings
from bot.digest.clock import ManualClock
from bot.digest.service import start_scheduler
from bot.store.db import Database
from bot.store.outbox import OutboxStore


def test_serve_scheduler_thread_posts_the_due_digest_and_stops(tmp_path: Path) -> None:
    settings = Settings(
        store={"data_dir": tmp_path},
        digest={
            "schedules": [
                {
                    "kind": "knowledge",
                    "channel": "C0TEAM001",
                    "cron": "0 9 * * *",
                    "timezone": "Asia/Shanghai",
                }
            ]
        },
    )
    db = Database.from_settings(settings.store)
    posted = threading.Event()

    class Signalling(MemoryPoster):
        def post_digest(self, **kw):  # type: ignore[no-untyped-def]
            ts = super().post_digest(**kw)
            posted.set()
            return ts

    poster = Signalling()
    clock = ManualClock(dt.datetime(2024, 3, 11, 1, 0, 40, tzinfo=dt.UTC))
    handle = start_scheduler(
        settings, db=db, clock=clock, poster=poster, builders={"knowledge": PeriodBuilder()}
    )
    try:
        assert handle.running
        assert posted.wait(30), "the scheduler thread never posted"
    finally:
        handle.stop()
    assert not handle.running
    assert len(poster.messages) == 1
    [row] = OutboxStore(db).history(limit=5)
    assert row.state == "posted"
    db.close()


def test_no_schedules_means_no_thread(tmp_path: Path) -> None:
    handle = start_scheduler(Settings(store={"data_dir": tmp_path}))
    assert not handle.running
    handle.stop()  # harmless
