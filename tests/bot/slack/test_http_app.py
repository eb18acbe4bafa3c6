"""End to end over HTTP: signed Slack requests in, real WebClient calls out to the fake Slack.

The app runs on waitress with the real bolt app, the real Searcher (hash embedder) and the SQLite
store; every assertion is on what reached the fake Slack Web API or the store.
"""

from __future__ import annotations

import json
from typing import Any

from fakes.slack_api import payload
from slack_harness import Harness

from bot.slack import blocks as kit

MENTION_Q = "Prometheus 监控 Kubernetes"
ABSTAIN_Q = "What is the weather in Paris"


def _mrkdwn(message: dict[str, Any]) -> str:
    out = []
    for block in message.get("blocks") or []:
        if block.get("type") == "section":
            out.append(block["text"]["text"])
        elif block.get("type") == "context":
            out += [e.get("text", "") for e in block["elements"]]
    return "\n".join(out)


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button in {message.get('blocks')}")


def _mention(app: Harness, text: str, *, event_id: str, ts: str = "1700000100.000100", channel: str = "C0CHANNEL",
             thread_ts: str | None = None) -> None:
    event: dict[str, Any] = {"text": f"<@U0FIRSTMATE> {text}", "ts": ts, "event_ts": ts, "channel": channel}
    if thread_ts:
        event["thread_ts"] = thread_ts
    envelope = payload("app_mention", event_id=event_id)
    envelope["event"].update(event)
    assert app.events.event(envelope).status == 200


def test_mention_gets_a_threaded_answer_with_citations(app: Harness, hash_searcher: Any) -> None:
    expected = hash_searcher.search(MENTION_Q, top_k=5)
    assert expected.answered
    _mention(app, MENTION_Q, event_id="EvMention1")
    [call] = app.fake.wait_for("chat.postMessage")
    assert call.args["channel"] == "C0CHANNEL"
    assert call.args["thread_ts"] == "1700000100.000100"
    message = app.fake.posted("C0CHANNEL")[0]
    text = _mrkdwn(message)
    best = expected.hits[0]
    assert kit.fit(best.answer.strip(), 3000)[0][:40] in text  # the best answer, escaped
    assert f"[1] {best.session.date.isoformat()} · " in text  # numbered citations with dates
    assert "出处" in text  # the asker wrote Chinese: the bot's own words are Chinese
    assert "存档" in text  # the sessions are years old: the outdated note
    for action in (kit.ACTION_UP, kit.ACTION_DOWN, kit.ACTION_MORE):
        _button(message, action)
    # 👀 while working, removed when done.
    app.wait_until(lambda: len(app.fake.calls_to("reactions.remove")) == 1, what="reaction removed")
    assert [c.args["name"] for c in app.fake.calls_to("reactions.add")] == ["eyes"]
    assert not app.fake.reactions[("C0CHANNEL", "1700000100.000100")]
    # Stored: who, where, answered, top hits, reply ts and latency.
    qid = json.loads(_button(message, kit.ACTION_UP)["value"])["q"]
    app.wait_until(lambda: (r := app.runtime.store.get_question(qid)) is not None and r.latency_ms is not None,
                   what="question stored")
    record = app.runtime.store.get_question(qid)
    assert record is not None
    assert (record.user_id, record.channel_id, record.trigger, record.answered) == ("U0ASKER", "C0CHANNEL", "mention", True)
    assert record.top_hit_ids[0] == best.qa_id and record.reply_ts == message["ts"]
    assert app.metric("firstmate_answers_posted_total", kind="answer") == 1
    assert app.metric("firstmate_events_received_total", kind="app_mention") == 1
    assert app.metric("firstmate_answer_latency_seconds_count") == 1  # observed once, end to end
    assert app.metric("firstmate_answer_latency_seconds_sum") * 1000 >= record.latency_ms - 1  # same measure


def test_direct_message_is_answered_in_the_dm(app: Harness) -> None:
    assert app.events.event(payload("message_im")).status == 200
    [call] = app.fake.wait_for("chat.postMessage")
    assert call.args["channel"] == "D0DIRECT"
    assert "thread_ts" not in call.args
    assert "[1] " in _mrkdwn(app.fake.posted("D0DIRECT")[0])


