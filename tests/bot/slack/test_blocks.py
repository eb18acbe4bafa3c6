"""Block Kit rendering: Slack's limits, escaping, neutralised mentions, clean cuts, both languages."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.answering import Answer, AnswerContext, MorePage, answer
from bot.core.replies import Attachment, Reply, Section
from bot.slack import blocks as kit
from retrieval.models import Hit, SearchResult, SessionRef


def _hit(n: int, answer_text: str = "Use kubectl describe pod to see the events.", *, year: int = 2017,
         url: str | None = None) -> Hit:
    return Hit(rank=n, score=1.0 / n, qa_id=f"qa-{n}",
               session=SessionRef(id=f"s-{n}", date=dt.date(year, 3, n), title=f"Session {n} 调度", source_url=url),
               question=f"Question {n} about pods?", answer=answer_text)


class Fixed:
    def __init__(self, hits: list[Hit], *, answered: bool = True) -> None:
        self.hits, self.answered = hits, answered

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        return SearchResult(query=query, answered=self.answered, hits=self.hits[:top_k])


def _texts(message: kit.Message) -> list[str]:
    out = []
    for block in message.blocks:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out += [e["text"] for e in block["elements"]]
    return out


def _within_limits(message: kit.Message) -> None:
    assert len(message.blocks) <= kit.MAX_BLOCKS
    assert len(message.text) <= kit.MAX_FALLBACK
    for text in _texts(message):
        assert len(text.encode("utf-16-le")) // 2 <= kit.MAX_SECTION
    for block in message.blocks:
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= kit.MAX_BUTTON_TEXT and len(element["value"]) <= 2000


def test_answer_message_layout_in_english() -> None:
    a = answer("How do I debug a pending pod?", searcher=Fixed([_hit(1, url="https://dockone.io/article/1"), _hit(2)]),
               context=AnswerContext(today=dt.date(2025, 1, 1)))
    message = kit.render_answer(a, question_id="q1")
    texts = "\n".join(_texts(message))
    assert "*Best answer from the community archive* [1]" in texts
    assert "[1] 2017-03-01 · <https://dockone.io/article/1|Session 1 调度> · Q: Question 1 about pods?" in texts
    assert "[2] 2017-03-02 · Session 2 调度" in texts
    assert "Archive from 2017; may be outdated." in texts
    actions = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    assert [e["action_id"] for e in actions] == [kit.ACTION_UP, kit.ACTION_DOWN, kit.ACTION_MORE]
    assert json.loads(actions[2]["value"]) == {"q": "q1", "o": 1}
    assert "Best answer" in message.text and "[1]" in message.text
    _within_limits(message)


def test_recent_sessions_carry_no_outdated_note_and_chinese_questions_get_chinese_words() -> None:
    a = answer("pod 一直 Pending 怎么办", searcher=Fixed([_hit(1, year=2024)]), context=AnswerContext(today=dt.date(2025, 1, 1)))
    texts = "\n".join(_texts(kit.render_answer(a, question_id="q")))
    assert "社区问答中的最佳答案" in texts and "出处" in texts and "存档" not in texts


def test_abstention_has_no_answer_text_and_no_more_button() -> None:
    a = answer("weather in Paris", searcher=Fixed([_hit(1, "Sunny answer")], answered=False))
    message = kit.render_answer(a, question_id="q")
    texts = "\n".join(_texts(message))
    assert "No confident answer." in texts and "might be related" in texts
    assert "Sunny answer" not in texts
    actions = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    assert [e["action_id"] for e in actions] == [kit.ACTION_UP, kit.ACTION_DOWN]


def test_a_huge_answer_is_cut_cleanly_with_a_full_answer_button() -> None:
    long_answer = "调度器会根据节点资源选择合适的节点。" * 600 + "😀" * 500
    a = answer("pod 调度", searcher=Fixed([_hit(1, long_answer)]))
    message = kit.render_answer(a, question_id="q")
    _within_limits(message)
    first = _texts(message)[0]
    assert first.endswith("…") and "（答案已截短）" in "\n".join(_texts(message))
    assert kit.ACTION_FULL in json.dumps(message.blocks)
    full = kit.render_full(a.best, language="zh")  # type: ignore[arg-type]
    _within_limits(full)
    assert "".join(_texts(full)[1:]) == kit.escape(long_answer)  # every character, over several sections
    assert len(full.blocks) > 2 and full.attachment is None


def test_escaping_and_mentions_are_neutralised_everywhere() -> None:
    evil = "<!channel> a & b <script> <@U123|boss> <!here|here> @everyone <!subteam^S1|@ops>"
    hit = Hit(rank=1, score=1, qa_id="qa", session=SessionRef(id="s", date=dt.date(2016, 1, 1), title="<!here>"),
              question="<@U999> ?", answer=evil)
    a = answer("q", searcher=Fixed([hit]))
    for message in (kit.render_answer(a, question_id="q", asker="U0ASKER"), kit.render_full(hit, language="en"),
                    kit.render_more(MorePage(question="<!channel>", language="en", offset=1, hits=[hit], has_more=False),
                                    question_id="q")):
        raw = json.dumps(message.blocks, ensure_ascii=False) + message.text
        for dangerous in ("<!channel>", "<!here", "<@U123", "<@U999>", "<script>", "<!subteam", "@everyone"):
            assert dangerous not in raw
        assert "&amp;" in raw
    assert kit.safe(evil).startswith("@\u200bchannel a &amp; b &lt;script&gt; @\u200bU123")


def test_cluster_reply_renders_code_blocks_and_moves_long_output_to_a_file() -> None:
    table = "\n".join(f"pod-{n:04d}   1/1   Running   0   5d" for n in range(3000))
    reply = Reply(kind="cluster", summary="3000 pods in shop", sections=[Section(title="Pods", body=table, monospace=True)],
                  attachment=Attachment(filename="pods.txt", title="pods", content=table))
    message = kit.render_reply(reply)
    _within_limits(message)
    assert message.attachment is not None and message.attachment.filename == "pods.txt"
    assert _texts(message)[1].startswith("*Pods*\n```pod-0000")
    assert all(t.endswith("```") for t in _texts(message)[1:-1])
    short = kit.render_reply(Reply(kind="denied", summary="denied by rule channel:C1 verbs", sections=[
        Section(body="```sneaky``` & <!channel>", monospace=True)]))
    assert "<!channel>" not in json.dumps(short.blocks) and "``````" not in json.dumps(short.blocks)
    assert short.attachment is None


def test_the_digest_poster_can_unpack_blocks_and_text() -> None:
    blocks, text, *_ = kit.render_reply(Reply(kind="digest", summary="Weekly digest"))
    assert blocks[0]["type"] == "section" and text == "Weekly digest"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=4000), st.integers(min_value=20, max_value=3000))
def test_fit_never_exceeds_the_limit_and_keeps_a_prefix(text: str, limit: int) -> None:
    fitted, was_cut = kit.fit(text, limit)
    assert len(fitted.encode("utf-16-le")) // 2 <= limit
    if not was_cut:
        assert fitted == kit.safe(text)
    else:
        assert fitted.endswith("…")
        body = fitted[:-1].rstrip()
        assert kit.safe(text).startswith(body)


def test_no_cut_splits_an_emoji_sequence_or_a_combining_mark() -> None:
    family = "👨\u200d👩\u200d👧"
    text = ("e\u0301" + family) * 200
    for limit in range(20, 60):
        fitted, _ = kit.fit(text, limit)
        body = fitted.rstrip("…").rstrip()
        assert not body.endswith("\u200d") and not body.endswith("e")
        assert body.count("👨") == body.count("👧")


def test_more_page_numbers_continue_and_offer_more_while_there_is_more() -> None:
    page = MorePage(question="q", language="en", offset=1, hits=[_hit(2), _hit(3), _hit(4)], has_more=True)
    message = kit.render_more(page, question_id="q1")
    texts = "\n".join(_texts(message))
    assert "[2] " in texts and "[4] " in texts and "[1] " not in texts
    assert json.loads(message.blocks[-1]["elements"][0]["value"]) == {"q": "q1", "o": 4}
    empty = kit.render_more(MorePage(question="q", language="zh", offset=4, hits=[], has_more=False), question_id="q1")
    assert "没有更多答案" in empty.text


def test_answer_is_a_typed_model() -> None:
    a = Answer(question="q", query="q", language="en", abstained=True)
    assert kit.render_answer(a, question_id="x").blocks[0]["type"] == "section"
