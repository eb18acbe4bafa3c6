"""Slack side of digests: post a digest carrying its id, and find it again in the channel history.

The id travels twice: in the message metadata (``event_type`` ``firstmate_digest``; only apps can
set it) and in a context block at the bottom (visible, and found even where metadata is not
returned). After a crash between posting and marking, ``find_digest`` pages through
``conversations.history`` since the slot for a message with that id, so the runner never posts
the same digest twice. That needs the ``channels:history`` scope (``groups:history`` for private
channels).

Delivery goes through the bot's ``SlackSender`` (429: wait ``Retry-After``, then send; order per
channel kept), built here *without* blind re-sends on timeouts or 5xx: when Slack's answer is
lost the message may exist, and the runner's history check decides instead.

Example:
    >>> carries_digest({"metadata": {"event_type": "firstmate_digest", "event_payload": {"digest_id": "x"}}}, "x")
    True
    >>> carries_digest({"text": "firstmate digest x", "user": "U1"}, "x")  # a person quoting it
    False
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from slack_sdk import WebClient

from bot.core.replies import Reply
from bot.digest.models import METADATA_EVENT_TYPE, DigestPostError
from bot.slack.blocks import MAX_BLOCKS, render_reply
from bot.slack.sender import DeliveryError, Poster, SlackSender

_SLACK_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def carries_digest(message: dict[str, Any], digest_id: str) -> bool:
    """True when ``message`` carries ``digest_id``: in app metadata, or in an app's blocks/text."""
    meta = message.get("metadata") or {}
    if (
        meta.get("event_type") == METADATA_EVENT_TYPE
        and (meta.get("event_payload") or {}).get("digest_id") == digest_id
    ):
        return True
    if not message.get("bot_id"):
        return False
    if digest_id in str(message.get("text") or ""):
        return True
    return any(digest_id in repr(block) for block in message.get("blocks") or [])


def _definite(error: str) -> bool:
    """A Slack error code means Slack refused (nothing posted); a 5xx or a connection error leaves it open."""
    return bool(_SLACK_CODE.match(error)) and not error.startswith("http_5")


class SlackDigestPoster:
    """A :class:`bot.digest.models.DigestPoster` over the Slack ``Poster`` (bot/slack/sender.py).

    Example:
        >>> from slack_sdk import WebClient
        >>> p = SlackDigestPoster(SlackSender(WebClient(token="xoxb-x", base_url="http://127.0.0.1:9/")))
        >>> p.history_pages
        10
    """

    def __init__(self, sender: Poster, *, history_pages: int = 10) -> None:
        self.sender = sender
        self.history_pages = history_pages

    @classmethod
    def from_settings(cls, settings: Any, *, metrics: Any = None) -> SlackDigestPoster:
        """Build from :class:`bot.config.Settings`: bot token, API URL, digest wait bounds."""
        token = settings.slack.bot_token
        if token is None:
            raise DigestPostError(
                "no Slack bot token: set SLACK_BOT_TOKEN, or use --dry-run to print the digest",
                definite=True,
                exit_code=2,
            )
        client = WebClient(
            token=token.get_secret_value(),
            base_url=settings.slack.api_url,
            timeout=30,
            retry_handlers=[],  # no blind re-sends: the outbox decides after a lost response
        )
        sender = SlackSender(
            client, metrics=metrics, max_wait_s=settings.digest.max_rate_limit_wait_seconds, retries=0
        )
        return cls(sender, history_pages=settings.digest.history_pages)

    def post_digest(self, *, channel: str, digest_id: str, reply: Reply) -> str:
        message = render_reply(reply)
        marker = {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"firstmate digest `{digest_id}`"}],
        }
        blocks = [*message.blocks[: MAX_BLOCKS - 1], marker]
        metadata = {
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {
                "digest_id": digest_id,
                "kind": reply.meta.get("digest_kind", ""),
                "period_end": reply.meta.get("period_end", ""),
            },
        }
        try:
            posted = self.sender.post(channel=channel, text=message.text, blocks=blocks, metadata=metadata)
        except DeliveryError as exc:
            raise DigestPostError(f"chat.postMessage: {exc.error}", definite=_definite(exc.error)) from exc
        if not posted.ts:
            raise DigestPostError("chat.postMessage: Slack answered without a message ts", definite=False)
        return str(posted.ts)

    def find_digest(self, *, channel: str, digest_id: str, oldest: dt.datetime) -> str | None:
        limit = self.history_pages * 200
        try:
            messages = self.sender.history(channel=channel, oldest=oldest.timestamp(), limit=limit)
        except DeliveryError as exc:
            raise DigestPostError(
                f"conversations.history: {exc.error}", definite=_definite(exc.error)
            ) from exc
        for message in messages:
            if carries_digest(message, digest_id):
                return str(message.get("ts"))
        if len(messages) >= limit:
            raise DigestPostError(
                f"conversations.history: {digest_id} not in the last {limit} messages; not posting again blindly",
                definite=False,
            )
        return None
