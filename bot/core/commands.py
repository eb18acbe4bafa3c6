"""Routing of what people type, and the transport-neutral handlers Slack and the console share.

A message becomes a ``Route``: a question, a cluster command (``/k8s …``, ``k8s …``, ``kubectl …``),
help, or nothing. ``Core`` runs it: questions go through ``answering.answer`` and are recorded in
the store; cluster text goes to a ``ClusterHandler`` (the cluster feature), or gets a clear
"not enabled" reply when there is none. Transports only parse their input into an ``Incoming``
and render the ``Outcome``.

Example:
    >>> route("k8s get pods -n shop", trigger="mention")
    Route(kind='cluster', text='get pods -n shop')
    >>> route("why is my pod Pending?", trigger="dm")
    Route(kind='question', text='why is my pod Pending?')
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from bot.core.answering import Answer, AnswerContext, MorePage, answer, more_answers, search_query
from bot.core.language import Language, detect_language, t
from bot.core.replies import Reply
from bot.observability import Metrics, get_logger
from bot.store.questions import QuestionRecord, QuestionStore
from retrieval.models import Hit, SearchBackend

log = get_logger("firstmate.core")

Trigger = Literal["mention", "dm", "ask", "k8s", "thread", "auto", "console"]
_CLUSTER_WORDS = ("k8s", "kubectl", "kube")


class ClusterHandler(Protocol):
    """What the cluster feature provides: one command line in, one transport-neutral reply out."""

    def handle(self, text: str, *, channel: str, user: str, request_id: str) -> Reply:
        """Parse, check policy, audit and run ``text`` (e.g. ``get pods -n shop``)."""
        ...


def new_request_id() -> str:
    """A short random id that ties log lines, the store row and the reply together."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class Incoming:
    """One message or command, already parsed out of its transport's payload.

    ``thread_ts`` is the thread the message is in (None at top level); ``reply_in_thread`` says
    whether the reply starts a thread under the message (channel mentions) or goes beside it.
    """

    text: str
    user: str
    channel: str
    trigger: Trigger
    transport: str = "slack"
    ts: str | None = None
    thread_ts: str | None = None
    reply_in_thread: bool = False
    request_id: str = field(default_factory=new_request_id)
    received_at: float = field(default_factory=time.time, compare=False)

    @property
    def reply_thread(self) -> str | None:
        """The thread the reply goes to."""
        return self.thread_ts or (self.ts if self.reply_in_thread else None)


@dataclass(frozen=True)
class Route:
    """What a message asks for."""

    kind: Literal["question", "cluster", "help", "empty"]
    text: str


def route(text: str, *, trigger: Trigger) -> Route:
    """Decide whether ``text`` is a question, a cluster command, help, or empty."""
    stripped = text.strip()
    if trigger == "k8s":
        return Route("cluster", stripped)
    if not stripped:
        return Route("empty", "")
    first, _, rest = stripped.partition(" ")
    if first.lower() in ("help", "/help", "帮助") and not rest.strip():
        return Route("help", "")
    if trigger != "ask" and first.lower() in _CLUSTER_WORDS:
        return Route("cluster", rest.strip())
    return Route("question", stripped)


@dataclass(frozen=True)
class AnswerOutcome:
    """A question was answered (or abstained) and recorded as ``question_id``."""

    answer: Answer
    question_id: str
    incoming: Incoming
    started: float


@dataclass(frozen=True)
class ReplyOutcome:
    """A cluster reply, help, usage or error message."""

    reply: Reply
    incoming: Incoming
    language: Language = "en"


Outcome = AnswerOutcome | ReplyOutcome


