"""The one narrow door to the cluster: the only module that imports ``kubernetes``, and it only reads.

Every call is a ``list_*``/``read_*``/``get_*`` method of the official client (HTTP GET); the one
exception is ``review``, which POSTs SelfSubjectAccessReview objects for the start-up self-check
(asking "may I?" changes nothing). Results are our own frozen dataclasses (bot/cluster/models.py),
scrubbed before they leave this module.

Limits: connect/read timeouts, lists paged with ``limit`` and capped, logs capped in lines and bytes,
5xx answers to GETs retried with exponential backoff and jitter, 429 honoured via Retry-After,
410 on an expired continue token handled (continue inconsistently if the server offers a token,
otherwise restart the list once).

Example:
    >>> from bot.settings.cluster import ClusterSettings
    >>> reader = KubeReader(ClusterSettings())  # connects lazily, on the first read
    >>> "kubernetes" in __import__("sys").modules
    False
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from bot.cluster.errors import (
    ClusterError,
    ClusterUnavailable,
    Forbidden,
    Gone,
    MetricsUnavailable,
    NotFound,
    RateLimited,
    ServerError,
    config_problem,
)
from bot.cluster.models import AccessReview, KubeObject, LogText, ObjectList
from bot.cluster.resources import RESOURCES
from bot.settings.cluster import ClusterSettings

log = logging.getLogger(__name__)

# resource -> (API class, method suffix). Methods used: list_namespaced_X, read_namespaced_X, list_X, read_X.
_API: dict[str, tuple[str, str]] = {
    "pods": ("CoreV1Api", "pod"),
    "services": ("CoreV1Api", "service"),
    "endpoints": ("CoreV1Api", "endpoints"),
    "events": ("CoreV1Api", "event"),
    "persistentvolumeclaims": ("CoreV1Api", "persistent_volume_claim"),
    "configmaps": ("CoreV1Api", "config_map"),
    "nodes": ("CoreV1Api", "node"),
    "namespaces": ("CoreV1Api", "namespace"),
    "persistentvolumes": ("CoreV1Api", "persistent_volume"),
    "deployments": ("AppsV1Api", "deployment"),
    "statefulsets": ("AppsV1Api", "stateful_set"),
    "daemonsets": ("AppsV1Api", "daemon_set"),
    "replicasets": ("AppsV1Api", "replica_set"),
    "jobs": ("BatchV1Api", "job"),
    "cronjobs": ("BatchV1Api", "cron_job"),
    "ingresses": ("NetworkingV1Api", "ingress"),
    "horizontalpodautoscalers": ("AutoscalingV2Api", "horizontal_pod_autoscaler"),
}
_MAX_BODY = 64 * 1024 * 1024
_DISCOVERY_TTL_S = 300.0


def _status_message(body: Any, fallback: str) -> tuple[str, dict[str, Any]]:
    """The message and metadata of a Kubernetes Status body, if it is one."""
    try:
        data = json.loads(body) if isinstance(body, str | bytes) and body else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    message = str(data.get("message") or fallback).splitlines()[0][:300] if (data.get("message") or fallback) else ""
    return message, dict(data.get("metadata") or {})


class KubeReader:
    """Read-only access to one cluster through the official client, with firstmate's limits.

    Construct once per process and share; the API client is built on first use.
    """

    def __init__(
        self,
        settings: ClusterSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._limits = settings.limits
        self._sleep = sleep
        self._rng = rng
        self._client: Any = None
        self._lock = threading.Lock()
        self._groups: tuple[float, frozenset[str]] | None = None

    # -- client -------------------------------------------------------------------------------

    def _api_client(self) -> Any:
        with self._lock:
            if self._client is not None:
                return self._client
            import urllib3
            from kubernetes import client, config

            cfg = client.Configuration()
            try:
                if self._settings.in_cluster:
                    config.load_incluster_config(client_configuration=cfg)
                else:
                    kubeconfig = str(self._settings.kubeconfig) if self._settings.kubeconfig else None
                    config.load_kube_config(
                        config_file=kubeconfig,
                        context=self._settings.context,
                        client_configuration=cfg,
                        persist_config=False,
                    )
            except Exception as exc:  # ConfigException, FileNotFoundError, YAML errors
                raise ClusterUnavailable(config_problem(self._settings, exc)) from exc
            # Our own retry loop decides what to retry; urllib3 must not retry behind our back.
            cfg.retries = urllib3.Retry(total=0, redirect=0, raise_on_status=False)
            self._client = client.ApiClient(cfg)
            return self._client

    def _api(self, name: str) -> Any:
        from kubernetes import client

        return getattr(client, name)(self._api_client())

    @property
    def host(self) -> str:
        """The API server URL (for messages; no credentials)."""
        return str(self._api_client().configuration.host)

    def close(self) -> None:
        """Release pooled connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- one request with firstmate's limits -----------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        base = min(self._limits.backoff_max_s, self._limits.backoff_s * (2**attempt))
        return base + self._rng() * self._limits.backoff_s

    def _call(self, label: str, fn: Callable[..., Any], *args: Any, retry: bool = True, cap: int = _MAX_BODY, **kw: Any) -> tuple[bytes, bool]:
        """Run one client call; returns (body, truncated). Raises our ClusterError subclasses."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        timeout = (self._limits.connect_timeout_s, self._limits.read_timeout_s)
        attempt = 0
        while True:
            try:
                resp = fn(*args, _preload_content=False, _request_timeout=timeout, **kw)
                try:
                    body = resp.read(cap + 1)
                finally:
                    if len(body) <= cap:
                        resp.release_conn()
                    else:
                        resp.close()
                return body[:cap], len(body) > cap
            except ApiException as exc:
                status = int(exc.status or 0)
                message, meta = _status_message(exc.body, exc.reason or f"HTTP {status}")
                if status == 0:
                    raise ClusterUnavailable(f"{label}: {message}") from exc
                if status >= 500 and retry and attempt < self._limits.retries:
                    delay = self._backoff(attempt)
                    log.warning("cluster %s: HTTP %s, retry %d in %.2fs", label, status, attempt + 1, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                if status == 429:
                    wait = _retry_after(exc.headers)
                    if retry and attempt < self._limits.retries and wait <= self._limits.retry_after_max_s:
                        log.warning("cluster %s: 429, waiting %.1fs (Retry-After)", label, wait)
                        self._sleep(wait + self._rng() * 0.1)
                        attempt += 1
                        continue
                    raise RateLimited(f"{label}: the API server is rate limiting us (Retry-After {wait:g}s)") from exc
                if status == 410:
                    raise Gone(f"{label}: {message}", continue_token=meta.get("continue")) from exc
                if status in (401, 403):
                    why = "credentials rejected" if status == 401 else "forbidden for firstmate's identity"
                    raise Forbidden(f"{label}: {why}: {message}", status=status) from exc
                if status == 404:
                    raise NotFound(f"{label}: not found", status=404) from exc
                if status >= 500:
                    raise ServerError(f"{label}: the API server failed (HTTP {status}) {1 + attempt} times: {message}", status=status) from exc
                raise ClusterError(f"{label}: HTTP {status}: {message}", status=status) from exc
            except urllib3.exceptions.HTTPError as exc:
                reason = getattr(exc, "reason", None) or exc
                kind = "timed out" if "timeout" in type(reason).__name__.lower() or "timed out" in str(reason) else "unreachable"
                raise ClusterUnavailable(f"{label}: the API server {kind} ({type(reason).__name__})") from exc

    def _json(self, label: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> dict[str, Any]:
        body, truncated = self._call(label, fn, *args, **kw)
        if truncated:
            raise ServerError(f"{label}: response larger than {_MAX_BODY} bytes")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ServerError(f"{label}: the API server sent something that is not JSON") from exc
        if not isinstance(data, dict):
            raise ServerError(f"{label}: unexpected response")
        return data

    # -- reads ----------------------------------------------------------------------------------

    def _method(self, resource: str, action: str, namespaced: bool) -> Callable[..., Any]:
        api, suffix = _API[resource]
        assert action in {"list", "read"}  # this module never calls anything else on resources
        name = f"{action}_namespaced_{suffix}" if namespaced else f"{action}_{suffix}"
        return getattr(self._api(api), name)

    def list(
        self,
        resource: str,
        *,
        namespace: str | None,
        selector: str | None = None,
        field_selector: str | None = None,
        max_items: int | None = None,
    ) -> ObjectList:
        """All objects of one type in one namespace (or cluster-scoped), paged and capped."""
        spec = RESOURCES[resource]
        if spec.namespaced != (namespace is not None):
            raise ValueError(f"{resource} is {'namespaced' if spec.namespaced else 'cluster-scoped'}")
        method = self._method(resource, "list", spec.namespaced)
        args = (namespace,) if namespace is not None else ()
        cap = min(max_items or self._limits.max_items, self._limits.max_items)
        label = f"list {resource}" + (f" in {namespace}" if namespace else "")
        items: list[KubeObject] = []
        token: str | None = None
        inconsistent = restarted = False
        while True:
            kw: dict[str, Any] = {"limit": min(self._limits.page_size, cap - len(items) or 1)}
            if selector:
                kw["label_selector"] = selector
            if field_selector:
                kw["field_selector"] = field_selector
            if token:
                kw["_continue"] = token
            try:
                page = self._json(label, method, *args, **kw)
            except Gone as exc:
                if not token:
                    raise
                if exc.continue_token:
                    token, inconsistent = exc.continue_token, True
                elif not restarted:
                    items, token, restarted = [], None, True
                else:
                    raise
                log.warning("cluster %s: continue token expired; %s", label, "continuing" if token else "restarting")
                continue
            kind = str(page.get("kind", "")).removesuffix("List")
            items += [KubeObject.from_json(resource, i, kind=kind) for i in page.get("items") or () if isinstance(i, dict)]
            token = (page.get("metadata") or {}).get("continue") or None
            if len(items) >= cap:
                return ObjectList(resource, namespace, tuple(items[:cap]), truncated=bool(token) or len(items) > cap, inconsistent=inconsistent)
            if not token:
                return ObjectList(resource, namespace, tuple(items), inconsistent=inconsistent)

    def get(self, resource: str, *, namespace: str | None, name: str) -> KubeObject:
        """One object by name."""
        spec = RESOURCES[resource]
        if spec.namespaced != (namespace is not None):
            raise ValueError(f"{resource} is {'namespaced' if spec.namespaced else 'cluster-scoped'}")
        method = self._method(resource, "read", spec.namespaced)
        args = (name, namespace) if namespace is not None else (name,)
        where = f" in {namespace}" if namespace else ""
        try:
            data = self._json(f"get {resource} {name}{where}", method, *args)
        except NotFound as exc:
            raise NotFound(f"{spec.singular} '{name}' not found{where}") from exc
        return KubeObject.from_json(resource, data, kind=spec.kind)

    def logs(
        self,
        *,
        namespace: str,
        pod: str,
        container: str | None = None,
        tail: int = 50,
        previous: bool = False,
        since_seconds: int | None = None,
    ) -> LogText:
        """The last ``tail`` lines (at most 200) and at most 64 KiB of a container's log."""
        tail = max(1, min(tail, self._limits.log_max_lines))
        kw: dict[str, Any] = {"tail_lines": tail, "limit_bytes": self._limits.log_max_bytes, "timestamps": False}
        if container:
            kw["container"] = container
        if previous:
            kw["previous"] = True
        if since_seconds:
            kw["since_seconds"] = since_seconds
        api = self._api("CoreV1Api")
        label = f"logs of {pod} in {namespace}"
        try:
            body, truncated = self._call(label, api.read_namespaced_pod_log, pod, namespace, cap=self._limits.log_max_bytes, **kw)
        except NotFound as exc:
            raise NotFound(f"pod '{pod}' not found in {namespace}") from exc
        text = body.decode("utf-8", errors="replace")
        lines = text.splitlines()
        if len(lines) > tail:
            text, truncated = "\n".join(lines[-tail:]), True
        return LogText(text=text, truncated=truncated or len(body) >= self._limits.log_max_bytes)

    def api_groups(self) -> frozenset[str]:
        """Names of the API groups the server serves (discovery)."""
        data = self._json("discovery", self._api("ApisApi").get_api_versions)
        return frozenset(str(g.get("name")) for g in data.get("groups") or () if isinstance(g, dict))

    def _cached_groups(self) -> frozenset[str]:
        """api_groups(), asked at most every 5 minutes (`top -A` would otherwise ask once per namespace)."""
        now = time.monotonic()
        if self._groups is None or now - self._groups[0] > _DISCOVERY_TTL_S:
            self._groups = (now, self.api_groups())
        return self._groups[1]

    def server_version(self) -> str:
        """The server's gitVersion, e.g. v1.32.4."""
        return str(self._json("version", self._api("VersionApi").get_code).get("gitVersion", "unknown"))

    def metrics(self, resource: str, *, namespace: str | None) -> ObjectList:
        """Pod or node usage from metrics.k8s.io (for `top`)."""
        if "metrics.k8s.io" not in self._cached_groups():
            raise MetricsUnavailable("`top` needs the metrics API (metrics.k8s.io, e.g. metrics-server); this cluster has none")
        api = self._api("CustomObjectsApi")
        if resource == "pods" and namespace is not None:
            data = self._json(f"top pods in {namespace}", api.list_namespaced_custom_object, "metrics.k8s.io", "v1beta1", namespace, "pods", limit=self._limits.page_size)
        else:
            data = self._json("top nodes", api.list_cluster_custom_object, "metrics.k8s.io", "v1beta1", "nodes", limit=self._limits.page_size)
        items = tuple(KubeObject.from_json(resource, i, kind="Metrics") for i in data.get("items") or () if isinstance(i, dict))
        return ObjectList(resource, namespace, items, truncated=bool((data.get("metadata") or {}).get("continue")))

    def review(self, checks: Sequence[AccessReview]) -> tuple[AccessReview, ...]:
        """Ask the API server (SelfSubjectAccessReview) whether firstmate's identity may do each thing."""
        from kubernetes import client

        api = self._api("AuthorizationV1Api")
        out = []
        for check in checks:
            body = client.V1SelfSubjectAccessReview(
                api_version="authorization.k8s.io/v1",
                kind="SelfSubjectAccessReview",
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        verb=check.verb,
                        resource=check.resource,
                        group=check.group,
                        subresource=check.subresource or None,
                        namespace=check.namespace or None,
                    )
                ),
            )
            data = self._json(f"access review ({check.label()})", api.create_self_subject_access_review, body, retry=False, _content_type="application/json")
            status = data.get("status") or {}
            allowed = bool(status.get("allowed")) and not status.get("denied")
            reason = str(status.get("reason") or status.get("evaluationError") or "")[:200]
            out.append(AccessReview(**{**check.__dict__, "allowed": allowed, "reason": reason}))
        return tuple(out)


def _retry_after(headers: Any) -> float:
    """Seconds from a Retry-After header (integer seconds as the API server sends); 1 if absent or odd."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
