"""A digest runner in its own process, killed for real (SIGKILL) at a chosen step.

Used by test_digest_crash.py:  python digest_child.py DB_URL SLACK_URL TOKEN AT_ISO KILL_POINT
(DB_URL is a SQLite path or a postgresql:// URL; KILL_POINT 'none' runs to the end).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys

from slack_sdk import WebClient

from bot.core.replies import Reply, Section
from bot.digest.clock import ManualClock
from bot.digest.models import BuiltDigest, DigestRequest
from bot.digest.runner import DigestRunner
from bot.settings.digest import DigestSchedule, DigestSettings
from bot.settings.store import StoreSettings
from bot.slack.digest_poster import SlackDigestPoster
from bot.slack.sender import SlackSender
from bot.store.db import Database
from bot.store.outbox import OutboxStore


class Builder:
    kind = "knowledge"

    def build(self, request: DigestRequest) -> BuiltDigest:
        reply = Reply(
            kind="digest",
            summary=f"Knowledge digest · {request.period_label()}",
            sections=[Section(title="Questions", body="3 asked; 2 answered.")],
            meta=request.base_meta(),
        )
        return BuiltDigest(reply=reply, facts={"end": request.period.end.isoformat()})


def main() -> None:
    db_url, slack_url, token, at, kill_point = sys.argv[1:6]
    if db_url.startswith("postgresql://"):
        db = Database.from_settings(StoreSettings(url=db_url))  # type: ignore[arg-type]
    else:
        db = Database.sqlite(db_url)

    def checkpoint(name: str) -> None:
        if name == kill_point:
            sys.stdout.write(f"killing at {name}\n")
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    sender = SlackSender(WebClient(token=token, base_url=slack_url, retry_handlers=[]), retries=0)
    runner = DigestRunner(
        outbox=OutboxStore(db),
        poster=SlackDigestPoster(sender),
        builders={"knowledge": Builder()},
        clock=ManualClock(dt.datetime.fromisoformat(at)),
        settings=DigestSettings(),
        owner=f"child-{os.getpid()}",
        checkpoint=checkpoint,
    )
    schedule = DigestSchedule(
        kind="knowledge", channel="C0DIGEST1", cron="0 9 * * *", timezone="Asia/Shanghai"
    )
    outcome = runner.run(schedule)
    sys.stdout.write(json.dumps(outcome.to_json()) + "\n")


if __name__ == "__main__":
    main()
