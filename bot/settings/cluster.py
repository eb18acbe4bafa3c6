"""Cluster section: how to reach the cluster, who may read what (policy), aliases and client limits.

Example YAML (the file named by ``FIRSTMATE_CONFIG``)::

    cluster:
      kubeconfig: /etc/firstmate/kubeconfig
      context: prod
      aliases: {kgp: "get pods"}
      policy:
        channels:
          C0SHOP: {namespaces: [shop], default_namespace: shop, verbs: [get, logs, events, status, diagnose]}
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from bot.cluster.grammar import DEFAULT_MAX_CHARS, READ_VERBS, UsageError, check_alias
from bot.cluster.policy import Policy

_ALIAS = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class ClusterLimits(BaseModel):
    """Client-side limits: timeouts, paging, log size, retries, output size.

    Example:
        >>> ClusterLimits().page_size
        500
    """

    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=15.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=500)
    max_items: int = Field(default=2000, ge=1, description="Lists stop (with a note) after this many objects.")
    log_max_lines: int = Field(default=200, ge=1, le=200)
    log_max_bytes: int = Field(default=65536, ge=1024, le=65536)
    retries: int = Field(default=3, ge=0, le=3, description="Retries of a GET answered with 5xx or 429.")
    backoff_s: float = Field(default=0.5, ge=0, description="First retry delay; doubles, plus jitter.")
    backoff_max_s: float = Field(default=5.0, ge=0)
    retry_after_max_s: float = Field(default=10.0, ge=0, description="A longer Retry-After fails the command instead.")
    max_command_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=16, le=4096)
    inline_rows: int = Field(default=40, ge=1, description="Rows shown in the message; the rest go to an attachment.")
    inline_chars: int = Field(default=2800, ge=200, le=2900, description="Below Slack's 3000-character section limit.")
    attachment_max_bytes: int = Field(default=1_000_000, ge=1024)


class ClusterSettings(BaseModel):
    """Cluster connection, policy, aliases and limits.

    Example:
        >>> ClusterSettings().in_cluster
        False
        >>> ClusterSettings().policy.channels["cli"].namespaces
        ['default']
    """

    enabled: bool = True
    in_cluster: bool = False
    kubeconfig: Path | None = None
    context: str | None = None
    policy: Policy = Field(default_factory=Policy)
    aliases: dict[str, str] = Field(
        default_factory=lambda: {"kgp": "get pods", "kgd": "get deployments", "kgs": "get services", "kgn": "get nodes"}
    )
    limits: ClusterLimits = Field(default_factory=ClusterLimits)
    cli_channel: str = Field(default="cli", description="Policy binding used by `firstmate kube` without --channel.")
    cli_user: str = Field(default="cli", description="User recorded by `firstmate kube` without --user.")
    self_check: bool = Field(default=True, description="Require a passing SelfSubjectAccessReview self-check before cluster commands run.")
    self_check_retry_s: float = Field(default=60.0, ge=0, description="How soon a failed self-check is retried.")
    allow_unsafe_credentials: bool = Field(
        default=False,
        description="Run cluster commands even when the credentials can write or read Secrets. Don't.",
    )
    audit_unknown_after_s: float = Field(
        default=300.0, gt=0, description="An intent with no outcome after this long shows as outcome 'unknown'."
    )

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: dict[str, str]) -> dict[str, str]:
        for name, expansion in value.items():
            if not _ALIAS.match(name) or name in READ_VERBS:
                raise ValueError(f"alias '{name}' must be a short lowercase word that is not a command")
            try:
                check_alias(expansion)  # fully validated again each time it is used
            except UsageError as exc:
                raise ValueError(f"alias '{name}' expands to '{expansion}': {exc}") from exc
        return value
