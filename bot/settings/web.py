"""Web section: the small HTTP server for /healthz, /readyz and /metrics."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WebSettings(BaseModel):
    """Health and metrics endpoint (its own port, so it works in Socket Mode too).

    Example:
        >>> WebSettings().port
        8080
    """

    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 8080
    threads: int = Field(default=4, ge=1, le=64)
