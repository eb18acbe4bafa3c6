"""`firstmate kube` and `firstmate audit tail`: the same path as Slack, exit codes, --json shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fakes.kube_apiserver import FakeKubeApiServer
from typer.testing import CliRunner

from bot.cli import app


@pytest.fixture
def config(kube_api: FakeKubeApiServer, kubeconfig: Path, tmp_path: Path) -> Path:
    data = {
        "store": {"data_dir": str(tmp_path / "data")},
        "cluster": {
            "kubeconfig": str(kubeconfig), "context": "fake",
            "limits": {"read_timeout_s": 3, "connect_timeout_s": 2},
            "policy": {"channels": {
                "cli": {"namespaces": ["shop"], "default_namespace": "shop"},
                "C0PAY": {"namespaces": ["payments"], "default_namespace": "payments", "verbs": ["get"]},
            }},
        },
    }
    path = tmp_path / "firstmate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_get_json_rows_are_objects(config: Path) -> None:
    code, out, _ = invoke("kube", "--config", str(config), "--json", "get pods")
    assert code == 0
    data = json.loads(out)
    assert data["namespaces"] == ["shop"] and data["total"] == 7
    assert {"name": "worker-1", "ready": "0/1", "status": "Pending", "restarts": "0"}.items() <= data["rows"][4].items()


def test_unquoted_command_and_text_output(config: Path) -> None:
    code, out, _ = invoke("kube", "--config", str(config), "get", "deploy", "-n", "shop")
    assert code == 0 and out.splitlines()[0] == "3 deployments in shop"


def test_denied_exit_3(config: Path) -> None:
    code, out, err = invoke("kube", "--config", str(config), "--json", "--channel", "C0PAY", "describe deploy ledger")
    assert code == 3
    assert json.loads(out) == {"allowed": False, "rule": "channels.C0PAY.verbs", "reason": "'describe' is not allowed here (allowed: get)"}
    assert "channels.C0PAY.verbs" in err
    code, out, err = invoke("kube", "--config", str(config), "get pods -n kube-system")
    assert code == 3 and out == "" and "channels.cli.namespaces" in err


def test_usage_exit_2_and_cluster_error_exit_4(config: Path, kube_api: FakeKubeApiServer) -> None:
    code, _, err = invoke("kube", "--config", str(config), "get secrets")
    assert code == 2 and "Secrets are never readable" in err
    code, _, err = invoke("kube", "--config", str(config), "get pods nope")
    assert code == 4 and "not found" in err


def test_self_check_cli(config: Path) -> None:
    code, out, _ = invoke("kube", "--config", str(config), "--self-check", "--json")
    assert code == 0 and json.loads(out)["safe"] is True


def test_audit_tail(config: Path) -> None:
    invoke("kube", "--config", str(config), "get pods")
    invoke("kube", "--config", str(config), "--user", "U9", "get secrets")
    code, out, _ = invoke("audit", "tail", "--config", str(config), "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["user"], r["decision"], r["outcome"]) for r in records] == [("cli", "allowed", "ok"), ("U9", "usage", "usage")]
    assert all(r["request_id"].startswith("cli-") and r["source"] == "cli" for r in records)
    code, out, _ = invoke("audit", "tail", "--config", str(config))
    assert code == 0 and "get pods" in out


FIRSTMATE = Path(sys.executable).with_name("firstmate")


def run_installed(*args: str, cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script pip installed (`.venv/bin/firstmate`), in a clean environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIRSTMATE_", "SLACK_", "KUBECONFIG"))}
    env.update(extra_env or {})
    return subprocess.run([str(FIRSTMATE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_installed_entry_point_exit_codes_and_json(config: Path, tmp_path: Path) -> None:
    ok = run_installed("kube", "--config", str(config), "--json", "get pods", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["total"] == 7 and all(isinstance(row, dict) and row["name"] for row in data["rows"])

    usage = run_installed("kube", "--config", str(config), "get pods -o yaml", cwd=tmp_path)
    assert (usage.returncode, usage.stdout) == (2, "")
    assert usage.stderr.strip().count("\n") == 0 and "'-o' is refused" in usage.stderr

    denied = run_installed("kube", "--config", str(config), "--json", "get pods -n kube-system", cwd=tmp_path)
    assert denied.returncode == 3
    assert json.loads(denied.stdout) == {"allowed": False, "rule": "channels.cli.namespaces",
                                         "reason": "namespace 'kube-system' is not allowed here (allowed: shop)"}
    assert denied.stderr.strip() == "Denied by channels.cli.namespaces: namespace 'kube-system' is not allowed here (allowed: shop)"

    missing = run_installed("kube", "--config", str(config), "get pods nope", cwd=tmp_path)
    assert missing.returncode == 4 and missing.stderr.strip() == "Cluster error: pod 'nope' not found in shop"
    for proc in (ok, usage, denied, missing):
        assert "Traceback" not in proc.stderr


def test_installed_entry_point_without_a_cluster(tmp_path: Path) -> None:
    """No kubeconfig anywhere: one clear line and exit 4 (a cluster error, not a policy denial)."""
    proc = run_installed("kube", "get pods", cwd=tmp_path, extra_env={"HOME": str(tmp_path)})
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Cluster error: cannot reach the cluster"), proc.stderr
    assert "no kubeconfig found" in lines[0] and "KUBECONFIG" in lines[0]
    usage = run_installed("kube", "--nonsense-option", cwd=tmp_path, extra_env={"HOME": str(tmp_path)})
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
