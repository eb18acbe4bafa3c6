"""The HTTP transport: a WSGI front for bolt, served by waitress (see bot/web.py for why waitress).

``/slack/events``, ``/slack/commands`` and ``/slack/interactions`` all go to the same bolt app
(bolt tells the payloads apart). Before bolt sees a request, the front:

* refuses anything but POST (405) and bodies over ``max_body_bytes`` (413);
* verifies Slack's signature, HMAC-SHA256 ``v0`` over ``v0:{timestamp}:{raw body}`` with the
  signing secret, with at most 5 minutes of clock skew. A bad signature, an old timestamp, a
  missing or non-numeric timestamp all give 401, never 500 (slack_sdk's verifier raises on a
  non-numeric timestamp, and bolt logs the request body when it rejects one);
* turns any failure inside bolt into a 500 without a body echo, logged with the request id.

Other paths fall through to the observability app (``/healthz``, ``/readyz``, ``/metrics``).

Example:
    >>> SLACK_PATHS
    ('/slack/events', '/slack/commands', '/slack/interactions')
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.observability import Metrics, get_logger
from bot.web import WsgiApp

log = get_logger("firstmate.slack.http")

SLACK_PATHS = ("/slack/events", "/slack/commands", "/slack/interactions")
MAX_SKEW_S = 300


def _plain(start_response: Callable[..., Any], status: str, body: bytes, ctype: str = "application/json") -> list[bytes]:
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def signature_ok(
    *, secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None
) -> bool:
    """True only for a well-formed, fresh, correctly signed request."""
    if not timestamp or not signature or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_SKEW_S:
        return False
    expected = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body.decode("utf-8", "replace"))
    return expected is not None and hmac.compare_digest(expected, signature)


class SlackHttpFront:
    """WSGI app: verified Slack requests to bolt, everything else to ``fallback``."""

    def __init__(
        self,
        app: App,
        *,
        signing_secret: str,
        metrics: Metrics,
        fallback: WsgiApp | None = None,
        max_body_bytes: int = 1_048_576,
    ) -> None:
        self.app = app
        self._secret = signing_secret
        self.metrics = metrics
        self.fallback = fallback
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in SLACK_PATHS:
            if self.fallback is not None:
                return self.fallback(environ, start_response)
            return _plain(start_response, "404 Not Found", b'{"error": "not found"}')
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(start_response, "405 Method Not Allowed", b'{"error": "POST only"}')
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _plain(start_response, "400 Bad Request", b'{"error": "bad content length"}')
        if length > self.max_body_bytes:
            self.metrics.errors.labels(stage="http_too_large").inc()
            return _plain(start_response, "413 Payload Too Large", b'{"error": "request too large"}')
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if not signature_ok(secret=self._secret, body=body, timestamp=headers.get("x-slack-request-timestamp"),
                            signature=headers.get("x-slack-signature")):
            self.metrics.errors.labels(stage="http_bad_signature").inc()
            log.warning("rejected request with an invalid signature", path=path, bytes=len(body))
            return _plain(start_response, "401 Unauthorized", b'{"error": "invalid signature"}')
        try:
            text = body.decode("utf-8")
            request = BoltRequest(body=text, query=environ.get("QUERY_STRING", ""),
                                  headers={k: [v] for k, v in headers.items()})
        except (UnicodeDecodeError, ValueError) as exc:
            log.warning("rejected a signed but malformed request", path=path, error=type(exc).__name__)
            return _plain(start_response, "400 Bad Request", b'{"error": "malformed body"}')
        try:
            response = self.app.dispatch(request)
        except Exception as exc:
            self.metrics.errors.labels(stage="http_dispatch").inc()
            log.error("bolt dispatch failed", path=path, error=type(exc).__name__, exc_info=True)
            return _plain(start_response, "500 Internal Server Error", b'{"error": "internal error"}')
        out = response.body.encode("utf-8") if isinstance(response.body, str) else bytes(response.body or b"")
        header_list = [(k, v) for k, values in response.headers.items() for v in values
                       if k.lower() != "content-length"]
        header_list.append(("Content-Length", str(len(out))))
        start_response(f"{response.status} {_REASONS.get(response.status, 'OK')}", header_list)
        return [out]


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error"}
