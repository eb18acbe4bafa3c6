"""Start-up errors are one clear line: a rejected token, an unreachable API, a missing secret."""

from __future__ import annotations

import socket

import pytest
from fakes.slack_api import FakeSlack
from pydantic import SecretStr

from bot.errors import UserError
from bot.observability import Metrics
from bot.settings.slack import SlackSettings
from bot.slack.app import SlackService
from bot.web import Health


class _NoCore:
    store = None


def _start(settings: SlackSettings, health: Health) -> SlackService:
    return SlackService.start(settings, core=_NoCore(), metrics=Metrics(), health=health,  # type: ignore[arg-type]
                              transport="http")


def test_a_rejected_token_is_a_clear_error_and_not_ready(fake_slack: FakeSlack) -> None:
    health = Health()
    settings = SlackSettings(bot_token=SecretStr("xoxb-wrong"), signing_secret=SecretStr("s" * 32),
                             api_url=fake_slack.url)
    with pytest.raises(UserError, match=r"Slack rejected the bot token \(auth.test: invalid_auth\)"):
        _start(settings, health)
    assert health.ready() == (False, {"slack": {"ok": False, "detail": "auth.test failed: invalid_auth"}})


def test_an_unreachable_api_says_so() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings = SlackSettings(bot_token=SecretStr("xoxb-x"), signing_secret=SecretStr("s" * 32),
                             api_url=f"http://127.0.0.1:{port}/api/", send_retries=0)
    with pytest.raises(UserError, match=r"is http://127\.0\.0\.1:\d+/api/ reachable"):
        _start(settings, Health())


def test_http_without_a_signing_secret_is_refused(fake_slack: FakeSlack) -> None:
    settings = SlackSettings(bot_token=SecretStr(fake_slack.bot_token), api_url=fake_slack.url)
    with pytest.raises(UserError, match="SLACK_SIGNING_SECRET"):
        _start(settings, Health())


@pytest.mark.parametrize(
    ("tokens", "transport"),
    [
        ({"bot_token": "xoxb-1", "app_token": "xapp-1"}, "socket"),
        ({"bot_token": "xoxb-1", "signing_secret": "abc"}, "http"),
        ({"bot_token": "xoxb-1", "app_token": "xapp-1", "mode": "http"}, "http"),
        ({"app_token": "xapp-1"}, "console"),
        ({}, "console"),
    ],
)
def test_transport_is_chosen_from_the_tokens(tokens: dict[str, str], transport: str) -> None:
    assert SlackSettings(**tokens).transport() == transport  # type: ignore[arg-type]


def test_an_unknown_mode_is_a_configuration_error() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'auto', 'socket', 'http' or 'console'"):
        SlackSettings(mode="sockett")  # type: ignore[arg-type]
    assert SlackSettings(mode="console", bot_token=SecretStr("xoxb-1"), app_token=SecretStr("xapp-1")).transport() == "console"
