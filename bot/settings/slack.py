"""Slack section of the settings: tokens, transport, triggers per channel, delivery."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator


class ChannelConfig(BaseModel):
    """How firstmate behaves in one channel.

    ``mentions`` answers only when mentioned (and in threads it already answered); ``auto`` also
    answers top-level messages that end with a question mark.

    Example:
        >>> ChannelConfig(mode="auto").mode
        'auto'
    """

    mode: Literal["mentions", "auto"] = "mentions"


class SlackSettings(BaseModel):
    """Tokens, transport and behaviour in Slack. Tokens are SecretStr so they never print.

    Example:
        >>> SlackSettings().mode
        'auto'
        >>> SlackSettings(channels={"C1": {"mode": "auto"}}).channel("C1").mode
        'auto'
    """

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_url: str = Field(default="https://slack.com/api/", description="Web API base URL (tests, gateways).")
    mode: Literal["auto", "socket", "http", "console"] = Field(
        default="auto", description="'auto' (from the tokens that are set), 'socket', 'http' or 'console'."
    )
    host: str = "0.0.0.0"
    port: int = 3000

    # HTTP transport.
    http_threads: int = Field(default=16, ge=1, le=256, description="Server threads answering Slack's requests.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger requests get 413.")

    # Triggers.
    channels: dict[str, ChannelConfig] = Field(
        default_factory=dict, description="Per channel ID: 'mentions' (default) or 'auto' (also answer '…?')."
    )
    default_channel_mode: Literal["mentions", "auto"] = "mentions"
    ignore_other_bots: bool = True
    answer_thread_followups: bool = True
    ask_ephemeral: bool = Field(default=False, description="/ask replies only to the asker unless --public.")

    # Work after the ack.
    workers: int = Field(default=8, ge=1, le=128, description="Threads answering after the ack.")
    socket_concurrency: int = Field(default=10, ge=1, le=100)
    dedup_lease_s: float = Field(
        default=120.0, gt=0, description="A claimed event not finished after this may be retried by Slack."
    )
    shutdown_grace_s: float = Field(default=25.0, ge=0, description="SIGTERM: time to finish in-flight answers.")

    # Delivery.
    max_rate_limit_wait_s: float = Field(default=300.0, gt=0, description="Give up a message after this much 429 waiting.")
    send_retries: int = Field(default=3, ge=0, le=10, description="Retries on connection errors and 5xx.")
    reaction: str = Field(default="eyes", description="Reaction shown while working; empty disables it.")
    more_page_size: int = Field(default=3, ge=1, le=10)

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    def channel(self, channel_id: str) -> ChannelConfig:
        """The configuration of one channel (the default when it is not listed)."""
        return self.channels.get(channel_id) or ChannelConfig(mode=self.default_channel_mode)

    def transport(self) -> Literal["socket", "http", "console"]:
        """Which transport the tokens allow: socket (bot+app token), http (bot token+secret), else console."""
        if self.mode != "auto":
            return self.mode
        if self.bot_token and self.app_token:
            return "socket"
        if self.bot_token and self.signing_secret:
            return "http"
        return "console"
