"""Run `firstmate serve` the way the dev overlay's pod runs it, against fakes, and watch it like the kubelet.

The container's args, env and mounted settings file come from the rendered dev overlay. What a
laptop cannot provide is substituted, and only that: the mounted paths (/etc/firstmate, /data,
/tmp) become temporary folders; the Secret values are the fakes' tokens; Slack is the fake Web API
plus the fake Socket Mode server (FIRSTMATE_SLACK_API_URL); the in-cluster ServiceAccount becomes a
kubeconfig for the fake kube-apiserver, which enforces the overlay's own ClusterRole; the web port
is a free one; and the index is built with the model-free hash embedder (the image bakes the
MiniLM one). Then, as the kubelet would: /healthz must answer, /readyz must turn 200 with every
check passing, a mention must be answered, SIGTERM must stop the process cleanly within the pod's
terminationGracePeriodSeconds, and no token may appear in the logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_support import one, render
from test_k8s_selfcheck import rules_from_rbac

slack_fakes = pytest.importorskip("fakes.slack_api", reason="tests/fakes/slack_api.py is not available")
kube_fakes = pytest.importorskip("fakes.kube_apiserver", reason="tests/fakes/kube_apiserver.py is not available")
pytest.importorskip("websockets", reason="the fake Socket Mode server needs the websockets package")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FIRSTMATE = Path(sys.executable).with_name("firstmate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Pod:
    """A `firstmate serve` process started from the dev overlay's container spec."""

    def __init__(self, proc: subprocess.Popen[str], web: str, log_path: Path) -> None:
        self.proc, self.web, self.log_path = proc, web, log_path

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, path: str, *, status: int, timeout: float) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        last: tuple[int, bytes] = (0, b"")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"firstmate serve exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
            try:
                last = get(self.web + path)
                if last[0] == status:
                    return last
            except OSError:
                pass
            time.sleep(0.3)
        pytest.fail(f"{path} never returned {status} (last {last[0]} {last[1][:500]!r}):\n{self.logs()[-3000:]}")


@pytest.fixture
def pod(tmp_path: Path, hash_index: Path) -> Iterator[tuple[Pod, Any, dict[str, Any]]]:
    docs = render("dev")
    deployment = one(docs, "Deployment", "firstmate")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    cm_name = next(v["configMap"]["name"] for v in spec["volumes"] if v["name"] == "config")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    local = {name: tmp_path / name for name in mounts}
    for folder in local.values():
        folder.mkdir()
    settings_file = local["config"] / "settings.yaml"
    settings_file.write_text(one(docs, "ConfigMap", cm_name)["data"]["settings.yaml"], encoding="utf-8")

    with contextlib.ExitStack() as stack:
        slack = stack.enter_context(slack_fakes.FakeSlack())
        sock_server = slack_fakes.FakeSocketModeServer().start()
        stack.callback(sock_server.stop)
        kube = stack.enter_context(kube_fakes.FakeKubeApiServer(rules=rules_from_rbac(docs)))
        slack.socket_url = sock_server.url
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FIRSTMATE_", "SLACK_", "KUBECONFIG"))}
        for item in container["env"]:
            if "value" in item:
                value = item["value"]
                for name, path in mounts.items():  # container paths -> local folders
                    if value == path or value.startswith(path + "/"):
                        value = str(local[name]) + value[len(path):]
                        break
                env[item["name"]] = value
            else:
                key = item["valueFrom"]["secretKeyRef"]["key"]
                env[item["name"]] = {"bot-token": slack.bot_token, "app-token": slack.app_token}[key]
        web_port = free_port()
        env.update({
            "FIRSTMATE_SLACK_API_URL": slack.url,
            "FIRSTMATE_CLUSTER__IN_CLUSTER": "false",
            "KUBECONFIG": str(kubeconfig),
            "FIRSTMATE_WEB__PORT": str(web_port),
            "FIRSTMATE_RETRIEVAL__EMBEDDER": "hash",
            "FIRSTMATE_RETRIEVAL__BUILD_DIR": str(hash_index),
            "TMPDIR": str(local["tmp"]),
            "HOME": str(local["tmp"]),
        })
        log_path = tmp_path / "pod.log"
        with log_path.open("w", encoding="utf-8") as log:
            proc = subprocess.Popen([str(FIRSTMATE), *container["args"]], env=env, cwd=local["tmp"], stdout=log,
                                    stderr=subprocess.STDOUT, text=True)
        try:
            yield Pod(proc, f"http://127.0.0.1:{web_port}", log_path), (slack, sock_server), deployment
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def test_dev_pod_becomes_ready_answers_and_stops_gracefully(pod: tuple[Pod, Any, dict[str, Any]]) -> None:
    running, (slack, sock_server), deployment = pod
    startup = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    _, body = running.wait_for("/healthz", status=200, timeout=budget)
    assert json.loads(body)["status"] == "ok"

    _, body = running.wait_for("/readyz", status=200, timeout=300)
    ready = json.loads(body)
    assert ready["ready"] is True
    for check in ("index", "store", "slack", "cluster"):
        assert ready["checks"].get(check, {}).get("ok") is True, f"/readyz check {check}: {ready['checks']}"
    print("READYZ", json.dumps(ready, ensure_ascii=False))
    code, metrics = get(running.web + "/metrics")
    assert code == 200 and b"# TYPE firstmate_events_received_total counter" in metrics
    assert b"# TYPE firstmate_cluster_commands_total counter" in metrics, "cluster-command counters are not served"

    # One mention over Socket Mode gets a threaded answer through the fake Web API.
    before = len([c for c in slack.calls if c.method == "chat.postMessage"])
    envelope = sock_server.push(slack_fakes.payload("app_mention"))
    sock_server.wait_ack(envelope, timeout=20)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len([c for c in slack.calls if c.method == "chat.postMessage"]) == before:
        time.sleep(0.2)
    posted = [c for c in slack.calls if c.method == "chat.postMessage"][before:]
    assert posted, f"no answer posted for the mention:\n{running.logs()[-2000:]}"

    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    started = time.monotonic()
    running.proc.send_signal(signal.SIGTERM)
    try:
        code = running.proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pytest.fail(f"SIGTERM: still running after terminationGracePeriodSeconds={grace}s:\n{running.logs()[-2000:]}")
    assert code == 0, f"exit {code} after SIGTERM:\n{running.logs()[-2000:]}"
    stopped_in = time.monotonic() - started

    logs = running.logs()
    for secret in (slack.bot_token, slack.app_token, "fake-sa-token-for-tests"):
        assert secret not in logs, "a token appears in the logs"
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert lines, "no JSON log lines (log_json is on in the cluster)"
    events = [line.get("event") for line in lines]
    assert "transport started" in events and any(line.get("transport") == "socket" for line in lines)
    assert "shutting down" in events
    print(f"SIGTERM → exit in {stopped_in:.1f}s")
    print("LOGS", "\n".join(json.dumps(line, ensure_ascii=False) for line in lines[:25]))
