"""answer(): cited answers, abstentions, follow-up context, long questions, outdated notes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.core.answering import AnswerContext, answer, more_answers
from retrieval.models import Hit, SearchResult, SessionRef


def _hit(n: int, text: str = "answer text", *, year: int = 2017) -> Hit:
    return Hit(rank=n, score=1.0 / n, qa_id=f"qa-{n}", question=f"question {n}", answer=text,
               session=SessionRef(id=f"s-{n}", date=dt.date(year, 1, n), title=f"title {n}"))


class Recording:
    """A backend that answers when the query contains ``needle`` and records every query."""

    def __init__(self, hits: list[Hit], *, needle: str | None = None, poison: str | None = None) -> None:
        self.hits, self.needle, self.poison = hits, needle, poison
        self.queries: list[tuple[str, int]] = []

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        self.queries.append((query, top_k))
        ok = (self.needle is None or self.needle in query) and not (self.poison and self.poison in query)
        return SearchResult(query=query, answered=ok, hits=self.hits[:top_k], reason=None if ok else "no match")


def test_answer_cites_numbered_sessions_and_picks_the_first_non_empty_answer() -> None:
    backend = Recording([_hit(1, "  "), _hit(2, "the real answer"), _hit(3)])
    a = answer("why is my pod pending?", searcher=backend, context=AnswerContext(today=dt.date(2025, 6, 1)))
    assert not a.abstained and a.text == "the real answer"
    assert a.best is not None and a.best.qa_id == "qa-2"
    assert [(c.number, c.qa_id) for c in a.citations] == [(1, "qa-2"), (2, "qa-1"), (3, "qa-3")]
    assert a.outdated_year == 2017 and a.language == "en"
    assert "[1] 2017-01-02 · title 2 · Q: question 2" in a.to_text()


def test_abstains_when_search_abstains_or_every_answer_is_empty() -> None:
    a = answer("weather?", searcher=Recording([_hit(1)], needle="never"))
    assert a.abstained and a.text is None and a.reason == "no match"
    assert [c.qa_id for c in a.citations] == ["qa-1"]  # maybe related
    empty = answer("q", searcher=Recording([_hit(1, ""), _hit(2, " ")]))
    assert empty.abstained and empty.reason == "every candidate has an empty answer"
    nothing = answer("q", searcher=Recording([], needle="never"))
    assert nothing.abstained and "Nothing in the archive" in nothing.to_text()


def test_follow_up_searches_with_the_earlier_question_then_alone() -> None:
    backend = Recording([_hit(1)], needle="NodeSelector")
    a = answer("and on EKS?", searcher=backend, context=AnswerContext(previous_question="NodeSelector 怎么用"))
    assert backend.queries[0][0] == "NodeSelector 怎么用 and on EKS?"
    assert not a.abstained and a.context == "NodeSelector 怎么用"
    fallback = Recording([_hit(1)], needle="Calico", poison="unrelated")
    b = answer("Calico 网络?", searcher=fallback, context=AnswerContext(previous_question="unrelated earlier"))
    assert [q for q, _ in fallback.queries] == ["unrelated earlier Calico 网络?", "Calico 网络?"]
    assert not b.abstained and b.context is None and b.query == "Calico 网络?"


def test_a_long_question_is_cut_for_search_and_says_so() -> None:
    backend = Recording([_hit(1)])
    a = answer("pod " * 5000, searcher=backend, context=AnswerContext(max_question_chars=300))
    assert len(backend.queries[0][0]) <= 300 and a.original_length == len(("pod " * 5000).strip())
    assert "first" in a.to_text().splitlines()[0]


def test_more_answers_pages_past_the_best_answer() -> None:
    backend = Recording([_hit(n) for n in range(1, 9)])
    page = more_answers("q", searcher=backend, offset=1, page=3)
    assert [h.qa_id for h in page.hits] == ["qa-2", "qa-3", "qa-4"] and page.has_more
    last = more_answers("q", searcher=backend, offset=7, page=3)
    assert [h.qa_id for h in last.hits] == ["qa-8"] and not last.has_more


def test_a_note_is_cited_as_a_note_and_never_called_outdated() -> None:
    note = Hit(rank=1, score=1.0, qa_id="doc-1", kind="doc", question="dockerfile中的tini", answer="tini 是 PID 1",
               session=SessionRef(id="note:002.txt", date=dt.date(1970, 1, 1), title="制作镜像 › tini",
                                  kind="note", date_known=False))
    a = answer("tini 是什么?", searcher=Recording([note]), context=AnswerContext(today=dt.date(2026, 1, 1)))
    assert not a.abstained and a.outdated_year is None
    assert "[1] note · 制作镜像 › tini (undated)" in a.to_text() and "1970" not in a.to_text()


def test_with_the_real_searcher(hash_searcher: Any) -> None:
    good = answer("Prometheus 监控 Kubernetes", searcher=hash_searcher)
    assert not good.abstained and good.citations and good.language == "zh"
    assert good.text == good.best.answer.strip()  # type: ignore[union-attr]
    bad = answer("What is the weather in Paris", searcher=hash_searcher)
    assert bad.abstained and bad.text is None
