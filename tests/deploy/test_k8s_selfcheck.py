"""The shipped RBAC passes firstmate's own least-privilege self-check, with the shipped policy.

The fake kube-apiserver (tests/fakes) evaluates SelfSubjectAccessReviews against a rule set; here
that rule set is the rendered ClusterRole of each overlay (bound cluster-wide by its
ClusterRoleBinding), plus what Kubernetes' default ``system:basic-user`` binding gives every
authenticated identity (create SelfSubjectAccessReviews). The real `firstmate kube --self-check`
then runs against it with the overlay's settings file: it must find every permission the policy
uses and nothing it must never have. A control run with one dangerous rule added must fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from deploy_support import OVERLAYS, by_kind, one, render

fake = pytest.importorskip("fakes.kube_apiserver", reason="tests/fakes/kube_apiserver.py is not available")

BASIC_USER = fake.Rule(verbs=("create",), groups=("authorization.k8s.io",),
                       resources=("selfsubjectaccessreviews", "selfsubjectrulesreviews"))


def rules_from_rbac(docs: list[dict[str, Any]]) -> tuple[Any, ...]:
    """The fake's rules for what the ServiceAccount is bound to (ClusterRoles via ClusterRoleBindings)."""
    bound = {b["roleRef"]["name"] for b in by_kind(docs, "ClusterRoleBinding")
             if any(s["kind"] == "ServiceAccount" and s["name"] == "firstmate" for s in b["subjects"])}
    assert bound, "no ClusterRoleBinding for the firstmate ServiceAccount"
    out = [BASIC_USER]
    for role in by_kind(docs, "ClusterRole"):
        if role["metadata"]["name"] in bound:
            for rule in role["rules"]:
                out.append(fake.Rule(verbs=tuple(rule["verbs"]), groups=tuple(rule["apiGroups"]),
                                     resources=tuple(rule["resources"])))
    return tuple(out)


def self_check(docs: list[dict[str, Any]], rules: tuple[Any, ...], tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    deployment = one(docs, "Deployment", "firstmate")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    cm_name = next(v["configMap"]["name"] for v in volumes if v["name"] == "config")
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(one(docs, "ConfigMap", cm_name)["data"]["settings.yaml"], encoding="utf-8")
    with fake.FakeKubeApiServer(rules=rules) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FIRSTMATE_", "SLACK_"))}
        env.update({
            "FIRSTMATE_CONFIG": str(settings_file),
            # In the pod the ServiceAccount token is used (in-cluster); here, a kubeconfig to the fake.
            "FIRSTMATE_CLUSTER__IN_CLUSTER": "false",
            "KUBECONFIG": str(kubeconfig),
            "FIRSTMATE_STORE__DATA_DIR": str(tmp_path / "data"),
        })
        firstmate = Path(sys.executable).with_name("firstmate")
        proc = subprocess.run([str(firstmate), "kube", "--self-check", "--json"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"`firstmate kube --self-check --json` printed no JSON (exit {proc.returncode}):\n"
                    f"{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    return proc.returncode, report, proc.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shipped_rbac_passes_the_self_check(overlay: str, tmp_path: Path) -> None:
    docs = render(overlay)
    code, report, stderr = self_check(docs, rules_from_rbac(docs), tmp_path)
    assert report["completed"], f"self-check did not complete: {report.get('error')}\n{stderr[-1000:]}"
    assert report["dangerous"] == [], f"the ClusterRole allows what must be denied: {report['dangerous']}"
    assert report["missing"] == [], f"the ClusterRole lacks what the {overlay} policy uses: {report['missing']}"
    assert report["safe"] is True and code == 0, report["reason"]
    assert report["checked"] > 50, "suspiciously few checks"


def test_self_check_catches_a_dangerous_rule(tmp_path: Path) -> None:
    docs = render("dev")
    rules = (*rules_from_rbac(docs), fake.Rule(verbs=("get", "list"), groups=("",), resources=("secrets",)))
    code, report, _ = self_check(docs, rules, tmp_path)
    assert not report["safe"]
    assert any("secrets" in item for item in report["dangerous"])
    # A CronJob or an init step relies on the exit code (issue 5: 3 = denied/unsafe).
    assert code == 3, f"`firstmate kube --self-check` exited {code} on unsafe credentials, expected 3"
