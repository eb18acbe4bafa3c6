"""Routing and the Core handlers shared by Slack and the console."""

from __future__ import annotations

import pytest

from bot.core.commands import Core, Incoming, ReplyOutcome, route
from bot.core.replies import Reply
from bot.observability import Metrics
from bot.store.db import Database
from bot.store.questions import QuestionStore
from retrieval.models import SearchResult


@pytest.mark.parametrize(
    ("text", "trigger", "kind", "rest"),
    [
        ("k8s get pods -n shop", "mention", "cluster", "get pods -n shop"),
        ("kubectl describe pod x", "dm", "cluster", "describe pod x"),
        ("K8S status", "console", "cluster", "status"),
        ("get pods", "k8s", "cluster", "get pods"),
        ("k8s is great?", "ask", "question", "k8s is great?"),  # /ask is always a question
        ("help", "mention", "help", ""),
        ("帮助", "dm", "help", ""),
        ("   ", "ask", "empty", ""),
        ("why is my pod Pending?", "mention", "question", "why is my pod Pending?"),
    ],
)
def test_route(text: str, trigger: str, kind: str, rest: str) -> None:
    r = route(text, trigger=trigger)  # type: ignore[arg-type]
    assert (r.kind, r.text) == (kind, rest)


class Nothing:
    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        return SearchResult(query=query, answered=False, hits=[], reason="no match")


class Broken:
    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        raise RuntimeError("index file truncated")


class Cluster:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    def handle(self, text: str, *, channel: str, user: str, request_id: str) -> Reply:
        self.calls.append((text, channel, user, request_id))
        return Reply(kind="cluster", summary=f"ran {text}")


def _core(searcher: object = None, **kw: object) -> Core:
    return Core(searcher=searcher or Nothing(), store=QuestionStore(Database.sqlite(":memory:")), metrics=Metrics(), **kw)  # type: ignore[arg-type]


def test_cluster_text_goes_to_the_handler_or_says_not_enabled() -> None:
    msg = Incoming(text="k8s get pods", user="U1", channel="C1", trigger="mention")
    out = _core().handle(msg)
    assert isinstance(out, ReplyOutcome) and out.reply.summary == "cluster commands are not enabled"
    cluster = Cluster()
    out = _core(cluster=cluster).handle(msg)
    assert isinstance(out, ReplyOutcome) and out.reply.summary == "ran get pods"
    assert cluster.calls == [("get pods", "C1", "U1", msg.request_id)]


def test_search_failure_is_a_clear_reply_and_counted() -> None:
    core = _core(Broken())
    out = core.handle(Incoming(text="what is a pod?", user="U1", channel="C1", trigger="dm"))
    assert isinstance(out, ReplyOutcome) and out.reply.kind == "error"
    assert "search failed" in out.reply.summary and out.incoming.request_id in out.reply.summary
    assert core.metrics is not None
    assert core.metrics.registry.get_sample_value("firstmate_errors_total", {"stage": "search"}) == 1


def test_questions_are_recorded_and_threads_found_again() -> None:
    core = _core()
    out = core.handle(Incoming(text="what is a pod?", user="U1", channel="C1", trigger="mention", ts="5.1",
                               reply_in_thread=True))
    core.replied(out, reply_ts="5.2")  # type: ignore[arg-type]
    record = core.thread_context("C1", "5.1")
    assert record is not None and record.question == "what is a pod?" and not record.answered
    assert core.thread_context("C1", "5.2") is not None  # found by the reply's ts too
    assert record.reply_ts is None or record.reply_ts == "5.2"


def test_feedback_goes_through_the_store() -> None:
    core = _core()
    assert core.feedback(message_key="C1:1", user="U1", question_id="q", value=1) == "inserted"
    assert core.feedback(message_key="C1:1", user="U1", question_id="q", value=-1) == "updated"
    assert core.store is not None and len(core.store.feedback_for("C1:1")) == 1
