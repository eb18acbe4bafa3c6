"""Several runners at once, on SQLite (threads sharing a file) and on a real PostgreSQL server.

The claim is forced to race: every runner reaches its INSERT at the same moment (a barrier inside
the outbox), so the unique (kind, channel, period) constraint is what decides. Then whole
processes race against PostgreSQL, as replicas would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from digest_helpers import MemoryPoster, PeriodBuilder
from fakes.slack_api import FakeSlack

from bot.digest.clock import ManualClock
from bot.digest.runner import DigestRunner
from bot.settings.digest import DigestSchedule, DigestSettings
from bot.settings.store import StoreSettings
from bot.store.db import Database
from bot.store.outbox import NewDigest, OutboxStore

RUNNERS = 4
ROOT = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("digest_child.py")


class RacingOutbox(OutboxStore):
    """An outbox whose claim waits until every runner is about to insert."""

    def __init__(self, db: Database, barrier: threading.Barrier) -> None:
        super().__init__(db)
        self.barrier = barrier

    def claim(self, new: NewDigest, *, owner: str, now: float, lease_seconds: float) -> bool:
        self.barrier.wait(timeout=120)
        return super().claim(new, owner=owner, now=now, lease_seconds=lease_seconds)


def open_db(kind: str, target: str) -> Database:
    if kind == "sqlite":
        return Database.sqlite(target)
    return Database.from_settings(StoreSettings(url=target))  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "firstmate.db")
    else:
        yield "postgres", str(request.getfixturevalue("postgres_fresh_url"))


def test_runners_racing_for_one_slot_post_once(store: tuple[str, str], daily: DigestSchedule) -> None:
    kind, target = store
    open_db(kind, target).close()  # schema created once, as the first replica would
    barrier = threading.Barrier(RUNNERS)
    poster = MemoryPoster()
    clock = ManualClock(dt.datetime(2024, 3, 11, 1, 0, 30, tzinfo=dt.UTC))
    dbs = [open_db(kind, target) for _ in range(RUNNERS)]  # one "replica" each: its own connections
    statuses: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def replica(i: int) -> None:
        try:
            runner = DigestRunner(
                outbox=RacingOutbox(dbs[i], barrier),
                poster=poster,
                builders={"knowledge": PeriodBuilder()},
                clock=clock,
                settings=DigestSettings(),
                owner=f"replica-{i}",
            )
            status = runner.run(daily).status
            with lock:
                statuses.append(status)
        except BaseException:  # surfaced below, with its traceback
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(RUNNERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    for db in dbs:
        db.close()
    assert not errors, "\n".join(errors)
    assert sorted(statuses) == ["backed_off"] * (RUNNERS - 1) + ["posted"]
    assert len(poster.messages) == 1
    check = open_db(kind, target)
    rows = OutboxStore(check).history(limit=10)
    check.close()
    assert len(rows) == 1 and rows[0].state == "posted"


def test_replica_processes_racing_on_postgres_post_once(postgres_fresh_url: str) -> None:
    Database.from_settings(StoreSettings(url=postgres_fresh_url)).close()  # type: ignore[arg-type]
    at = dt.datetime(2024, 3, 11, 1, 0, 30, tzinfo=dt.UTC).isoformat()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with FakeSlack() as slack:
        procs = [
            subprocess.Popen(
                [sys.executable, str(CHILD), postgres_fresh_url, slack.url, slack.bot_token, at, "none"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        results: list[dict[str, Any]] = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            results.append(json.loads(out.splitlines()[-1]))
        statuses = sorted(str(r["status"]) for r in results)
        assert statuses.count("posted") == 1
        assert set(statuses) <= {"posted", "backed_off", "done"}
        assert len(slack.posted("C0DIGEST1")) == 1
