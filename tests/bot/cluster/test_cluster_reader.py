"""The real kubernetes client (through KubeReader) against the fake kube-apiserver: reads, limits, faults."""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path

import pytest
from cluster_support import make_settings
from fakes.kube_apiserver import CLUSTER_ADMIN, SSAR_PATH, TOKEN, FakeKubeApiServer

from bot.cluster.errors import ClusterUnavailable, Forbidden, NotFound, RateLimited, ServerError
from bot.cluster.models import AccessReview
from bot.cluster.reader import KubeReader
from bot.settings.cluster import ClusterSettings


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def reader_for(kubeconfig: Path, **limits: object) -> tuple[KubeReader, Sleeps]:
    sleeps = Sleeps()
    return KubeReader(make_settings(kubeconfig, limits=limits), sleep=sleeps, rng=lambda: 0.5), sleeps


def test_lists_gets_and_scrubs(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    reader, _ = reader_for(kubeconfig)
    pods = reader.list("pods", namespace="shop")
    assert [p.name for p in pods.items][:2] == ["web-7c9d8f6b5-k2x9p", "web-7c9d8f6b5-m4q7r"]
    raw = json.dumps([dict(p.raw["metadata"]) | {"spec": str(p.raw.get("spec"))} for p in pods.items], default=str)
    assert "S3cr3tPassw0rd" not in raw and "k3y-d0-n0t-l3ak" not in raw  # env values never leave the reader
    assert "managedFields" not in raw
    deploy = reader.get("deployments", namespace="shop", name="web")
    assert "kubectl.kubernetes.io/last-applied-configuration" not in deploy.raw["metadata"]["annotations"]
    cm = reader.get("configmaps", namespace="shop", name="web-config")
    assert set(cm.raw["data"]) == {"flags", "application.yaml", "LOG_FORMAT"}
    assert "hunter2-config-value" not in json.dumps(dict(cm.raw["data"]))
    assert reader.list("nodes", namespace=None).items[3].name == "node-c"
    with pytest.raises(NotFound, match="pod 'nope' not found in shop"):
        reader.get("pods", namespace="shop", name="nope")
    query = [r.query for r in kube_api.requests if r.path == "/api/v1/namespaces/shop/pods"]
    assert query[0]["limit"] == ["500"]


def test_logs_are_capped(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    reader, _ = reader_for(kubeconfig)
    log = reader.logs(namespace="shop", pod="web-7c9d8f6b5-k2x9p", tail=500)
    assert len(log.text.splitlines()) == 60  # the fixture has 60 lines; asked 500, capped to 200 server-side
    sent = next(r.query for r in kube_api.requests if r.path.endswith("/log"))
    assert sent["tailLines"] == ["200"] and sent["limitBytes"] == ["65536"]
    small, _ = reader_for(kubeconfig, log_max_bytes=1024)
    capped = small.logs(namespace="shop", pod="web-7c9d8f6b5-k2x9p", tail=200)
    assert capped.truncated and len(capped.text.encode()) <= 1024
    prev = reader.logs(namespace="shop", pod="web-7c9d8f6b5-m4q7r", previous=True, tail=3)
    assert prev.text.splitlines()[-1].endswith("FATAL runtime: out of memory")


def test_paging_and_cap(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    kube_api.add_generated_pods("bulk", 1200)
    reader, _ = reader_for(kubeconfig)
    listed = reader.list("pods", namespace="bulk")
    assert len(listed.items) == 1200 and not listed.truncated
    pages = [r.query for r in kube_api.requests if r.path == "/api/v1/namespaces/bulk/pods"]
    assert len(pages) == 3 and all(q["limit"] == ["500"] for q in pages) and "continue" in pages[1]
    capped_reader, _ = reader_for(kubeconfig, max_items=700)
    capped = capped_reader.list("pods", namespace="bulk")
    assert len(capped.items) == 700 and capped.truncated


@pytest.mark.parametrize("offer", [True, False])
def test_expired_continue_token(kube_api: FakeKubeApiServer, kubeconfig: Path, offer: bool) -> None:
    kube_api.add_generated_pods("bulk", 1200)
    reader, _ = reader_for(kubeconfig)
    original = reader._json
    calls = {"n": 0}

    def expire_after_first_page(*args: object, **kw: object) -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] == 2:
            kube_api.expire_continue_tokens(offer_inconsistent=offer)
        return original(*args, **kw)  # type: ignore[arg-type]

    reader._json = expire_after_first_page  # type: ignore[method-assign]
    listed = reader.list("pods", namespace="bulk")
    assert len(listed.items) == 1200
    statuses = [r for r in kube_api.requests if r.path == "/api/v1/namespaces/bulk/pods"]
    if offer:
        assert listed.inconsistent  # continued with the token from the 410 Status
        assert len(statuses) == 4
    else:
        assert not listed.inconsistent  # restarted from the beginning once
        assert "continue" not in statuses[2].query and len(statuses) == 5


def test_5xx_is_retried_with_backoff(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    kube_api.add_fault(r"/namespaces/shop/pods$", "500", times=2)
    reader, sleeps = reader_for(kubeconfig)
    assert len(reader.list("pods", namespace="shop").items) == 7
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]  # exponential backoff (+ jitter)
    kube_api.add_fault(r"/namespaces/shop/pods$", "500", times=None)
    with pytest.raises(ServerError, match="4 times"):
        reader.list("pods", namespace="shop")
    assert len(sleeps) == 2 + 3  # at most 3 retries


def test_429_honours_retry_after(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    kube_api.add_fault(r"/namespaces/shop/pods$", "429", times=1, retry_after=4)
    reader, sleeps = reader_for(kubeconfig)
    assert len(reader.list("pods", namespace="shop").items) == 7
    assert len(sleeps) == 1 and sleeps[0] >= 4
    kube_api.add_fault(r"/namespaces/shop/pods$", "429", times=1, retry_after=120)
    with pytest.raises(RateLimited, match="Retry-After 120s"):
        reader.list("pods", namespace="shop")


def test_slow_answer_within_timeout_and_black_hole(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    kube_api.add_fault(r"/namespaces/shop/pods$", "slow", times=1, delay=0.3)
    reader, _ = reader_for(kubeconfig)
    assert len(reader.list("pods", namespace="shop").items) == 7
    kube_api.add_fault(r"/namespaces/shop/deployments$", "blackhole", times=1)
    quick, _ = reader_for(kubeconfig, read_timeout_s=0.5)
    with pytest.raises(ClusterUnavailable, match="timed out"):
        quick.list("deployments", namespace="shop")


def test_unreachable_and_bad_credentials(kube_api: FakeKubeApiServer, tmp_path: Path) -> None:
    bad = kube_api.write_kubeconfig(tmp_path / "bad", token="wrong-token")
    reader, _ = reader_for(bad)
    with pytest.raises(Forbidden, match="credentials rejected"):
        reader.list("pods", namespace="shop")
    missing, _ = reader_for(tmp_path / "does-not-exist")
    with pytest.raises(ClusterUnavailable, match="kubeconfig"):
        missing.list("pods", namespace="shop")


def test_fake_enforces_rbac_like_a_real_server(kube_api: FakeKubeApiServer) -> None:
    """Secrets, exec and writes get 403 Status objects; the fake is honest about what it refuses."""
    ctx = ssl.create_default_context(cadata=kube_api.ca_pem)

    def call(method: str, path: str) -> tuple[int, dict[str, object]]:
        req = urllib.request.Request(kube_api.url + path, method=method, headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
                                     data=b"{}" if method in {"POST", "PUT", "PATCH"} else None)
        try:
            with urllib.request.urlopen(req, context=ctx) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    for method, path in [("GET", "/api/v1/namespaces/shop/secrets"), ("GET", "/api/v1/namespaces/shop/secrets/stripe"),
                         ("GET", "/api/v1/namespaces/shop/pods/web-7c9d8f6b5-k2x9p/exec"), ("POST", "/api/v1/namespaces/shop/pods"),
                         ("DELETE", "/api/v1/namespaces/shop/pods/web-7c9d8f6b5-k2x9p"), ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web"),
                         ("GET", "/api/v1/nodes/node-a/proxy")]:
        code, body = call(method, path)
        assert code == 403 and body["kind"] == "Status" and body["reason"] == "Forbidden", (method, path)
    code, body = call("GET", "/api/v1/namespaces/shop/pods/nope")
    assert code == 404 and body["reason"] == "NotFound"


def test_self_subject_access_review(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    reader, _ = reader_for(kubeconfig)
    answers = reader.review([AccessReview("list", "pods", namespace="shop"), AccessReview("get", "secrets", namespace="shop"),
                             AccessReview("create", "pods", subresource="exec", namespace="shop")])
    assert [a.allowed for a in answers] == [True, False, False]
    assert {r.path for r in kube_api.requests if r.method == "POST"} == {SSAR_PATH}


def test_admin_fake_allows_everything(tmp_path: Path) -> None:
    with FakeKubeApiServer(rules=CLUSTER_ADMIN) as api:
        reader, _ = reader_for(api.write_kubeconfig(tmp_path / "kc"))
        assert reader.review([AccessReview("get", "secrets", namespace="shop")])[0].allowed


def test_default_timeouts_reach_the_http_layer(kube_api: FakeKubeApiServer, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3 s to connect and 15 s to read, as urllib3 receives them from the real client (issue 5 §2)."""
    import urllib3

    seen: list[object] = []
    original = urllib3.PoolManager.urlopen

    def spy(self: urllib3.PoolManager, method: str, url: str, redirect: bool = True, **kw: object) -> object:
        seen.append(kw.get("timeout"))
        return original(self, method, url, redirect=redirect, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib3.PoolManager, "urlopen", spy)
    reader = KubeReader(ClusterSettings(kubeconfig=kubeconfig, context="fake"))
    reader.list("pods", namespace="shop")
    reader.logs(namespace="shop", pod="web-7c9d8f6b5-k2x9p")
    assert len(seen) == 2
    for timeout in seen:
        assert isinstance(timeout, urllib3.Timeout)
        assert (timeout.connect_timeout, timeout.read_timeout) == (3.0, 15.0)


def test_big_logs_are_cut_to_200_lines_and_64_kib(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    pod, container = "web-7c9d8f6b5-k2x9p", "web"
    lines = [f"{i:05d} " + "x" * 393 for i in range(1000)]  # 400 bytes a line: 200 lines = 80,000 bytes
    kube_api.logs[f"shop/{pod}/{container}"] = {"current": "\n".join(lines) + "\n", "previous": None}
    reader, _ = reader_for(kubeconfig)
    log = reader.logs(namespace="shop", pod=pod, container=container, tail=10_000)
    sent = [r.query for r in kube_api.requests if r.path.endswith(f"/{pod}/log")][-1]
    assert sent["tailLines"] == ["200"] and sent["limitBytes"] == ["65536"]
    assert log.truncated and len(log.text.encode()) <= 65536
    kept = log.text.splitlines()
    assert len(kept) <= 200 and kept[0].startswith("00800 ")  # the last 200 lines, cut at 64 KiB
    few = reader.logs(namespace="shop", pod=pod, container=container, tail=5)
    assert few.text.splitlines() == lines[-5:] and not few.truncated


def test_5xx_backoff_is_exponential_with_jitter_and_capped(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    kube_api.add_fault(r"/namespaces/shop/pods$", "500", times=None)
    jitter = iter([0.0, 1.0, 0.5])
    sleeps = Sleeps()
    limits = {"backoff_s": 0.1, "backoff_max_s": 0.3}
    reader = KubeReader(make_settings(kubeconfig, limits=limits), sleep=sleeps, rng=lambda: next(jitter))
    with pytest.raises(ServerError, match="failed \\(HTTP 500\\) 4 times"):
        reader.list("pods", namespace="shop")
    # base 0.1 · 2^attempt capped at 0.3, plus rng() · 0.1 of jitter
    assert sleeps == pytest.approx([0.1 + 0.0, 0.2 + 0.1, 0.3 + 0.05])
    arrived = [r for r in kube_api.requests if r.path == "/api/v1/namespaces/shop/pods"]
    assert len(arrived) == 4 and {r.method for r in arrived} == {"GET"}  # one try + at most 3 retries


def test_429_retries_are_bounded_too(kube_api: FakeKubeApiServer, kubeconfig: Path) -> None:
    kube_api.add_fault(r"/namespaces/shop/pods$", "429", times=None, retry_after=2)
    reader, sleeps = reader_for(kubeconfig)
    with pytest.raises(RateLimited):
        reader.list("pods", namespace="shop")
    assert len(sleeps) == 3 and all(s >= 2 for s in sleeps)
    assert len([r for r in kube_api.requests if r.path == "/api/v1/namespaces/shop/pods"]) == 4


def test_in_cluster_config_uses_the_service_account(kube_api: FakeKubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cluster.in_cluster: the pod's token and CA files and KUBERNETES_SERVICE_HOST/PORT, as in a pod."""
    from urllib.parse import urlsplit

    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text(TOKEN)
    ca.write_text(kube_api.ca_pem)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(urlsplit(kube_api.url).port))
    reader = KubeReader(ClusterSettings(in_cluster=True))
    assert len(reader.list("pods", namespace="shop").items) == 7
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(ClusterUnavailable, match="not a pod"):
        KubeReader(ClusterSettings(in_cluster=True)).list("pods", namespace="shop")


def test_the_chosen_context_is_used(kube_api: FakeKubeApiServer, tmp_path: Path) -> None:
    path = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    data = json.loads(path.read_text())
    data["clusters"].append({"name": "dead", "cluster": {"server": "https://127.0.0.1:9"}})
    data["contexts"].append({"name": "elsewhere", "context": {"cluster": "dead", "user": "firstmate"}})
    data["current-context"] = "elsewhere"
    path.write_text(json.dumps(data))
    assert len(KubeReader(ClusterSettings(kubeconfig=path, context="fake")).list("pods", namespace="shop").items) == 7
    with pytest.raises(ClusterUnavailable, match="unreachable"):  # without a context: the current one
        KubeReader(ClusterSettings(kubeconfig=path)).list("pods", namespace="shop")
    with pytest.raises(ClusterUnavailable, match="has no context 'prod'"):
        KubeReader(ClusterSettings(kubeconfig=path, context="prod")).list("pods", namespace="shop")
