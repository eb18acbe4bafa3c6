"""From Slack payloads to the core's ``Incoming``: clean the text, decide what to ignore.

Slack text carries markup: ``<@U123>`` mentions, ``<http://x|label>`` links, ``<#C1|general>``
channels, and entities (``&amp;``). Search wants plain words, so the bot's own mention is removed
and the rest becomes readable text.

Example:
    >>> clean_text("<@UBOT> why is <https://k8s.io|k8s> &lt;Pending&gt;?", bot_user_id="UBOT")
    'why is k8s <Pending>?'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.core.commands import Incoming, Trigger
from bot.settings.slack import SlackSettings

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>", re.IGNORECASE)
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>", re.IGNORECASE)
_SPECIAL = re.compile(r"<!([a-z^]+)[^>]*>", re.IGNORECASE)
_QUESTION_END = ("?", "？")
# Message subtypes that are a person's new message; edits, joins, bots and deletions are not.
_ANSWERABLE_SUBTYPES = (None, "thread_broadcast", "file_share")


def clean_text(text: str, *, bot_user_id: str | None) -> str:
    """Plain text: the bot's mention removed, links/channels/users readable, entities decoded."""

    def mention(m: re.Match[str]) -> str:
        return "" if bot_user_id and m.group(1) == bot_user_id else "@" + (m.group(2) or m.group(1))

    text = _MENTION.sub(mention, text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in this workspace (from auth.test)."""

    user_id: str | None
    bot_id: str | None
    team_id: str | None = None


def from_mention(event: dict[str, Any], *, identity: BotIdentity, ignore_other_bots: bool = True) -> Incoming | None:
    """An ``app_mention``: answer in the message's thread (not our own, nor other bots' when configured).

    Slack also sends ``app_mention`` for a message edited to mention the bot (it carries ``edited``);
    edits are ignored, like ``message_changed``.
    """
    if event.get("user") in (None, identity.user_id) or event.get("subtype") in ("message_changed", "message_deleted"):
        return None
    if event.get("edited"):
        return None
    if event.get("bot_id") and (event.get("bot_id") == identity.bot_id or ignore_other_bots):
        return None
    return Incoming(
        text=clean_text(str(event.get("text") or ""), bot_user_id=identity.user_id),
        user=str(event.get("user") or ""),
        channel=str(event.get("channel") or ""),
        trigger="mention",
        ts=event.get("ts"),
        thread_ts=event.get("thread_ts"),
        reply_in_thread=True,
    )


def from_message(event: dict[str, Any], *, identity: BotIdentity, settings: SlackSettings) -> Incoming | None:
    """A ``message`` event: a DM, a thread follow-up candidate, an auto-answer, or None to ignore.

    Ignored: the bot's own messages, other bots (configurable), edits/deletions/joins and other
    subtypes, and channel messages that mention the bot (the ``app_mention`` event answers those).
    Thread replies come back as ``thread`` candidates; the worker checks that firstmate answered
    that thread before replying.
    """
    subtype = event.get("subtype")
    if subtype not in _ANSWERABLE_SUBTYPES:
        return None
    user = event.get("user")
    if not user or user == identity.user_id:
        return None
    if event.get("bot_id") and (event.get("bot_id") == identity.bot_id or settings.ignore_other_bots):
        return None
    raw = str(event.get("text") or "")
    channel = str(event.get("channel") or "")
    channel_type = event.get("channel_type") or ("im" if channel.startswith("D") else "channel")
    is_dm = channel_type == "im"
    if not is_dm and identity.user_id and f"<@{identity.user_id}" in raw:
        return None  # answered through app_mention
    thread_ts = event.get("thread_ts")
    in_thread = bool(thread_ts) and thread_ts != event.get("ts")
    trigger: Trigger
    if in_thread:
        if not settings.answer_thread_followups:
            return None
        trigger = "thread"
    elif is_dm:
        trigger = "dm"
    elif settings.channel(channel).mode == "auto" and raw.rstrip().endswith(_QUESTION_END):
        trigger = "auto"
    else:
        return None
    return Incoming(
        text=clean_text(raw, bot_user_id=identity.user_id),
        user=str(user),
        channel=channel,
        trigger=trigger,
        ts=event.get("ts"),
        thread_ts=thread_ts if in_thread else None,
        reply_in_thread=trigger == "auto",
    )


def from_command(command: dict[str, Any], *, trigger: Trigger) -> Incoming:
    """A slash command (``/ask``, ``/k8s``)."""
    return Incoming(
        text=" ".join(str(command.get("text") or "").split()) if trigger == "ask" else str(command.get("text") or ""),
        user=str(command.get("user_id") or ""),
        channel=str(command.get("channel_id") or ""),
        trigger=trigger,
    )


def split_ask_flags(text: str, *, default_ephemeral: bool) -> tuple[str, bool]:
    """``/ask --private q`` / ``/ask --public q``: the question and whether the reply is ephemeral."""
    words = text.split()
    ephemeral = default_ephemeral
    while words and words[0].lower() in ("--private", "-p", "--public"):
        ephemeral = words.pop(0).lower() != "--public"
    return " ".join(words), ephemeral
