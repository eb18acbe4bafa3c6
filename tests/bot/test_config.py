"""Settings errors name what is wrong and where, and never echo a value (it may be a secret)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings

SECRET = "xoxb-1111-2222-do-not-print-me"


def test_bad_env_value_names_the_field_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRSTMATE_WEB__PORT", SECRET)
    with pytest.raises(ConfigError) as info:
        Settings.load()
    message = str(info.value)
    assert message.startswith("environment: invalid configuration: web.port: ")
    assert "integer" in message
    assert SECRET not in message


def test_bad_yaml_value_names_the_file_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "firstmate.yaml"
    config.write_text(f"web:\n  port: {SECRET}\n  host: 0.0.0.0\n", encoding="utf-8")
    monkeypatch.setenv("FIRSTMATE_CONFIG", str(config))
    with pytest.raises(ConfigError) as info:
        Settings.load()
    message = str(info.value)
    assert message.startswith(f"{config}: invalid configuration: web.port: ")
    assert SECRET not in message


def test_broken_yaml_gives_the_line_without_the_snippet(tmp_path: Path) -> None:
    config = tmp_path / "firstmate.yaml"
    config.write_text(f'slack:\n  bot_token: "{SECRET}\n  port: [1, 2\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Settings.load(config_file=config)
    message = str(info.value)
    assert message.startswith(f"{config}: invalid configuration: ")
    assert "line " in message
    assert SECRET not in message


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: configuration file not found"):
        Settings.load(config_file=missing)


def test_many_problems_are_summarised(monkeypatch: pytest.MonkeyPatch) -> None:
    names = (
        "WEB__PORT",
        "DIGEST__POLL_SECONDS",
        "DIGEST__LEASE_SECONDS",
        "DIGEST__TOP_N",
        "DIGEST__HISTORY_PAGES",
        "DIGEST__LATE_AFTER_SECONDS",
    )
    for name in names:
        monkeypatch.setenv(f"FIRSTMATE_{name}", "[not-a-number]")
    with pytest.raises(ConfigError) as info:
        Settings.load()
    message = str(info.value)
    assert message.endswith("; and 2 more")
    assert message.count("Input should be") == 4
    assert "[not-a-number]" not in message


def test_tokens_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRET)
    settings = Settings.load()
    assert settings.slack.bot_token is not None
    assert settings.slack.bot_token.get_secret_value() == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
