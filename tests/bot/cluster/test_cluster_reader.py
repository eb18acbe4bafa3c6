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
