"""Audit: intent before, outcome after, no output or secrets, 'unknown' after a crash, retries add nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cluster_support import SHOP, RecordingReader, make_settings

from bot.cluster.service import ClusterService, audit_text
from bot.store.audit import AuditLog
from bot.store.db import Database


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database.sqlite(tmp_path / "audit.db")
    from bot.settings.store import StoreSettings

    url = request.getfixturevalue("postgres_fresh_url")
    return Database.from_settings(StoreSettings(url=url))


def service(db: Database, clock: Clock, reader: Any = None) -> tuple[ClusterService, AuditLog, RecordingReader]:
    reader = reader or RecordingReader()
    audit = AuditLog(db, clock=clock, unknown_after_s=300)
    return ClusterService(make_settings(), audit=audit, reader=reader, clock=clock), audit, reader


def test_every_request_is_recorded_twice(db: Database) -> None:
    clock = Clock()
    svc, audit, _ = service(db, clock)
    svc.handle("get pods", channel=SHOP, user="U1", request_id="Ev-ok")
    svc.handle("get pods -n kube-system", channel=SHOP, user="U1", request_id="Ev-denied")
    svc.handle("get pods --token=s3cr3t-t0ken", channel=SHOP, user="U1", request_id="Ev-usage")
    records = {r.request_id: r for r in audit.tail(limit=10)}
    ok, denied, usage = records["Ev-ok"], records["Ev-denied"], records["Ev-usage"]
    assert (ok.decision, ok.outcome, ok.command, ok.scope, ok.rule) == ("allowed", "ok", "get pods", "shop", "channels.C0SHOP.everyone")
    assert ok.duration_ms is not None and ok.result_rows == 0 and ok.result_bytes and ok.finished_at
    assert (denied.decision, denied.outcome, denied.rule) == ("denied", "denied", "channels.C0SHOP.namespaces")
    assert (usage.decision, usage.outcome, usage.rule) == ("usage", "usage", "grammar")
    assert "s3cr3t-t0ken" not in usage.command and "<redacted>" in usage.command


def test_retried_event_adds_no_record_and_runs_once(db: Database) -> None:
    svc, audit, reader = service(db, Clock())
    first = svc.handle("get pods", channel=SHOP, user="U1", request_id="Ev-1")
    calls = len(reader.calls)
    again = svc.handle("get pods", channel=SHOP, user="U1", request_id="Ev-1")
    assert first.exit_code == 0 and again.meta.get("duplicate") == "true"
    assert len(reader.calls) == calls
    assert [r.request_id for r in audit.tail(limit=10)] == ["Ev-1"]


def test_crash_between_intent_and_outcome_reads_unknown(db: Database) -> None:
    clock = Clock()
    audit = AuditLog(db, clock=clock, unknown_after_s=300)
    audit.begin(request_id="Ev-crash", source="slack", user="U1", channel=SHOP, command="get pods", verb="get",
                scope="shop", decision="allowed", rule="channels.C0SHOP", reason="allowed")
    assert audit.get("Ev-crash").outcome == "pending"  # type: ignore[union-attr]
    clock.now += 301
    assert audit.get("Ev-crash").outcome == "unknown"  # type: ignore[union-attr]
    assert audit.sweep() == 1
    audit.finish("Ev-crash", outcome="ok", duration_ms=1)  # a late finish does not rewrite history
    assert audit.get("Ev-crash").outcome == "unknown"  # type: ignore[union-attr]


def test_audit_never_holds_output(tmp_path: Path, shared_kubeconfig: Path) -> None:
    db = Database.sqlite(tmp_path / "audit.db")
    svc = ClusterService(make_settings(shared_kubeconfig), audit=AuditLog(db))
    reply = svc.handle("logs web-7c9d8f6b5-m4q7r --previous", channel=SHOP, user="U1", request_id="Ev-logs")
    assert reply.exit_code == 0 and "FATAL" in reply.to_text()
    dump = repr(db.fetchall("SELECT * FROM cluster_audit"))
    assert "FATAL" not in dump and "hunter2" not in dump and "S3cr3t" not in dump


def test_audit_text_redacts_credentials() -> None:
    assert audit_text("get pods --token=abc --server https://x -s https://y") == "get pods --token=<redacted> --server <redacted> -s <redacted>"
    assert audit_text("get \u0455ecrets\u200b") == "get \\u0455ecrets\\u200b"
