"""The runtime's /metrics counts cluster commands by decision, and /readyz carries the cluster self-check.

Built the way `firstmate serve` builds it (``bot.core.runtime.build_runtime`` loads the cluster
feature with the process's Metrics), then served by the real observability web app.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from fakes.kube_apiserver import CLUSTER_ADMIN, FakeKubeApiServer

from bot.config import Settings
from bot.core.runtime import build_runtime
from bot.web import WebServer, observability_app
from retrieval.models import SearchResult


class NoIndex:
    """A searcher that answers nothing (this test is about the cluster feature)."""

    def warm_up(self) -> None:
        return None

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        return SearchResult(query=query, answered=False, hits=[])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def settings_for(kubeconfig: Path, tmp_path: Path) -> Settings:
    data = {
        "store": {"data_dir": str(tmp_path / "data")},
        "cluster": {
            "kubeconfig": str(kubeconfig), "context": "fake",
            "limits": {"read_timeout_s": 3, "connect_timeout_s": 2},
            "policy": {"channels": {"C0SHOP": {"namespaces": ["shop"], "default_namespace": "shop"}}},
        },
    }
    path = tmp_path / "firstmate.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return Settings.load(config_file=path)


def counter(text: str, verb: str, decision: str) -> float:
    match = re.search(rf'^firstmate_cluster_commands_total{{decision="{decision}",verb="{verb}"}} ([0-9.]+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_cluster_commands_by_decision(kube_api: FakeKubeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    runtime = build_runtime(settings_for(kubeconfig, tmp_path), searcher=NoIndex())
    server = WebServer(observability_app(health=runtime.health, metrics=runtime.metrics), host="127.0.0.1", port=0).start()
    try:
        cluster = runtime.core.cluster
        assert cluster is not None, "build_runtime did not load the cluster feature"
        replies = [cluster.handle(text, channel="C0SHOP", user="U1", request_id=f"Ev{i}")
                   for i, text in enumerate(["get pods", "get pods", "get pods -n kube-system", "get secrets", "get pods nope"])]
        assert [r.exit_code for r in replies] == [0, 0, 3, 2, 4]
        status, text = _get(server.url + "/metrics")
        assert status == 200
        assert counter(text, "get", "allowed") == 2
        assert counter(text, "get", "denied") == 1
        assert counter(text, "invalid", "usage") == 1
        assert counter(text, "get", "error") == 1
        assert re.search(r'^firstmate_cluster_command_seconds_count\{verb="get"\} 4\.0$', text, re.M)

        status, body = _get(server.url + "/readyz")
        check = json.loads(body)["checks"]["cluster"]
        assert check["ok"] is True and "read-only" in check["detail"], check
    finally:
        server.stop()
        runtime.close()


def test_readyz_is_not_ready_with_unsafe_credentials(tmp_path: Path) -> None:
    with FakeKubeApiServer(rules=CLUSTER_ADMIN) as api:
        runtime = build_runtime(settings_for(api.write_kubeconfig(tmp_path / "kc"), tmp_path), searcher=NoIndex())
        try:
            cluster = runtime.core.cluster
            assert cluster is not None
            reply = cluster.handle("get pods", channel="C0SHOP", user="U1", request_id="Ev-unsafe")
            assert (reply.kind, reply.exit_code) == ("denied", 3)
            ok, checks = runtime.health.ready()
            assert not ok and checks["cluster"]["ok"] is False
            assert "unsafe credentials" in checks["cluster"]["detail"]
            assert counter(runtime.metrics.render().decode(), "get", "denied") == 1
        finally:
            runtime.close()


def test_unconfigured_cluster_keeps_the_pod_ready_and_counts_errors(tmp_path: Path) -> None:
    runtime = build_runtime(settings_for(tmp_path / "no-such-kubeconfig", tmp_path), searcher=NoIndex())
    try:
        cluster = runtime.core.cluster
        assert cluster is not None
        reply = cluster.handle("get pods", channel="C0SHOP", user="U1", request_id="Ev-off")
        assert (reply.kind, reply.exit_code) == ("error", 4)
        assert "no-such-kubeconfig does not exist" in reply.summary
        _, checks = runtime.health.ready()  # the index and Slack checks are not part of this test
        assert checks["cluster"]["ok"] is True and "off" in checks["cluster"]["detail"]
        assert counter(runtime.metrics.render().decode(), "get", "error") == 1
    finally:
        runtime.close()
