"""The questions/feedback/dedup store, on SQLite (WAL) and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings.store import StoreSettings
from bot.store.db import Database
from bot.store.questions import QuestionRecord, QuestionStore

Opener = Callable[[], Database]


@pytest.fixture(params=["sqlite", "postgres"])
def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """A function that opens (again) the same database: a restart is a second call."""
    opened: list[Database] = []
    if request.param == "sqlite":
        settings = StoreSettings(data_dir=tmp_path / "data")
    else:
        url = request.getfixturevalue("postgres_fresh_url")
        settings = StoreSettings(url=SecretStr(url))

    def opener() -> Database:
        db = Database.from_settings(settings)
        opened.append(db)
        return db

    yield opener
    for db in opened:
        db.close()


def _question(qid: str, *, at: float, channel: str = "C1", thread: str | None = "100.1", answered: bool = True,
              question: str = "pod 一直 Pending 怎么办") -> QuestionRecord:
    return QuestionRecord(
        id=qid, asked_at=at, user_id="U1", channel_id=channel, thread_ts=thread, transport="slack",
        trigger="mention", language="zh", question=question, answered=answered,
        reason=None if answered else "no match", top_hit_ids=["qa-1", "qa-2"], session_ids=["s-1"],
    )


def test_sqlite_uses_wal_in_the_data_folder(tmp_path: Path) -> None:
    db = Database.from_settings(StoreSettings(data_dir=tmp_path / "data"))
    QuestionStore(db)
    assert (tmp_path / "data" / "firstmate.db").exists()
    assert db.fetchone("PRAGMA journal_mode") == ("wal",)
    db.close()


def test_questions_round_trip_and_survive_a_restart(open_db: Opener) -> None:
    store = QuestionStore(open_db())
    store.record_question(_question("q1", at=1000.0))
    store.record_question(_question("q1", at=1000.0, question="a replay changes nothing"))
    store.attach_reply("q1", reply_ts="100.2", latency_ms=850.5)
    store.db.close()

    again = QuestionStore(open_db())  # a new process opening the same database
    record = again.get_question("q1")
    assert record is not None
    assert record.question == "pod 一直 Pending 怎么办"
    assert (record.user_id, record.channel_id, record.answered) == ("U1", "C1", True)
    assert record.top_hit_ids == ["qa-1", "qa-2"] and record.session_ids == ["s-1"]
    assert record.reply_ts == "100.2" and record.latency_ms == pytest.approx(850.5)
    assert again.count_questions() == 1


def test_thread_lookup_by_root_or_by_reply(open_db: Opener) -> None:
    store = QuestionStore(open_db())
    store.record_question(_question("first", at=10.0, thread="200.1"))
    store.record_question(_question("later", at=20.0, thread="200.1", question="follow-up"))
    store.record_question(_question("dm", at=30.0, channel="D1", thread=None))
    store.attach_reply("dm", reply_ts="300.5")
    found = store.thread_question("C1", "200.1")
    assert found is not None and found.id == "first"
    by_reply = store.thread_question("D1", "300.5")
    assert by_reply is not None and by_reply.id == "dm"
    assert store.thread_question("C1", "999.9") is None
    assert store.thread_question("C2", "200.1") is None


def test_questions_between_is_a_half_open_period(open_db: Opener) -> None:
    store = QuestionStore(open_db())
    for n, at in enumerate((100.0, 200.0, 300.0)):
        store.record_question(_question(f"q{n}", at=at, answered=n != 1))
    got = store.questions_between(100.0, 300.0)
    assert [q.id for q in got] == ["q0", "q1"]
    assert [q.answered for q in got] == [True, False]


def test_feedback_is_one_row_per_message_and_user(open_db: Opener) -> None:
    store = QuestionStore(open_db())
    key = "C1:100.2"
    assert store.record_feedback(message_key=key, user_id="U1", question_id="q1", value=1, now=10.0) == "inserted"
    assert store.record_feedback(message_key=key, user_id="U1", question_id="q1", value=1, now=11.0) == "unchanged"
    assert store.record_feedback(message_key=key, user_id="U1", question_id="q1", value=-1, now=12.0) == "updated"
    assert store.record_feedback(message_key=key, user_id="U2", question_id="q1", value=1, now=13.0) == "inserted"
    rows = store.feedback_for(key)
    assert [(r.user_id, r.value) for r in rows] == [("U1", -1), ("U2", 1)]
    assert rows[0].created_at == 10.0 and rows[0].updated_at == 12.0
    assert [r.user_id for r in store.feedback_between(12.0, 13.0)] == ["U1"]
    with pytest.raises(ValueError):
        store.record_feedback(message_key=key, user_id="U3", question_id="q1", value=0)


def test_event_claims_deduplicate_and_expire_only_when_unfinished(open_db: Opener) -> None:
    store = QuestionStore(open_db())
    assert store.claim_event("Ev1", owner="a", lease_s=60, now=1000.0)
    assert not store.claim_event("Ev1", owner="b", lease_s=60, now=1010.0)  # a retry while a works
    assert store.claim_event("Ev1", owner="b", lease_s=60, now=1100.0)  # a died: b takes over
    store.finish_event("Ev1", now=1101.0)
    assert not store.claim_event("Ev1", owner="c", lease_s=60, now=5000.0)  # done is done
    assert store.purge_events(older_than_s=100.0, now=5000.0) == 1
    assert store.claim_event("Ev1", owner="c", lease_s=60, now=5001.0)


def test_concurrent_claims_let_exactly_one_win(open_db: Opener) -> None:
    """Eight replicas receive the same delivery at once: one answers."""
    store = QuestionStore(open_db())
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def replica(name: str) -> None:
        barrier.wait()
        if store.claim_event("EvRace", owner=name, lease_s=60):
            wins.append(name)

    threads = [threading.Thread(target=replica, args=(f"r{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
