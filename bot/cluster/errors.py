"""Errors from reading the cluster, as one-line messages users can act on (exit code 4).

Example:
    >>> str(NotFound("pods 'web-1' not found in shop"))
    "pods 'web-1' not found in shop"
"""

from __future__ import annotations


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
