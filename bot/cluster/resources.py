"""The closed list of resource types firstmate can read, with kubectl's names for them.

Everything else (Secrets first of all) is unknown to the grammar, so it can never be asked for.

Example:
    >>> lookup("deploy").plural
    'deployments'
    >>> lookup("secrets") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    """One readable resource type: its canonical plural, kind and API group/version."""

    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version


_ALL = (
    ResourceType("pods", "pod", "Pod", "", "v1", True, ("po",)),
    ResourceType("deployments", "deployment", "Deployment", "apps", "v1", True, ("deploy",)),
    ResourceType("statefulsets", "statefulset", "StatefulSet", "apps", "v1", True, ("sts",)),
    ResourceType("daemonsets", "daemonset", "DaemonSet", "apps", "v1", True, ("ds",)),
    ResourceType("replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, ("rs",)),
    ResourceType("jobs", "job", "Job", "batch", "v1", True, ()),
    ResourceType("cronjobs", "cronjob", "CronJob", "batch", "v1", True, ("cj",)),
    ResourceType("services", "service", "Service", "", "v1", True, ("svc",)),
    ResourceType("endpoints", "endpoints", "Endpoints", "", "v1", True, ("ep",)),
    ResourceType("ingresses", "ingress", "Ingress", "networking.k8s.io", "v1", True, ("ing",)),
    ResourceType("nodes", "node", "Node", "", "v1", False, ("no",)),
    ResourceType("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",)),
    ResourceType("events", "event", "Event", "", "v1", True, ("ev",)),
    ResourceType("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", "", "v1", True, ("pvc",)),
    ResourceType("persistentvolumes", "persistentvolume", "PersistentVolume", "", "v1", False, ("pv",)),
    ResourceType(
        "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", "autoscaling", "v2", True, ("hpa",)
    ),
    ResourceType("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
)

RESOURCES: dict[str, ResourceType] = {r.plural: r for r in _ALL}
ALL_RESOURCES: tuple[str, ...] = tuple(r.plural for r in _ALL)

# Workload kinds whose pods `logs kind/name` and `diagnose` can pick from.
POD_OWNERS: frozenset[str] = frozenset({"deployments", "statefulsets", "daemonsets", "replicasets", "jobs"})

_NAMES: dict[str, ResourceType] = {}
for _r in _ALL:
    for _n in (_r.plural, _r.singular, _r.kind.lower(), *_r.short):
        _NAMES[_n] = _r
    _NAMES[f"{_r.plural}.{_r.group}"] = _r
    _NAMES[f"{_r.plural}.{_r.version}.{_r.group}"] = _r
    _NAMES[f"{_r.singular}.{_r.group}"] = _r


def lookup(token: str) -> ResourceType | None:
    """The resource type a kubectl-style name stands for (plural, singular, short, ``plural.group``), or None."""
    return _NAMES.get(token.lower())


def is_secret_word(token: str) -> bool:
    """True when any piece of ``token`` spells Secrets (``secret``, ``Secrets``, ``secrets.v1.``, ``secret/db``…)."""
    lowered = token.lower()
    for sep in "/.,=:":
        lowered = lowered.replace(sep, " ")
    return any(piece in {"secret", "secrets"} for piece in lowered.split())
