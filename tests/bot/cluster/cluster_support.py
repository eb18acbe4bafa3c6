"""Helpers shared by the cluster tests: a test policy, settings, and a recording reader."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.cluster.models import AccessReview, KubeObject, LogText, ObjectList
from bot.cluster.policy import ChannelBinding, Grant, Policy, RateLimit, RateLimits
from bot.cluster.selfcheck import WRITE_VERBS
from bot.settings.cluster import ClusterLimits, ClusterSettings

SHOP = "C0SHOP"
PAY = "C0PAY"


def make_policy() -> Policy:
    """#shop may read shop and payments (default shop, -A allowed); U0NARROW only `get pods`; #pay is narrow."""
    return Policy(
        channels={
            SHOP: ChannelBinding(
                namespaces=["shop", "payments"],
                default_namespace="shop",
                all_namespaces=True,
                users={"U0NARROW": Grant(verbs=["get"], resources=["pods"], namespaces=["shop"])},
                groups={"oncall": Grant(verbs=["get", "describe", "logs", "events", "status", "diagnose", "top"])},
                everyone=Grant(verbs=["get", "describe", "logs", "events", "status", "diagnose", "top"]),
            ),
            PAY: ChannelBinding(verbs=["get", "status"], resources=["pods", "deployments"], namespaces=["payments"], default_namespace="payments"),
            "cli": ChannelBinding(namespaces=["default"], default_namespace="default"),
        },
        groups={"oncall": ["U0ONCALL"]},
        rate_limits=RateLimits(per_user=RateLimit(requests=10_000), per_channel=RateLimit(requests=10_000)),
    )


def make_settings(kubeconfig: Path | None = None, **overrides: Any) -> ClusterSettings:
    """Cluster settings for tests: short timeouts, no backoff waiting beyond the injected sleep."""
    base: dict[str, Any] = {"connect_timeout_s": 2, "read_timeout_s": 3, "backoff_s": 0.01, "backoff_max_s": 0.02}
    limits = ClusterLimits(**(base | overrides.pop("limits", {})))
    return ClusterSettings(kubeconfig=kubeconfig, context="fake", policy=overrides.pop("policy", make_policy()), limits=limits, **overrides)


class RecordingReader:
    """A Reader that records every call and answers with empty results (self-check: read-only answers)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def list(self, resource: str, *, namespace: str | None, selector: str | None = None,
             field_selector: str | None = None, max_items: int | None = None) -> ObjectList:
        self.calls.append(("list", resource, namespace, selector, field_selector))
        return ObjectList(resource, namespace, ())

    def get(self, resource: str, *, namespace: str | None, name: str) -> KubeObject:
        self.calls.append(("get", resource, namespace, name))
        spec: dict[str, Any] = {"containers": [{"name": "main"}], "selector": {"matchLabels": {"app": name}}}
        return KubeObject.from_json(resource, {"metadata": {"name": name, "namespace": namespace}, "spec": spec,
                                               "status": {"phase": "Running"}})

    def logs(self, *, namespace: str, pod: str, container: str | None = None, tail: int = 50,
             previous: bool = False, since_seconds: int | None = None) -> LogText:
        self.calls.append(("logs", namespace, pod, container, tail, previous, since_seconds))
        return LogText("", False)

    def metrics(self, resource: str, *, namespace: str | None) -> ObjectList:
        self.calls.append(("metrics", resource, namespace))
        return ObjectList(resource, namespace, ())

    def review(self, checks: Sequence[AccessReview]) -> tuple[AccessReview, ...]:
        out = []
        for c in checks:
            dangerous = c.resource in {"secrets", "*"} or c.verb in WRITE_VERBS or c.verb == "impersonate" or c.subresource in {"exec", "attach", "portforward", "proxy", "eviction"}
            out.append(AccessReview(**{**c.__dict__, "allowed": not dangerous}))
        return tuple(out)

    def cluster_calls(self) -> list[tuple[Any, ...]]:
        """Calls that read the cluster (everything except the self-check's reviews)."""
        return list(self.calls)
