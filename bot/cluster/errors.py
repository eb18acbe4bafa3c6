"""Errors from reading the cluster, as one-line messages users can act on (exit code 4).

Example:
    >>> str(NotFound("pods 'web-1' not found in shop"))
    "pods 'web-1' not found in shop"
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings.cluster import ClusterSettings


class ClusterError(Exception):
    """Reading the cluster failed; ``str()`` is one line without secrets."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class ClusterUnavailable(ClusterError):
    """The API server cannot be reached, timed out, or the client configuration cannot be loaded."""


class Forbidden(ClusterError):
    """RBAC denied firstmate's identity (HTTP 403) or the credentials were rejected (401)."""

    status = 403


class NotFound(ClusterError):
    """The object does not exist (HTTP 404)."""

    status = 404


class RateLimited(ClusterError):
    """The API server kept answering 429, or asked us to wait too long."""

    status = 429


class Gone(ClusterError):
    """HTTP 410: an expired continue token; ``continue_token`` may allow an inconsistent continuation."""

    status = 410

    def __init__(self, message: str, *, continue_token: str | None = None) -> None:
        super().__init__(message)
        self.continue_token = continue_token


class ServerError(ClusterError):
    """The API server kept failing (5xx) or answered something unexpected."""


class MetricsUnavailable(ClusterError):
    """`top` needs the metrics API (metrics.k8s.io), which this cluster does not serve."""


def config_problem(settings: ClusterSettings, exc: Exception) -> str:
    """One line saying what is wrong with the client configuration (kubeconfig, context, in-cluster) and how to fix it."""
    text = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
    if settings.in_cluster:
        if "host/port is not set" in text:
            return "cluster.in_cluster is set but this is not a pod (no KUBERNETES_SERVICE_HOST); use a kubeconfig instead"
        return f"cannot load the in-cluster service account: {text}"
    if settings.kubeconfig is not None and not settings.kubeconfig.is_file():
        return f"the kubeconfig {settings.kubeconfig} does not exist (cluster.kubeconfig)"
    if "No configuration found" in text:
        return ("no kubeconfig found (set cluster.kubeconfig, FIRSTMATE_CLUSTER__KUBECONFIG or KUBECONFIG; "
                "or cluster.in_cluster: true inside a pod)")
    context = re.search(r"Expected object with name (\S+) in .*contexts list", text)
    if context:
        return f"the kubeconfig has no context '{context.group(1)}' (cluster.context)"
    return f"cannot load the kubeconfig: {text}"
