"""Slack section of the settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class SlackSettings(BaseModel):
    """Tokens and transport. Tokens are SecretStr so they never print.

    Example:
        >>> SlackSettings().mode
        'auto'
    """

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_url: str = Field(default="https://slack.com/api/", description="Web API base URL (tests, gateways).")
    mode: str = Field(default="auto", description="'auto', 'socket', 'http' or 'console'.")
    host: str = "0.0.0.0"
    port: int = 3000