def test_ask_command_acks_and_posts_visibly_or_privately(app: Harness) -> None:
    fields = payload("command_ask", text=MENTION_Q, response_url=app.fake.response_url())
    delivery = app.events.command(fields)
    assert delivery.status == 200 and delivery.body in (b"", b"{}")  # an empty ack, the answer comes later
    [call] = app.fake.wait_for("chat.postMessage")
    assert call.args["channel"] == "C0CHANNEL" and "thread_ts" not in call.args
    assert "<@U0ASKER>" in _mrkdwn(app.fake.posted("C0CHANNEL")[0])  # who asked, since /ask is invisible

    url = app.fake.response_url()
    private = payload("command_ask", text=f"--private {MENTION_Q}", response_url=url, trigger_id="t-private")
    assert app.events.command(private).status == 200
    rid = url.rsplit("/", 1)[-1]
    app.fake.wait_for(f"response_url:{rid}")
    [response] = app.fake.responses[rid]
    assert response["response_type"] == "ephemeral" and "[1] " in json.dumps(response, ensure_ascii=False)
    assert len(app.fake.calls_to("chat.postMessage")) == 1


def test_thread_follow_up_uses_the_earlier_question(app: Harness) -> None:
    _mention(app, "Kubernetes 调度器 NodeSelector", event_id="EvRoot")
    app.fake.wait_for("chat.postMessage")
    follow = payload("message_thread", event__text="那 NodeSelector 呢？", event__thread_ts="1700000100.000100")
    assert app.events.event(follow).status == 200
    calls = app.fake.wait_for("chat.postMessage", 2)
    assert calls[1].args["thread_ts"] == "1700000100.000100"
    reply = app.fake.posted("C0CHANNEL")[1]
    assert "Kubernetes 调度器 NodeSelector" in _mrkdwn(reply)  # "Follow-up to: …" context note
    qid = json.loads(_button(reply, kit.ACTION_UP)["value"])["q"]
    record = app.runtime.store.get_question(qid)
    assert record is not None and record.trigger == "thread"
    assert record.context == "Kubernetes 调度器 NodeSelector"

    # A reply in a thread firstmate never answered is not for us.
    other = payload("message_thread", event__text="unrelated chatter?", event__thread_ts="1690000000.000001",
                    event_id="EvOther")
    assert app.events.event(other).status == 200
    app.settle(3)
    assert len(app.fake.calls_to("chat.postMessage")) == 2


def test_feedback_double_click_keeps_one_row(app: Harness) -> None:
    _mention(app, MENTION_Q, event_id="EvFb")
    app.fake.wait_for("chat.postMessage")
    message = app.fake.posted("C0CHANNEL")[0]
    up, down = _button(message, kit.ACTION_UP), _button(message, kit.ACTION_DOWN)
    qid = json.loads(up["value"])["q"]
    urls = []
    for n, button in enumerate((up, up, down)):
        url = app.fake.response_url()
        urls.append(url.rsplit("/", 1)[-1])
        click = payload("block_actions", trigger_id=f"click-{n}", response_url=url,
                        container__message_ts=message["ts"], message__ts=message["ts"])
        click["actions"] = [{**click["actions"][0], "action_id": button["action_id"], "value": button["value"],
                             "action_ts": f"1700000900.00000{n}"}]
        assert app.events.interaction(click).status == 200
        app.fake.wait_for(f"response_url:{urls[-1]}")  # "thanks" to the clicker
    rows = app.runtime.store.feedback_for(f"C0CHANNEL:{message['ts']}")
    assert [(r.user_id, r.question_id, r.value) for r in rows] == [("U0ASKER", qid, -1)]
    assert "updated" in json.dumps(app.fake.responses[urls[2]]) or "更新" in json.dumps(
        app.fake.responses[urls[2]], ensure_ascii=False)


