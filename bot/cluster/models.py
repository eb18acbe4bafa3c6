"""Our own frozen view of what the reader read; nothing here imports ``kubernetes``.

The reader hands back ``KubeObject`` (already cleaned: no managedFields, no
last-applied-configuration, env values and ConfigMap values replaced) and the typed views below
parse the few kinds that status, diagnose and the digest reason about.

Example:
    >>> obj = KubeObject.from_json("pods", {"metadata": {"name": "web-1", "namespace": "shop"},
    ...     "status": {"phase": "Pending"}})
    >>> pod_view(obj).phase
    'Pending'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

REDACTED = "<redacted>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def freeze(value: Any) -> Any:
    """Deep read-only copy of decoded JSON (dicts become mappingproxies, lists tuples)."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain dicts and lists again (for rendering)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def parse_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp from the API, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _scrub(value: Any, *, resource: str, top: bool = True) -> Any:
    """Remove what must never leave the reader: env values, ConfigMap values, managedFields, last-applied."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "managedFields":
                continue
            if key == "annotations" and isinstance(item, dict):
                item = {k: v for k, v in item.items() if k != LAST_APPLIED}
            if key == "env" and isinstance(item, list):
                item = [
                    {**e, "value": REDACTED} if isinstance(e, dict) and "value" in e else e for e in item
                ]
            if top and resource == "configmaps" and key in {"data", "binaryData"} and isinstance(item, dict):
                item = dict.fromkeys(item, REDACTED)
            out[key] = _scrub(item, resource=resource, top=False)
        return out
    if isinstance(value, list):
        return [_scrub(v, resource=resource, top=False) for v in value]
    return value


@dataclass(frozen=True)
class KubeObject:
    """One API object, cleaned and read-only."""

    resource: str
    kind: str
    name: str
    namespace: str | None
    created: dt.datetime | None
    labels: Mapping[str, str]
    raw: Mapping[str, Any]

    @classmethod
    def from_json(cls, resource: str, data: Mapping[str, Any], *, kind: str = "") -> KubeObject:
        """Build from one decoded item; scrubs it first."""
        clean = _scrub(dict(data), resource=resource)
        meta = clean.get("metadata") or {}
        return cls(
            resource=resource,
            kind=str(clean.get("kind") or kind),
            name=str(meta.get("name", "")),
            namespace=meta.get("namespace"),
            created=parse_time(meta.get("creationTimestamp")),
            labels=MappingProxyType(dict(meta.get("labels") or {})),
            raw=freeze(clean),
        )

    def get(self, *path: str | int, default: Any = None) -> Any:
        """Nested lookup: ``obj.get("status", "phase")``."""
        node: Any = self.raw
        for key in path:
            if isinstance(key, int):
                if not isinstance(node, tuple) or key >= len(node):
                    return default
                node = node[key]
            elif isinstance(node, Mapping) and key in node:
                node = node[key]
            else:
                return default
        return default if node is None else node


@dataclass(frozen=True)
class ObjectList:
    """The result of a (paged) list."""

    resource: str
    namespace: str | None
    items: tuple[KubeObject, ...]
    truncated: bool = False
    inconsistent: bool = False


@dataclass(frozen=True)
class LogText:
    """A capped log tail."""

    text: str
    truncated: bool


@dataclass(frozen=True)
class AccessReview:
    """One SelfSubjectAccessReview question and its answer."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    namespace: str = ""
    allowed: bool = False
    reason: str = ""

    def label(self) -> str:
        """`get secrets (ns shop)`-style label."""
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        res += f".{self.group}" if self.group and self.group != "*" else ""
        return f"{self.verb} {res}" + (f" in {self.namespace}" if self.namespace else " (cluster-wide)")


@dataclass(frozen=True)
class ContainerView:
    """A container's spec and status, as diagnose and status need them."""

    name: str
    image: str
    ready: bool
    restarts: int
    state: str  # running | waiting | terminated | unknown
    reason: str
    message: str
    exit_code: int | None
    last_reason: str
    last_exit_code: int | None
    last_finished: dt.datetime | None
    memory_limit: str | None
    init: bool = False


@dataclass(frozen=True)
class PodView:
    """A pod with the facts people triage by."""

    name: str
    namespace: str
    phase: str
    reason: str
    message: str
    node: str
    created: dt.datetime | None
    deleting: bool
    containers: tuple[ContainerView, ...]
    conditions: Mapping[str, tuple[str, str, str]]  # type -> (status, reason, message)
    owner: str

    @property
    def restarts(self) -> int:
        """Restarts of all containers."""
        return sum(c.restarts for c in self.containers if not c.init)


def _container(spec: Mapping[str, Any], status: Mapping[str, Any] | None, *, init: bool) -> ContainerView:
    status = status or {}
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    kind = next((k for k in ("running", "waiting", "terminated") if k in state), "unknown")
    detail = state.get(kind) or {}
    limits = (spec.get("resources") or {}).get("limits") or {}
    return ContainerView(
        name=str(spec.get("name") or status.get("name") or ""),
        image=str(spec.get("image") or status.get("image") or ""),
        ready=bool(status.get("ready")),
        restarts=int(status.get("restartCount") or 0),
        state=kind,
        reason=str(detail.get("reason") or ""),
        message=str(detail.get("message") or ""),
        exit_code=detail.get("exitCode"),
        last_reason=str(last.get("reason") or ""),
        last_exit_code=last.get("exitCode"),
        last_finished=parse_time(last.get("finishedAt")),
        memory_limit=limits.get("memory"),
        init=init,
    )


