"""The knowledge digest: what people asked firstmate in the period, and what needs a human.

Sections: questions asked and the share answered; questions firstmate abstained on or got 👎 on
(listed for humans to answer); the top cited sessions; feedback counts; and "From the archive",
one corpus Q&A picked for the period's most asked topic (or, in a period without questions, for
the cluster's most frequent failure).

Questions asked in direct messages are counted but never quoted in a channel digest; questions
from other channels are quoted only where the schedule's ``quote_from`` allows it, so a private
channel's questions never show up in a wider one.

Example:
    >>> _clip("a" * 300, 10)
    'aaaaaaaaa…'
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from bot.core.replies import Reply, Section
from bot.digest.models import BuiltDigest, DigestRequest
from bot.store.questions import QuestionRecord, QuestionStore
from retrieval.models import Hit, SearchBackend, SessionRef

SessionLookup = Callable[[str], SessionRef | None]
FailureHint = Callable[[], tuple[str, str] | None]

_MAX_QUESTION_CHARS = 200
_ARCHIVE_MEMORY = 20  # archive picks remembered so the same Q&A is not shown twice in a row


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


class KnowledgeDigestBuilder:
    """Builds the knowledge digest from the question store.

    ``searcher`` picks "From the archive"; ``sessions`` turns session ids into titles and dates
    (both optional: without them the digest shows ids and no archive pick). ``failure_hint``
    gives the cluster's most frequent failure signature and its corpus query, used when the
    period's questions matched no corpus session.

    Example:
        >>> from bot.store.db import Database
        >>> b = KnowledgeDigestBuilder(questions=QuestionStore(Database.sqlite(":memory:")))
        >>> b.kind
        'knowledge'
    """

    kind = "knowledge"

    def __init__(
        self,
        *,
        questions: QuestionStore,
        searcher: SearchBackend | None = None,
        sessions: SessionLookup | None = None,
        failure_hint: FailureHint | None = None,
    ) -> None:
        self.questions = questions
        self.searcher = searcher
        self.sessions = sessions
        self.failure_hint = failure_hint

    # -- facts ---------------------------------------------------------------------------------

    def _needs_human(
        self, asked: Sequence[QuestionRecord], downvoted_ids: Sequence[str]
    ) -> list[tuple[QuestionRecord, str]]:
        out: list[tuple[QuestionRecord, str]] = []
        seen: set[str] = set()
        for q in asked:
            if not q.answered:
                out.append((q, "no confident answer"))
                seen.add(q.id)
        for qid in downvoted_ids:
            if qid in seen:
                continue
            record = self.questions.get_question(qid)
            if record is not None:
                out.append((record, "👎 on the answer"))
                seen.add(qid)
        return out

    def _session_label(self, session_id: str) -> str:
        ref = self.sessions(session_id) if self.sessions else None
        if ref is None:
            return f"session {session_id}"
        return f"{ref.date.isoformat()} · {ref.title}"

    def _archive_pick(
        self, asked: Sequence[QuestionRecord], avoid: set[str]
    ) -> tuple[Hit | None, str | None, str | None]:
        """(hit, why, query): one Q&A for the most asked topic or the most frequent failure."""
        if self.searcher is None:
            return None, None, None
        query: str | None = None
        why: str | None = None
        topic: str | None = None
        by_session: Counter[str] = Counter(q.session_ids[0] for q in asked if q.session_ids)
        failure = self.failure_hint() if self.failure_hint is not None and not by_session else None
        if by_session:
            topic, count = by_session.most_common(1)[0]
            first = next(q for q in asked if q.session_ids and q.session_ids[0] == topic)
            query = first.question
            plural = "s" if count != 1 else ""
            why = f"the most asked topic this period ({count} question{plural}): {self._session_label(topic)}"
        elif failure:
            query = failure[1]
            why = f"the cluster's most frequent failure: {failure[0]}"
        elif asked:
            query = asked[0].question
            why = "this period's first question"
        if not query:
            return None, None, None
        try:
            result = self.searcher.search(query, top_k=5)
        except Exception:  # search is a nice-to-have here; the digest must still go out
            return None, None, None
        served = {hid for q in asked for hid in q.top_hit_ids[:1]}
        fresh = [h for h in result.hits if h.qa_id not in avoid and h.qa_id not in served]
        on_topic = [h for h in fresh if h.session.id == topic]
        if on_topic or fresh:
            return (on_topic or fresh)[0], why, query
        return (result.hits[0], why, query) if result.hits else (None, None, None)

    # -- build ---------------------------------------------------------------------------------

    def build(self, request: DigestRequest) -> BuiltDigest:
        start, end = request.period.start.timestamp(), request.period.end.timestamp()
        asked = self.questions.questions_between(start, end)
        feedback = self.questions.feedback_between(start, end)
        previous = request.previous or {}
        avoid = set(previous.get("archive_recent", []))

        total = len(asked)
        answered = sum(1 for q in asked if q.answered)
        ups = sum(1 for f in feedback if f.value > 0)
        downs = sum(1 for f in feedback if f.value < 0)
        downvoted = list(dict.fromkeys(f.question_id for f in feedback if f.value < 0))
        needs = self._needs_human(asked, downvoted)
        cited: Counter[str] = Counter(
            sid for q in asked if q.answered for sid in dict.fromkeys(q.session_ids[:3])
        )
        people = len({q.user_id for q in asked})
        channels = len({q.channel_id for q in asked if not q.channel_id.startswith("D")})
        latencies = [q.latency_ms for q in asked if q.latency_ms is not None]
        quiet = total == 0 and not feedback

        hit, why, _query = (None, None, None) if quiet else self._archive_pick(asked, avoid)
        recent = [str(x) for x in previous.get("archive_recent", [])]
        archive_recent = [hit.qa_id, *(x for x in recent if x != hit.qa_id)] if hit else recent
        facts: dict[str, Any] = {
            "questions": total,
            "answered": answered,
            "abstained": total - answered,
            "feedback_up": ups,
            "feedback_down": downs,
            "needs_human": [q.id for q, _ in needs],
            "top_sessions": cited.most_common(request.top_n),
            "archive_qa_id": hit.qa_id if hit else None,
            "archive_recent": archive_recent[:_ARCHIVE_MEMORY],
        }

        title = f"Knowledge digest · {request.period_label()}"
        meta = request.base_meta()
        sections: list[Section] = []
        if (late := request.late_section()) is not None:
            sections.append(late)
        if quiet:
            summary = f"{title} · all quiet: no questions and no feedback in this period."
            return BuiltDigest(
                reply=Reply(kind="digest", summary=summary, sections=sections, meta=meta, data=facts),
                facts=facts,
                quiet=True,
            )

        summary = f"{title} · {total} question{'s' if total != 1 else ''}, {_pct(answered, total)} answered"
        lines = [
            f"{total} asked by {people} {'person' if people == 1 else 'people'}"
            + (f" in {channels} channel{'s' if channels != 1 else ''}" if channels else "")
            + f"; {answered} answered ({_pct(answered, total)}), {total - answered} without a confident answer.",
        ]
        dms = sum(1 for q in asked if q.channel_id.startswith("D"))
        if dms:
            lines.append(f"{dms} came by direct message (counted, not quoted here).")
        elsewhere = sum(1 for q in asked if not q.channel_id.startswith("D") and not request.may_quote(q.channel_id))
        if elsewhere:
            lines.append(f"{elsewhere} came from other channels (counted, not quoted here).")
        if latencies:
            lines.append(f"Median time to answer: {statistics.median(latencies) / 1000:.1f} s.")
        sections.append(Section(title="Questions", body="\n".join(lines)))
        sections.append(
            Section(
                title="Feedback",
                body=f"👍 {ups} · 👎 {downs}" + ("" if feedback else " (no clicks this period)"),
            )
        )

        if needs:
            shown = [(q, why_) for q, why_ in needs if request.may_quote(q.channel_id)]
            body = [
                f"• “{_clip(q.question, _MAX_QUESTION_CHARS)}” — {why_}"
                for q, why_ in shown[: request.top_n * 2]
            ]
            hidden = len(needs) - len(body)
            if hidden:
                body.append(f"… and {hidden} more (from direct messages or other channels, or over the limit).")
            sections.append(Section(title=f"Needs a human ({len(needs)})", body="\n".join(body)))

        if cited:
            body = [
                f"{n}. {self._session_label(sid)} — cited {count}×"
                for n, (sid, count) in enumerate(cited.most_common(request.top_n), start=1)
            ]
            sections.append(Section(title="Top cited sessions", body="\n".join(body)))

        related: list[Hit] = []
        if hit is not None and why is not None:
            related.append(hit)
            sections.append(
                Section(
                    title="From the archive",
                    body=(
                        f"Picked for {why}.\n"
                        f"Q: {_clip(hit.question, 300)}\nA: {_clip(hit.answer, 600)}\n"
                        f"— {hit.session.label()} [1]"
                    ),
                )
            )
        reply = Reply(
            kind="digest", summary=summary, sections=sections, related=related, meta=meta, data=facts
        )
        return BuiltDigest(reply=reply, facts=facts, quiet=False)