def test_more_answers_posts_the_next_hits_in_the_thread(app: Harness, hash_searcher: Any) -> None:
    _mention(app, MENTION_Q, event_id="EvMore")
    app.fake.wait_for("chat.postMessage")
    message = app.fake.posted("C0CHANNEL")[0]
    more = _button(message, kit.ACTION_MORE)
    click = payload("block_actions", trigger_id="click-more", container__message_ts=message["ts"])
    click["actions"] = [{**click["actions"][0], "action_id": kit.ACTION_MORE, "value": more["value"]}]
    assert app.events.interaction(click).status == 200
    calls = app.fake.wait_for("chat.postMessage", 2)
    assert calls[1].args["thread_ts"] == "1700000100.000100"
    text = _mrkdwn(app.fake.posted("C0CHANNEL")[1])
    hits = [h for h in hash_searcher.search(MENTION_Q, top_k=5).hits if h.answer.strip()]
    assert "[2] " in text and "[1] " not in text
    second = hits[1].session
    assert (second.date.isoformat() if second.kind == "session" else "note · ") in text


def test_abstention_says_so_and_lists_maybe_related_sessions(app: Harness) -> None:
    _mention(app, ABSTAIN_Q, event_id="EvAbstain")
    app.fake.wait_for("chat.postMessage")
    message = app.fake.posted("C0CHANNEL")[0]
    text = _mrkdwn(message)
    assert "No confident answer." in text and "might be related" in text
    assert "Best answer" not in text
    assert [b for b in message["blocks"] if b["type"] == "actions"]  # feedback still possible
    app.wait_until(lambda: app.metric("firstmate_answers_posted_total", kind="abstained") == 1, what="reply counted")
    assert app.metric("firstmate_abstentions_total") == 1


def test_bad_signatures_get_401_never_500(app: Harness) -> None:
    body = json.dumps(payload("app_mention")).encode()
    import time

    now = int(time.time())
    cases = {
        "bad signature": app.events.raw("/slack/events", body, content_type="application/json",
                                        signature="v0=" + "0" * 64),
        "301 s old": app.events.raw("/slack/events", body, content_type="application/json",
                                    timestamp=str(now - 301)),
        "non-numeric timestamp": app.events.raw("/slack/events", body, content_type="application/json",
                                                timestamp="soon", signature="v0=abc"),
        "missing headers": app.events.raw("/slack/commands", b"text=x", content_type="application/x-www-form-urlencoded",
                                          timestamp="", signature=""),
    }
    assert {name: d.status for name, d in cases.items()} == dict.fromkeys(cases, 401)
    # A signed but malformed body is a 400, still not a 500.
    assert app.events.raw("/slack/interactions", b"payload=%7Bnot-json", content_type="application/x-www-form-urlencoded").status in (400, 200)
    assert app.fake.calls_to("chat.postMessage") == []


def test_a_retry_with_the_same_event_id_is_answered_once(app: Harness) -> None:
    envelope = payload("app_mention")
    envelope["event"]["text"] = f"<@U0FIRSTMATE> {MENTION_Q}"
    assert app.events.event(envelope).status == 200
    assert app.events.event(envelope, retry_num=1).status == 200
    assert app.events.event(envelope, retry_num=2).status == 200
    app.settle(3)
    assert len(app.fake.calls_to("chat.postMessage")) == 1
    assert app.metric("firstmate_duplicate_events_total") == 2


