"""Fixtures: a running firstmate HTTP app against the fake Slack Web API."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from fakes.slack_api import FakeSlack, SlackEventSender
from pydantic import SecretStr
from slack_harness import SECRET, Harness

from bot.config import Settings
from bot.core.runtime import build_runtime
from bot.observability import configure_logging
from bot.settings.slack import ChannelConfig, SlackSettings
from bot.settings.store import StoreSettings
from bot.slack.app import SlackService
from bot.web import observability_app


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def make_app(fake_slack: FakeSlack, tmp_path: Path, hash_searcher: Any) -> Iterator[Callable[..., Harness]]:
    """Start the HTTP app; ``make_app(searcher=…, cluster=…, **slack_overrides)``."""
    started: list[Harness] = []

    def start(*, searcher: Any = None, cluster: Any = None, **slack: Any) -> Harness:
        slack_settings = SlackSettings(
            bot_token=SecretStr(fake_slack.bot_token), signing_secret=SecretStr(SECRET), api_url=fake_slack.url,
            **{"host": "127.0.0.1", "port": 0, "channels": {"C0AUTO": ChannelConfig(mode="auto")}, "workers": 4,
               **slack},
        )
        settings = Settings(slack=slack_settings, store=StoreSettings(data_dir=tmp_path / "data"))
        runtime = build_runtime(settings, searcher=searcher if searcher is not None else hash_searcher,
                                cluster=cluster, load_cluster=False)
        runtime.searcher.start_background()
        obs = observability_app(health=runtime.health, metrics=runtime.metrics)
        service = SlackService.start(settings.slack, core=runtime.core, metrics=runtime.metrics,
                                     health=runtime.health, transport="http", observability=obs)
        assert service.http is not None
        harness = Harness(fake=fake_slack, runtime=runtime, service=service,
                          events=SlackEventSender(service.http.url, secret=SECRET))
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.service.stop(grace_s=10)
        harness.runtime.close()


@pytest.fixture
def app(make_app: Callable[..., Harness]) -> Harness:
    return make_app()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Capture firstmate's JSON logs for one test, then put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(level="INFO", json_logs=True, stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
