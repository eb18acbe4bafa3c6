"""Payload parsing: what is answered, what is ignored, and clean question text."""

from __future__ import annotations

from bot.settings.slack import ChannelConfig, SlackSettings
from bot.slack.parse import BotIdentity, clean_text, from_mention, from_message, split_ask_flags

ME = BotIdentity(user_id="UBOT", bot_id="BBOT")
SETTINGS = SlackSettings(channels={"CAUTO": ChannelConfig(mode="auto")})


def _msg(**kw: object) -> dict[str, object]:
    return {"type": "message", "user": "U1", "text": "pods pending?", "ts": "2.0", "channel": "C1",
            "channel_type": "channel", **kw}


def test_clean_text() -> None:
    assert clean_text("<@UBOT>  why <#C1|ops> <@U2|ann> &amp; <!here>?", bot_user_id="UBOT") == "why #ops @ann & @here?"
    assert clean_text("see <https://k8s.io/docs>", bot_user_id=None) == "see https://k8s.io/docs"


def test_mentions() -> None:
    incoming = from_mention({"user": "U1", "text": "<@UBOT> hi", "ts": "1.0", "channel": "C1"}, identity=ME)
    assert incoming is not None and incoming.text == "hi" and incoming.reply_thread == "1.0"
    assert from_mention({"user": "U9", "bot_id": "B9", "text": "<@UBOT> hi", "ts": "1", "channel": "C"}, identity=ME) is None
    assert from_mention({"user": "U9", "bot_id": "B9", "text": "<@UBOT> hi", "ts": "1", "channel": "C"}, identity=ME,
                        ignore_other_bots=False) is not None
    assert from_mention({"user": "UBOT", "text": "<@UBOT> echo", "ts": "1", "channel": "C"}, identity=ME) is None
    edited = {"user": "U1", "text": "<@UBOT> hi", "ts": "1.0", "channel": "C1", "edited": {"user": "U1", "ts": "2.0"}}
    assert from_mention(edited, identity=ME) is None  # an edit that adds the mention is still an edit


def test_messages() -> None:
    dm = from_message(_msg(channel="D1", channel_type="im"), identity=ME, settings=SETTINGS)
    assert dm is not None and dm.trigger == "dm" and dm.reply_thread is None
    assert from_message(_msg(channel="D1", channel_type="im", text="<@UBOT> hi"), identity=ME, settings=SETTINGS) is not None
    assert from_message(_msg(), identity=ME, settings=SETTINGS) is None  # mentions-only channel
    auto = from_message(_msg(channel="CAUTO", text="为什么 pod 一直 Pending？"), identity=ME, settings=SETTINGS)
    assert auto is not None and auto.trigger == "auto" and auto.reply_thread == "2.0"
    assert from_message(_msg(channel="CAUTO", text="no question"), identity=ME, settings=SETTINGS) is None
    assert from_message(_msg(channel="CAUTO", text="<@UBOT> q?"), identity=ME, settings=SETTINGS) is None  # app_mention
    thread = from_message(_msg(thread_ts="1.0"), identity=ME, settings=SETTINGS)
    assert thread is not None and thread.trigger == "thread" and thread.thread_ts == "1.0"
    for ignored in (_msg(subtype="message_changed"), _msg(subtype="channel_join"), _msg(bot_id="B2"),
                    _msg(user="UBOT"), _msg(user=None)):
        assert from_message({**ignored, "channel_type": "im"}, identity=ME, settings=SETTINGS) is None
    off = SlackSettings(answer_thread_followups=False)
    assert from_message(_msg(thread_ts="1.0"), identity=ME, settings=off) is None


def test_ask_flags() -> None:
    assert split_ask_flags("--private why?", default_ephemeral=False) == ("why?", True)
    assert split_ask_flags("--public why?", default_ephemeral=True) == ("why?", False)
    assert split_ask_flags("why --private?", default_ephemeral=False) == ("why --private?", False)
