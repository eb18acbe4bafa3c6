"""What the cluster digest knows about the cluster: one read, reduced to comparable facts.

``KubeClusterSource`` reads nodes, pods, workloads and Warning events through the one cluster
reader (bot/cluster/reader.py), for the namespaces a channel's policy allows. ``facts_of`` turns
that into a small JSON-able dict, stored with each posted digest; ``changes`` compares two of them
to say what changed since the last digest.

Pod triage is `status`'s own (bot/cluster/signatures.py): the same problem groups
(CrashLoopBackOff, OOMKilled, ImagePullBackOff/ErrImagePull, Pending/Unschedulable, Evicted, Error…),
the same one-line signatures and the same corpus queries as `status` and `diagnose`.

Example:
    >>> changes({"pods": {"shop/a": {"reason": "CrashLoopBackOff"}}}, {"pods": {}}, present=set())["gone"]
    ['shop/a']
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.cluster.errors import ClusterError, Forbidden
from bot.cluster.models import (
    EventView,
    NodeView,
    PodView,
    WorkloadView,
    event_view,
    node_view,
    pod_view,
    workload_view,
)
from bot.cluster.signatures import pod_problem, signature

WORKLOAD_RESOURCES = ("deployments", "statefulsets", "daemonsets")


@dataclass(frozen=True)
class ClusterState:
    """One read of the cluster, limited to what a channel may see."""

    namespaces: tuple[str, ...]
    nodes: tuple[NodeView, ...] | None  # None: the channel may not read nodes
    pods: tuple[PodView, ...]
    workloads: tuple[WorkloadView, ...]
    warnings: tuple[EventView, ...]
    notes: tuple[str, ...] = field(default=())


class ClusterSource(Protocol):
    """Where the cluster digest gets its state (the kube reader, or a stub in tests)."""

    def read(
        self, *, namespaces: Sequence[str] | None, resources: frozenset[str], since: dt.datetime
    ) -> ClusterState:
        """Read ``resources`` in ``namespaces`` (None: every namespace); Warning events since ``since``."""
        ...


class ClusterOff(ClusterError):
    """The self-check found credentials that can write or read Secrets: the cluster is not read."""


class KubeClusterSource:
    """A :class:`ClusterSource` over :class:`bot.cluster.reader.KubeReader` (GETs only).

    With a ``gate`` (the cluster commands' :class:`bot.cluster.selfcheck.SelfCheckGate`), the digest
    follows the same rule as the commands: over-privileged credentials are not used at all.

    Example:
        >>> KubeClusterSource(reader=None).reader is None
        True
    """

    def __init__(self, reader: Any, *, gate: Any = None) -> None:
        self.reader = reader
        self.gate = gate

    @classmethod
    def from_settings(cls, settings: Any) -> KubeClusterSource:
        from bot.cluster.reader import KubeReader  # kubernetes loads on the first read, not here
        from bot.cluster.selfcheck import SelfCheckGate

        reader = KubeReader(settings)
        gate = (
            SelfCheckGate(
                reader,
                settings.policy,
                override=settings.allow_unsafe_credentials,
                retry_s=settings.self_check_retry_s,
            )
            if settings.self_check
            else None
        )
        return cls(reader, gate=gate)

    def _namespaces(self, namespaces: Sequence[str] | None) -> tuple[str, ...]:
        if namespaces is not None:
            return tuple(namespaces)
        listed = self.reader.list("namespaces", namespace=None)
        return tuple(sorted(obj.name for obj in listed.items))

    def read(
        self, *, namespaces: Sequence[str] | None, resources: frozenset[str], since: dt.datetime
    ) -> ClusterState:
        if self.gate is not None:
            blocked = self.gate.check()
            if blocked is not None and blocked.unsafe:  # an unverified cluster is simply read (or fails)
                raise ClusterOff(blocked.reason)
        notes: list[str] = []
        nss = self._namespaces(namespaces)
        nodes: tuple[NodeView, ...] | None = None
        if "nodes" in resources:
            try:
                nodes = tuple(node_view(o) for o in self.reader.list("nodes", namespace=None).items)
            except Forbidden as exc:
                notes.append(f"nodes not readable: {exc}")
        pods: list[PodView] = []
        workloads: list[WorkloadView] = []
        warnings: list[EventView] = []
        for ns in nss:
            for resource in ("pods", *WORKLOAD_RESOURCES, "events"):
                if resource not in resources:
                    continue
                try:
                    selector = "type=Warning" if resource == "events" else None
                    listed = self.reader.list(resource, namespace=ns, field_selector=selector)
                except Forbidden as exc:
                    notes.append(f"{resource} in {ns} not readable: {exc}")
                    continue
                if listed.truncated:
                    notes.append(f"{resource} in {ns}: only the first {len(listed.items)} read")
                if resource == "pods":
                    pods += [pod_view(o) for o in listed.items]
                elif resource == "events":
                    for obj in listed.items:
                        ev = event_view(obj)
                        if ev.type == "Warning" and (ev.last_seen is None or ev.last_seen >= since):
                            warnings.append(ev)
                else:
                    workloads += [workload_view(o) for o in listed.items]
        return ClusterState(
            namespaces=nss,
            nodes=nodes,
            pods=tuple(pods),
            workloads=tuple(workloads),
            warnings=tuple(warnings),
            notes=tuple(notes),
        )


def classify(pod: PodView, events: Sequence[EventView] = ()) -> tuple[str, str, str] | None:
    """(problem, one-line signature, corpus query) as `status` and `diagnose` name them; None when healthy."""
    problem = pod_problem(pod)
    if problem is None or pod.deleting:
        return None
    own = [e for e in events if e.namespace == pod.namespace and e.object == f"pod/{pod.name}"]
    sig = signature(pod, own)
    return problem, sig.line, sig.query


def facts_of(state: ClusterState) -> dict[str, Any]:
    """The comparable, JSON-able facts of a state (stored with each posted digest)."""
    pods: dict[str, dict[str, Any]] = {}
    queries: dict[str, str] = {}
    for pod in state.pods:
        key = f"{pod.namespace}/{pod.name}"
        verdict = classify(pod, state.warnings)
        if verdict is not None and verdict[2]:
            queries.setdefault(verdict[0], verdict[2])
        restarts = {c.name: c.restarts for c in pod.containers if not c.init and c.restarts}
        if verdict is None and not restarts:
            continue
        pods[key] = {
            "reason": verdict[0] if verdict else None,
            "detail": verdict[1] if verdict else "",
            "restarts": restarts,
        }
    nodes = (
        {n.name: {"ready": n.ready, "problems": list(n.problems)} for n in state.nodes}
        if state.nodes is not None
        else None
    )
    below = {
        f"{w.namespace}/{w.resource}/{w.name}": [w.ready, w.desired]
        for w in state.workloads
        if w.desired > 0 and w.ready < w.desired
    }
    warnings: Counter[str] = Counter()
    for ev in state.warnings:
        warnings[ev.reason] += max(1, ev.count)
    return {
        "namespaces": list(state.namespaces),
        "nodes": nodes,
        "pods": pods,
        "below": below,
        "warnings": dict(warnings),
        "notes": list(state.notes),
        "failure_queries": queries,
    }


def changes(previous: dict[str, Any] | None, current: dict[str, Any], *, present: set[str]) -> dict[str, Any]:
    """What changed between two facts dicts. ``present``: keys of every pod that exists now."""
    prev_pods: dict[str, Any] = (previous or {}).get("pods") or {}
    pods: dict[str, Any] = current.get("pods") or {}
    failing_now = {k: v for k, v in pods.items() if v.get("reason")}
    failing_before = {k for k, v in prev_pods.items() if v.get("reason")}
    newly = sorted(k for k in failing_now if k not in failing_before) if previous is not None else []
    recovered = sorted(k for k in failing_before if k not in failing_now and k in present)
    gone = sorted(k for k in failing_before if k not in failing_now and k not in present)
    grew: list[tuple[str, int, int]] = []
    if previous is not None:
        for key, info in pods.items():
            before = (prev_pods.get(key) or {}).get("restarts") or {}
            for container, count in (info.get("restarts") or {}).items():
                old = int(before.get(container, 0))
                if count > old:  # a pod new since the last digest counts from 0
                    grew.append((f"{key}/{container}", old, int(count)))
    grew.sort(key=lambda t: (t[1] - t[2], t[0]))
    node_changes: dict[str, list[str]] = {
        "appeared": [],
        "disappeared": [],
        "not_ready": [],
        "ready_again": [],
    }
    prev_nodes = (previous or {}).get("nodes")
    nodes = current.get("nodes")
    if previous is not None and prev_nodes is not None and nodes is not None:
        node_changes["appeared"] = sorted(n for n in nodes if n not in prev_nodes)
        node_changes["disappeared"] = sorted(n for n in prev_nodes if n not in nodes)
        node_changes["not_ready"] = sorted(
            n
            for n, info in nodes.items()
            if not info["ready"] and (prev_nodes.get(n) or {}).get("ready", True)
        )
        node_changes["ready_again"] = sorted(
            n for n, info in nodes.items() if info["ready"] and n in prev_nodes and not prev_nodes[n]["ready"]
        )
    return {
        "newly_failing": newly,
        "recovered": recovered,
        "gone": gone,
        "restarts_grew": grew,
        "nodes": node_changes,
    }
