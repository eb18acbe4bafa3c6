"""kubectl-style columns for each readable resource type (what `get` shows).

Example:
    >>> import datetime as dt
    >>> human_age(dt.timedelta(hours=50))
    '2d2h'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from bot.cluster.models import KubeObject, parse_time, pod_view

Row = dict[str, str]


def human_age(delta: dt.timedelta) -> str:
    """kubectl's short human duration (``45s``, ``5m10s``, ``3h``, ``2d4h``, ``40d``, ``2y3d``)."""
    secs = int(delta.total_seconds())
    if secs < 0:
        return "0s"
    mins, hours, days = secs // 60, secs // 3600, secs // 86400
    if secs < 120:
        return f"{secs}s"
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    if hours < 8:
        return f"{hours}h{mins % 60}m" if mins % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days < 365 * 8 else f"{days // 365}y"


def _age(obj: KubeObject, now: dt.datetime) -> str:
    return human_age(now - obj.created) if obj.created else "<unknown>"


def pod_status(obj: KubeObject) -> str:
    """The STATUS column kubectl prints for a pod (waiting/terminated reasons, Init:…, Terminating)."""
    pod = pod_view(obj)
    reason = pod.reason or pod.phase
    inits = [c for c in pod.containers if c.init]
    for i, c in enumerate(inits):
        if c.state == "terminated" and c.exit_code == 0:
            continue
        if c.state == "terminated":
            return f"Init:{c.reason}" if c.reason else f"Init:ExitCode:{c.exit_code}"
        if c.state == "waiting" and c.reason and c.reason != "PodInitializing":
            return f"Init:{c.reason}"
        return f"Init:{i}/{len(inits)}"
    has_running = False
    for c in reversed([c for c in pod.containers if not c.init]):
        if (c.state == "waiting" and c.reason) or (c.state == "terminated" and c.reason):
            reason = c.reason
        elif c.state == "terminated":
            reason = f"ExitCode:{c.exit_code}"
        elif c.state == "running" and c.ready:
            has_running = True
    if reason == "Completed" and has_running:
        reason = "Running"
    if pod.deleting:
        reason = "Terminating"
    return reason


def _pods(obj: KubeObject, now: dt.datetime) -> Row:
    pod = pod_view(obj)
    main = [c for c in pod.containers if not c.init]
    restarts = str(pod.restarts)
    last = max((c.last_finished for c in main if c.last_finished), default=None)
    if pod.restarts and last:
        restarts += f" ({human_age(now - last)} ago)"
    return {"READY": f"{sum(c.ready for c in main)}/{len(main)}", "STATUS": pod_status(obj), "RESTARTS": restarts, "AGE": _age(obj, now)}


def _deployments(obj: KubeObject, now: dt.datetime) -> Row:
    s = obj.get("status", default={})
    return {"READY": f"{s.get('readyReplicas', 0)}/{obj.get('spec', 'replicas', default=1)}", "UP-TO-DATE": str(s.get("updatedReplicas", 0)),
            "AVAILABLE": str(s.get("availableReplicas", 0)), "AGE": _age(obj, now)}


def _statefulsets(obj: KubeObject, now: dt.datetime) -> Row:
    return {"READY": f"{obj.get('status', 'readyReplicas', default=0)}/{obj.get('spec', 'replicas', default=1)}", "AGE": _age(obj, now)}


