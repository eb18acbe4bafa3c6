"""`status`: the state of the namespaces a channel may read, in one message (the digest reuses it).

Nodes ready/not ready (with the conditions that explain it), pods not healthy grouped by reason,
workloads below their desired replicas, and Warning events of the last hour counted by reason.
Sections whose resource the channel may not read are left out with a note.

Example:
    >>> s = ClusterStatus(namespaces=("shop",), nodes=(), failing=(), pods_total=3, degraded=(), warnings={})
    >>> s.summary()
    'shop: 0 nodes · 3 pods, none failing · all workloads at desired replicas · no warnings in the last hour'
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.cluster.errors import ClusterError
from bot.cluster.models import NodeView, Reader, WorkloadView, event_view, node_view, pod_view, workload_view
from bot.cluster.signatures import PROBLEMS, pod_problem, signature
from bot.core.replies import Section

WORKLOADS = ("deployments", "statefulsets", "daemonsets")


@dataclass(frozen=True)
class FailingPod:
    """A pod that is not healthy, with its group and one-line signature."""

    namespace: str
    name: str
    problem: str
    detail: str
    restarts: int


@dataclass(frozen=True)
class ClusterStatus:
    """What `status` found. ``None`` in a field means that part was not allowed or not readable."""

    namespaces: tuple[str, ...]
    nodes: tuple[NodeView, ...] | None
    failing: tuple[FailingPod, ...] | None
    pods_total: int
    degraded: tuple[WorkloadView, ...] | None
    warnings: Mapping[str, int] | None
    notes: tuple[str, ...] = field(default=())

    def by_problem(self) -> dict[str, list[FailingPod]]:
        """Failing pods grouped by problem, in severity order."""
        groups: dict[str, list[FailingPod]] = {}
        for pod in sorted(self.failing or (), key=lambda p: (PROBLEMS.index(p.problem), p.namespace, p.name)):
            groups.setdefault(pod.problem, []).append(pod)
        return groups

    def summary(self) -> str:
        """One line for the reply's summary."""
        parts = []
        if self.nodes is not None:
            bad = sum(1 for n in self.nodes if not n.ready)
            parts.append(f"{len(self.nodes)} nodes" + (f" ({bad} not ready)" if bad else ""))
        if self.failing is not None:
            parts.append(f"{self.pods_total} pods, " + (f"{len(self.failing)} failing" if self.failing else "none failing"))
        if self.degraded is not None:
            parts.append(f"{len(self.degraded)} workloads below desired replicas" if self.degraded else "all workloads at desired replicas")
        if self.warnings is not None:
            total = sum(self.warnings.values())
            parts.append(f"{total} warnings in the last hour" if total else "no warnings in the last hour")
        return f"{', '.join(self.namespaces)}: " + " · ".join(parts)

    @property
    def healthy(self) -> bool:
        """True when nothing needs attention."""
        return not (self.failing or self.degraded or any(not n.ready for n in self.nodes or ()))


def collect_status(reader: Reader, *, namespaces: tuple[str, ...], resources: frozenset[str], now: dt.datetime) -> ClusterStatus:
    """Read what `status` shows over ``namespaces``, limited to ``resources`` the grant allows."""
    notes: list[str] = []
    nodes = failing = degraded = None
    warnings: dict[str, int] | None = None
    pods_total = 0
    if "nodes" in resources:
        nodes = tuple(node_view(o) for o in reader.list("nodes", namespace=None).items)
    else:
        notes.append("nodes: not readable in this channel")
    if "pods" in resources:
        found = []
        for ns in namespaces:
            listed = reader.list("pods", namespace=ns)
            if listed.truncated:
                notes.append(f"pods in {ns}: only the first {len(listed.items)} were read")
            for obj in listed.items:
                pods_total += 1
                pod = pod_view(obj)
                problem = pod_problem(pod)
                if problem:
                    found.append(FailingPod(ns, pod.name, problem, signature(pod).line, pod.restarts))
        failing = tuple(found)
    else:
        notes.append("pods: not readable in this channel")
    readable = [w for w in WORKLOADS if w in resources]
    if readable:
        below = []
        for ns in namespaces:
            for resource in readable:
                for obj in reader.list(resource, namespace=ns).items:
                    w = workload_view(obj)
                    if w.ready < w.desired:
                        below.append(w)
        degraded = tuple(below)
    else:
        notes.append("workloads: not readable in this channel")
    if "events" in resources:
        counts: Counter[str] = Counter()
        since = now - dt.timedelta(hours=1)
        for ns in namespaces:
            try:
                listed = reader.list("events", namespace=ns, field_selector="type=Warning")
            except ClusterError as exc:
                notes.append(f"events in {ns}: {exc}")
                continue
            for obj in listed.items:
                ev = event_view(obj)
                if ev.type == "Warning" and ev.last_seen and ev.last_seen >= since:
                    counts[ev.reason] += 1
        warnings = dict(counts.most_common())
    else:
        notes.append("events: not readable in this channel")
    return ClusterStatus(namespaces, nodes, failing, pods_total, degraded, warnings, tuple(notes))


def status_sections(status: ClusterStatus) -> list[Section]:
    """Sections of the status reply (monospace bodies are cluster text; callers clean them)."""
    sections: list[Section] = []
    if status.nodes is not None:
        lines = []
        for n in sorted(status.nodes, key=lambda n: (n.ready, n.name)):
            state = "Ready" if n.ready else "NotReady"
            extra = [p for p in n.problems if not p.startswith("NotReady")]
            why = next((p.removeprefix("NotReady: ") for p in n.problems if p.startswith("NotReady")), "")
            lines.append(f"{n.name:<24} {state:<9} {', '.join(extra + ([why] if why else [])) or ''}".rstrip())
        ready = sum(n.ready for n in status.nodes)
        sections.append(Section(title=f"Nodes: {ready} ready, {len(status.nodes) - ready} not ready", body="\n".join(lines) or "(no nodes)", monospace=True))
    if status.failing is not None:
        groups = status.by_problem()
        if groups:
            lines = []
            for problem, pods in groups.items():
                lines.append(f"{problem} ({len(pods)})")
                lines += [f"  {p.namespace}/{p.name}: {p.detail}" for p in pods[:10]]
                if len(pods) > 10:
                    lines.append(f"  … and {len(pods) - 10} more")
            sections.append(Section(title=f"Pods not healthy: {len(status.failing)} of {status.pods_total}", body="\n".join(lines), monospace=True))
        else:
            sections.append(Section(body=f"All {status.pods_total} pods healthy."))
    if status.degraded:
        body = "\n".join(f"{w.namespace}/{w.resource[:-1]}/{w.name}: {w.ready}/{w.desired} ready" for w in status.degraded)
        sections.append(Section(title="Workloads below desired replicas", body=body, monospace=True))
    if status.warnings:
        body = "\n".join(f"{count:>4}  {reason}" for reason, count in status.warnings.items())
        sections.append(Section(title="Warning events in the last hour, by reason", body=body, monospace=True))
    if status.notes:
        sections.append(Section(body="Note: " + "; ".join(status.notes)))
    return sections
