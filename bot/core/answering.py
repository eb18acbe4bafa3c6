"""From a question to a cited answer, or an honest abstention. Transport-neutral.

``answer()`` searches, picks the best hit that has an answer, numbers the citations, and notes
when the archive is old. It never returns answer text without the session it came from: when
search abstains (or every hit has an empty answer) the result is an abstention that lists the
sessions that might be related. A thread follow-up is searched together with the thread's earlier
question, because follow-ups ("and on EKS?") are rarely meaningful alone; if that finds nothing the
follow-up is searched on its own.

Example:
    >>> from retrieval.models import SearchResult
    >>> class Nothing:
    ...     def search(self, query, *, top_k=5):
    ...         return SearchResult(query=query, answered=False, hits=[], reason="no match")
    >>> answer("why is my pod pending?", searcher=Nothing()).abstained
    True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from bot.core.language import Language, detect_language, t
from bot.core.text import cut
from retrieval.models import Hit, SearchBackend, SessionRef

MAX_TOP_K = 50


@dataclass(frozen=True)
class AnswerContext:
    """What shapes an answer besides the question: the thread's earlier question and limits."""

    previous_question: str | None = None
    top_k: int = 5
    max_citations: int = 3
    max_question_chars: int = 2000
    outdated_after_years: int = 3
    today: dt.date = field(default_factory=dt.date.today)


class Citation(BaseModel):
    """One numbered source: session date · title · the question, with the link when known."""

    model_config = ConfigDict(frozen=True)

    number: int
    qa_id: str
    session: SessionRef
    question: str
    kind: str = "qa"


class Answer(BaseModel):
    """A cited answer, or an abstention with maybe-related sessions.

    Example:
        >>> a = Answer(question="q", query="q", language="en", abstained=True)
        >>> a.to_text().splitlines()[0]
        'No confident answer.'
    """

    model_config = ConfigDict(frozen=True)

    question: str = Field(description="The question as searched (cut when it was very long).")
    query: str = Field(description="What was searched: the question, with the thread's context for follow-ups.")
    language: Language
    abstained: bool
    text: str | None = Field(default=None, description="The best answer's text; None when abstained.")
    best: Hit | None = None
    citations: list[Citation] = Field(default_factory=list, description="Sources, or maybe-related when abstained.")
    hits: list[Hit] = Field(default_factory=list)
    reason: str | None = None
    context: str | None = Field(default=None, description="The earlier question used for a follow-up.")
    original_length: int | None = Field(default=None, description="Set when the question was cut for search.")
    outdated_year: int | None = Field(default=None, description="Year of the best answer's session when old.")

    def to_text(self) -> str:
        """Readable plain text (console, CLI, and Slack's notification fallback)."""
        lang = self.language
        lines: list[str] = []
        if self.original_length is not None:
            lines.append(t("long_question", lang, n=len(self.question)))
        if self.context:
            lines.append(t("followup_context", lang, question=self.context))
        if self.abstained:
            lines.append(t("no_answer", lang))
            lines.append(t("maybe_related", lang) if self.citations else t("nothing_related", lang))
        else:
            lines += [f"{t('answer_heading', lang)} [1]:", "", self.text or ""]
            if self.outdated_year is not None:
                lines += ["", t("outdated", lang, year=self.outdated_year)]
            lines += ["", f"{t('sources', lang)}:"]
        for c in self.citations:
            lines.append(citation_line(c, lang))
        return "\n".join(lines)


def citation_line(c: Citation, language: Language) -> str:
    """``[1] 2017-03-02 · title · Q: question (link)`` as plain text."""
    link = f" <{c.session.source_url}>" if c.session.source_url else ""
    return f"[{c.number}] {c.session.label()} · {t('question', language)}: {c.question}{link}"


def _citations(hits: list[Hit], limit: int) -> list[Citation]:
    return [
        Citation(number=n, qa_id=h.qa_id, session=h.session, question=h.question, kind=h.kind)
        for n, h in enumerate(hits[:limit], start=1)
    ]


def prepare_question(question: str, *, max_chars: int) -> tuple[str, int | None]:
    """Whitespace-normalised question, cut cleanly to ``max_chars``; and its original length if cut."""
    text = " ".join(question.split())
    short, was_cut = cut(text, max_chars, ellipsis="")
    return (short, len(text)) if was_cut else (text, None)


def search_query(question: str, context: str | None, *, max_chars: int = 2000) -> str:
    """What is searched for a question: the thread's earlier question first, within ``max_chars``."""
    return prepare_question(f"{context} {question}", max_chars=max_chars)[0] if context else question


def answer(question: str, *, searcher: SearchBackend, context: AnswerContext | None = None) -> Answer:
    """Search for ``question`` and build a cited answer or an abstention."""
    ctx = context or AnswerContext()
    text, original = prepare_question(question, max_chars=ctx.max_question_chars)
    language = detect_language(text)
    previous = prepare_question(ctx.previous_question, max_chars=500)[0] if ctx.previous_question else None
    query = search_query(text, previous, max_chars=ctx.max_question_chars)
    result = searcher.search(query, top_k=min(ctx.top_k, MAX_TOP_K))
    if previous and not result.answered:
        alone = searcher.search(text, top_k=min(ctx.top_k, MAX_TOP_K))
        if alone.answered:
            result, query = alone, text
    hits = list(result.hits)
    with_answer = [h for h in hits if h.answer.strip()]
    used_context = previous if query != text else None
    common = {"question": text, "query": query, "language": language, "hits": hits, "context": used_context,
              "original_length": original}
    if not result.answered or not with_answer:
        reason = result.reason or ("every candidate has an empty answer" if hits else "no match")
        return Answer(abstained=True, citations=_citations(hits, ctx.max_citations), reason=reason, **common)
    best = with_answer[0]
    ordered = [best, *[h for h in hits if h.qa_id != best.qa_id]]
    dated = best.session.kind == "session" and best.session.date_known
    age_years = (ctx.today - best.session.date).days / 365.25 if dated else 0.0
    return Answer(
        abstained=False,
        text=best.answer.strip(),
        best=best,
        citations=_citations(ordered, ctx.max_citations),
        outdated_year=best.session.date.year if age_years >= ctx.outdated_after_years else None,
        **common,
    )


class MorePage(BaseModel):
    """The next hits for a question (the "More answers" button)."""

    model_config = ConfigDict(frozen=True)

    question: str
    language: Language
    offset: int
    hits: list[Hit]
    has_more: bool


def more_answers(
    question: str, *, searcher: SearchBackend, offset: int, page: int = 3, context: str | None = None
) -> MorePage:
    """Hits ``offset``…``offset+page`` for the same query the first answer used."""
    text, _ = prepare_question(question, max_chars=AnswerContext().max_question_chars)
    query = search_query(text, context)
    want = min(offset + page + 1, MAX_TOP_K)
    result = searcher.search(query, top_k=want)
    hits = [h for h in result.hits if h.answer.strip()] if result.answered else list(result.hits)
    window = hits[offset: offset + page]
    return MorePage(
        question=text, language=detect_language(text), offset=offset, hits=window,
        has_more=len(hits) > offset + page and offset + page < MAX_TOP_K,
    )
