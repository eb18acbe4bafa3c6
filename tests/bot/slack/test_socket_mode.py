"""Socket Mode against a local websocket server: apps.connections.open on the fake Web API returns
a ws:// URL on loopback, the real bolt/websocket-client adapter connects, acks envelopes, and the
answer goes out through the Web API. A redelivered envelope (same event_id) is acked, not answered twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.slack_api import FakeSlack, FakeSocketModeServer, payload
from pydantic import SecretStr

from bot.config import Settings
from bot.core.runtime import build_runtime
from bot.settings.slack import SlackSettings
from bot.settings.store import StoreSettings
from bot.slack.app import SlackService


@pytest.fixture
def socket_server() -> Iterator[FakeSocketModeServer]:
    server = FakeSocketModeServer().start()
    yield server
    server.stop()


def test_socket_mode_answers_a_mention_once(
    fake_slack: FakeSlack, socket_server: FakeSocketModeServer, tmp_path: Path, hash_searcher: Any
) -> None:
    fake_slack.socket_url = socket_server.url
    settings = Settings(
        slack=SlackSettings(bot_token=SecretStr(fake_slack.bot_token), app_token=SecretStr(fake_slack.app_token),
                            api_url=fake_slack.url, workers=2),
        store=StoreSettings(data_dir=tmp_path),
    )
    assert settings.slack.transport() == "socket"
    runtime = build_runtime(settings, searcher=hash_searcher, load_cluster=False)
    service = SlackService.start(settings.slack, core=runtime.core, metrics=runtime.metrics, health=runtime.health,
                                 transport="socket")
    try:
        # the adapter may open a second connection at start-up (see FakeSocketModeServer); each uses the
        # app-level token, never the bot token
        opens = fake_slack.wait_for("apps.connections.open")
        assert opens and all(call.token == fake_slack.app_token for call in opens)

        envelope = payload("app_mention")
        envelope["event"]["text"] = "<@U0FIRSTMATE> Prometheus 监控 Kubernetes"
        first = socket_server.push(envelope)
        assert socket_server.wait_ack(first)["envelope_id"] == first
        [call] = fake_slack.wait_for("chat.postMessage")
        assert call.args["channel"] == "C0CHANNEL" and call.args["thread_ts"] == "1700000100.000100"
        assert call.token == fake_slack.bot_token

        again = socket_server.push(envelope, retry_attempt=1)
        socket_server.wait_ack(again)
        duplicates = "firstmate_duplicate_events_total"
        end = time.monotonic() + 20  # synchronisation only: wait for the worker to see the duplicate
        while runtime.metrics.registry.get_sample_value(duplicates) != 1.0 and time.monotonic() < end:
            time.sleep(0.02)
        assert runtime.metrics.registry.get_sample_value(duplicates) == 1.0
        assert len(fake_slack.calls_to("chat.postMessage")) == 1
    finally:
        service.stop(grace_s=10)
        runtime.close()
