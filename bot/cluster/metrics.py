"""Prometheus counters for cluster commands (default registry, so the web server's /metrics shows them).

Example:
    >>> record(verb="get", decision="allowed", seconds=0.01)
    >>> COMMANDS.labels(verb="get", decision="allowed")._value.get() >= 1
    True
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECISIONS = ("allowed", "denied", "usage", "error")

COMMANDS = Counter(
    "firstmate_cluster_commands",
    "Cluster commands by verb and decision (allowed = ran fine, denied = policy/rate/self-check, usage = bad command, error = cluster error).",
    ["verb", "decision"],
)
DURATION = Histogram(
    "firstmate_cluster_command_seconds",
    "Time to answer a cluster command, including the cluster reads.",
    ["verb"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


def record(*, verb: str, decision: str, seconds: float) -> None:
    """Count one command."""
    COMMANDS.labels(verb=verb, decision=decision).inc()
    DURATION.labels(verb=verb).observe(seconds)
