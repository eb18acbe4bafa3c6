"""Every listener acks before any search, cluster read or Web API call: proven with work that cannot finish.

The searcher and the cluster handler below block on a gate the test holds shut. If any listener
did its work before acking, its HTTP request could not come back with 200 while the gate is shut
(and slash commands would miss bolt's ack window). Nothing here measures time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from fakes.slack_api import payload
from slack_harness import Harness

from bot.core.replies import Reply
from bot.slack import blocks as kit
from retrieval.models import SearchResult

QUESTION = "Prometheus 监控 Kubernetes"


class Gate:
    """Work that waits until the test opens the gate, counting who is stuck behind it."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self._cv = threading.Condition()
        self.waiting = 0

    def pass_through(self) -> None:
        with self._cv:
            self.waiting += 1
            self._cv.notify_all()
        try:
            assert self.open.wait(60), "the test never opened the gate"
        finally:
            with self._cv:
                self.waiting -= 1
                self._cv.notify_all()

    def wait_waiting(self, n: int) -> None:
        with self._cv:
            assert self._cv.wait_for(lambda: self.waiting >= n, timeout=30), f"{self.waiting} of {n} jobs reached the gate"


class GatedSearcher:
    def __init__(self, inner: Any, gate: Gate) -> None:
        self.inner, self.gate = inner, gate

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        self.gate.pass_through()
        result: SearchResult = self.inner.search(query, top_k=top_k)
        return result


class GatedCluster:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.calls: list[tuple[str, str]] = []

    def handle(self, text: str, *, channel: str, user: str, request_id: str) -> Reply:
        self.gate.pass_through()
        self.calls.append((text, channel))
        return Reply(kind="cluster", summary=f"ran {text}")


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button")


def test_every_listener_acks_while_its_work_is_still_blocked(
    make_app: Callable[..., Harness], hash_searcher: Any
) -> None:
    gate = Gate()
    cluster = GatedCluster(gate)
    app = make_app(searcher=GatedSearcher(hash_searcher, gate), cluster=cluster, workers=8)

    # A first answer, gate open, so there is a message with buttons to click later.
    first = payload("app_mention", event_id="EvFirst")
    first["event"]["text"] = f"<@U0FIRSTMATE> {QUESTION}"
    assert app.events.event(first).status == 200
    app.fake.wait_for("chat.postMessage")
    answer = app.fake.posted("C0CHANNEL")[0]
    more = _button(answer, kit.ACTION_MORE)

    gate.open.clear()  # from here on no search and no cluster read can finish
    mention = payload("app_mention", event_id="EvBlocked", event__ts="1700000500.000100")
    mention["event"]["text"] = f"<@U0FIRSTMATE> {QUESTION}"
    click = payload("block_actions", trigger_id="click-more", container__message_ts=answer["ts"])
    click["actions"] = [{**click["actions"][0], "action_id": kit.ACTION_MORE, "value": more["value"]}]
    deliveries = {
        "mention": app.events.event(mention),
        "dm": app.events.event(payload("message_im")),
        "/ask": app.events.command(payload("command_ask", text=QUESTION, response_url=app.fake.response_url())),
        "/k8s": app.events.command(payload("command_k8s", text="status", response_url=app.fake.response_url())),
        "more answers": app.events.interaction(click),
    }
    assert {name: d.status for name, d in deliveries.items()} == dict.fromkeys(deliveries, 200)
    assert deliveries["/ask"].body in (b"", b"{}") and deliveries["/k8s"].body in (b"", b"{}")
    gate.wait_waiting(5)  # all five jobs are running, each stuck in its search or cluster read
    assert len(app.fake.calls_to("chat.postMessage")) == 1  # nothing was answered before its ack

    gate.open.set()
    calls = app.fake.wait_for("chat.postMessage", 6)
    assert len(calls) == 6
    assert cluster.calls == [("status", "C0CHANNEL")]
    texts = json.dumps([c.args for c in calls[1:]], ensure_ascii=False)
    assert "ran status" in texts and "[2] " in texts  # the cluster reply and the "More answers" page
