"""The rate-limit-aware sender against the fake Web API, with the real WebClient."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from fakes.slack_api import FakeSlack
from slack_sdk import WebClient

from bot.observability import Metrics
from bot.slack.sender import ChannelTurns, DeliveryError, SlackSender


def _sender(fake: FakeSlack, **kw: object) -> SlackSender:
    return SlackSender(WebClient(token=fake.bot_token, base_url=fake.url), metrics=Metrics(), **kw)  # type: ignore[arg-type]


def test_429_waits_retry_after_and_keeps_channel_order(fake_slack: FakeSlack) -> None:
    sender = _sender(fake_slack)
    fake_slack.rate_limit("chat.postMessage", retry_after=1)
    first = threading.Thread(target=lambda: sender.post(channel="C1", text="first"))
    first.start()
    fake_slack.wait_for("chat.postMessage", ok_only=False)  # "first" got its 429 and is waiting
    second = threading.Thread(target=lambda: sender.post(channel="C1", text="second"))
    second.start()
    first.join(30)
    second.join(30)
    assert [m["text"] for m in fake_slack.posted("C1")] == ["first", "second"]
    statuses = [(c.args["text"], c.status) for c in fake_slack.calls_to("chat.postMessage", ok_only=False)]
    assert statuses == [("first", 429), ("first", 200), ("second", 200)]
    assert sender.metrics is not None
    assert sender.metrics.registry.get_sample_value("firstmate_slack_rate_limited_total", {"method": "chat.postMessage"}) == 1


def test_a_long_rate_limit_is_a_clear_failure_not_a_silent_drop(fake_slack: FakeSlack) -> None:
    sender = _sender(fake_slack, max_wait_s=0.5)
    fake_slack.rate_limit("chat.postMessage", retry_after=30)
    with pytest.raises(DeliveryError) as info:
        sender.post(channel="C1", text="x")
    assert info.value.error == "ratelimited"


def test_errors_are_logged_with_their_cause_and_raised(fake_slack: FakeSlack, log_stream: io.StringIO) -> None:
    stream = log_stream
    sender = _sender(fake_slack)
    fake_slack.missing_channels.add("C0GONE")
    with pytest.raises(DeliveryError) as info:
        sender.post(channel="C0GONE", text="secret body text")
    assert (info.value.method, info.value.error, info.value.channel) == ("chat.postMessage", "channel_not_found", "C0GONE")
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    [failure] = [r for r in records if r.get("event") == "slack call failed"]
    assert failure["error"] == "channel_not_found" and failure["method"] == "chat.postMessage"
    assert failure["channel"] == "C0GONE" and failure["level"] == "error"
    assert "secret body text" not in stream.getvalue()


def test_server_errors_are_retried_with_backoff(fake_slack: FakeSlack) -> None:
    sleeps: list[float] = []
    sender = _sender(fake_slack, sleep=sleeps.append)
    fake_slack.fail("chat.postMessage", "internal_error", times=2, status=500)
    posted = sender.post(channel="C1", text="eventually")
    assert posted.ts and len(sleeps) == 2 and sleeps[1] > sleeps[0]


def test_bad_token_is_invalid_auth(fake_slack: FakeSlack) -> None:
    sender = SlackSender(WebClient(token="xoxb-wrong", base_url=fake_slack.url))
    with pytest.raises(DeliveryError) as info:
        sender.auth_test()
    assert info.value.error == "invalid_auth"


def test_poster_interface_metadata_history_upload_and_reactions(fake_slack: FakeSlack) -> None:
    sender = _sender(fake_slack)
    meta = {"event_type": "firstmate_digest", "event_payload": {"digest_id": "d-1"}}
    posted = [sender.post(channel="C9", text=f"m{n}", metadata=meta if n == 3 else None) for n in range(5)]
    history = sender.history(channel="C9", limit=3)
    assert [m["text"] for m in history] == ["m4", "m3", "m2"]  # newest first, paged through the cursor
    assert history[1]["metadata"] == meta
    everything = sender.history(channel="C9", oldest=float(posted[0].ts or 0))
    assert [m["text"] for m in everything] == ["m4", "m3", "m2", "m1"]

    sender.upload(channel="C9", filename="pods.txt", title="pods", content="NAME READY\n" * 1000, thread_ts=posted[0].ts)
    [upload] = fake_slack.uploads.values()
    assert upload["content"] == ("NAME READY\n" * 1000).encode() and upload["thread_ts"] == posted[0].ts

    sender.react(channel="C9", ts=str(posted[0].ts), name="eyes")
    sender.react(channel="C9", ts=str(posted[0].ts), name="eyes")  # already_reacted is not an error
    sender.react(channel="C9", ts=str(posted[0].ts), name="eyes", remove=True)
    assert fake_slack.reactions[("C9", posted[0].ts)] == set()


def test_channel_turns_are_first_come_first_served() -> None:
    turns = ChannelTurns()
    order: list[int] = []
    gate = threading.Event()
    entered = threading.Event()

    def holder() -> None:
        with turns.turn("C1"):
            entered.set()
            gate.wait(10)
            order.append(0)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    entered.wait(10)
    for n in (1, 2, 3):
        t = threading.Thread(target=lambda n=n: _take(turns, order, n))
        t.start()
        threads.append(t)
        while turns._issued.get("C1", 0) != n + 1:  # wait until this one queued its ticket
            time.sleep(0.001)
    gate.set()
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2, 3]


def _take(turns: ChannelTurns, order: list[int], n: int) -> None:
    with turns.turn("C1"):
        order.append(n)


def test_a_rate_limited_reaction_never_holds_the_answer_back(fake_slack: FakeSlack) -> None:
    sleeps: list[float] = []
    sender = _sender(fake_slack, sleep=sleeps.append)
    fake_slack.rate_limit("reactions.add", retry_after=30)
    sender.react(channel="C9", ts="1.0", name="eyes")  # skipped, not waited for
    assert sleeps == []
    sender.react(channel="C9", ts="1.0", name="eyes")  # the method is still blocked: skipped at once
    assert sleeps == [] and len(fake_slack.calls_to("reactions.add", ok_only=False)) == 1
    fake_slack.rate_limit("chat.postMessage", retry_after=2)
    sender.post(channel="C9", text="the answer")  # a message is waited for
    assert len(sleeps) == 1 and sleeps[0] == pytest.approx(2.0, abs=0.5)  # the Retry-After it was given
    assert [m["text"] for m in fake_slack.posted("C9")] == ["the answer"]


def test_expected_reaction_errors_are_not_failures(fake_slack: FakeSlack, log_stream: io.StringIO) -> None:
    sender = _sender(fake_slack)
    posted = sender.post(channel="C9", text="x")
    for _ in range(2):
        sender.react(channel="C9", ts=str(posted.ts), name="eyes")
    sender.react(channel="C9", ts=str(posted.ts), name="eyes", remove=True)
    sender.react(channel="C9", ts=str(posted.ts), name="eyes", remove=True)
    assert [c.status for c in fake_slack.calls_to("reactions.add", ok_only=False)] == [200, 299]
    assert sender.metrics is not None
    assert sender.metrics.registry.get_sample_value("firstmate_errors_total", {"stage": "slack_api"}) is None
    assert "slack call failed" not in log_stream.getvalue()


def test_an_unreachable_response_url_is_a_delivery_error(fake_slack: FakeSlack) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    sleeps: list[float] = []
    sender = _sender(fake_slack, sleep=sleeps.append, retries=2)
    with pytest.raises(DeliveryError) as info:
        sender.respond(f"http://127.0.0.1:{port}/respond/x", text="hello")
    assert info.value.method == "response_url" and len(sleeps) == 2
