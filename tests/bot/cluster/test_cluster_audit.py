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


class Crash(BaseException):
    """Stands for the process dying mid-command (not an Exception: nothing in the service catches it)."""


class PeekingReader(RecordingReader):
    """Looks at the audit trail at the moment the cluster is read, then optionally dies."""

    def __init__(self, request_id: str, *, crash: bool = False) -> None:
        super().__init__()
        self.request_id, self.crash = request_id, crash
        self.audit: AuditLog | None = None
        self.seen: list[Any] = []

    def list(self, resource: str, *, namespace: str | None, selector: str | None = None,
             field_selector: str | None = None, max_items: int | None = None) -> Any:
        assert self.audit is not None
        self.seen.append(self.audit.get(self.request_id))
        if self.crash:
            raise Crash()
        return super().list(resource, namespace=namespace, selector=selector, field_selector=field_selector, max_items=max_items)


def test_intent_is_written_before_the_cluster_is_read(db: Database) -> None:
    reader = PeekingReader("Ev-peek")
    svc, audit, _ = service(db, Clock(), reader)
    reader.audit = audit
    assert svc.handle("get pods", channel=SHOP, user="U1", request_id="Ev-peek").exit_code == 0
    during = reader.seen[0]
    assert during is not None, "no intent row existed while the cluster was being read"
    assert (during.decision, during.outcome, during.finished_at, during.command) == ("allowed", "pending", None, "get pods")
    after = audit.get("Ev-peek")
    assert after is not None and after.outcome == "ok" and after.finished_at is not None


def test_a_crash_mid_command_reads_unknown_and_a_redelivery_adds_nothing(db: Database) -> None:
    clock = Clock()
    reader = PeekingReader("Ev-crash", crash=True)
    svc, audit, _ = service(db, clock, reader)
    reader.audit = audit
    with pytest.raises(Crash):
        svc.handle("get pods", channel=SHOP, user="U1", request_id="Ev-crash")
    assert audit.get("Ev-crash").outcome == "pending"  # type: ignore[union-attr]
    clock.now += 301
    # The process restarts: start() writes 'unknown' on the orphaned intent (no gap in the trail).
    restarted, audit2, reader2 = service(db, clock)
    restarted.start()
    record = audit2.get("Ev-crash")
    assert record is not None and record.outcome == "unknown" and record.finished_at is None
    # Slack redelivers the same event to the new process: not run again, no second record.
    again = restarted.handle("get pods", channel=SHOP, user="U1", request_id="Ev-crash")
    assert again.meta.get("duplicate") == "true" and reader2.calls == []
    assert [(r.request_id, r.outcome) for r in audit2.tail(limit=10)] == [("Ev-crash", "unknown")]


def test_audit_never_holds_describe_output(tmp_path: Path, shared_kubeconfig: Path) -> None:
    db = Database.sqlite(tmp_path / "audit.db")
    svc = ClusterService(make_settings(shared_kubeconfig), audit=AuditLog(db))
    reply = svc.handle("describe pod web-7c9d8f6b5-m4q7r", channel=SHOP, user="U1", request_id="Ev-describe")
    assert reply.exit_code == 0 and "STRIPE_API_KEY" in reply.to_text()
    dump = repr(db.fetchall("SELECT * FROM cluster_audit"))
    assert "STRIPE_API_KEY" not in dump and "web-config" not in dump and "S3cr3t" not in dump
    assert "describe pods web-7c9d8f6b5-m4q7r" in dump
