"""Store section: SQLite by default, PostgreSQL by URL for several replicas."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class StoreSettings(BaseModel):
    """Where questions, feedback, audit records and the digest outbox live.

    Example:
        >>> StoreSettings().url is None
        True
    """

    data_dir: Path = Field(default=Path("data"), description="SQLite file and other writable state.")
    url: SecretStr | None = Field(
        default=None, description="postgresql://… for several replicas; unset means SQLite in data_dir."
    )
    event_retention_days: int = Field(
        default=7, ge=1, description="Processed Slack event ids kept this long for deduplication."
    )
