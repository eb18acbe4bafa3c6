"""A fake kube-apiserver on loopback (HTTPS, port 0) that speaks enough real Kubernetes for kubectl.

It serves discovery (/version, /api, /apis, group versions), lists and gets of the fixture objects
under tests/fixtures/kube/ (timestamps shifted so the fixture epoch is "now"), pod logs, Table
responses when a client asks for them (kubectl does), paging with ``limit``/``continue`` tokens,
and SelfSubjectAccessReview answers. It behaves like a cluster where the caller's identity is bound
to a configurable RBAC rule set (default: read-only, no Secrets, no exec/attach/port-forward/proxy):
anything not allowed gets a 403 Status, unknown objects a 404 Status, a missing token a 401.

Fault modes: 500, 429 with Retry-After, slow answers, a black hole (connection accepted, never
answered) and 410 Gone for expired continue tokens (with or without an inconsistent-continue token).
Every request is recorded (method, path, query) so tests can assert that only GETs ever arrive.

Example:
    with FakeKubeApiServer() as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kube"
TOKEN = "fake-sa-token-for-tests"
USER = "system:serviceaccount:firstmate:firstmate"
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

# plural -> (group, version, kind, namespaced, short names)
RESOURCES: dict[str, tuple[str, str, str, bool, list[str]]] = {
    "pods": ("", "v1", "Pod", True, ["po"]),
    "services": ("", "v1", "Service", True, ["svc"]),
    "endpoints": ("", "v1", "Endpoints", True, ["ep"]),
    "events": ("", "v1", "Event", True, ["ev"]),
    "persistentvolumeclaims": ("", "v1", "PersistentVolumeClaim", True, ["pvc"]),
    "configmaps": ("", "v1", "ConfigMap", True, ["cm"]),
    "secrets": ("", "v1", "Secret", True, []),
    "serviceaccounts": ("", "v1", "ServiceAccount", True, ["sa"]),
    "nodes": ("", "v1", "Node", False, ["no"]),
    "namespaces": ("", "v1", "Namespace", False, ["ns"]),
    "persistentvolumes": ("", "v1", "PersistentVolume", False, ["pv"]),
    "deployments": ("apps", "v1", "Deployment", True, ["deploy"]),
    "statefulsets": ("apps", "v1", "StatefulSet", True, ["sts"]),
    "daemonsets": ("apps", "v1", "DaemonSet", True, ["ds"]),
    "replicasets": ("apps", "v1", "ReplicaSet", True, ["rs"]),
    "jobs": ("batch", "v1", "Job", True, []),
    "cronjobs": ("batch", "v1", "CronJob", True, ["cj"]),
    "ingresses": ("networking.k8s.io", "v1", "Ingress", True, ["ing"]),
    "horizontalpodautoscalers": ("autoscaling", "v2", "HorizontalPodAutoscaler", True, ["hpa"]),
    "selfsubjectaccessreviews": ("authorization.k8s.io", "v1", "SelfSubjectAccessReview", False, []),
}
_SUBRESOURCES = {"pods": ["log", "exec", "attach", "portforward", "status"], "nodes": ["proxy", "status"]}
_TIME_KEYS = {
    "creationTimestamp", "lastTimestamp", "firstTimestamp", "eventTime", "startedAt", "finishedAt",
    "lastTransitionTime", "lastHeartbeatTime", "lastProbeTime", "startTime", "lastScheduleTime",
    "lastSuccessfulTime", "completionTime", "lastUpdateTime", "timestamp", "time", "deletionTimestamp",
}


@dataclass(frozen=True)
class Rule:
    """An RBAC-like rule: fnmatch patterns over verb, group, resource (``pods/log`` for subresources), namespace."""

    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    groups: tuple[str, ...] = ("*",)
    namespaces: tuple[str, ...] = ("*",)

    def matches(self, verb: str, group: str, resource: str, namespace: str) -> bool:
        return (
            any(fnmatch.fnmatchcase(verb, v) for v in self.verbs)
            and any(fnmatch.fnmatchcase(group, g) for g in self.groups)
            and any(fnmatch.fnmatchcase(resource, r) for r in self.resources)
            and any(fnmatch.fnmatchcase(namespace or "", n) for n in self.namespaces)
        )


READ_ONLY = (
    Rule(
        verbs=("get", "list", "watch"),
        resources=(
            "pods", "pods/log", "services", "endpoints", "events", "persistentvolumeclaims", "configmaps",
            "nodes", "namespaces", "persistentvolumes", "deployments", "statefulsets", "daemonsets",
            "replicasets", "jobs", "cronjobs", "ingresses", "horizontalpodautoscalers",
        ),
    ),
    Rule(verbs=("get", "list"), groups=("metrics.k8s.io",), resources=("pods", "nodes")),
    Rule(verbs=("create",), groups=("authorization.k8s.io",), resources=("selfsubjectaccessreviews",)),
)
CLUSTER_ADMIN = (Rule(verbs=("*",), resources=("*",)),)


@dataclass
class Fault:
    """Answer requests whose path matches ``pattern`` with a fault, ``times`` times (None = forever)."""

    pattern: str
    mode: str  # "500" | "429" | "slow" | "blackhole"
    times: int | None = 1
    retry_after: int = 1
    delay: float = 0.5


@dataclass
class Recorded:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, list[str]]
    accept: str = ""
    body: Any = None


def _shift_times(value: Any, delta: dt.timedelta) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _TIME_KEYS and isinstance(item, str) and item.endswith("Z"):
                when = dt.datetime.strptime(item, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) + delta
                out[key] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            else:
                out[key] = _shift_times(item, delta)
        return out
    if isinstance(value, list):
        return [_shift_times(v, delta) for v in value]
    return value


def _status(code: int, reason: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": extra.pop("metadata", {}), "status": "Failure",
            "message": message, "reason": reason, "code": code, **extra}


def _age(ts: str | None, now: dt.datetime) -> str:
    if not ts:
        return "<unknown>"
    secs = int((now - dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)).total_seconds())
    if secs < 120:
        return f"{max(secs, 0)}s"
    if secs < 3 * 3600:
        return f"{secs // 60}m"
    if secs < 48 * 3600:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def _match_labels(labels: dict[str, str], selector: str) -> bool:
    """Equality-based selectors plus `in (…)`, the subset the reader and kubectl send."""
    for term in re.split(r",(?![^()]*\))", selector):
        term = term.strip()
        if not term:
            continue
        if m := re.match(r"^(\S+)\s+(in|notin)\s+\((.*)\)$", term):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if (labels.get(key) in values) != (op == "in"):
                return False
        elif "!=" in term:
            key, val = term.split("!=", 1)
            if labels.get(key) == val:
                return False
        elif "=" in term:
            key, val = term.replace("==", "=").split("=", 1)
            if labels.get(key) != val:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field_value(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


class FakeKubeApiServer:
    """The fake API server; use as a context manager or call ``start``/``stop``."""

    def __init__(self, *, rules: tuple[Rule, ...] = READ_ONLY, metrics: bool = False, tls: bool = True) -> None:
        self.rules = rules
        self.metrics = metrics
        self.tls = tls
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.continue_generation = 0
        self.offer_inconsistent_continue = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self._load()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_pem = ""

    # -- data ---------------------------------------------------------------------------------

    def _load(self) -> None:
        cluster = json.loads((FIXTURES / "cluster.json").read_text())
        epoch = dt.datetime.strptime(cluster.pop("epoch"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        delta = self.now - epoch
        self.cluster: dict[str, list[dict[str, Any]]] = {k: _shift_times(v, delta)["items"] for k, v in cluster.items()}
        self.namespaced: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for plural, (_, _, _, namespaced, _) in RESOURCES.items():
            path = FIXTURES / f"{plural}.json"
            if namespaced:
                raw = json.loads(path.read_text()) if path.exists() else {}
                self.namespaced[plural] = {ns: _shift_times(lst, delta)["items"] for ns, lst in raw.items()}
        self.logs: dict[str, dict[str, str | None]] = json.loads((FIXTURES / "logs.json").read_text())
        self.metrics_data = _shift_times(json.loads((FIXTURES / "metrics.json").read_text()), delta)

    def add_generated_pods(self, namespace: str, count: int) -> None:
        """Add ``count`` small running pods (for paging tests)."""
        stamp = (self.now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        items = self.namespaced["pods"].setdefault(namespace, [])
        for i in range(count):
            items.append({
                "kind": "Pod", "apiVersion": "v1",
                "metadata": {"name": f"batch-{i:05d}", "namespace": namespace, "uid": f"gen-{i}", "creationTimestamp": stamp, "labels": {"app": "batch"}},
                "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}], "nodeName": "node-a"},
                "status": {"phase": "Running", "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0, "image": "busybox:1.36", "state": {"running": {"startedAt": stamp}}}]},
            })

    def expire_continue_tokens(self, *, offer_inconsistent: bool) -> None:
        """Make every continue token issued so far answer 410 Gone (as after etcd compaction)."""
        with self._lock:
            self.continue_generation += 1
            self.offer_inconsistent_continue = offer_inconsistent

    def add_fault(self, pattern: str, mode: str, **kw: Any) -> Fault:
        """Inject a fault for paths matching the regex ``pattern``."""
        fault = Fault(pattern=pattern, mode=mode, **kw)
        with self._lock:
            self.faults.append(fault)
        return fault

    def allowed(self, verb: str, group: str, resource: str, namespace: str) -> bool:
        """The RBAC decision for the caller's identity."""
        return any(rule.matches(verb, group, resource, namespace) for rule in self.rules)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeKubeApiServer:
        handler = type("Handler", (_Handler,), {"api": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        if self.tls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            cert.configure_cert(ctx)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            self.ca_pem = ca.cert_pem.bytes().decode()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-kube-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._server = None

    def __enter__(self) -> FakeKubeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._server.server_address[1]}"

    def write_kubeconfig(self, path: Path, *, token: str = TOKEN, context: str = "fake") -> Path:
        """A kubeconfig with the CA, the server URL and a bearer token; ``context`` names its only context."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem.encode()).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "firstmate", "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": "fake", "user": "firstmate", "namespace": "shop"}}],
        }
        path.write_text(json.dumps(config, indent=1))
        return path

    def methods(self) -> set[str]:
        """Methods of all recorded requests."""
        return {r.method for r in self.requests}

    def changes_requested(self) -> list[Recorded]:
        """Requests that are neither GETs nor the self-check's access reviews (which change nothing)."""
        return [r for r in self.requests if r.method != "GET" and not (r.method == "POST" and r.path == SSAR_PATH)]

    # -- request handling ------------------------------------------------------------------------

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if re.search(fault.pattern, path) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def discovery(self, path: str) -> dict[str, Any] | None:
        groups: dict[str, list[str]] = {}
        for group, version, *_ in RESOURCES.values():
            if group:
                groups.setdefault(group, [])
                if version not in groups[group]:
                    groups[group].append(version)
        if self.metrics:
            groups["metrics.k8s.io"] = ["v1beta1"]
        if path == "/version":
            return {"major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
                    "gitTreeState": "clean", "buildDate": "2025-04-22T16:02:27Z", "goVersion": "go1.23.6", "compiler": "gc", "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}} for g, vs in groups.items()]}
        m = re.fullmatch(r"/api/v1|/apis/([^/]+)/([^/]+)", path)
        if not m:
            return None
        group, version = (m.group(1) or ""), (m.group(2) or "v1")
        if group and version not in groups.get(group, []):
            return None
        resources = []
        if group == "metrics.k8s.io":
            resources = [{"name": n, "singularName": "", "namespaced": n == "pods", "kind": k, "verbs": ["get", "list"]}
                         for n, k in (("pods", "PodMetrics"), ("nodes", "NodeMetrics"))]
        for plural, (g, v, kind, namespaced, short) in RESOURCES.items():
            if g == group and v == version:
                verbs = ["create"] if plural == "selfsubjectaccessreviews" else ["create", "delete", "get", "list", "patch", "update", "watch"]
                resources.append({"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": verbs, "shortNames": short})
                resources += [{"name": f"{plural}/{sub}", "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get"]}
                              for sub in _SUBRESOURCES.get(plural, [])]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else "v1", "resources": resources}

    def route(self, path: str) -> tuple[str, str, str | None, str | None, str | None] | None:
        """(group, plural, namespace, name, subresource) for a resource path."""
        m = re.fullmatch(r"/api/v1(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?(?:/([^/]+))?", path) or None
        group = ""
        if m is None:
            m2 = re.fullmatch(r"/apis/([^/]+)/([^/]+)(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?(?:/([^/]+))?", path)
            if m2 is None:
                return None
            group = m2.group(1)
            ns, plural, name, sub = m2.group(3), m2.group(4), m2.group(5), m2.group(6)
        else:
            ns, plural, name, sub = m.group(1), m.group(2), m.group(3), m.group(4)
        if ns is None and plural == "namespaces" and name and sub is None:
            return group, "namespaces", None, name, None
        return group, plural, ns, name, sub

    def token_for(self, offset: int) -> str:
        return base64.urlsafe_b64encode(json.dumps({"o": offset, "g": self.continue_generation}).encode()).decode()

    def page(self, items: list[dict[str, Any]], query: dict[str, list[str]]) -> tuple[list[dict[str, Any]], str | None, dict[str, Any] | None]:
        """(page, next token, 410 Status or None)."""
        limit = int(query.get("limit", ["0"])[0] or 0)
        offset = 0
        if "continue" in query:
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"][0]))
                offset, gen = int(token["o"]), int(token["g"])
            except (ValueError, KeyError, TypeError):
                return [], None, _status(400, "BadRequest", "continue key is not valid: illegal base64 data")
            if gen != self.continue_generation:
                meta = {"continue": self.token_for(offset)} if self.offer_inconsistent_continue else {}
                return [], None, _status(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.", metadata=meta)
        if limit <= 0:
            return items[offset:], None, None
        chunk = items[offset : offset + limit]
        more = offset + limit < len(items)
        return chunk, (self.token_for(offset + limit) if more else None), None

    def table(self, plural: str, items: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
        """A meta.k8s.io/v1 Table, as the API server answers kubectl's `as=Table` requests."""
        cols = [{"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}]
        if plural == "pods":
            cols += [{"name": n, "type": t, "format": "", "description": n, "priority": 0}
                     for n, t in (("Ready", "string"), ("Status", "string"), ("Restarts", "string"))]
        cols.append({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp", "priority": 0})
        rows = []
        for item in items:
            md = item["metadata"]
            cells: list[Any] = [md["name"]]
            if plural == "pods":
                statuses = item.get("status", {}).get("containerStatuses") or []
                ready = sum(1 for s in statuses if s.get("ready"))
                total = len(item.get("spec", {}).get("containers", []))
                reason = item.get("status", {}).get("reason") or item.get("status", {}).get("phase", "Unknown")
                for s in statuses:
                    state = s.get("state", {})
                    if state.get("waiting", {}).get("reason"):
                        reason = state["waiting"]["reason"]
                    elif state.get("terminated", {}).get("reason"):
                        reason = state["terminated"]["reason"]
                cells += [f"{ready}/{total}", reason, str(sum(int(s.get("restartCount", 0)) for s in statuses))]
            cells.append(_age(md.get("creationTimestamp"), dt.datetime.now(dt.UTC)))
            partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}
            rows.append({"cells": cells, "object": partial})
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": cols, "rows": rows}

    def review(self, body: dict[str, Any]) -> dict[str, Any]:
        attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
        resource = attrs.get("resource", "")
        if attrs.get("subresource"):
            resource = f"{resource}/{attrs['subresource']}"
        ok = self.allowed(attrs.get("verb", ""), attrs.get("group", ""), resource, attrs.get("namespace", ""))
        reason = 'RBAC: allowed by ClusterRoleBinding "firstmate-read"' if ok else ""
        return {**body, "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "metadata": {"creationTimestamp": None}, "status": {"allowed": ok, "reason": reason}}


class _Handler(BaseHTTPRequestHandler):
    api: FakeKubeApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: Any, *, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", "fake")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _forbidden(self, verb: str, resource: str, group: str, ns: str | None) -> None:
        where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
        plural = resource.partition("/")[0]
        message = f'{plural} is forbidden: User "{USER}" cannot {verb} resource "{resource}" in API group "{group}"{where}'
        self._send(403, _status(403, "Forbidden", message, details={"kind": plural, "group": group}))

    def _handle(self) -> None:
        api = self.api
        parts = urlsplit(self.path)
        path, query = parts.path.rstrip("/") or "/", parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        api.requests.append(Recorded(self.command, path, query, self.headers.get("Accept", ""), body))
        scheme, _, credential = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or credential.strip() != TOKEN:  # the scheme is case-insensitive, as on a real server
            self._send(401, _status(401, "Unauthorized", "Unauthorized"))
            return
        fault = api.take_fault(path)
        if fault is not None:
            if fault.mode == "500":
                self._send(500, _status(500, "InternalError", "Internal error occurred: etcdserver: request timed out"))
                return
            if fault.mode == "429":
                self._send(429, _status(429, "TooManyRequests", "Too many requests, please try again later.", details={"retryAfterSeconds": fault.retry_after}),
                           headers={"Retry-After": str(fault.retry_after)})
                return
            if fault.mode == "blackhole":
                api._stop.wait(120)
                self.close_connection = True
                return
            if fault.mode == "slow":
                time.sleep(fault.delay)
        if self.command == "POST" and path == SSAR_PATH:
            content_type = self.headers.get("Content-Type", "")
            if content_type and "json" not in content_type:
                # No Content-Type means JSON (as on a real API server). A real server also decodes
                # protobuf; this fake only speaks JSON, and says so.
                self._send(415, _status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json, not {content_type}"))
                return
            self._send(201, api.review(body or {}))
            return
        if self.command == "GET":
            doc = api.discovery(path)
            if doc is not None:
                self._send(200, doc)
                return
            if path.startswith("/openapi"):
                self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
                return
        route = api.route(path)
        if route is None:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        group, plural, ns, name, sub = route
        verb = {"GET": "watch" if query.get("watch", [""])[0] in ("true", "1") else ("get" if name else "list"),
                "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(self.command, self.command.lower())
        if sub in ("exec", "attach", "portforward", "proxy") and self.command == "GET":
            verb = "create"  # the websocket upgrade of exec/attach/port-forward is authorised as create
        resource = f"{plural}/{sub}" if sub else plural
        if group == "metrics.k8s.io":
            self._metrics(plural, ns, verb)
            return
        known = RESOURCES.get(plural)
        if known is None or known[0] != group:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        if not api.allowed(verb, group, resource, ns or ""):
            self._forbidden(verb, resource, group, ns)
            return
        if verb == "watch" or self.command != "GET":
            self._send(405, _status(405, "MethodNotAllowed", f"the fake API server does not implement {verb}"))
            return
        self._read(plural, ns, name, sub, query)

    def _objects(self, plural: str, ns: str | None) -> list[dict[str, Any]]:
        api = self.api
        if not RESOURCES[plural][3]:
            return list(api.cluster.get(plural, []))
        per_ns = api.namespaced.get(plural, {})
        if ns is None:
            return [o for items in per_ns.values() for o in items]
        return list(per_ns.get(ns, []))

    def _read(self, plural: str, ns: str | None, name: str | None, sub: str | None, query: dict[str, list[str]]) -> None:
        api = self.api
        group, version, kind, _, _ = RESOURCES[plural]
        items = self._objects(plural, ns)
        if name is None:
            if sel := query.get("labelSelector", [""])[0]:
                items = [o for o in items if _match_labels(o["metadata"].get("labels") or {}, sel)]
            if fsel := query.get("fieldSelector", [""])[0]:
                for term in fsel.split(","):
                    key, _, val = term.partition("=")
                    items = [o for o in items if _field_value(o, key) == val]
            chunk, token, gone = api.page(items, query)
            if gone is not None:
                self._send(gone["code"], gone)
                return
            meta = {"resourceVersion": "99001", **({"continue": token, "remainingItemCount": len(items) - len(chunk)} if token else {})}
            if "as=Table" in self.headers.get("Accept", ""):
                self._send(200, api.table(plural, chunk, meta), content_type="application/json;as=Table;v=v1;g=meta.k8s.io")
                return
            api_version = f"{group}/{version}" if group else version
            self._send(200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": chunk})
            return
        obj = next((o for o in items if o["metadata"]["name"] == name), None)
        if obj is None:
            self._send(404, _status(404, "NotFound", f'{plural} "{name}" not found', details={"name": name, "kind": plural}))
            return
        if sub == "log":
            self._log(obj, query)
            return
        if sub is not None:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        self._send(200, obj)

    def _log(self, pod: dict[str, Any], query: dict[str, list[str]]) -> None:
        md = pod["metadata"]
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container", [""])[0]
        if not container:
            if len(containers) > 1:
                self._send(400, _status(400, "BadRequest", f"a container name must be specified for pod {md['name']}, choose one of: [{' '.join(containers)}]"))
                return
            container = containers[0]
        if container not in containers:
            self._send(400, _status(400, "BadRequest", f"container {container} is not valid for pod {md['name']}"))
            return
        entry = self.api.logs.get(f"{md['namespace']}/{md['name']}/{container}", {"current": "", "previous": None})
        previous = query.get("previous", [""])[0] == "true"
        text = entry.get("previous") if previous else entry.get("current")
        if text is None:
            what = f'previous terminated container "{container}" in pod "{md["name"]}" not found' if previous else f'container "{container}" in pod "{md["name"]}" is waiting to start'
            self._send(400, _status(400, "BadRequest", what))
            return
        lines = text.splitlines(keepends=True)
        if "tailLines" in query:
            lines = lines[-int(query["tailLines"][0]) :] if int(query["tailLines"][0]) > 0 else []
        data = "".join(lines).encode()
        if "limitBytes" in query:
            data = data[: int(query["limitBytes"][0])]
        self._send(200, data, content_type="text/plain")

    def _metrics(self, plural: str, ns: str | None, verb: str) -> None:
        api = self.api
        if not api.metrics:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        if not api.allowed(verb, "metrics.k8s.io", plural, ns or ""):
            self._forbidden(verb, plural, "metrics.k8s.io", ns)
            return
        if plural == "nodes":
            self._send(200, api.metrics_data["nodes"])
        else:
            data = api.metrics_data["pods"].get(ns or "", {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": []})
            self._send(200, data)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()
