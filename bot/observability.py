"""Structured logs and Prometheus metrics, shared by every transport.

Logs go through structlog: JSON lines when stderr is not a TTY (containers), readable key=value
on a terminal. Library logs (slack_bolt, slack_sdk, waitress) are routed through the same
pipeline. Two guards run on every record: secrets are scrubbed (Slack tokens, bearer headers,
database passwords, and any value registered with ``register_secret``), and third-party records
at INFO and above lose any request payload they carry, because bolt prints request bodies in some
warnings. Our own code logs ids, sizes and timings, never message text, at INFO.

Metrics live in one ``CollectorRegistry`` per process (``Metrics.registry``) so tests can build
several apps, and other features can add their own collectors to it.

Example:
    >>> m = Metrics()
    >>> m.events_received.labels(kind="app_mention").inc()
    >>> b"firstmate_events_received_total" in m.render()
    True
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import IO, Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_TOKEN_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"xox[abeoprs]-[A-Za-z0-9-]+"), "[redacted]"),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "[redacted]"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_THIRD_PARTY = ("slack_bolt", "slack_sdk", "waitress", "websocket")


def register_secret(value: str | None) -> None:
    """Scrub this exact value from every log line from now on (tokens, signing secret…)."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Replace secrets in ``text`` with ``[redacted]``.

    Example:
        >>> redact("token xoxb-123-abc used")
        'token [redacted] used'
    """
    for pattern, replacement in _TOKEN_PATTERNS:
        text = pattern.sub(replacement, text)
    with _secrets_lock:
        values = list(_secrets)
    for value in values:
        if value in text:
            text = text.replace(value, "[redacted]")
    return text


def _redact_processor(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = redact(value)
        elif isinstance(value, (dict, list, tuple)):
            event_dict[key] = redact(str(value))
    return event_dict


class _PayloadFilter(logging.Filter):
    """Third-party records at INFO+ keep their sentence but drop any payload they print."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO or not record.name.startswith(_THIRD_PARTY):
            return True
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        cut = min((i for i in (message.find("{"), message.find("body")) if i >= 0), default=-1)
        if cut >= 0:
            message = message[:cut].rstrip(" (:") + " [payload omitted]"
        record.msg, record.args = message[:300], None
        return True


def _plain_renderer(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> str:
    """``firstmate: warning: what happened (key=value, …)``: for people at a terminal (the console)."""
    level = str(event_dict.pop("level", method))
    event = str(event_dict.pop("event", ""))
    exception = event_dict.pop("exception", None)
    for key in ("timestamp", "logger", "logger_name"):
        event_dict.pop(key, None)
    extras = ", ".join(f"{k}={v}" for k, v in event_dict.items() if not str(k).startswith("_"))
    line = f"firstmate: {level}: {event}" + (f" ({extras})" if extras else "")
    return line + (f"\n{exception}" if exception else "")


def configure_logging(
    *, level: str = "INFO", json_logs: bool | None = None, stream: IO[str] | None = None, plain: bool = False
) -> None:
    """Set up structlog and route the standard library's logging through it (idempotent).

    ``json_logs=None`` means JSON unless ``stream`` (stderr by default) is a TTY. ``plain`` renders
    one short ``firstmate: level: …`` line per record, for the interactive console.
    """
    out = stream if stream is not None else sys.stderr
    as_json = json_logs if json_logs is not None else not (hasattr(out, "isatty") and out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_processor,
    ]
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    renderer: Any = _plain_renderer if plain else (
        structlog.processors.JSONRenderer(ensure_ascii=False) if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setLevel(level.upper())  # libraries that set their own logger to DEBUG stay quiet too
    handler.setFormatter(formatter)
    handler.addFilter(_PayloadFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_firstmate", False):
            root.removeHandler(old)
    handler._firstmate = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("slack_bolt", "slack_sdk", "waitress", "websocket", "urllib3"):
        logging.getLogger(name).setLevel(max(logging.getLevelName(level.upper()), logging.INFO))


def get_logger(name: str) -> Any:
    """A structlog logger bound to ``name`` (use keyword fields, never message text)."""
    return structlog.get_logger(name)


class Metrics:
    """The bot's Prometheus collectors, in one registry other features can add to.

    Example:
        >>> m = Metrics()
        >>> m.answer_latency.observe(0.2)
        >>> b"firstmate_answer_latency_seconds_bucket" in m.render()
        True
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_received = Counter(
            "firstmate_events_received", "Slack events, commands and actions received.", ["kind"], registry=r
        )
        self.duplicates = Counter(
            "firstmate_duplicate_events", "Deliveries skipped because the event was already handled.", registry=r
        )
        self.answers_posted = Counter(
            "firstmate_answers_posted", "Replies posted, by kind (answer, abstained, cluster, more…).", ["kind"], registry=r
        )
        self.abstentions = Counter("firstmate_abstentions", "Questions without a confident answer.", registry=r)
        self.errors = Counter("firstmate_errors", "Errors by stage (search, post, store, …).", ["stage"], registry=r)
        self.rate_limited = Counter(
            "firstmate_slack_rate_limited", "429 answers from the Slack Web API, by method.", ["method"], registry=r
        )
        self.feedback = Counter("firstmate_feedback", "Feedback clicks, by value.", ["value"], registry=r)
        self.answer_latency = Histogram(
            "firstmate_answer_latency_seconds",
            "From receiving a question to its reply being posted.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
            registry=r,
        )
        self.in_flight = Gauge("firstmate_in_flight", "Answers being worked on or waiting for a worker.", registry=r)

    def render(self) -> bytes:
        """The text exposition format of every collector in the registry."""
        return generate_latest(self.registry)
