"""What each overlay promises: dev is one Socket Mode replica on SQLite; prod is HTTP, replicated, shared.

Also the NetworkPolicy (egress only to DNS, the API server, Slack and the database) and the
namespace every object lands in.
"""

from __future__ import annotations

from typing import Any

import pytest
from deploy_support import OVERLAYS, by_kind, containers, one, pod_templates, render

from bot.settings.slack import SlackSettings
from bot.settings.web import WebSettings

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env") or []}


def bot(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = one(docs, "Deployment", "firstmate")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert not selector.get("matchExpressions"), "matchExpressions not evaluated by this test"
    return dict(selector.get("matchLabels") or {}).items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lands_in_the_firstmate_namespace(overlay: str) -> None:
    docs = render(overlay)
    namespace = one(docs, "Namespace")
    assert namespace["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "restricted"
    name = namespace["metadata"]["name"]
    for doc in docs:
        if doc["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in doc["metadata"], f"{doc['kind']} is cluster-scoped"
        else:
            assert doc["metadata"].get("namespace") == name, (
                f"{doc['kind']}/{doc['metadata']['name']} is not in namespace {name} (set `namespace:` in the overlay)"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_allows_only_what_firstmate_needs(overlay: str) -> None:
    docs = render(overlay)
    policies = by_kind(docs, "NetworkPolicy")
    assert policies, "no NetworkPolicy"
    allowed_egress = {53, 443, 6443} | ({5432} if overlay == "prod" else set())
    egress_ports: set[int] = set()
    ingress_ports: set[int] = set()
    for policy in policies:
        spec = policy["spec"]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}, "both directions must be default-deny"
        for rule in spec.get("egress") or []:
            assert rule.get("ports"), f"{policy['metadata']['name']}: an egress rule without ports allows everything"
            egress_ports |= {p["port"] for p in rule["ports"]}
            for peer in rule.get("to") or []:
                block = peer.get("ipBlock")
                if block and block["cidr"] == "0.0.0.0/0":
                    assert "169.254.169.254/32" in (block.get("except") or []), "cloud metadata endpoint reachable"
        for rule in spec.get("ingress") or []:
            assert rule.get("ports"), f"{policy['metadata']['name']}: an ingress rule without ports"
            ingress_ports |= {p["port"] for p in rule["ports"]}
    assert egress_ports <= allowed_egress, f"egress to unexpected ports {sorted(egress_ports - allowed_egress)}"
    assert {53, 443} <= egress_ports, "DNS and HTTPS (API server, Slack) must be allowed"
    _, container = bot(docs)
    container_ports = {p["containerPort"] for p in container.get("ports") or []}
    assert ingress_ports <= container_ports, "ingress opened to ports the bot does not listen on"
    # Every firstmate pod is covered by the policies.
    for label, template in pod_templates(docs):
        assert all(selects(p["spec"]["podSelector"], template["metadata"]["labels"]) for p in policies), (
            f"{label}: not selected by every NetworkPolicy"
        )


def test_dev_is_one_socket_mode_replica_on_sqlite() -> None:
    docs = render("dev")
    deployment, container = bot(docs)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate", "SQLite on a RWO volume: never two pods"
    env = env_of(container)
    assert env["FIRSTMATE_SLACK__MODE"]["value"] == "socket"
    assert "SLACK_APP_TOKEN" in env, "Socket Mode needs the app-level token"
    assert "FIRSTMATE_DATABASE_URL" not in env and "FIRSTMATE_STORE__URL" not in env
    assert not by_kind(docs, "Ingress"), "Socket Mode needs no public endpoint"
    assert SlackSettings().port not in {p["containerPort"] for p in container.get("ports") or []}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["data"].get("persistentVolumeClaim", {}).get("claimName")
    assert claim, "dev keeps SQLite on a PersistentVolumeClaim"
    one(docs, "PersistentVolumeClaim", claim)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == env["FIRSTMATE_STORE__DATA_DIR"]["value"]


def test_prod_is_replicated_http_behind_an_ingress() -> None:
    docs = render("prod")
    deployment, container = bot(docs)
    replicas = deployment["spec"]["replicas"]
    assert replicas >= 2
    env = env_of(container)
    assert env["FIRSTMATE_SLACK__MODE"]["value"] == "http"
    assert "SLACK_SIGNING_SECRET" in env and "SLACK_APP_TOKEN" not in env
    db = env["FIRSTMATE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert db["name"] and db["key"], "PostgreSQL URL from a Secret"
    assert env["FIRSTMATE_DIGEST__ENABLED"]["value"] == "false", "CronJobs post digests; no in-process duplicate"
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0, "rolling updates must not drop below the replica count"
    assert container.get("lifecycle", {}).get("preStop"), "drain endpoints before the process stops"

    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    spread = deployment["spec"]["template"]["spec"].get("topologySpreadConstraints") or []
    keys = {c["topologyKey"] for c in spread}
    assert "kubernetes.io/hostname" in keys, "replicas must spread over nodes"
    assert all(selects(c["labelSelector"], template_labels) for c in spread)

    pdb = one(docs, "PodDisruptionBudget")
    assert selects(pdb["spec"]["selector"], template_labels), "the PDB does not select the bot"
    assert 1 <= pdb["spec"]["minAvailable"] < replicas, "the PDB must allow drains yet keep one replica"

    service = one(docs, "Service", "firstmate")
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert "slack" in ports and ports["slack"]["port"] == SlackSettings().port
    ingress = one(docs, "Ingress")
    assert ingress["spec"].get("tls"), "Slack requires HTTPS"
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["path"].startswith("/slack"), f"Ingress exposes {path['path']}: only /slack/ is public"
            backend = path["backend"]["service"]
            assert backend["name"] == "firstmate"
            assert backend["port"].get("name") == "slack" or backend["port"].get("number") == SlackSettings().port
    assert WebSettings().port not in {p["port"] for p in ingress_backends(ingress, service)}


def ingress_backends(ingress: dict[str, Any], service: dict[str, Any]) -> list[dict[str, Any]]:
    by_name = {p["name"]: p for p in service["spec"]["ports"]}
    out = []
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            port = path["backend"]["service"]["port"]
            out.append(by_name[port["name"]] if "name" in port else {"port": port["number"]})
    return out


def test_prod_digest_cronjobs() -> None:
    docs = render("prod")
    jobs = by_kind(docs, "CronJob")
    kinds = set()
    _, bot_container = bot(docs)
    for job in jobs:
        spec = job["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec.get("timeZone"), "schedules need an explicit time zone"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] in {"Never", "OnFailure"}
        (c,) = containers(pod)
        args = c["args"]
        assert args[0] == "digest"
        kinds.add(args[args.index("--kind") + 1])
        assert "--channel" in args
        env = env_of(c)
        assert env["FIRSTMATE_DATABASE_URL"] == env_of(bot_container)["FIRSTMATE_DATABASE_URL"], (
            "the CronJob must use the bot's database so exactly-once holds"
        )
        assert c["image"] == bot_container["image"]
    assert kinds == {"cluster", "knowledge"}