def pod_view(obj: KubeObject) -> PodView:
    """Typed view of a pod object."""
    spec, status = obj.get("spec", default={}), obj.get("status", default={})
    by_name = {s.get("name"): s for s in status.get("containerStatuses") or ()}
    init_by_name = {s.get("name"): s for s in status.get("initContainerStatuses") or ()}
    containers = tuple(_container(c, init_by_name.get(c.get("name")), init=True) for c in spec.get("initContainers") or ())
    containers += tuple(_container(c, by_name.get(c.get("name")), init=False) for c in spec.get("containers") or ())
    conditions = {
        str(c.get("type")): (str(c.get("status", "")), str(c.get("reason") or ""), str(c.get("message") or ""))
        for c in status.get("conditions") or ()
    }
    owners = obj.get("metadata", "ownerReferences", default=())
    owner = f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else ""
    return PodView(
        name=obj.name,
        namespace=obj.namespace or "",
        phase=str(status.get("phase") or "Unknown"),
        reason=str(status.get("reason") or ""),
        message=str(status.get("message") or ""),
        node=str(spec.get("nodeName") or ""),
        created=obj.created,
        deleting=obj.get("metadata", "deletionTimestamp") is not None,
        containers=containers,
        conditions=MappingProxyType(conditions),
        owner=owner,
    )


@dataclass(frozen=True)
class NodeView:
    """A node's readiness and the conditions that explain it."""

    name: str
    ready: bool
    unschedulable: bool
    problems: tuple[str, ...]  # "MemoryPressure", "NotReady: KubeletNotReady …"
    version: str


def node_view(obj: KubeObject) -> NodeView:
    """Typed view of a node object."""
    ready, problems = False, []
    for cond in obj.get("status", "conditions", default=()):
        ctype, cstatus = cond.get("type"), cond.get("status")
        if ctype == "Ready":
            ready = cstatus == "True"
            if not ready:
                problems.append(f"NotReady: {cond.get('reason') or ''} {cond.get('message') or ''}".strip())
        elif cstatus == "True":
            problems.append(str(ctype))
    return NodeView(
        name=obj.name,
        ready=ready,
        unschedulable=bool(obj.get("spec", "unschedulable", default=False)),
        problems=tuple(problems),
        version=str(obj.get("status", "nodeInfo", "kubeletVersion", default="")),
    )


@dataclass(frozen=True)
class WorkloadView:
    """Desired versus ready replicas of a deployment, statefulset or daemonset."""

    resource: str
    name: str
    namespace: str
    desired: int
    ready: int
    available: int
    selector: str


def _selector(obj: KubeObject) -> str:
    sel = obj.get("spec", "selector", default={})
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), ",".join(expr.get("values") or ())
        terms.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": f"{key}", "DoesNotExist": f"!{key}"}
            .get(str(op), f"{key}")
        )
    return ",".join(terms)


def workload_view(obj: KubeObject) -> WorkloadView:
    """Typed view of a deployment, statefulset, daemonset or replicaset."""
    status = obj.get("status", default={})
    if obj.resource == "daemonsets":
        desired, ready = int(status.get("desiredNumberScheduled") or 0), int(status.get("numberReady") or 0)
        available = int(status.get("numberAvailable") or 0)
    else:
        desired = int(obj.get("spec", "replicas", default=1))
        ready, available = int(status.get("readyReplicas") or 0), int(status.get("availableReplicas") or 0)
    return WorkloadView(
        resource=obj.resource,
        name=obj.name,
        namespace=obj.namespace or "",
        desired=desired,
        ready=ready,
        available=available,
        selector=_selector(obj),
    )


@dataclass(frozen=True)
class EventView:
    """One core/v1 event."""

    type: str
    reason: str
    message: str
    object: str  # kind/name
    namespace: str
    count: int
    last_seen: dt.datetime | None


def event_view(obj: KubeObject) -> EventView:
    """Typed view of an event."""
    inv = obj.get("involvedObject", default={})
    last = parse_time(obj.get("lastTimestamp")) or parse_time(obj.get("eventTime")) or obj.created
    series = obj.get("series", default={})
    return EventView(
        type=str(obj.get("type", default="")),
        reason=str(obj.get("reason", default="")),
        message=str(obj.get("message", default="")),
        object=f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        namespace=obj.namespace or "",
        count=int(obj.get("count", default=0) or series.get("count") or 1),
        last_seen=parse_time(series.get("lastObservedTime")) or last,
    )


class Reader(Protocol):
    """What the executor, status, diagnose and the digest need from the cluster (KubeReader implements it)."""

    def list(
        self,
        resource: str,
        *,
        namespace: str | None,
        selector: str | None = None,
        field_selector: str | None = None,
        max_items: int | None = None,
    ) -> ObjectList: ...

    def get(self, resource: str, *, namespace: str | None, name: str) -> KubeObject: ...

    def logs(
        self,
        *,
        namespace: str,
        pod: str,
        container: str | None = None,
        tail: int = 50,
        previous: bool = False,
        since_seconds: int | None = None,
    ) -> LogText: ...

    def metrics(self, resource: str, *, namespace: str | None) -> ObjectList: ...

    def review(self, checks: Sequence[AccessReview]) -> tuple[AccessReview, ...]: ...
