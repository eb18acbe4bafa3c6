"""The knowledge digest over the question store, with the real Searcher (hash embedder) for the archive pick."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from digest_helpers import MemoryPoster

from bot.digest.clock import ManualClock
from bot.digest.knowledge import KnowledgeDigestBuilder
from bot.digest.runner import DigestRunner
from bot.digest.service import session_table
from bot.settings.digest import DigestSchedule, DigestSettings
from bot.store.db import Database
from bot.store.outbox import OutboxStore
from bot.store.questions import QuestionRecord, QuestionStore

UTC = dt.UTC
SLOT = dt.datetime(2024, 3, 11, 1, 0, tzinfo=UTC)  # Monday 09:00 CST; the period is Sun 09:00 → Mon 09:00
IN_PERIOD = SLOT - dt.timedelta(hours=5)


def schedule(all_quiet: str | None = None, *, quote_from: list[str] | None = None) -> DigestSchedule:
    return DigestSchedule(
        kind="knowledge",
        channel="C0TEAM001",
        cron="0 9 * * *",
        timezone="Asia/Shanghai",
        all_quiet=all_quiet,  # type: ignore[arg-type]
        quote_from=quote_from or [],
    )


def entries_by_session(searcher: Any) -> dict[str, list[Any]]:
    table: dict[str, list[Any]] = {}
    for entry in searcher.index.entries:
        table.setdefault(entry.session_id, []).append(entry)
    return table


def ask(
    store: QuestionStore,
    searcher: Any,
    qid: str,
    text: str,
    *,
    at: dt.datetime,
    answered: bool = True,
    channel: str = "C0TEAM001",  # the digest's own channel: its questions may be quoted there
    user: str = "U1",
    session: int = 0,
) -> QuestionRecord:
    """Store a question answered from the ``session``-th corpus session (by id order), or abstained."""
    sessions = entries_by_session(searcher)
    sid = sorted(sessions)[session]
    cited = sessions[sid][:2]
    record = QuestionRecord(
        id=qid,
        asked_at=at.timestamp(),
        user_id=user,
        channel_id=channel,
        transport="slack",
        trigger="mention",
        language="zh",
        question=text,
        answered=answered,
        reason=None if answered else "low coverage",
        top_hit_ids=[e.id for e in cited] if answered else [],
        session_ids=[sid] if answered else [],
        latency_ms=1200.0,
    )
    store.record_question(record)
    return record


@pytest.fixture
def runner_parts(
    sqlite_db: Database, hash_searcher: Any
) -> tuple[QuestionStore, MemoryPoster, ManualClock, DigestRunner]:
    store = QuestionStore(sqlite_db)
    builder = KnowledgeDigestBuilder(
        questions=store, searcher=hash_searcher, sessions=session_table(hash_searcher).get
    )
    poster = MemoryPoster()
    clock = ManualClock(SLOT + dt.timedelta(seconds=30))
    runner = DigestRunner(
        outbox=OutboxStore(sqlite_db),
        poster=poster,
        builders={"knowledge": builder},
        clock=clock,
        settings=DigestSettings(),
    )
    return store, poster, clock, runner


def test_knowledge_digest_counts_lists_and_cites(runner_parts: Any, hash_searcher: Any) -> None:
    store, poster, _clock, runner = runner_parts
    q1 = ask(store, hash_searcher, "q1", "Pod 一直 CrashLoopBackOff 怎么排查？", at=IN_PERIOD, user="U1")
    ask(
        store,
        hash_searcher,
        "q2",
        "Pod 一直 CrashLoopBackOff 是内存不够吗？",
        at=IN_PERIOD + dt.timedelta(minutes=5),
        user="U2",
    )
    ask(
        store,
        hash_searcher,
        "q3",
        "Kubernetes 调度器如何选择节点？",
        at=IN_PERIOD + dt.timedelta(minutes=9),
        user="U2",
        session=1,
    )
    ask(
        store,
        hash_searcher,
        "q4",
        "how do I rotate the ingress TLS cert for acme-corp?",
        at=IN_PERIOD,
        answered=False,
        user="U3",
    )
    ask(
        store,
        hash_searcher,
        "q5",
        "my private question in a DM",
        at=IN_PERIOD,
        answered=False,
        channel="D0DM00001",
        user="U4",
    )
    ask(store, hash_searcher, "old", "asked last week", at=SLOT - dt.timedelta(days=7))  # outside the period
    ask(store, hash_searcher, "late", "asked after the slot", at=SLOT + dt.timedelta(seconds=10))
    t = IN_PERIOD.timestamp() + 600
    store.record_feedback(message_key="C0ASK0001:1.1", user_id="U9", question_id="q1", value=1, now=t)
    store.record_feedback(message_key="C0ASK0001:1.2", user_id="U9", question_id="q3", value=-1, now=t)
    store.record_feedback(message_key="C0ASK0001:1.2", user_id="U8", question_id="q3", value=-1, now=t)

    outcome = runner.run(schedule())
    assert outcome.status == "posted"
    reply = poster.messages[0].reply
    text = reply.to_text()
    assert "5 questions, 60% answered" in reply.summary
    assert "5 asked by 4 people in 1 channel; 3 answered (60%), 2 without a confident answer." in text
    assert "1 came by direct message (counted, not quoted here)." in text
    assert "Median time to answer: 1.2 s." in text
    assert "👍 1 · 👎 2" in text
    needs = text.split("Needs a human (3)", 1)[1].split("\n\n", 1)[0]
    assert "rotate the ingress TLS cert" in needs and "no confident answer" in needs
    assert "Kubernetes 调度器如何选择节点" in needs and "👎 on the answer" in needs
    assert "private question" not in text  # DMs are never quoted in a channel
    assert "asked last week" not in text and "asked after the slot" not in text
    top = text.split("Top cited sessions", 1)[1].split("\n\n", 1)[0]
    first_session = session_table(hash_searcher)[q1.session_ids[0]]
    assert f"1. {first_session.date.isoformat()} · {first_session.title} — cited 2×" in top
    assert "From the archive" in text and "most asked topic this period (2 questions)" in text
    [archive] = reply.related
    assert archive.qa_id not in {q1.top_hit_ids[0]}  # something they did not already see
    assert archive.session.title and archive.session.date
    assert reply.meta["digest_id"] == outcome.digest_id and reply.meta["late"] == "false"


@pytest.mark.parametrize(
    ("quote_from", "quoted"),
    [
        ([], {"team question"}),
        (["C0PUB0001"], {"team question", "public question"}),
        (["*"], {"team question", "public question", "private question"}),
    ],
)
def test_questions_from_other_channels_are_quoted_only_where_allowed(
    runner_parts: Any, hash_searcher: Any, quote_from: list[str], quoted: set[str]
) -> None:
    store, poster, _clock, runner = runner_parts
    asked = {"team question": "C0TEAM001", "public question": "C0PUB0001", "private question": "C0SECRET1"}
    for n, (text, channel) in enumerate(asked.items()):
        ask(store, hash_searcher, f"q{n}", text, at=IN_PERIOD, answered=False, channel=channel, user=f"U{n}")
    ask(
        store,
        hash_searcher,
        "dm",
        "dm question",
        at=IN_PERIOD,
        answered=False,
        channel="D0DM00001",
        user="U9",
    )

    assert runner.run(schedule(quote_from=quote_from)).status == "posted"
    text = poster.messages[0].reply.to_text()
    assert "4 asked by 4 people in 3 channels" in text
    assert "1 came by direct message (counted, not quoted here)." in text
    elsewhere = 3 - len(quoted)
    assert (f"{elsewhere} came from other channels (counted, not quoted here)." in text) == (elsewhere > 0)
    needs = text.split("Needs a human (4)", 1)[1].split("\n\n", 1)[0]
    for text_, _channel in asked.items():
        assert (f"“{text_}”" in needs) == (text_ in quoted), text_
    assert "dm question" not in text
    assert f"… and {4 - len(quoted)} more" in needs


@pytest.mark.parametrize(("all_quiet", "posted"), [("post", 1), ("skip", 0)])
def test_empty_period_is_all_quiet_or_silent(runner_parts: Any, all_quiet: str, posted: int) -> None:
    _store, poster, clock, runner = runner_parts
    outcome = runner.run(schedule(all_quiet))
    assert outcome.status == ("posted" if posted else "skipped")
    assert len(poster.messages) == posted
    if posted:
        reply = poster.messages[0].reply
        assert "all quiet: no questions and no feedback" in reply.summary
        assert reply.sections == [] and reply.related == []  # short
    clock.advance(dt.timedelta(days=1))
    assert runner.run(schedule(all_quiet)).status == ("posted" if posted else "skipped")


def test_archive_pick_falls_back_to_the_clusters_most_frequent_failure(
    sqlite_db: Database, hash_searcher: Any
) -> None:
    store = QuestionStore(sqlite_db)
    ask(store, hash_searcher, "q1", "something nobody archived", at=IN_PERIOD, answered=False)
    builder = KnowledgeDigestBuilder(
        questions=store,
        searcher=hash_searcher,
        failure_hint=lambda: ("OOMKilled", "OOMKilled 内存 限制 limit 容器 被杀 重启"),
    )
    poster = MemoryPoster()
    runner = DigestRunner(
        outbox=OutboxStore(sqlite_db),
        poster=poster,
        builders={"knowledge": builder},
        clock=ManualClock(SLOT),
        settings=DigestSettings(),
    )
    assert runner.run(schedule()).status == "posted"
    text = poster.messages[0].reply.to_text()
    assert "the cluster's most frequent failure: OOMKilled" in text
    assert len(poster.messages[0].reply.related) == 1
