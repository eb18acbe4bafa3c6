"""Least privilege, checked at start: unsafe credentials keep cluster commands off unless overridden."""

from __future__ import annotations

from pathlib import Path

from cluster_support import SHOP, make_settings
from fakes.kube_apiserver import CLUSTER_ADMIN, READ_ONLY, FakeKubeApiServer, Rule

from bot.cluster.selfcheck import forbidden_checks, needed_checks
from bot.cluster.service import ClusterService
from bot.store.audit import AuditLog
from bot.store.db import Database


def service_for(api: FakeKubeApiServer, tmp_path: Path, **settings: object) -> ClusterService:
    kubeconfig = api.write_kubeconfig(tmp_path / "kc")
    return ClusterService(make_settings(kubeconfig, **settings), audit=AuditLog(Database.sqlite(tmp_path / "a.db")))


def test_checks_cover_the_issue_list() -> None:
    from cluster_support import make_policy

    forbidden = {c.label() for c in forbidden_checks(make_policy())}
    for label in ("get secrets in shop", "list secrets (cluster-wide)", "create pods/exec in shop", "create pods/attach in payments",
                  "create pods/portforward in shop", "get nodes/proxy (cluster-wide)", "impersonate users (cluster-wide)",
                  "delete pods in shop", "patch deployments.apps in payments", "create * (cluster-wide)", "update nodes (cluster-wide)"):
        assert label in forbidden, label
    needed = {c.label() for c in needed_checks(make_policy())}
    assert {"list pods in shop", "get pods/log in payments", "list nodes (cluster-wide)", "list events in shop"} <= needed


def test_read_only_credentials_pass(tmp_path: Path) -> None:
    with FakeKubeApiServer() as api:
        svc = service_for(api, tmp_path)
        report = svc.start()
        assert report is not None and report.safe and not report.missing
        assert svc.handle("get pods", channel=SHOP, user="U1", request_id="r1").exit_code == 0


def test_admin_credentials_keep_commands_off(tmp_path: Path) -> None:
    with FakeKubeApiServer(rules=CLUSTER_ADMIN) as api:
        svc = service_for(api, tmp_path)
        report = svc.self_check()
        assert report.completed and not report.safe
        assert "read Secrets" in report.reason() and "write" in report.reason()
        reply = svc.handle("get pods", channel=SHOP, user="U1", request_id="r1")
        assert (reply.kind, reply.exit_code, reply.data["rule"]) == ("denied", 3, "self_check")
        assert "cluster commands are off" in reply.summary and "read Secrets" in reply.summary
        help_reply = svc.handle("help", channel=SHOP, user="U1", request_id="r2")
        assert help_reply.exit_code == 0  # help needs no cluster access
        reads = [r for r in api.requests if r.method == "GET" and "/namespaces/" in r.path]
        assert reads == [], "nothing is read while the credentials are unsafe"


def test_override_lets_unsafe_credentials_run(tmp_path: Path) -> None:
    with FakeKubeApiServer(rules=CLUSTER_ADMIN) as api:
        svc = service_for(api, tmp_path, allow_unsafe_credentials=True)
        assert svc.handle("get pods", channel=SHOP, user="U1", request_id="r1").exit_code == 0


def test_write_only_on_one_resource_is_caught(tmp_path: Path) -> None:
    rules = (*READ_ONLY, Rule(verbs=("delete",), resources=("pods",), namespaces=("payments",)))
    with FakeKubeApiServer(rules=rules) as api:
        report = service_for(api, tmp_path).self_check()
        assert [c.label() for c in report.dangerous] == ["delete pods in payments"]


def test_missing_permissions_are_reported_but_safe(tmp_path: Path) -> None:
    rules = (*tuple(r for r in READ_ONLY if "events" not in r.resources), Rule(verbs=("get", "list"), resources=tuple(r for r in READ_ONLY[0].resources if r != "events")))
    with FakeKubeApiServer(rules=rules) as api:
        report = service_for(api, tmp_path).self_check()
        assert report.safe and any(c.resource == "events" for c in report.missing)
        assert "missing" in report.reason()


def test_readiness_follows_the_self_check(tmp_path: Path) -> None:
    with FakeKubeApiServer() as api:
        svc = service_for(api, tmp_path)
        assert svc.readiness() == (False, "self-check pending")
        svc.start()
        ok, detail = svc.readiness()
        assert ok and "read-only" in detail
    with FakeKubeApiServer(rules=CLUSTER_ADMIN) as api:
        unsafe = service_for(api, tmp_path)
        unsafe.start()
        ok, detail = unsafe.readiness()
        assert not ok and "unsafe credentials" in detail
    with FakeKubeApiServer(rules=CLUSTER_ADMIN) as api:
        allowed = service_for(api, tmp_path, allow_unsafe_credentials=True)
        allowed.start()
        assert allowed.readiness()[0] is True


def test_unreachable_cluster_keeps_answers_ready(tmp_path: Path) -> None:
    missing = ClusterService(make_settings(tmp_path / "no-kubeconfig"), audit=AuditLog(Database.sqlite(tmp_path / "b.db")))
    missing.start()
    ok, detail = missing.readiness()
    assert ok and "cluster commands off" in detail
    reply = missing.handle("get pods", channel=SHOP, user="U1", request_id="r1")
    assert (reply.kind, reply.exit_code) == ("error", 4)
    assert "no-kubeconfig does not exist" in reply.summary
