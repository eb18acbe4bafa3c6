"""Helpers of the digest tests: a recording poster, a period-reporting builder, kill points."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.core.replies import Reply
from bot.digest.clock import ManualClock
from bot.digest.models import BuiltDigest, DigestPostError, DigestRequest
from bot.digest.runner import DigestRunner
from bot.settings.digest import DigestSettings
from bot.store.db import Database
from bot.store.outbox import OutboxStore

UTC = dt.UTC


@dataclass
class Posted:
    channel: str
    digest_id: str
    ts: str
    reply: Reply


@dataclass
class MemoryPoster:
    """A channel in memory: what was posted is what history returns (the unit-level stand-in for Slack)."""

    messages: list[Posted] = field(default_factory=list)
    history_calls: int = 0
    fail_next: list[DigestPostError] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post_digest(self, *, channel: str, digest_id: str, reply: Reply) -> str:
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            ts = f"{1700000000 + len(self.messages)}.000100"
            self.messages.append(Posted(channel, digest_id, ts, reply))
            return ts

    def find_digest(self, *, channel: str, digest_id: str, oldest: dt.datetime) -> str | None:
        with self._lock:
            self.history_calls += 1
            for m in self.messages:
                if m.channel == channel and m.digest_id == digest_id:
                    return m.ts
            return None

    def ids(self) -> list[str]:
        return [m.digest_id for m in self.messages]


class PeriodBuilder:
    """A builder that reports its period, and is quiet when told to be."""

    kind = "knowledge"

    def __init__(self, kind: str = "knowledge", *, quiet: bool = False) -> None:
        self.kind = kind
        self.quiet = quiet
        self.requests: list[DigestRequest] = []

    def build(self, request: DigestRequest) -> BuiltDigest:
        self.requests.append(request)
        late = request.late_section()
        sections = [late] if late is not None else []
        summary = f"{self.kind} digest {request.period_label()}" + (" · all quiet" if self.quiet else "")
        facts: dict[str, Any] = {"end": request.period.end.isoformat(), "previous_id": request.previous_id}
        reply = Reply(kind="digest", summary=summary, sections=sections, meta=request.base_meta())
        return BuiltDigest(reply=reply, facts=facts, quiet=self.quiet)


def make_runner(
    db: Database,
    poster: Any,
    clock: ManualClock,
    *,
    builder: PeriodBuilder | None = None,
    settings: DigestSettings | None = None,
    owner: str | None = None,
    checkpoint: Any = None,
) -> DigestRunner:
    b = builder or PeriodBuilder()
    return DigestRunner(
        outbox=OutboxStore(db),
        poster=poster,
        builders={b.kind: b},
        clock=clock,
        settings=settings or DigestSettings(),
        owner=owner,
        checkpoint=checkpoint,
    )


class Killed(BaseException):
    """Stands for the process dying at a checkpoint (BaseException: nothing catches it on the way)."""


def kill_at(point: str) -> Any:
    def checkpoint(name: str) -> None:
        if name == point:
            raise Killed(point)

    return checkpoint
