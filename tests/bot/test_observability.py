"""Logs: JSON off a TTY, secrets scrubbed, third-party payloads dropped at INFO."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from bot.observability import configure_logging, get_logger, redact, register_secret


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_with_level_logger_and_time() -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream)  # a StringIO is not a TTY: JSON
    get_logger("firstmate.test").info("question answered", request_id="r1", chars=42)
    [record] = _records(stream)
    assert record["event"] == "question answered" and record["request_id"] == "r1" and record["chars"] == 42
    assert record["level"] == "info" and record["logger"] == "firstmate.test" and "timestamp" in record


def test_secrets_never_reach_the_logs() -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", stream=stream)
    register_secret("s3cr3t-signing-value")
    log = get_logger("firstmate.test")
    log.info("calling", header="Authorization: Bearer xoxb-123-456-abc", url="postgresql://fm:hunter2@db/fm")
    logging.getLogger("urllib3").warning("token=xapp-1-A0-123 and s3cr3t-signing-value")
    text = stream.getvalue()
    for secret in ("xoxb-123-456-abc", "hunter2", "xapp-1-A0-123", "s3cr3t-signing-value"):
        assert secret not in text
    assert "[redacted]" in text
    assert redact("xoxp-1-2-3") == "[redacted]"


def test_third_party_payloads_are_dropped_at_info() -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream)
    body = '{"event": {"text": "my private question about prod"}}'
    logging.getLogger("slack_bolt.App").warning("Unhandled request (%s)", body)
    logging.getLogger("slack_bolt.App").info("Invalid request signature detected (signature: x, body: %s)", body)
    logging.getLogger("slack_bolt.App").debug("debug may carry %s", body)  # below INFO: not emitted
    text = stream.getvalue()
    assert "my private question" not in text
    assert text.count("[payload omitted]") == 2


def test_plain_lines_for_the_console_are_short_and_still_scrubbed() -> None:
    stream = io.StringIO()
    configure_logging(level="WARNING", plain=True, stream=stream)
    log = get_logger("firstmate.test")
    log.info("not shown below WARNING")
    log.warning("cluster self-check: no kubeconfig found", token="xoxb-123-456-abc")
    logging.getLogger("slack_sdk").error("library trouble")
    assert stream.getvalue().splitlines() == [
        "firstmate: warning: cluster self-check: no kubeconfig found (token=[redacted])",
        "firstmate: error: library trouble",
    ]
