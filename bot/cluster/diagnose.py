"""`diagnose pod NAME` / `diagnose deploy NAME`: live state, a named failure signature, next reads, cited Q&As.

It reads the pod (for a workload: its worst pod), its conditions, each container's state and last
termination, restarts, recent events and the tail of the previous log; names the failure in one
line; suggests the next read-only commands this user may run; and appends the community Q&As that
best match the signature, with their cited sessions. No LLM involved.

Example:
    >>> Diagnosis.__doc__.split(".")[0]
    'Everything diagnose found, typed (the digest reuses signatures and suggestions)'
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.cluster.errors import ClusterError, NotFound
from bot.cluster.models import EventView, PodView, Reader, event_view, pod_view, workload_view
from bot.cluster.policy import Effective
from bot.cluster.redact import clean_text
from bot.cluster.signatures import Signature, severity, signature
from bot.cluster.tables import human_age
from bot.core.replies import Section
from retrieval.models import Hit, SearchBackend

log = logging.getLogger(__name__)
LOG_TAIL = 20


@dataclass(frozen=True)
class Diagnosis:
    """Everything diagnose found, typed (the digest reuses signatures and suggestions)."""

    pod: PodView
    signature: Signature
    events: tuple[EventView, ...]
    log_tail: str | None
    log_note: str
    picked: str
    suggestions: tuple[str, ...]
    related: tuple[Hit, ...]


def _worst_pod(reader: Reader, *, resource: str, name: str, namespace: str) -> tuple[PodView, str]:
    workload = workload_view(reader.get(resource, namespace=namespace, name=name))
    if not workload.selector:
        raise NotFound(f"{resource[:-1]} '{name}' has no pod selector")
    pods = [pod_view(o) for o in reader.list("pods", namespace=namespace, selector=workload.selector).items]
    if not pods:
        raise NotFound(f"{resource[:-1]} '{name}' in {namespace} has no pods ({workload.ready}/{workload.desired} ready)")
    pods.sort(key=lambda p: (*severity(p), p.name))
    note = f"{resource[:-1]}/{name}: {workload.ready}/{workload.desired} ready; the worst of its {len(pods)} pods is shown"
    return pods[0], note


def _events(reader: Reader, pod: PodView) -> tuple[EventView, ...]:
    listed = reader.list("events", namespace=pod.namespace, field_selector=f"involvedObject.name={pod.name}")
    events = [event_view(o) for o in listed.items]
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    events.sort(key=lambda e: e.last_seen or floor, reverse=True)
    return tuple(events[:10])


def _log_tail(reader: Reader, pod: PodView, grant: Effective) -> tuple[str | None, str]:
    if "logs" not in grant.verbs:
        return None, "log tail left out: `logs` is not allowed here"
    main = [c for c in pod.containers if not c.init]
    target = next((c for c in main if c.restarts or c.last_reason), None) or next((c for c in main if c.state != "waiting"), None)
    if target is None:
        return None, "no log yet: no container has started"
    previous = bool(target.restarts or target.last_reason)
    try:
        text = reader.logs(namespace=pod.namespace, pod=pod.name, container=target.name, tail=LOG_TAIL, previous=previous)
        which = "previous" if previous else "current"
    except ClusterError as exc:
        if not previous or exc.status not in (400, 404):
            return None, f"log unavailable: {exc}"
        text = reader.logs(namespace=pod.namespace, pod=pod.name, container=target.name, tail=LOG_TAIL)
        which = "current"
    return clean_text(text.text).rstrip("\n"), f"last {LOG_TAIL} lines of the {which} log of container {target.name}"


def _suggest(pod: PodView, sig: Signature, grant: Effective, *, workload: str | None) -> tuple[str, ...]:
    ns = f"-n {pod.namespace}"
    wanted = [
        ("logs", "pods", f"logs {pod.name} {ns} --previous" if pod.restarts else f"logs {pod.name} {ns}"),
        ("events", "events", f"events {ns} --for pod/{pod.name}"),
        ("describe", "pods", f"describe pod {pod.name} {ns}"),
    ]
    if sig.key in {"OOMKilled", "CrashLoopBackOff"}:
        wanted.append(("top", "pods", f"top pods {ns}"))
    if sig.key == "Pending/Unschedulable":
        wanted += [("get", "nodes", "get nodes"), ("top", "nodes", "top nodes")]
    if workload:
        wanted.append(("get", workload.split("/")[0], f"get {workload.replace('/', ' ')} {ns}"))
    return tuple(cmd for verb, resource, cmd in wanted if verb in grant.verbs and resource in grant.resources)


def _related(search: SearchBackend | None, sig: Signature) -> tuple[Hit, ...]:
    if search is None or sig.healthy or not sig.query:
        return ()
    try:
        return tuple(search.search(sig.query, top_k=3).hits[:3])
    except Exception:  # search is a bonus; diagnose must still answer
        log.warning("diagnose: corpus search failed", exc_info=True)
        return ()


def diagnose(
    reader: Reader,
    *,
    resource: str,
    name: str,
    namespace: str,
    grant: Effective,
    search: SearchBackend | None,
) -> Diagnosis:
    """Read and explain one pod, or the worst pod of a workload."""
    workload = None
    if resource == "pods":
        pod, picked = pod_view(reader.get("pods", namespace=namespace, name=name)), ""
    else:
        pod, picked = _worst_pod(reader, resource=resource, name=name, namespace=namespace)
        workload = f"{resource}/{name}"
    events = _events(reader, pod) if "events" in grant.resources else ()
    sig = signature(pod, events)
    tail, note = _log_tail(reader, pod, grant)
    return Diagnosis(pod, sig, events, tail, note, picked, _suggest(pod, sig, grant, workload=workload), _related(search, sig))


def diagnosis_sections(d: Diagnosis, *, now: dt.datetime) -> list[Section]:
    """The reply body: state, events, log tail, next commands."""
    pod = d.pod
    lines = [f"Pod {pod.namespace}/{pod.name}   phase {pod.phase}" + (f" ({pod.reason})" if pod.reason else "") + (f"   node {pod.node}" if pod.node else "")]
    if d.picked:
        lines.append(d.picked)
    for ctype, (status, reason, message) in pod.conditions.items():
        if status != "True":
            lines.append(f"condition {ctype}={status}" + (f" {reason}" if reason else "") + (f": {message}" if message else ""))
    for c in pod.containers:
        kind = "init container" if c.init else "container"
        state = c.state + (f" ({c.reason})" if c.reason else "") + (f" exit {c.exit_code}" if c.exit_code is not None else "")
        last = f"; last terminated {c.last_reason or '?'} exit {c.last_exit_code}" if c.last_exit_code is not None or c.last_reason else ""
        when = f" {human_age(now - c.last_finished)} ago" if c.last_finished else ""
        limit = f"; memory limit {c.memory_limit}" if c.memory_limit else ""
        lines.append(f"{kind} {c.name}: {state}, ready={str(c.ready).lower()}, restarts {c.restarts}{last}{when}{limit}")
    sections = [Section(title="State", body=clean_text("\n".join(lines)), monospace=True)]
    if d.events:
        ev = [f"{human_age(now - e.last_seen) if e.last_seen else '?':>6}  {e.type:<7} {e.reason:<18} x{e.count:<4} {' '.join(e.message.split())}" for e in d.events]
        sections.append(Section(title="Recent events", body=clean_text("\n".join(ev)), monospace=True))
    if d.log_tail is not None:
        sections.append(Section(title=d.log_note[:1].upper() + d.log_note[1:], body=d.log_tail or "(empty)", monospace=True))
    else:
        sections.append(Section(body=d.log_note[:1].upper() + d.log_note[1:] + "."))
    if d.suggestions:
        sections.append(Section(title="Next read-only commands", body="\n".join(d.suggestions), monospace=True))
    return sections
