"""Cluster section: how to reach the cluster. Policy and limits are added by the cluster module."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class ClusterSettings(BaseModel):
    """Cluster connection settings.

    Example:
        >>> ClusterSettings().in_cluster
        False
    """

    enabled: bool = True
    in_cluster: bool = False
    kubeconfig: Path | None = None
    context: str | None = None
