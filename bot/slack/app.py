"""The Slack side assembled: Web API client, sender, bolt app, responder, and one transport.

``SlackService.start`` checks the token with ``auth.test`` (readiness waits for it), builds the
bolt app with our listeners, and starts the transport the settings ask for:

* **socket**: Socket Mode over websocket-client (bolt's adapter); no public URL needed;
* **http**: the Events API on ``slack.host:slack.port`` (``/slack/events``, ``/slack/commands``,
  ``/slack/interactions``, plus ``/healthz``, ``/readyz``, ``/metrics``), served by waitress.

``stop`` stops taking new events, lets in-flight answers finish, and closes the transport.
"""

from __future__ import annotations

import logging
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.commands import Core
from bot.errors import UserError
from bot.observability import Metrics, get_logger, register_secret
from bot.settings.slack import SlackSettings
from bot.slack import listeners
from bot.slack.http import SlackHttpFront
from bot.slack.parse import BotIdentity
from bot.slack.responder import Responder
from bot.slack.sender import DeliveryError, SlackSender
from bot.web import Health, WebServer, WsgiApp

log = get_logger("firstmate.slack")


def web_client(settings: SlackSettings, *, token: str | None = None) -> WebClient:
    """A WebClient on the configured API base URL (``FIRSTMATE_SLACK_API_URL`` for tests/gateways)."""
    value = token or (settings.bot_token.get_secret_value() if settings.bot_token else None)
    return WebClient(token=value, base_url=settings.api_url, timeout=15)


class _QuietBoltFilter(logging.Filter):
    """Drop bolt's start-up notes about SLACK_BOT_TOKEN being ignored: bolt reads the environment
    itself, while firstmate deliberately gives it a client and an ``authorize`` built from Settings."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not ("will be unused" in message or "will be ignored" in message)


def build_app(
    settings: SlackSettings,
    *,
    client: WebClient,
    responder: Responder,
    identity: BotIdentity,
    metrics: Metrics,
    listener_threads: int = 16,
) -> App:
    """The bolt app with firstmate's listeners (no network calls: auth.test was done by the caller)."""
    from slack_bolt.authorization import AuthorizeResult

    def authorize(**_: Any) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=None, team_id=identity.team_id, bot_token=client.token,
            bot_user_id=identity.user_id, bot_id=identity.bot_id,
        )

    bolt_logger = logging.getLogger("slack_bolt.firstmate")
    if not any(isinstance(f, _QuietBoltFilter) for f in bolt_logger.filters):
        bolt_logger.addFilter(_QuietBoltFilter())
    app = App(
        # bolt builds each request's client from this one's base URL and the token ``authorize`` returns.
        client=WebClient(base_url=client.base_url, timeout=client.timeout),
        authorize=authorize,
        signing_secret=settings.signing_secret.get_secret_value() if settings.signing_secret else None,
        logger=bolt_logger,
        listener_executor=ThreadPoolExecutor(max_workers=listener_threads, thread_name_prefix="firstmate-bolt"),
        request_verification_enabled=settings.signing_secret is not None,
    )
    listeners.register(app, responder=responder, identity=identity, settings=settings, metrics=metrics)
    return app


@dataclass
class SlackService:
    """A running Slack transport; ``start`` builds it, ``stop`` drains and closes it."""

    transport: Literal["socket", "http"]
    responder: Responder
    app: App
    identity: BotIdentity
    sender: SlackSender
    http: WebServer | None = None
    socket_handler: Any = None

    @classmethod
    def start(
        cls,
        settings: SlackSettings,
        *,
        core: Core,
        metrics: Metrics,
        health: Health,
        transport: Literal["socket", "http"],
        observability: WsgiApp | None = None,
    ) -> SlackService:
        """Check the token, build the app, start ``transport``; raises UserError on bad settings."""
        if settings.bot_token is None:
            raise UserError("SLACK_BOT_TOKEN is not set")
        if transport == "http" and settings.signing_secret is None:
            raise UserError("the HTTP transport needs SLACK_SIGNING_SECRET")
        if transport == "socket" and settings.app_token is None:
            raise UserError("Socket Mode needs SLACK_APP_TOKEN (xapp-…)")
        for secret in (settings.bot_token, settings.app_token, settings.signing_secret):
            if secret is not None:
                register_secret(secret.get_secret_value())
        client = web_client(settings)
        sender = SlackSender(client, metrics=metrics, max_wait_s=settings.max_rate_limit_wait_s,
                             retries=settings.send_retries)
        health.set("slack", ok=False, detail="auth.test pending")
        try:
            auth = sender.auth_test()
        except DeliveryError as exc:
            health.set("slack", ok=False, detail=f"auth.test failed: {exc.error}")
            if exc.error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type"):
                raise UserError(f"Slack rejected the bot token (auth.test: {exc.error})") from exc
            raise UserError(f"auth.test failed ({exc.error}): is {settings.api_url} reachable?") from exc
        identity = BotIdentity(user_id=auth.get("user_id"), bot_id=auth.get("bot_id"), team_id=auth.get("team_id"))
        health.set("slack", ok=True, detail=f"auth.test ok ({auth.get('team') or auth.get('team_id') or 'team'})")
        owner = f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        responder = Responder(core=core, sender=sender, settings=settings, metrics=metrics, owner=owner)
        app = build_app(settings, client=client, responder=responder, identity=identity, metrics=metrics)
        service = cls(transport=transport, responder=responder, app=app, identity=identity, sender=sender)
        if transport == "http":
            assert settings.signing_secret is not None
            front = SlackHttpFront(app, signing_secret=settings.signing_secret.get_secret_value(), metrics=metrics,
                                   fallback=observability, max_body_bytes=settings.max_body_bytes)
            service.http = WebServer(front, host=settings.host, port=settings.port, threads=settings.http_threads,
                                     name="slack-http").start()
            log.info("transport started", transport="http", host=service.http.host, port=service.http.port,
                     paths="/slack/events,/slack/commands,/slack/interactions")
        else:
            assert settings.app_token is not None
            from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler

            handler = SocketModeHandler(app, app_token=settings.app_token.get_secret_value(),
                                        concurrency=settings.socket_concurrency,
                                        web_client=web_client(settings, token=settings.app_token.get_secret_value()))
            try:
                handler.connect()
            except (SlackApiError, BoltError, OSError) as exc:
                raise UserError(f"Socket Mode could not connect: {type(exc).__name__}") from exc
            service.socket_handler = handler
            log.info("transport started", transport="socket")
        return service

    def stop(self, *, grace_s: float) -> None:
        """Stop receiving, finish in-flight answers (up to ``grace_s``), close connections."""
        if self.http is not None:
            self.http.stop(timeout=min(grace_s, 5.0))
        if self.socket_handler is not None:
            try:
                self.socket_handler.close()
            except Exception as exc:  # closing a dead socket is not worth a crash at shutdown
                log.warning("socket mode close failed", error=type(exc).__name__)
        self.responder.shutdown(grace_s=grace_s)
        log.info("transport stopped", transport=self.transport)