def _daemonsets(obj: KubeObject, now: dt.datetime) -> Row:
    s = obj.get("status", default={})
    sel = obj.get("spec", "template", "spec", "nodeSelector", default={})
    return {"DESIRED": str(s.get("desiredNumberScheduled", 0)), "CURRENT": str(s.get("currentNumberScheduled", 0)), "READY": str(s.get("numberReady", 0)),
            "UP-TO-DATE": str(s.get("updatedNumberScheduled", 0)), "AVAILABLE": str(s.get("numberAvailable", 0)),
            "NODE SELECTOR": ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>", "AGE": _age(obj, now)}


def _replicasets(obj: KubeObject, now: dt.datetime) -> Row:
    s = obj.get("status", default={})
    return {"DESIRED": str(obj.get("spec", "replicas", default=1)), "CURRENT": str(s.get("replicas", 0)), "READY": str(s.get("readyReplicas", 0)), "AGE": _age(obj, now)}


def _jobs(obj: KubeObject, now: dt.datetime) -> Row:
    s = obj.get("status", default={})
    conds = {c.get("type"): c.get("status") for c in s.get("conditions") or ()}
    status = "Complete" if conds.get("Complete") == "True" else "Failed" if conds.get("Failed") == "True" else "Running"
    start, end = parse_time(s.get("startTime")), parse_time(s.get("completionTime"))
    duration = human_age((end or now) - start) if start else ""
    return {"STATUS": status, "COMPLETIONS": f"{s.get('succeeded', 0)}/{obj.get('spec', 'completions', default=1)}", "DURATION": duration, "AGE": _age(obj, now)}


def _cronjobs(obj: KubeObject, now: dt.datetime) -> Row:
    last = parse_time(obj.get("status", "lastScheduleTime"))
    return {"SCHEDULE": str(obj.get("spec", "schedule", default="")), "TIMEZONE": str(obj.get("spec", "timeZone", default="<none>")),
            "SUSPEND": str(bool(obj.get("spec", "suspend", default=False))), "ACTIVE": str(len(obj.get("status", "active", default=()))),
            "LAST SCHEDULE": human_age(now - last) if last else "<none>", "AGE": _age(obj, now)}


def _ports(ports: Any) -> str:
    out = []
    for p in ports or ():
        node_port = f":{p.get('nodePort')}" if p.get("nodePort") else ""
        out.append(f"{p.get('port')}{node_port}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _services(obj: KubeObject, now: dt.datetime) -> Row:
    ingress = obj.get("status", "loadBalancer", "ingress", default=())
    external = ",".join(str(i.get("ip") or i.get("hostname")) for i in ingress) or (
        "<pending>" if obj.get("spec", "type") == "LoadBalancer" else "<none>"
    )
    return {"TYPE": str(obj.get("spec", "type", default="ClusterIP")), "CLUSTER-IP": str(obj.get("spec", "clusterIP", default="<none>")),
            "EXTERNAL-IP": external, "PORT(S)": _ports(obj.get("spec", "ports")), "AGE": _age(obj, now)}


def _endpoints(obj: KubeObject, now: dt.datetime) -> Row:
    eps = [f"{a.get('ip')}:{p.get('port')}" for s in obj.get("subsets", default=()) for a in s.get("addresses") or () for p in s.get("ports") or ()]
    shown = ",".join(eps[:3]) + (f" + {len(eps) - 3} more..." if len(eps) > 3 else "")
    return {"ENDPOINTS": shown or "<none>", "AGE": _age(obj, now)}


def _ingresses(obj: KubeObject, now: dt.datetime) -> Row:
    hosts = ",".join(str(r.get("host", "*")) for r in obj.get("spec", "rules", default=())) or "*"
    addr = ",".join(str(i.get("ip") or i.get("hostname")) for i in obj.get("status", "loadBalancer", "ingress", default=()))
    ports = "80, 443" if obj.get("spec", "tls") else "80"
    return {"CLASS": str(obj.get("spec", "ingressClassName", default="<none>")), "HOSTS": hosts, "ADDRESS": addr, "PORTS": ports, "AGE": _age(obj, now)}


def _nodes(obj: KubeObject, now: dt.datetime) -> Row:
    conds = {c.get("type"): c.get("status") for c in obj.get("status", "conditions", default=())}
    status = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if obj.get("spec", "unschedulable", default=False):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in obj.labels if k.startswith("node-role.kubernetes.io/")) or ["<none>"]
    return {"STATUS": status, "ROLES": ",".join(roles), "AGE": _age(obj, now), "VERSION": str(obj.get("status", "nodeInfo", "kubeletVersion", default=""))}


def _namespaces(obj: KubeObject, now: dt.datetime) -> Row:
    return {"STATUS": str(obj.get("status", "phase", default="")), "AGE": _age(obj, now)}


def _events(obj: KubeObject, now: dt.datetime) -> Row:
    last = parse_time(obj.get("lastTimestamp")) or parse_time(obj.get("eventTime")) or obj.created
    inv = obj.get("involvedObject", default={})
    return {"LAST SEEN": human_age(now - last) if last else "<unknown>", "TYPE": str(obj.get("type", default="")),
            "REASON": str(obj.get("reason", default="")), "OBJECT": f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
            "MESSAGE": " ".join(str(obj.get("message", default="")).split())}


def _pvcs(obj: KubeObject, now: dt.datetime) -> Row:
    return {"STATUS": str(obj.get("status", "phase", default="")), "VOLUME": str(obj.get("spec", "volumeName", default="")),
            "CAPACITY": str(obj.get("status", "capacity", "storage", default="")), "ACCESS MODES": _modes(obj.get("spec", "accessModes")),
            "STORAGECLASS": str(obj.get("spec", "storageClassName", default="<unset>")), "AGE": _age(obj, now)}


def _modes(modes: Any) -> str:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or ())


