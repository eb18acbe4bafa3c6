"""Fixtures of the digest tests: a controllable clock, a SQLite store, a daily schedule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.digest.clock import ManualClock
from bot.settings.digest import DigestSchedule
from bot.store.db import Database

UTC = dt.UTC


@pytest.fixture
def clock() -> ManualClock:
    # Monday 2024-03-11 09:00:30 in Asia/Shanghai: just after the weekday 09:00 slot.
    return ManualClock(dt.datetime(2024, 3, 11, 1, 0, 30, tzinfo=UTC))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database.sqlite(tmp_path / "firstmate.db")
    yield db
    db.close()


@pytest.fixture
def daily() -> DigestSchedule:
    return DigestSchedule(kind="knowledge", channel="C0DIGEST1", cron="0 9 * * *", timezone="Asia/Shanghai")
