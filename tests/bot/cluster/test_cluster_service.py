"""ClusterService end to end against the fake API server: replies, redaction, status, diagnose, only GETs."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from cluster_support import PAY, SHOP, make_settings
from fakes.kube_apiserver import SSAR_PATH, FakeKubeApiServer

from bot.cluster.service import ClusterService
from bot.store.audit import AuditLog
from bot.store.db import Database

SECRETS_IN_FIXTURES = ("S3cr3tPassw0rd", "hunter2", "k3y-d0-n0t-l3ak", "sk_live_51Hdemo", "AKIAIOSFODNN7EXAMPLE",
                       "wJalrXUtnFEMI", "MIIEpAIBAAKCAQEA", "Pa55w0rd", "eyJhbGciOiJSUzI1NiJ9", "r3disPass", "0000-1111",
                       "c2tfbGl2ZV81MUhkZW1vRE9OT1RMRUFL")
_ids = itertools.count()


@pytest.fixture(scope="module")
def service(shared_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory, hash_searcher: Any) -> ClusterService:
    db = Database.sqlite(tmp_path_factory.mktemp("svc") / "audit.db")
    return ClusterService(make_settings(shared_kubeconfig), audit=AuditLog(db), search=hash_searcher)


def run(service: ClusterService, text: str, *, channel: str = SHOP, user: str = "U0ALICE") -> Any:
    return service.handle(text, channel=channel, user=user, request_id=f"t-{next(_ids)}")


def everything(reply: Any) -> str:
    return reply.to_text() + (reply.attachment.content if reply.attachment else "") + repr(reply.data)


COMMANDS = ["get pods", "get pods -A", "get deploy -n shop", "get sts", "get ds -n payments", "get rs", "get jobs", "get cj",
            "get svc", "get ep", "get ing", "get nodes", "get ns", "get events", "get pvc", "get pv", "get hpa", "get cm",
            "describe pod web-7c9d8f6b5-m4q7r", "describe deploy web", "describe cm web-config", "describe pods -l app=cart",
            "logs web-7c9d8f6b5-m4q7r --previous", "logs deploy/web", "logs cart-6d5c7b9f4-r5h8j -c envoy", "logs -l app=cart --tail 5",
            "events", "events -A --since 1h", "events --for pod/worker-0", "top pods", "top nodes", "status", "status -A",
            "diagnose pod web-7c9d8f6b5-m4q7r", "diagnose deploy api", "diagnose sts worker", "diagnose worker-1", "help", "help logs"]


@pytest.mark.parametrize("text", COMMANDS)
def test_commands_answer_and_never_leak(service: ClusterService, text: str) -> None:
    reply = run(service, text)
    assert reply.exit_code == 0, reply.summary
    assert reply.kind in {"cluster", "help"}
    blob = everything(reply)
    for secret in SECRETS_IN_FIXTURES:
        assert secret not in blob, (text, secret)
    assert "\x1b" not in blob and "```" not in blob and "managedFields" not in blob and "last-applied-configuration" not in blob


def test_only_get_requests_reach_the_api_server(service: ClusterService, shared_kube_api: FakeKubeApiServer) -> None:
    for text in [*COMMANDS, "get secrets", "delete pod x", "get pods -n kube-system"]:
        run(service, text)
    other = {(r.method, r.path) for r in shared_kube_api.requests if r.method != "GET"}
    assert other <= {("POST", SSAR_PATH)}, other  # the self-check's reviews are the one documented exception
    assert any(method == "POST" for method, _ in other)
    assert not any("secrets" in r.path for r in shared_kube_api.requests if r.method == "GET")
    assert not any(r.query.get("watch") for r in shared_kube_api.requests)


def test_get_pods_table_and_json(service: ClusterService) -> None:
    reply = run(service, "get pods")
    assert reply.summary == "7 pods in shop"
    table = reply.sections[0].body.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {r["name"]: r for r in reply.data["rows"]}
    assert rows["web-7c9d8f6b5-m4q7r"]["status"] == "CrashLoopBackOff" and rows["web-7c9d8f6b5-m4q7r"]["ready"] == "0/1"
    assert rows["web-7c9d8f6b5-m4q7r"]["restarts"].startswith("17 (")
    assert rows["cart-6d5c7b9f4-r5h8j"]["ready"] == "2/2"
    col = table[0].index("READY")  # columns are aligned under their headers
    assert all(line[col:].split()[0] == rows[line.split()[0]]["ready"] for line in table[1:])


def test_describe_redacts_env_but_shows_refs(service: ClusterService) -> None:
    text = everything(run(service, "describe pod web-7c9d8f6b5-m4q7r"))
    assert "DATABASE_URL:  <redacted>" in text
    assert "STRIPE_API_KEY:  <set to the key 'api-key' in secret 'stripe'>" in text
    assert "FEATURE_FLAGS:  <set to the key 'flags' of config map 'web-config'>" in text
    cm = everything(run(service, "describe cm web-config"))
    assert "application.yaml" in cm and "checkout_v2" not in cm


def test_status_groups_failures(service: ClusterService) -> None:
    reply = run(service, "status")
    assert reply.summary.startswith("payments, shop: 4 nodes (1 not ready) · 9 pods, 4 failing · 3 workloads below desired replicas")
    failing = {p["name"]: p["problem"] for p in reply.data["failing"]}
    assert failing == {"web-7c9d8f6b5-m4q7r": "CrashLoopBackOff", "api-5f7b9c4d8-w8n3z": "ImagePullBackOff/ErrImagePull",
                       "worker-1": "Pending/Unschedulable", "cart-6d5c7b9f4-p9t2v": "Evicted"}
    assert reply.data["warnings"] == {"Unhealthy": 2, "Failed": 2, "BackOff": 1, "FailedScheduling": 1}
    narrow = run(service, "status", channel=PAY)  # #pay may read pods and deployments of payments only
    assert narrow.exit_code == 0 and narrow.data["nodes"] is None and narrow.data["warnings"] is None
    assert "nodes: not readable in this channel" in narrow.to_text()
    assert narrow.data["failing"] == [] and narrow.data["degraded"] == []


def test_diagnose_names_signature_and_cites_corpus(service: ClusterService) -> None:
    reply = run(service, "diagnose deploy web")
    assert reply.summary == "CrashLoopBackOff — last exit 137 OOMKilled, limit 256Mi (17 restarts, container web)"
    assert reply.data["pod"] == "web-7c9d8f6b5-m4q7r"  # the worst of the deployment's pods
    assert "logs web-7c9d8f6b5-m4q7r -n shop --previous" in reply.data["suggestions"]
    text = reply.to_text()
    assert "FATAL runtime: out of memory" in text and "password=<redacted>" in text
    assert reply.related, "diagnose appends community Q&As for the signature"
    assert all(h.session.title and h.session.date for h in reply.related)
    assert "Related community Q&A" in text
    pending = run(service, "diagnose pod worker-1")
    assert pending.summary.startswith("Pending — Unschedulable: 0/4 nodes are available")
    assert "get nodes" in pending.data["suggestions"]


def test_suggestions_follow_the_policy(service: ClusterService) -> None:
    reply = run(service, "diagnose pod web-7c9d8f6b5-m4q7r", user="U0ONCALL")
    assert reply.exit_code == 0
    narrow = run(service, "get pods web-7c9d8f6b5-m4q7r", user="U0NARROW")
    assert narrow.exit_code == 0
    denied = run(service, "diagnose pod web-7c9d8f6b5-m4q7r", user="U0NARROW")
    assert denied.kind == "denied" and denied.data == {"allowed": False, "rule": "channels.C0SHOP.users.U0NARROW.verbs",
                                                        "reason": denied.data["reason"]}


def test_cluster_errors_are_one_line(service: ClusterService) -> None:
    reply = run(service, "get pods nope")
    assert (reply.kind, reply.exit_code) == ("error", 4)
    assert reply.summary == "Cluster error: pod 'nope' not found in shop"
    assert run(service, "top pods -n payments").exit_code == 0


def test_unreachable_cluster_keeps_commands_off(tmp_path: Path) -> None:
    with FakeKubeApiServer() as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kc")
    svc = ClusterService(make_settings(kubeconfig), audit=AuditLog(Database.sqlite(tmp_path / "a.db")))
    reply = run(svc, "get pods")
    # Not a policy denial: the cluster cannot be reached to verify the credentials, so it is a cluster error.
    assert (reply.kind, reply.exit_code, reply.data["rule"], reply.data["error"]) == ("error", 4, "self_check", "ClusterUnavailable")
    assert reply.summary.startswith("Cluster error: cannot reach the cluster to verify") and "unreachable" in reply.summary
    assert "\n" not in reply.summary


def test_top_without_the_metrics_api_says_so(tmp_path: Path) -> None:
    with FakeKubeApiServer(metrics=False) as api:
        svc = ClusterService(make_settings(api.write_kubeconfig(tmp_path / "kc")), audit=AuditLog(Database.sqlite(tmp_path / "a.db")))
        reply = run(svc, "top pods")
        assert (reply.kind, reply.exit_code, reply.data["error"]) == ("error", 4, "MetricsUnavailable")
        assert "metrics API" in reply.summary and "metrics.k8s.io" in reply.summary
        assert not any("metrics.k8s.io/v1beta1" in r.path for r in api.requests)


def test_rate_limits_deny_through_the_service(shared_kubeconfig: Path, tmp_path: Path) -> None:
    from cluster_support import make_policy

    from bot.cluster.policy import RateLimit, RateLimits

    policy = make_policy().model_copy(update={"rate_limits": RateLimits(per_user=RateLimit(requests=2, per_seconds=60))})
    svc = ClusterService(make_settings(shared_kubeconfig, policy=policy), audit=AuditLog(Database.sqlite(tmp_path / "a.db")))
    assert [run(svc, "get pods").exit_code for _ in range(2)] == [0, 0]
    limited = run(svc, "get pods")
    assert (limited.kind, limited.exit_code, limited.data["rule"]) == ("denied", 3, "rate_limits.per_user")
    assert limited.summary.startswith("Denied by rate_limits.per_user: you have used 2 commands in 60s; try again in ")
    assert run(svc, "get pods", user="U0OTHER").exit_code == 0  # per user
