"""Bolt listeners: ack first, parse, hand the work to the responder. Nothing slow runs here.

Events are acked by bolt before the listener runs; commands and actions call ``ack()`` first
thing. Each listener counts the delivery, turns the payload into the core's terms, and queues a
job keyed for deduplication (the event id; the trigger id for commands and button clicks).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.observability import Metrics, get_logger
from bot.settings.slack import SlackSettings
from bot.slack import blocks, parse
from bot.slack.responder import Responder

log = get_logger("firstmate.slack.listeners")


def _retry_num(request: Any) -> int:
    values = request.headers.get("x-slack-retry-num") if request is not None else None
    try:
        return int(values[0]) if values else 0
    except (ValueError, TypeError):
        return 0


def register(app: App, *, responder: Responder, identity: parse.BotIdentity, settings: SlackSettings,
             metrics: Metrics) -> None:
    """Attach every listener firstmate needs to ``app``."""

    @app.event("app_mention")
    def on_mention(body: dict[str, Any], event: dict[str, Any], request: Any) -> None:
        metrics.events_received.labels(kind="app_mention").inc()
        incoming = parse.from_mention(event, identity=identity, ignore_other_bots=settings.ignore_other_bots)
        log.info("event received", kind="app_mention", event_id=body.get("event_id"), retry=_retry_num(request))
        if incoming is not None:
            responder.submit(responder.answer_message, incoming, dedup_key=body.get("event_id"))

    @app.event("message")
    def on_message(body: dict[str, Any], event: dict[str, Any], request: Any) -> None:
        metrics.events_received.labels(kind="message").inc()
        incoming = parse.from_message(event, identity=identity, settings=settings)
        if incoming is not None:
            log.info("event received", kind="message", trigger=incoming.trigger, event_id=body.get("event_id"),
                     retry=_retry_num(request))
            responder.submit(responder.answer_message, incoming, dedup_key=body.get("event_id"))

    @app.command("/ask")
    def on_ask(ack: Ack, command: dict[str, Any]) -> None:
        ack()
        metrics.events_received.labels(kind="command_ask").inc()
        text, ephemeral = parse.split_ask_flags(str(command.get("text") or ""), default_ephemeral=settings.ask_ephemeral)
        incoming = parse.from_command({**command, "text": text}, trigger="ask")
        responder.submit(responder.answer_command, incoming, command.get("response_url"), ephemeral,
                         dedup_key=f"cmd:{command.get('trigger_id')}" if command.get("trigger_id") else None)

    @app.command("/k8s")
    def on_k8s(ack: Ack, command: dict[str, Any]) -> None:
        ack()
        metrics.events_received.labels(kind="command_k8s").inc()
        incoming = parse.from_command(command, trigger="k8s")
        responder.submit(responder.answer_command, incoming, command.get("response_url"), False,
                         dedup_key=f"cmd:{command.get('trigger_id')}" if command.get("trigger_id") else None)

    def _action(kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any], str | None, str | None]:
        metrics.events_received.labels(kind=f"action_{kind}").inc()
        action = (body.get("actions") or [{}])[0]
        user = str((body.get("user") or {}).get("id") or "")
        container = dict(body.get("container") or {})
        container.setdefault("channel_id", (body.get("channel") or {}).get("id"))
        key = f"act:{body.get('trigger_id')}:{action.get('action_ts')}" if body.get("trigger_id") else None
        return action, user, container, body.get("response_url"), key

    @app.action(blocks.ACTION_UP)
    @app.action(blocks.ACTION_DOWN)
    def on_feedback(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        action, user, container, response_url, key = _action("feedback", body)
        responder.submit(responder.feedback, action, user, container, response_url, dedup_key=key)

    @app.action(blocks.ACTION_MORE)
    def on_more(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        action, _user, container, response_url, key = _action("more", body)
        responder.submit(responder.more, action, container, response_url, dedup_key=key)

    @app.action(blocks.ACTION_FULL)
    def on_full(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        action, _user, container, response_url, key = _action("full", body)
        responder.submit(responder.full, action, container, response_url, dedup_key=key)