def test_a_429_is_waited_out_and_the_reply_delivered(app: Harness) -> None:
    app.fake.rate_limit("chat.postMessage", retry_after=1)
    _mention(app, MENTION_Q, event_id="EvLimited")
    app.fake.wait_for("chat.postMessage")
    attempts = app.fake.calls_to("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.9  # it honoured Retry-After
    assert app.metric("firstmate_slack_rate_limited_total", method="chat.postMessage") == 1
    assert len(app.fake.posted("C0CHANNEL")) == 1


def test_a_60_kb_message_gets_a_clean_reply(app: Harness) -> None:
    unit = "Kubernetes 的 Pod 一直处于调度失败的状态怎么办"
    huge = unit * (60 * 1024 // len(unit.encode()) + 1)
    assert len(huge.encode()) >= 60 * 1024
    _mention(app, huge, event_id="EvHuge")
    [call] = app.fake.wait_for("chat.postMessage")
    assert call.status == 200  # the fake accepted it: within Slack's block and text limits
    text = _mrkdwn(app.fake.posted("C0CHANNEL")[0])
    assert "消息太长，只用前 19" in text  # "long message: searched with its first 19xx characters" (cut at a word)
    assert len(call.args["text"]) <= 4000


def test_channel_mentions_in_corpus_text_are_neutralised(make_app: Any) -> None:
    from retrieval.models import Hit, SearchResult, SessionRef

    class Loud:
        def search(self, query: str, *, top_k: int = 5) -> SearchResult:
            hit = Hit(rank=1, score=1.0, qa_id="qa-loud", session=SessionRef(id="s", date="2016-05-01", title="<!here> ops"),
                      question="who is on call <@U0BOSS>?",
                      answer="<!channel> please upgrade & <!here> restart <@U0BOSS> in <#C0GENERAL|general>, "
                             "<!subteam^S0OPS|@ops> and <!everyone>")
            return SearchResult(query=query, answered=True, hits=[hit])

    app = make_app(searcher=Loud())
    _mention(app, "who is on call?", event_id="EvLoud")
    [call] = app.fake.wait_for("chat.postMessage")
    raw = json.dumps(call.args, ensure_ascii=False)
    for dangerous in ("<!channel>", "<!here>", "<@U0BOSS>", "<#C0GENERAL", "<!subteam", "<!everyone>"):
        assert dangerous not in raw
    text = _mrkdwn(app.fake.posted("C0CHANNEL")[0])
    assert "@\u200bchannel please upgrade &amp; @\u200bhere restart @\u200bU0BOSS" in text
    assert "&lt;#C0GENERAL|general&gt;" in text and "@\u200bgroup" in text and "@\u200beveryone" in text


def test_edits_joins_and_bots_are_ignored_and_auto_answer_only_where_configured(app: Harness) -> None:
    ignored = [
        payload("message_changed"),
        payload("message_im", event_id="EvJoin", event__subtype="channel_join", event__text="<@U1> has joined"),
        payload("message_im", event_id="EvBot", event__bot_id="B0OTHER", event__subtype="bot_message"),
        payload("message_im", event_id="EvSelf", event__user="U0FIRSTMATE", event__bot_id="B0FIRSTMATE"),
        payload("message_channel", event_id="EvPlain", event__channel="C0CHANNEL"),  # mentions-only channel
        payload("message_channel", event_id="EvNoQ", event__text="just chatting"),  # auto channel, not a question
    ]
    for envelope in ignored:
        assert app.events.event(envelope).status == 200
    assert app.events.event(payload("message_channel")).status == 200  # auto channel, ends with ？
    [call] = app.fake.wait_for("chat.postMessage")
    app.settle(len(ignored))  # bolt itself drops the bot's own message before our listeners
    assert len(app.fake.calls_to("chat.postMessage")) == 1
    assert call.args["channel"] == "C0AUTO" and call.args["thread_ts"] == "1700000400.000100"


def test_k8s_without_a_cluster_handler_says_not_enabled(app: Harness) -> None:
    assert app.events.command(payload("command_k8s", response_url=app.fake.response_url())).status == 200
    app.fake.wait_for("chat.postMessage")
    assert "cluster commands are not enabled" in _mrkdwn(app.fake.posted("C0CHANNEL")[0])


def test_channel_errors_are_logged_and_the_asker_told_privately(app: Harness) -> None:
    app.fake.not_in_channels.add("C0CHANNEL")
    url = app.fake.response_url()
    assert app.events.command(payload("command_ask", text=MENTION_Q, response_url=url)).status == 200
    rid = url.rsplit("/", 1)[-1]
    app.fake.wait_for(f"response_url:{rid}")
    response = json.dumps(app.fake.responses[rid], ensure_ascii=False)
    assert "/invite @firstmate" in response and "[1] " in response
    assert [c.status for c in app.fake.calls_to("chat.postMessage", ok_only=False)] == [299]
    assert app.metric("firstmate_errors_total", stage="slack_api") == 1


def test_url_verification_and_health_on_the_same_port(app: Harness) -> None:
    challenge = payload("url_verification")
    delivery = app.events.event(challenge)
    assert delivery.status == 200 and json.loads(delivery.body)["challenge"] == challenge["challenge"]
    import urllib.request

    with urllib.request.urlopen(app.base_url + "/readyz", timeout=10) as resp:
        ready = json.loads(resp.read())
    assert ready["ready"] is True and set(ready["checks"]) == {"cluster", "index", "slack", "store"}
    with urllib.request.urlopen(app.base_url + "/metrics", timeout=10) as resp:
        assert b"firstmate_events_received_total" in resp.read()


def test_blocks_slack_refuses_still_deliver_the_text_fallback(app: Harness) -> None:
    app.fake.fail("chat.postMessage", "invalid_blocks")
    _mention(app, MENTION_Q, event_id="EvBadBlocks")
    calls = app.fake.wait_for("chat.postMessage")
    attempts = app.fake.calls_to("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [299, 200]
    assert "blocks" in attempts[0].args and "blocks" not in calls[0].args
    assert calls[0].args["thread_ts"] == "1700000100.000100"
    assert "[1] " in calls[0].args["text"] and "出处" in calls[0].args["text"]  # the whole cited answer, as text


def test_private_ask_without_a_response_url_stays_private(app: Harness) -> None:
    fields = payload("command_ask", text=f"--private {MENTION_Q}")
    del fields["response_url"]
    assert app.events.command(fields).status == 200
    [call] = app.fake.wait_for("chat.postEphemeral")
    assert call.args["user"] == "U0ASKER" and call.args["channel"] == "C0CHANNEL"
    app.settle(1)
    assert app.fake.calls_to("chat.postMessage") == []


def test_a_retry_while_the_first_delivery_is_still_answering_is_skipped(make_app: Any) -> None:
    # A lease far shorter than the 429 wait: the store alone would let the retry take the claim over.
    app = make_app(dedup_lease_s=1e-6)
    app.fake.rate_limit("chat.postMessage", retry_after=2)
    envelope = payload("app_mention", event_id="EvSlow")
    envelope["event"]["text"] = f"<@U0FIRSTMATE> {MENTION_Q}"
    assert app.events.event(envelope).status == 200
    app.fake.wait_for("chat.postMessage", ok_only=False)  # the first answer is waiting out the 429
    assert app.events.event(envelope, retry_num=1).status == 200
    app.settle(2)
    assert app.metric("firstmate_duplicate_events_total") == 1
    assert len(app.fake.calls_to("chat.postMessage")) == 1


def test_a_store_outage_still_answers_and_is_counted(app: Harness) -> None:
    def down(*_: Any, **__: Any) -> bool:
        raise ConnectionError("database is down")

    app.runtime.store.claim_event = down  # type: ignore[method-assign]
    _mention(app, MENTION_Q, event_id="EvStoreDown")
    [call] = app.fake.wait_for("chat.postMessage")
    assert "[1] " in call.args["text"]
    app.wait_until(lambda: app.metric("firstmate_errors_total", stage="store") >= 1, what="store error counted")


def test_more_answers_the_channel_refuses_reach_the_clicker_privately(app: Harness) -> None:
    _mention(app, MENTION_Q, event_id="EvMorePrivate")
    app.fake.wait_for("chat.postMessage")
    message = app.fake.posted("C0CHANNEL")[0]
    app.fake.fail("chat.postMessage", "is_archived")  # archived between the answer and the click
    url = app.fake.response_url()
    click = payload("block_actions", trigger_id="click-more-2", container__message_ts=message["ts"], response_url=url)
    click["actions"] = [{**click["actions"][0], "action_id": kit.ACTION_MORE, "value": _button(message, kit.ACTION_MORE)["value"]}]
    assert app.events.interaction(click).status == 200
    rid = url.rsplit("/", 1)[-1]
    app.fake.wait_for(f"response_url:{rid}")
    [response] = app.fake.responses[rid]
    assert response["response_type"] == "ephemeral" and "[2] " in json.dumps(response, ensure_ascii=False)
