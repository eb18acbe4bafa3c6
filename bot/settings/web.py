"""Web section: the small HTTP server for /healthz, /readyz and /metrics."""

from __future__ import annotations

from pydantic import BaseModel


class WebSettings(BaseModel):
    """Health and metrics endpoint.

    Example:
        >>> WebSettings().port
        8080
    """

    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 8080
