"""Digest section: schedules of the cluster and knowledge digests."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DigestSettings(BaseModel):
    """Digest schedules.

    Example:
        >>> DigestSettings().enabled
        True
    """

    enabled: bool = True
    schedules: list[dict[str, object]] = Field(default_factory=list)
