"""Prometheus counters for cluster commands, registered in the process's own registry.

The web server's ``/metrics`` renders ``bot.observability.Metrics.registry`` (one registry per
process, so tests can build several apps), so the cluster collectors must live there too:
``ClusterService.from_settings(settings, metrics=runtime_metrics)`` registers them in it. Without a
registry (the one-shot CLI) they go to a private one nobody scrapes.

Example:
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> registry = CollectorRegistry()
    >>> m = ClusterMetrics(registry)
    >>> m.record(verb="get", decision="denied", seconds=0.01)
    >>> b'firstmate_cluster_commands_total{decision="denied",verb="get"} 1.0' in generate_latest(registry)
    True
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

DECISIONS = ("allowed", "denied", "usage", "error")


class ClusterMetrics:
    """``firstmate_cluster_commands_total{verb,decision}`` and ``firstmate_cluster_command_seconds{verb}``.

    decision: allowed = ran fine, denied = policy / rate limit / unsafe credentials, usage = bad
    command, error = the cluster (or the audit store) failed or could not be verified.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.commands = Counter(
            "firstmate_cluster_commands",
            "Cluster commands by verb and decision (allowed = ran fine, denied = policy/rate/unsafe credentials, "
            "usage = bad command, error = cluster or audit store failure).",
            ["verb", "decision"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "firstmate_cluster_command_seconds",
            "Time to answer a cluster command, including the cluster reads.",
            ["verb"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )

    def record(self, *, verb: str, decision: str, seconds: float) -> None:
        """Count one command."""
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        self.commands.labels(verb=verb, decision=decision).inc()
        self.duration.labels(verb=verb).observe(seconds)
