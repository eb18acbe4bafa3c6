"""A full Slack round trip at INFO logs ids and sizes, never tokens, secrets or message text."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

from fakes.slack_api import payload
from slack_harness import SECRET, Harness

SECRET_QUESTION = "zebra-unicorn-7731 Prometheus 监控 Kubernetes"


def test_no_tokens_and_no_message_bodies_in_info_logs(make_app: Callable[..., Harness], log_stream: io.StringIO) -> None:
    stream = log_stream
    app = make_app()
    envelope = payload("app_mention")
    envelope["event"]["text"] = f"<@U0FIRSTMATE> {SECRET_QUESTION}"
    assert app.events.event(envelope).status == 200
    assert app.events.raw("/slack/events", json.dumps(envelope).encode(), content_type="application/json",
                          signature="v0=bad").status == 401
    app.fake.wait_for("chat.postMessage")
    app.fake.fail("chat.postMessage", "channel_not_found")
    url = app.fake.response_url()
    assert app.events.command(payload("command_ask", text=SECRET_QUESTION, response_url=url)).status == 200
    app.fake.wait_for("response_url:" + url.rsplit("/", 1)[-1])
    app.wait_until(lambda: app.metric("firstmate_in_flight") == 0, what="work done")
    posted = app.fake.posted("C0CHANNEL")[0]["text"]
    logs = stream.getvalue()
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert any(r.get("event") == "question answered" for r in lines)  # we did log the work...
    assert any(r.get("event") == "slack call failed" and r.get("error") == "channel_not_found" for r in lines)
    for forbidden in (app.fake.bot_token, SECRET, "zebra-unicorn-7731", posted[:30]):  # ...but none of these
        assert forbidden not in logs