class Core:
    """The handlers every transport calls. Example (with an in-memory store):

    >>> from bot.store.db import Database
    >>> from retrieval.models import SearchResult
    >>> class Nothing:
    ...     def search(self, query, *, top_k=5):
    ...         return SearchResult(query=query, answered=False, hits=[])
    >>> core = Core(searcher=Nothing(), store=QuestionStore(Database.sqlite(":memory:")))
    >>> out = core.handle(Incoming(text="what is a pod?", user="U1", channel="D1", trigger="dm"))
    >>> out.answer.abstained
    True
    """

    def __init__(
        self,
        *,
        searcher: SearchBackend,
        store: QuestionStore | None,
        cluster: ClusterHandler | None = None,
        answer_context: AnswerContext | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.searcher = searcher
        self.store = store
        self.cluster = cluster
        self.answer_context = answer_context or AnswerContext()
        self.metrics = metrics
        self.clock = clock

    # -- entry points ------------------------------------------------------------------------
    def handle(self, incoming: Incoming) -> Outcome:
        """Route and run one message; never raises for user input or search failures."""
        started = min(incoming.received_at, self.clock())  # latency counts the wait for a worker too
        r = route(incoming.text, trigger=incoming.trigger)
        language = detect_language(incoming.text)
        if r.kind == "help":
            return ReplyOutcome(Reply(kind="help", summary=t("help", language)), incoming, language)
        if r.kind == "empty":
            return ReplyOutcome(Reply(kind="usage", summary=t("empty_question", language)), incoming, language)
        if r.kind == "cluster":
            return self._cluster(r.text, incoming, language)
        return self._question(r.text, incoming, started)

    def thread_context(self, channel: str, thread_ts: str) -> QuestionRecord | None:
        """The question firstmate answered in this thread, if any (decides follow-ups)."""
        if self.store is None:
            return None
        try:
            return self.store.thread_question(channel, thread_ts)
        except Exception as exc:
            self._error("store", exc, request_id="-")
            return None

    def more(self, question_id: str, *, offset: int, page: int = 3) -> MorePage | None:
        """The next hits for a stored question; None when the question is unknown."""
        record = self.store.get_question(question_id) if self.store is not None else None
        if record is None:
            return None
        return more_answers(record.question, searcher=self.searcher, offset=offset, page=page, context=record.context)

    def find_hit(self, question_id: str, qa_id: str) -> tuple[Hit, Language] | None:
        """The hit ``qa_id`` among a stored question's results (for "Full answer")."""
        record = self.store.get_question(question_id) if self.store is not None else None
        if record is None:
            return None
        query = search_query(record.question, record.context, max_chars=self.answer_context.max_question_chars)
        for hit in self.searcher.search(query, top_k=self.answer_context.top_k).hits:
            if hit.qa_id == qa_id:
                return hit, "zh" if record.language == "zh" else "en"
        return None

    def feedback(self, *, message_key: str, user: str, question_id: str, value: int) -> str:
        """Store a 👍/👎; returns 'inserted', 'updated' or 'unchanged'."""
        if self.store is None:
            return "unchanged"
        result = self.store.record_feedback(message_key=message_key, user_id=user, question_id=question_id, value=value)
        if self.metrics is not None:
            self.metrics.feedback.labels(value="up" if value > 0 else "down").inc()
        log.info("feedback recorded", question_id=question_id, value=value, result=result)
        return result

    def replied(self, outcome: AnswerOutcome, *, reply_ts: str | None) -> None:
        """Record where the reply went and the end-to-end latency."""
        latency = self.clock() - outcome.started
        if self.metrics is not None:
            self.metrics.answer_latency.observe(latency)
        if self.store is None:
            return
        try:
            self.store.attach_reply(outcome.question_id, reply_ts=reply_ts, latency_ms=round(latency * 1000, 1))
        except Exception as exc:
            self._error("store", exc, request_id=outcome.incoming.request_id)

    # -- internals ---------------------------------------------------------------------------
    def _question(self, text: str, incoming: Incoming, started: float) -> Outcome:
        previous = None
        if incoming.thread_ts:
            record = self.thread_context(incoming.channel, incoming.thread_ts)
            previous = record.question if record is not None else None
        ctx = replace(self.answer_context, previous_question=previous)
        try:
            result = answer(text, searcher=self.searcher, context=ctx)
        except Exception as exc:
            self._error("search", exc, request_id=incoming.request_id)
            language = detect_language(text)
            summary = t("search_failed", language, request_id=incoming.request_id)
            return ReplyOutcome(Reply(kind="error", summary=summary), incoming, language)
        if result.abstained and self.metrics is not None:
            self.metrics.abstentions.inc()
        question_id = new_request_id()
        self._record(question_id, incoming, result, started)
        log.info(
            "question answered", request_id=incoming.request_id, question_id=question_id, trigger=incoming.trigger,
            abstained=result.abstained, hits=len(result.hits), chars=len(incoming.text), language=result.language,
            follow_up=previous is not None,
        )
        return AnswerOutcome(answer=result, question_id=question_id, incoming=incoming, started=started)

    def _record(self, question_id: str, incoming: Incoming, result: Answer, started: float) -> None:
        if self.store is None:
            return
        record = QuestionRecord(
            id=question_id, asked_at=started, user_id=incoming.user, channel_id=incoming.channel,
            # The thread the reply went to; for a top-level DM, the asker's message (its thread is a follow-up too).
            thread_ts=incoming.reply_thread or incoming.ts, transport=incoming.transport, trigger=incoming.trigger,
            language=result.language, question=result.question, context=result.context,
            answered=not result.abstained, reason=result.reason,
            top_hit_ids=[h.qa_id for h in result.hits[:5]],
            session_ids=list(dict.fromkeys(h.session.id for h in result.hits[:5])),
        )
        try:
            self.store.record_question(record)
        except Exception as exc:  # the answer still goes out; the error is counted and logged
            self._error("store", exc, request_id=incoming.request_id)

    def _cluster(self, text: str, incoming: Incoming, language: Language) -> ReplyOutcome:
        if self.cluster is None:
            return ReplyOutcome(Reply(kind="error", summary=t("cluster_disabled", language)), incoming, language)
        try:
            reply = self.cluster.handle(text, channel=incoming.channel, user=incoming.user,
                                        request_id=incoming.request_id)
        except Exception as exc:
            self._error("cluster", exc, request_id=incoming.request_id)
            reply = Reply(kind="error", summary=f"cluster command failed (request {incoming.request_id})", exit_code=4)
        return ReplyOutcome(reply, incoming, language)

    def _error(self, stage: str, exc: Exception, *, request_id: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels(stage=stage).inc()
        log.error("handler error", stage=stage, request_id=request_id, error=type(exc).__name__, cause=str(exc)[:200])
