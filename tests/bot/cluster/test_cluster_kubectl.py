"""The fake speaks real Kubernetes: the machine's kubectl (v1.32) reads pods from it and is refused what RBAC refuses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fakes.kube_apiserver import FakeKubeApiServer

KUBECTL = "/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else shutil.which("kubectl")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (/usr/bin/kubectl or Debian's kubernetes-client)"),
]


def kubectl(kubeconfig: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=120,
                          env={"HOME": str(home), "PATH": "/usr/bin:/bin"})


def test_kubectl_get_pods(kube_api: FakeKubeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    proc = kubectl(kubeconfig, tmp_path, "get", "pods", "-n", "shop")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    table = {line.split()[0]: line.split() for line in lines[1:]}
    assert table["web-7c9d8f6b5-m4q7r"][1:3] == ["0/1", "CrashLoopBackOff"]
    assert table["api-5f7b9c4d8-w8n3z"][2] == "ImagePullBackOff"
    assert table["worker-1"][2] == "Pending"
    assert any(r.path == "/api/v1/namespaces/shop/pods" and "as=Table" in r.accept for r in kube_api.requests)


def test_kubectl_is_refused_secrets_and_writes(kube_api: FakeKubeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    secrets = kubectl(kubeconfig, tmp_path, "get", "secrets", "-n", "shop")
    assert secrets.returncode != 0 and "Forbidden" in secrets.stderr and "secrets" in secrets.stderr
    delete = kubectl(kubeconfig, tmp_path, "delete", "pod", "worker-0", "-n", "shop")
    assert delete.returncode != 0 and "Forbidden" in delete.stderr
    assert kubectl(kubeconfig, tmp_path, "get", "deploy", "-n", "shop").returncode == 0
