"""The app-under-test handle shared by the Slack tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fakes.slack_api import FakeSlack, SlackEventSender

from bot.core.runtime import Runtime
from bot.slack.app import SlackService

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Harness:
    """The app under test, the fake Slack it talks to, and a signed-event sender."""

    fake: FakeSlack
    runtime: Runtime
    service: SlackService
    events: SlackEventSender

    @property
    def base_url(self) -> str:
        assert self.service.http is not None
        return self.service.http.url

    def metric(self, name: str, **labels: str) -> float:
        value = self.runtime.metrics.registry.get_sample_value(name, labels or None)
        return float(value or 0.0)

    def wait_until(self, predicate: Callable[[], bool], *, timeout: float = 20.0, what: str = "condition") -> None:
        """Synchronise with background work (never a timing assertion)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def settle(self, received: int) -> None:
        """Wait until ``received`` deliveries were counted and no job is running."""
        self.wait_until(
            lambda: sum(
                s.value for m in self.runtime.metrics.registry.collect() if m.name == "firstmate_events_received"
                for s in m.samples if s.name.endswith("_total")
            ) >= received and self.metric("firstmate_in_flight") == 0,
            what=f"{received} deliveries handled",
        )
