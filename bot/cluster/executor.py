"""Run one allowed request against the reader and shape the reply (get, describe, logs, events, top).

The executor receives the parsed ``Request`` and the policy ``Decision`` and calls the reader with
exactly their fields — nothing is re-parsed, nothing is widened. `status` and `diagnose` live in
their own modules; this module dispatches to them.

Example:
    >>> json_key("LAST SEEN"), json_key("PORT(S)"), json_key("CPU(cores)")
    ('last_seen', 'ports', 'cpu_cores')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from bot.cluster.diagnose import diagnose, diagnosis_sections
from bot.cluster.errors import NotFound
from bot.cluster.format import cut, describe, render_table, sections_for
from bot.cluster.grammar import Request
from bot.cluster.models import KubeObject, Reader, event_view, pod_view, workload_view
from bot.cluster.policy import Decision
from bot.cluster.redact import clean_text
from bot.cluster.resources import RESOURCES
from bot.cluster.status import collect_status, status_sections
from bot.cluster.tables import Row, rows
from bot.core.replies import Reply, Section
from bot.settings.cluster import ClusterLimits
from retrieval.models import SearchBackend

DESCRIBE_MAX = 10
SELECTOR_LOG_PODS = 5


def json_key(header: str) -> str:
    """Column header -> JSON key."""
    return re.sub(r"[^a-z0-9]+", "_", header.lower().replace("(s)", "s")).strip("_")


def _rows_json(table: list[Row]) -> list[dict[str, str]]:
    return [{json_key(k): clean_text(v) for k, v in row.items()} for row in table]


class Executor:
    """Turns (request, decision) into reads and a Reply."""

    def __init__(self, reader: Reader, *, limits: ClusterLimits, search: SearchBackend | None = None) -> None:
        self._reader = reader
        self._limits = limits
        self._search = search

    def run(self, request: Request, decision: Decision, *, now: dt.datetime) -> Reply:
        """Execute; raises ClusterError subclasses for the service to turn into error replies."""
        handler = getattr(self, f"_{request.verb}")
        reply: Reply = handler(request, decision, now)
        return reply

    # -- get ------------------------------------------------------------------------------------

    def _objects(self, request: Request, decision: Decision) -> tuple[list[KubeObject], bool, list[str]]:
        resource = str(request.resource)
        spec = RESOURCES[resource]
        notes: list[str] = []
        if not spec.namespaced:
            if request.name:
                return [self._reader.get(resource, namespace=None, name=request.name)], False, notes
            listed = self._reader.list(resource, namespace=None, selector=request.selector)
            items = list(listed.items)
            if resource == "namespaces" and decision.grant is not None:
                items = [o for o in items if o.name in decision.grant.namespaces]
                notes.append("only the namespaces this channel may read are shown")
            return items, listed.truncated, notes
        items, truncated = [], False
        for ns in decision.namespaces:
            if request.name:
                items.append(self._reader.get(resource, namespace=ns, name=request.name))
                continue
            listed = self._reader.list(resource, namespace=ns, selector=request.selector)
            items += listed.items
            truncated |= listed.truncated
            if listed.inconsistent:
                notes.append(f"the list in {ns} may mix two moments (its continue token expired)")
        if resource == "events":
            floor = dt.datetime.min.replace(tzinfo=dt.UTC)
            items.sort(key=lambda o: event_view(o).last_seen or floor)
        return items, truncated, notes

    def _table_reply(self, request: Request, decision: Decision, table: list[Row], *, truncated: bool, notes: list[str], what: str) -> Reply:
        where = ", ".join(decision.namespaces) if decision.namespaces else "the cluster"
        if not table:
            summary = f"No {what} found in {where}." if decision.namespaces else f"No {what} found."
            return Reply(kind="cluster", summary=summary, data={"verb": request.verb, "resource": request.resource, "namespaces": list(decision.namespaces), "rows": [], "total": 0, "truncated": False})
        text = render_table(table)
        piece = cut(text, limits=self._limits, filename=f"{request.verb}-{request.resource or 'events'}.txt", title=request.normalised())
        sections = sections_for(piece)
        if truncated:
            notes.append(f"the list was capped at {self._limits.max_items} objects")
        if notes:
            sections.append(Section(body="Note: " + "; ".join(notes) + "."))
        summary = f"{len(table)} {what} in {where}" if decision.namespaces else f"{len(table)} {what}"
        data = {"verb": request.verb, "resource": request.resource, "namespaces": list(decision.namespaces), "rows": _rows_json(table), "total": len(table), "truncated": truncated}
        return Reply(kind="cluster", summary=summary, sections=sections, attachment=piece.attachment, data=data)

    def _get(self, request: Request, decision: Decision, now: dt.datetime) -> Reply:
        items, truncated, notes = self._objects(request, decision)
        table = rows(str(request.resource), tuple(items), now=now, with_namespace=len(decision.namespaces) > 1)
        return self._table_reply(request, decision, table, truncated=truncated, notes=notes, what=str(request.resource))

    # -- describe ---------------------------------------------------------------------------------

    def _describe(self, request: Request, decision: Decision, now: dt.datetime) -> Reply:
        items, _, _ = self._objects(request, decision)
        if not items:
            raise NotFound(f"no {request.resource} match {request.selector} in {', '.join(decision.namespaces)}")
        shown = items[:DESCRIBE_MAX]
        with_events = decision.grant is not None and "events" in decision.grant.resources and request.resource != "events"
        parts = []
        for obj in shown:
            events: list[Row] = []
            if with_events and obj.namespace:
                listed = self._reader.list("events", namespace=obj.namespace, field_selector=f"involvedObject.name={obj.name}")
                events = [{k: v for k, v in r.items() if k != "OBJECT"} for r in rows("events", listed.items, now=now, with_namespace=False)]
            parts.append(describe(obj, events=events))
        text = "\n\n".join(parts)
        piece = cut(text, limits=self._limits, filename=f"describe-{request.resource}.txt", title=request.normalised(), keep_header=False)
        sections = sections_for(piece)
        if len(items) > DESCRIBE_MAX:
            sections.append(Section(body=f"Note: {len(items)} objects matched; the first {DESCRIBE_MAX} are described."))
        names = ", ".join(o.name for o in shown)
        data = {"verb": "describe", "resource": request.resource, "names": [o.name for o in shown], "text": text}
        return Reply(kind="cluster", summary=f"describe {request.resource} {names}", sections=sections, attachment=piece.attachment, data=data)

    # -- logs -----------------------------------------------------------------------------------

    def _log_targets(self, request: Request, namespace: str) -> tuple[list[KubeObject], str]:
        if request.resource == "pods" and request.name:
            return [self._reader.get("pods", namespace=namespace, name=request.name)], ""
        if request.resource == "pods":
            listed = self._reader.list("pods", namespace=namespace, selector=request.selector)
            return list(listed.items[:SELECTOR_LOG_PODS]), f"{len(listed.items)} pods match {request.selector}"
        workload = workload_view(self._reader.get(str(request.resource), namespace=namespace, name=str(request.name)))
        listed = self._reader.list("pods", namespace=namespace, selector=workload.selector)
        if not listed.items:
            raise NotFound(f"{request.resource} '{request.name}' has no pods in {namespace}")
        pick = next((o for o in listed.items if pod_view(o).phase == "Running"), listed.items[0])
        return [pick], f"pod {pick.name} of {RESOURCES[str(request.resource)].singular}/{request.name}"

    def _logs(self, request: Request, decision: Decision, now: dt.datetime) -> Reply:
        namespace = decision.namespaces[0]
        pods, note = self._log_targets(request, namespace)
        if not pods:
            raise NotFound(f"no pods match {request.selector} in {namespace}")
        chunks, data_pods, truncated = [], [], False
        for obj in pods:
            pod = pod_view(obj)
            main = [c.name for c in pod.containers if not c.init]
            default = obj.get("metadata", "annotations", "kubectl.kubernetes.io/default-container")
            container = request.container or (default if default in main else (main[0] if main else None))
            result = self._reader.logs(namespace=namespace, pod=obj.name, container=container, tail=int(request.tail or 50), previous=request.previous, since_seconds=request.since_seconds)
            text = clean_text(result.text).rstrip("\n")
            truncated |= result.truncated
            head = f"==> {obj.name}/{container} <==\n" if len(pods) > 1 else ""
            chunks.append(head + (text or "(no log lines)"))
            data_pods.append({"pod": obj.name, "container": container, "lines": text.splitlines() if text else []})
            if len(main) > 1 and not request.container:
                note = (note + "; " if note else "") + f"container {container} (others: {', '.join(c for c in main if c != container)})"
        text = "\n\n".join(chunks)
        piece = cut(text, limits=self._limits, filename="logs.txt", title=request.normalised(), keep_header=False, tail=True)
        sections = sections_for(piece)
        notes = [n for n in (note, "the log was cut at the size cap" if truncated else "") if n]
        if notes:
            sections.append(Section(body="Note: " + "; ".join(notes) + "."))
        which = "previous " if request.previous else ""
        summary = f"{which}logs of {pods[0].name if len(pods) == 1 else f'{len(pods)} pods'} in {namespace} (last {request.tail} lines)"
        data = {"verb": "logs", "namespace": namespace, "pods": data_pods, "truncated": truncated}
        return Reply(kind="cluster", summary=summary, sections=sections, attachment=piece.attachment, data=data)

    # -- events, top ------------------------------------------------------------------------------

    def _events(self, request: Request, decision: Decision, now: dt.datetime) -> Reply:
        field = None
        if request.for_resource and request.for_name:
            field = f"involvedObject.kind={RESOURCES[request.for_resource].kind},involvedObject.name={request.for_name}"
        items: list[KubeObject] = []
        truncated = False
        for ns in decision.namespaces:
            listed = self._reader.list("events", namespace=ns, field_selector=field)
            items += listed.items
            truncated |= listed.truncated
        if request.since_seconds:
            since = now - dt.timedelta(seconds=request.since_seconds)
            items = [o for o in items if (event_view(o).last_seen or now) >= since]
        floor = dt.datetime.min.replace(tzinfo=dt.UTC)
        items.sort(key=lambda o: event_view(o).last_seen or floor)
        table = rows("events", tuple(items), now=now, with_namespace=len(decision.namespaces) > 1)
        return self._table_reply(request, decision, table, truncated=truncated, notes=[], what="events")

    def _top(self, request: Request, decision: Decision, now: dt.datetime) -> Reply:
        resource = str(request.resource)
        table: list[Row] = []
        scopes: tuple[str | None, ...] = decision.namespaces if resource == "pods" else (None,)
        for ns in scopes:
            for obj in self._reader.metrics(resource, namespace=ns).items:
                if request.name and obj.name != request.name:
                    continue
                usage = [c.get("usage", {}) for c in obj.get("containers", default=())] if resource == "pods" else [obj.get("usage", default={})]
                row: Row = {"NAMESPACE": ns or ""} if len(scopes) > 1 else {}
                row.update({"NAME": obj.name, "CPU(cores)": _sum_cpu(usage), "MEMORY(bytes)": _sum_mem(usage)})
                table.append(row)
        return self._table_reply(request, decision, table, truncated=False, notes=[], what=f"{resource} (usage)")

    # -- status, diagnose, help -------------------------------------------------------------------

    def _status(self, request: Request, decision: Decision, now: dt.datetime) -> Reply:
        resources = decision.grant.resources if decision.grant else frozenset()
        status = collect_status(self._reader, namespaces=decision.namespaces, resources=resources, now=now)
        sections = [s.model_copy(update={"body": clean_text(s.body)}) if s.monospace else s for s in status_sections(status)]
        return Reply(kind="cluster", summary=status.summary(), sections=sections, data=_status_json(status))

    def _diagnose(self, request: Request, decision: Decision, now: dt.datetime) -> Reply:
        assert decision.grant is not None
        d = diagnose(self._reader, resource=str(request.resource), name=str(request.name), namespace=decision.namespaces[0], grant=decision.grant, search=self._search)
        data = {"verb": "diagnose", "namespace": d.pod.namespace, "pod": d.pod.name, "signature": d.signature.key, "line": d.signature.line,
                "suggestions": list(d.suggestions), "related": [{"qa_id": h.qa_id, "session": h.session.id, "date": h.session.date.isoformat(), "title": h.session.title} for h in d.related]}
        return Reply(kind="cluster", summary=clean_text(d.signature.line), sections=diagnosis_sections(d, now=now), related=list(d.related), data=data, meta={"signature": d.signature.key})


def _status_json(status: Any) -> dict[str, Any]:
    return {
        "verb": "status", "namespaces": list(status.namespaces), "healthy": status.healthy,
        "nodes": None if status.nodes is None else [{"name": n.name, "ready": n.ready, "problems": list(n.problems)} for n in status.nodes],
        "pods_total": status.pods_total,
        "failing": None if status.failing is None else [dataclasses.asdict(p) | {"detail": clean_text(p.detail)} for p in status.failing],
        "degraded": None if status.degraded is None else [{"resource": w.resource, "namespace": w.namespace, "name": w.name, "ready": w.ready, "desired": w.desired} for w in status.degraded],
        "warnings": None if status.warnings is None else dict(status.warnings),
        "notes": list(status.notes),
    }


def _cpu_millis(value: str) -> float:
    if value.endswith("n"):
        return int(value[:-1]) / 1e6
    if value.endswith("u"):
        return int(value[:-1]) / 1e3
    if value.endswith("m"):
        return float(value[:-1])
    return float(value or 0) * 1000


def _mem_mib(value: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024, "k": 1000 / 1048576, "M": 1e6 / 1048576, "G": 1e9 / 1048576}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value or 0) / 1048576


def _sum_cpu(usages: list[Any]) -> str:
    return f"{round(sum(_cpu_millis(str(u.get('cpu', '0'))) for u in usages))}m"


def _sum_mem(usages: list[Any]) -> str:
    return f"{round(sum(_mem_mib(str(u.get('memory', '0'))) for u in usages))}Mi"
