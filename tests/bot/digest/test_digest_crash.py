"""Real process deaths: a runner process SIGKILLs itself at each step; a new process finishes the job.

Each case ends with exactly one digest in the (fake) Slack channel and the outbox row posted with
that message's ts. The database is SQLite here; test_digest_postgres.py repeats it on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.slack_api import FakeSlack

from bot.settings.digest import DigestSettings
from bot.store.db import Database
from bot.store.outbox import OutboxStore

ROOT = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("digest_child.py")
CHANNEL = "C0DIGEST1"
AT = dt.datetime(2024, 3, 11, 1, 0, 30, tzinfo=dt.UTC)
AFTER_LEASE = AT + dt.timedelta(seconds=DigestSettings().lease_seconds + 1)


def run_child(
    db_url: str, slack: FakeSlack, at: dt.datetime, kill_point: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(CHILD), db_url, slack.url, slack.bot_token, at.isoformat(), kill_point],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def kill_then_restart(db_url: str, db: Database, slack: FakeSlack, point: str) -> dict[str, object]:
    killed = run_child(db_url, slack, AT, point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert f"killing at {point}" in killed.stdout
    posted_before = len(slack.posted(CHANNEL))
    assert posted_before == (1 if point in ("after_post", "before_commit") else 0)

    early = run_child(db_url, slack, AT, "none")  # restarted at once: the dead process's lease still holds
    assert early.returncode == 0, early.stderr
    assert json.loads(early.stdout.splitlines()[-1])["status"] == "backed_off"

    later = run_child(db_url, slack, AFTER_LEASE, "none")
    assert later.returncode == 0, later.stderr
    outcome: dict[str, object] = json.loads(later.stdout.splitlines()[-1])
    assert outcome["status"] == ("recovered" if posted_before else "posted")

    [message] = slack.posted(CHANNEL)  # exactly one digest for the period
    row = OutboxStore(db).get(str(outcome["digest_id"]))
    assert row is not None and row.state == "posted" and row.slack_ts == message["ts"]
    again = run_child(db_url, slack, AFTER_LEASE, "none")
    assert json.loads(again.stdout.splitlines()[-1])["status"] == "done"
    assert len(slack.posted(CHANNEL)) == 1
    return outcome


@pytest.mark.parametrize("point", ["claimed", "before_post", "after_post", "before_commit"])
def test_sigkill_at_each_step_on_sqlite_ends_with_one_digest(
    tmp_path: Path, slack: FakeSlack, point: str
) -> None:
    path = tmp_path / "firstmate.db"
    db = Database.sqlite(path)
    try:
        kill_then_restart(str(path), db, slack, point)
    finally:
        db.close()
