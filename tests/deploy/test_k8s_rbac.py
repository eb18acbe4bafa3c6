"""RBAC of the rendered overlays: read-only, explicit, nothing that reaches secrets or writes.

Rendered with the machine's kubectl (`kubectl kustomize`); skipped with a reason where there is none.
"""

from __future__ import annotations

from typing import Any

import pytest
from deploy_support import OVERLAYS, by_kind, one, pod_specs, render

READ_VERBS = {"get", "list", "watch"}
# Never granted, whatever the verb: each is a way to read secrets, run code or act as someone else.
FORBIDDEN_RESOURCES = {
    "secrets",
    "pods/exec",
    "pods/attach",
    "pods/portforward",
    "pods/proxy",
    "nodes/proxy",
    "services/proxy",
    "serviceaccounts/token",
    "certificatesigningrequests",
    "tokenreviews",
}
FORBIDDEN_VERBS = {"create", "update", "patch", "delete", "deletecollection", "impersonate", "escalate", "bind", "*"}
BUILT_IN_ROLES = {"cluster-admin", "admin", "edit", "view"}

def needed_reads() -> dict[tuple[str, str], set[str]]:
    """(API group, resource) → verbs the cluster reader needs, from its closed resource list.

    bot.cluster.resources lists every readable type with its API group; the reader also reads
    pods/log (logs, diagnose) and metrics.k8s.io pods/nodes (top).
    """
    from bot.cluster.resources import RESOURCES

    out = {(r.group, r.plural): {"get", "list"} for r in RESOURCES.values()}
    out[("", "pods/log")] = {"get"}
    out[("metrics.k8s.io", "pods")] = {"get", "list"}
    out[("metrics.k8s.io", "nodes")] = {"get", "list"}
    return out


# Granted though the reader uses the core-group equivalent: the same objects, no more exposure.
EQUIVALENT_EXTRAS = {("events.k8s.io", "events")}


def roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return by_kind(docs, "ClusterRole") + by_kind(docs, "Role")


def granted(docs: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(group, resource) → verbs, over every Role and ClusterRole of the overlay."""
    out: dict[tuple[str, str], set[str]] = {}
    for role in roles(docs):
        for rule in role.get("rules") or []:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    out.setdefault((group, resource), set()).update(rule.get("verbs") or [])
    return out


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def test_roles_exist_and_are_not_aggregated(docs: list[dict[str, Any]]) -> None:
    assert roles(docs), "no ClusterRole or Role rendered"
    for role in roles(docs):
        assert "aggregationRule" not in role, f"{role['metadata']['name']}: an aggregated role can grow silently"


def test_rules_are_read_only_and_explicit(docs: list[dict[str, Any]]) -> None:
    for role in roles(docs):
        name = role["metadata"]["name"]
        for rule in role.get("rules") or []:
            verbs = set(rule.get("verbs") or [])
            assert verbs, f"{name}: a rule without verbs"
            assert verbs <= READ_VERBS, f"{name}: verbs {sorted(verbs - READ_VERBS)} are not read-only"
            assert not verbs & FORBIDDEN_VERBS
            for key in ("apiGroups", "resources", "resourceNames", "nonResourceURLs", "verbs"):
                values = rule.get(key) or []
                assert not any("*" in v for v in values), f"{name}: wildcard in {key}: {values}"
            assert not rule.get("nonResourceURLs"), f"{name}: nonResourceURLs are not needed"
            assert rule.get("resources"), f"{name}: a rule must name its resources"
            bad = FORBIDDEN_RESOURCES & set(rule["resources"])
            assert not bad, f"{name}: grants {sorted(bad)}"


def test_every_needed_read_is_granted(docs: list[dict[str, Any]]) -> None:
    have = granted(docs)
    needed = needed_reads()
    missing = [f"{g or 'core'}/{r}: {sorted(v - have.get((g, r), set()))}" for (g, r), v in needed.items()
               if not v <= have.get((g, r), set())]
    assert not missing, "the cluster reader needs these reads:\n" + "\n".join(missing)
    extra = sorted(f"{g or 'core'}/{r}" for g, r in have if (g, r) not in needed and (g, r) not in EQUIVALENT_EXTRAS)
    assert not extra, f"granted but not needed by the reader (least privilege): {extra}"


def test_binding_ties_only_our_service_account_to_our_role(docs: list[dict[str, Any]]) -> None:
    account = one(docs, "ServiceAccount", "firstmate")
    namespace = account["metadata"]["namespace"]
    our_roles = {r["metadata"]["name"] for r in roles(docs)}
    bindings = by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding")
    assert bindings, "no binding for the ServiceAccount"
    for binding in bindings:
        ref = binding["roleRef"]
        assert ref["name"] not in BUILT_IN_ROLES, f"binds the built-in role {ref['name']}"
        assert ref["name"] in our_roles, f"{binding['metadata']['name']} binds a role this overlay does not define"
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount", f"binding to a {subject['kind']}"
            assert (subject["name"], subject.get("namespace")) == ("firstmate", namespace), subject


def test_pods_use_the_reader_account_and_only_they_mount_its_token(docs: list[dict[str, Any]]) -> None:
    account = one(docs, "ServiceAccount", "firstmate")
    assert account.get("automountServiceAccountToken") is False, (
        "the ServiceAccount should not auto-mount its token; the pods that need it opt in"
    )
    specs = list(pod_specs(docs))
    assert specs
    for label, spec in specs:
        assert spec.get("serviceAccountName") == "firstmate", f"{label}: runs as another account"
        assert spec.get("automountServiceAccountToken") is True, f"{label}: needs its token to read the cluster"
