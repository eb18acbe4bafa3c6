"""Cron periods and time zones, including daylight saving, on a controllable clock."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from pydantic import ValidationError

from bot.digest.clock import ManualClock, SystemClock
from bot.digest.schedule import CronSchedule, Period
from bot.settings.digest import DigestSchedule, DigestSettings

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(utc(2024, 3, 11, 1, 0))
    assert clock.now() == clock.now() == utc(2024, 3, 11, 1, 0)
    assert clock.advance(dt.timedelta(days=3, hours=2)) == utc(2024, 3, 14, 3, 0)
    assert clock.set(dt.datetime(2024, 3, 15, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))) == utc(
        2024, 3, 15, 1
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(dt.datetime(2024, 1, 1))
    assert SystemClock().now().tzinfo is not None


def test_weekday_schedule_in_shanghai_spans_the_weekend() -> None:
    cron = CronSchedule("0 9 * * 1-5", "Asia/Shanghai")
    # Monday 09:00 CST is 01:00 UTC; at exactly that instant the Monday slot is due.
    monday = utc(2024, 3, 11, 1, 0)
    assert cron.latest_fire(monday) == monday
    assert cron.latest_fire(monday - dt.timedelta(microseconds=1)) == utc(2024, 3, 8, 1, 0)  # Friday
    period = cron.period_ending(monday)
    assert period == Period(utc(2024, 3, 8, 1, 0), monday)
    assert period.duration == dt.timedelta(days=3)
    assert period.contains(utc(2024, 3, 10, 12)) and not period.contains(monday)  # [start, end)
    assert cron.next_fire(monday) == utc(2024, 3, 12, 1, 0)
    assert cron.format_local(monday) == "Mon 2024-03-11 09:00 CST"
    # Consecutive periods tile time: each starts where the previous ended.
    ends = cron.fires_between(utc(2024, 3, 8, 0), utc(2024, 3, 20, 0))
    assert len(ends) == 8  # two working weeks from Friday: Fri + 5 + Mon, Tue
    for a, b in itertools.pairwise(ends):
        assert cron.period_ending(b).start == a


def test_same_cron_means_different_instants_in_different_zones() -> None:
    at = utc(2024, 6, 3, 12, 0)
    assert CronSchedule("0 9 * * *", "UTC").latest_fire(at) == utc(2024, 6, 3, 9, 0)
    assert CronSchedule("0 9 * * *", "Asia/Shanghai").latest_fire(at) == utc(2024, 6, 3, 1, 0)
    assert CronSchedule("0 9 * * *", "America/New_York").latest_fire(at) == utc(2024, 6, 2, 13, 0)


def test_daylight_saving_spring_forward_fires_once_after_the_gap() -> None:
    cron = CronSchedule("30 2 * * *", "America/New_York")
    fires = cron.fires_between(utc(2024, 3, 9, 0), utc(2024, 3, 12, 0))
    # 02:30 does not exist on 2024-03-10: it fires once, at 03:00 EDT (07:00 UTC).
    assert fires == [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 0), utc(2024, 3, 11, 6, 30)]
    assert cron.period_ending(utc(2024, 3, 10, 7, 0)).duration == dt.timedelta(hours=23, minutes=30)


def test_daylight_saving_fall_back_runs_a_fixed_hour_once_but_keeps_hourly_runs() -> None:
    daily = CronSchedule("30 1 * * *", "America/New_York")
    fires = daily.fires_between(utc(2024, 11, 2, 0), utc(2024, 11, 5, 0))
    # 01:30 happens twice on 2024-11-03 (EDT, then EST); a daily digest goes out once.
    assert fires == [utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]
    assert daily.period_ending(utc(2024, 11, 4, 6, 30)).duration == dt.timedelta(hours=25)
    # The repeated hour is never "due" as a second slot.
    assert daily.latest_fire(utc(2024, 11, 3, 6, 45)) == utc(2024, 11, 3, 5, 30)

    hourly = CronSchedule("0 * * * *", "America/New_York")
    fires = hourly.fires_between(utc(2024, 11, 3, 4, 30), utc(2024, 11, 3, 7, 30))
    assert fires == [
        utc(2024, 11, 3, 5),
        utc(2024, 11, 3, 6),
        utc(2024, 11, 3, 7),
    ]  # 01:00 EDT, 01:00 EST, 02:00 EST


def test_europe_berlin_daily_period_is_23_hours_across_spring_forward() -> None:
    cron = CronSchedule("0 9 * * *", "Europe/Berlin")
    end = cron.latest_fire(utc(2024, 3, 31, 12, 0))
    assert end == utc(2024, 3, 31, 7, 0)  # 09:00 CEST
    assert cron.period_ending(end) == Period(utc(2024, 3, 30, 8, 0), end)  # from 09:00 CET
    assert cron.format_local(end) == "Sun 2024-03-31 09:00 CEST"


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("0 9 * * * *", "UTC", "expected 5 fields"),
        ("0 25 * * *", "UTC", "cron '0 25 \\* \\* \\*'"),
        ("0 0 30 2 *", "UTC", "never fires"),
        ("0 9 * * 1-5", "Asia/Shangai", "not a known IANA zone"),
    ],
)
def test_bad_schedules_are_rejected_with_a_clear_message(cron: str, zone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CronSchedule(cron, zone)
    with pytest.raises(ValidationError, match=message):
        DigestSchedule(kind="cluster", channel="C0123OPS", cron=cron, timezone=zone)


def test_schedule_settings_validate_channel_and_find_by_kind() -> None:
    with pytest.raises(ValidationError, match="Slack channel ID"):
        DigestSchedule(kind="cluster", channel="#ops", cron="0 9 * * *")
    settings = DigestSettings(
        schedules=[
            {"kind": "cluster", "channel": "C0123OPS", "cron": "0 9 * * 1-5", "timezone": "Asia/Shanghai"},
            {"kind": "knowledge", "channel": "C0123OPS", "cron": "0 18 * * 5", "enabled": False},
        ]
    )
    found = settings.find(kind="cluster", channel="C0123OPS")
    assert found is not None and found.timezone == "Asia/Shanghai"
    assert settings.find(kind="knowledge", channel="C0123OPS") is None  # disabled
    with pytest.raises(ValidationError, match=r"must not exceed digest\.lease_seconds"):
        DigestSettings(lease_seconds=120, max_rate_limit_wait_seconds=90)
