"""Run the prod overlay's digest CronJobs as Kubernetes would, twice each, against real PostgreSQL.

Each CronJob's container args and env come from the rendered prod overlay, with the same
substitutions as test_pod_smoke.py (mounted paths → temporary folders, Secret values → the fakes'
token and a real PostgreSQL URL, in-cluster credentials → a kubeconfig for the fake kube-apiserver
that enforces the overlay's ClusterRole, hash embedder index). A Job that runs twice (a retry, or
a CronJob firing again inside the same period) must post exactly one digest per kind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_support import by_kind, containers, one, render
from test_k8s_selfcheck import rules_from_rbac

slack_fakes = pytest.importorskip("fakes.slack_api", reason="tests/fakes/slack_api.py is not available")
kube_fakes = pytest.importorskip("fakes.kube_apiserver", reason="tests/fakes/kube_apiserver.py is not available")
pg_fakes = pytest.importorskip("fakes.postgres", reason="tests/fakes/postgres.py is not available")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FIRSTMATE = Path(sys.executable).with_name("firstmate")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    base = Path(tempfile.mkdtemp(prefix="firstmate-deploy-pg-"))
    base.chmod(0o755)
    try:
        server = pg_fakes.PostgresServer.start(base / "pg")
    except pg_fakes.PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot be started here: {exc}")
    try:
        yield server.create_database("firstmate_deploy")
    finally:
        server.stop()


def job_env(job: dict[str, Any], docs: list[dict[str, Any]], tmp: Path, **values: str) -> tuple[list[str], dict[str, str]]:
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = containers(pod)
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    local = {name: tmp / name for name in mounts}
    for folder in local.values():
        folder.mkdir(parents=True, exist_ok=True)
    cm_name = next(v["configMap"]["name"] for v in pod["volumes"] if v["name"] == "config")
    (local["config"] / "settings.yaml").write_text(one(docs, "ConfigMap", cm_name)["data"]["settings.yaml"],
                                                   encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIRSTMATE_", "SLACK_", "KUBECONFIG"))}
    for item in c["env"]:
        if "value" in item:
            value = item["value"]
            for name, path in mounts.items():
                if value == path or value.startswith(path + "/"):
                    value = str(local[name]) + value[len(path):]
                    break
            env[item["name"]] = value
        else:
            env[item["name"]] = values[item["valueFrom"]["secretKeyRef"]["key"]]
    env.update({"TMPDIR": str(local["tmp"]), "HOME": str(local["tmp"])})
    return list(c["args"]), env


def test_prod_digest_cronjobs_post_exactly_once(tmp_path: Path, postgres_url: str, hash_index: Path) -> None:
    docs = render("prod")
    jobs = by_kind(docs, "CronJob")
    assert jobs
    with slack_fakes.FakeSlack() as slack, kube_fakes.FakeKubeApiServer(rules=rules_from_rbac(docs)) as kube:
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        for job in jobs:
            name = job["metadata"]["name"]
            args, env = job_env(job, docs, tmp_path / name, **{"bot-token": slack.bot_token, "url": postgres_url})
            env.update({
                "FIRSTMATE_SLACK_API_URL": slack.url,
                "FIRSTMATE_CLUSTER__IN_CLUSTER": "false",
                "KUBECONFIG": str(kubeconfig),
                "FIRSTMATE_RETRIEVAL__EMBEDDER": "hash",
                "FIRSTMATE_RETRIEVAL__BUILD_DIR": str(hash_index),
            })
            channel = args[args.index("--channel") + 1]

            def posted(channel: str = channel) -> int:
                return sum(1 for c in slack.calls if c.method == "chat.postMessage" and c.args.get("channel") == channel)

            before = posted()
            for attempt in (1, 2):
                proc = subprocess.run([str(FIRSTMATE), *args], env=env, cwd=tmp_path / name / "tmp",
                                      capture_output=True, text=True, timeout=300, check=False)
                assert proc.returncode == 0, f"{name} run {attempt} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
                assert slack.bot_token not in proc.stdout + proc.stderr, "a token in the Job's output"
            assert posted() - before == 1, f"{name} run twice posted {posted() - before} digests, expected exactly 1"