def _pvs(obj: KubeObject, now: dt.datetime) -> Row:
    claim = obj.get("spec", "claimRef", default={})
    return {"CAPACITY": str(obj.get("spec", "capacity", "storage", default="")), "ACCESS MODES": _modes(obj.get("spec", "accessModes")),
            "RECLAIM POLICY": str(obj.get("spec", "persistentVolumeReclaimPolicy", default="")), "STATUS": str(obj.get("status", "phase", default="")),
            "CLAIM": f"{claim.get('namespace')}/{claim.get('name')}" if claim else "", "STORAGECLASS": str(obj.get("spec", "storageClassName", default="")),
            "AGE": _age(obj, now)}


def _hpas(obj: KubeObject, now: dt.datetime) -> Row:
    ref = obj.get("spec", "scaleTargetRef", default={})
    targets = []
    current = {m.get("resource", {}).get("name"): m.get("resource", {}).get("current", {}) for m in obj.get("status", "currentMetrics", default=())}
    for m in obj.get("spec", "metrics", default=()):
        res = m.get("resource") or {}
        want = (res.get("target") or {}).get("averageUtilization")
        have = (current.get(res.get("name")) or {}).get("averageUtilization")
        targets.append(f"{res.get('name')}: {have if have is not None else '<unknown>'}%/{want}%")
    return {"REFERENCE": f"{ref.get('kind')}/{ref.get('name')}", "TARGETS": ", ".join(targets) or "<none>",
            "MINPODS": str(obj.get("spec", "minReplicas", default=1)), "MAXPODS": str(obj.get("spec", "maxReplicas", default="")),
            "REPLICAS": str(obj.get("status", "currentReplicas", default=0)), "AGE": _age(obj, now)}


def _configmaps(obj: KubeObject, now: dt.datetime) -> Row:
    keys = sorted([*obj.get("data", default={}), *obj.get("binaryData", default={})])
    shown = ",".join(keys[:4]) + (f",+{len(keys) - 4}" if len(keys) > 4 else "")
    return {"DATA": str(len(keys)), "KEYS": shown or "<none>", "AGE": _age(obj, now)}


COLUMNS: dict[str, Callable[[KubeObject, dt.datetime], Row]] = {
    "pods": _pods, "deployments": _deployments, "statefulsets": _statefulsets, "daemonsets": _daemonsets,
    "replicasets": _replicasets, "jobs": _jobs, "cronjobs": _cronjobs, "services": _services, "endpoints": _endpoints,
    "ingresses": _ingresses, "nodes": _nodes, "namespaces": _namespaces, "events": _events,
    "persistentvolumeclaims": _pvcs, "persistentvolumes": _pvs, "horizontalpodautoscalers": _hpas, "configmaps": _configmaps,
}


def rows(resource: str, objects: tuple[KubeObject, ...], *, now: dt.datetime, with_namespace: bool) -> list[Row]:
    """One row (column -> cell) per object, NAME first, NAMESPACE first when listing several namespaces."""
    out = []
    for obj in objects:
        row: Row = {"NAMESPACE": obj.namespace or ""} if with_namespace else {}
        if resource != "events":
            row["NAME"] = obj.name
        row.update(COLUMNS[resource](obj, now))
        out.append(row)
    return out
