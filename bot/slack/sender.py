"""Every Web API call firstmate makes goes through here: rate-limit aware, ordered per channel.

* **429**: wait ``Retry-After`` and send again. Nothing is dropped (up to
  ``max_rate_limit_wait_s`` of waiting per message). The wait applies to the whole method, so other
  workers do not hammer a method Slack just throttled.
* **Order**: messages to one channel leave in the order they were handed over: a ticket queue per
  channel, so a message stuck behind a 429 is not overtaken by a later one.
* **Other errors** (``channel_not_found``, ``not_in_channel``…) are logged with their cause and
  raised as ``DeliveryError`` so the caller can tell the user another way (e.g. ``response_url``).
  Connection errors and 5xx are retried a few times with backoff.

``Poster`` is the small interface other features (digests) use: post with metadata, ephemeral,
``response_url`` replies, reactions, file uploads and channel history.

Example:
    >>> turns = ChannelTurns()
    >>> with turns.turn("C1"):
    ...     pass
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.observability import Metrics, get_logger

log = get_logger("firstmate.slack.sender")

REACTION_MAX_WAIT_S = 3.0


class DeliveryError(Exception):
    """Slack refused a call; ``error`` is Slack's code (``channel_not_found``, ``ratelimited``…)."""

    def __init__(self, method: str, error: str, *, channel: str | None = None) -> None:
        super().__init__(f"{method} failed: {error}" + (f" (channel {channel})" if channel else ""))
        self.method = method
        self.error = error
        self.channel = channel


@dataclass(frozen=True)
class Posted:
    """Where a message landed."""

    channel: str
    ts: str | None


class Poster(Protocol):
    """What a feature needs to talk to Slack (the digest runner uses the same one)."""

    def post(
        self, *, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None, metadata: dict[str, Any] | None = None,
    ) -> Posted:
        """chat.postMessage; ``metadata`` is Slack message metadata (event_type, event_payload)."""
        ...

    def post_ephemeral(
        self, *, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> Posted:
        """chat.postEphemeral: only ``user`` sees it."""
        ...

    def respond(
        self, response_url: str, *, text: str, blocks: list[dict[str, Any]] | None = None, ephemeral: bool = True
    ) -> None:
        """Reply through a slash command's or an action's ``response_url``."""
        ...

    def react(self, *, channel: str, ts: str, name: str, remove: bool = False) -> None:
        """Add or remove a reaction (best effort: errors are logged, not raised)."""
        ...

    def upload(self, *, channel: str, filename: str, title: str, content: str, thread_ts: str | None = None) -> None:
        """Upload a text file to a channel (files:write)."""
        ...

    def history(
        self, *, channel: str, oldest: float | None = None, latest: float | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """conversations.history, newest first, with message metadata."""
        ...


class ChannelTurns:
    """A FIFO of tickets per channel: callers pass through ``turn(channel)`` one at a time, in order."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._issued: dict[str, int] = {}
        self._serving: dict[str, int] = {}

    @contextlib.contextmanager
    def turn(self, channel: str) -> Iterator[None]:
        with self._cv:
            ticket = self._issued.get(channel, 0)
            self._issued[channel] = ticket + 1
            while self._serving.get(channel, 0) != ticket:
                self._cv.wait()
        try:
            yield
        finally:
            with self._cv:
                self._serving[channel] = ticket + 1
                if self._serving[channel] == self._issued[channel]:
                    del self._serving[channel], self._issued[channel]
                self._cv.notify_all()


class SlackSender:
    """The one ``Poster`` implementation, over slack_sdk's ``WebClient``.

    Example:
        >>> from slack_sdk import WebClient
        >>> SlackSender(WebClient(token="xoxb-x", base_url="http://127.0.0.1:9/api/")).max_wait_s
        300.0
    """

    def __init__(
        self,
        client: WebClient,
        *,
        metrics: Metrics | None = None,
        max_wait_s: float = 300.0,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.max_wait_s = float(max_wait_s)
        self.retries = retries
        self._sleep = sleep
        self._clock = clock
        self._turns = ChannelTurns()
        self._blocked_lock = threading.Lock()
        self._blocked_until: dict[str, float] = {}

    # -- the core loop -----------------------------------------------------------------------
    def call(
        self, method: str, send: Callable[[], Any], *, channel: str | None = None, ordered: bool = True,
        max_wait_s: float | None = None, expected: tuple[str, ...] = (),
    ) -> Any:
        """Run ``send`` (one WebClient call) with 429 waits, retries and per-channel order.

        ``max_wait_s`` bounds the 429 waiting of this call (default: the sender's ``max_wait_s``);
        ``expected`` errors (``already_reacted``…) are raised without being logged or counted as failures.
        """
        limit = self.max_wait_s if max_wait_s is None else min(max_wait_s, self.max_wait_s)
        if ordered and channel:
            with self._turns.turn(channel):
                return self._attempts(method, send, channel, limit, expected)
        return self._attempts(method, send, channel, limit, expected)

    def _attempts(
        self, method: str, send: Callable[[], Any], channel: str | None, limit: float, expected: tuple[str, ...]
    ) -> Any:
        waited = 0.0
        failures = 0
        while True:
            with self._blocked_lock:
                until = self._blocked_until.get(method, 0.0)
            pause = until - self._clock()
            if pause > 0:
                if waited + pause > limit:
                    self._give_up(method, channel, waited, expected)
                self._sleep(pause)
                waited += pause
            try:
                return send()
            except SlackApiError as exc:
                status = exc.response.status_code
                error = str(exc.response.get("error") or f"http_{status}")
                if status == 429:
                    retry_after = _retry_after(exc.response.headers)
                    if self.metrics is not None:
                        self.metrics.rate_limited.labels(method=method).inc()
                    log.warning("slack rate limited", method=method, channel=channel, retry_after=retry_after)
                    with self._blocked_lock:  # every caller of this method waits, not only this one
                        self._blocked_until[method] = max(
                            self._blocked_until.get(method, 0.0), self._clock() + retry_after
                        )
                    if waited + retry_after > limit:
                        self._give_up(method, channel, waited, expected)
                    continue
                if status >= 500 and failures < self.retries:
                    failures += 1
                    self._backoff(method, channel, failures, error)
                    continue
                if error in expected:
                    raise DeliveryError(method, error, channel=channel) from None
                self._failed(method, error, channel, "slack refused the call", waited)
            except (OSError, TimeoutError) as exc:
                if failures < self.retries:
                    failures += 1
                    self._backoff(method, channel, failures, type(exc).__name__)
                    continue
                self._failed(method, type(exc).__name__, channel, "slack unreachable", waited)

    def _backoff(self, method: str, channel: str | None, failures: int, error: str) -> None:
        delay = min(0.5 * 2 ** (failures - 1), 8.0)
        log.warning("slack call failed, retrying", method=method, channel=channel, error=error, attempt=failures)
        self._sleep(delay)

    def _give_up(self, method: str, channel: str | None, waited: float, expected: tuple[str, ...]) -> NoReturn:
        if "ratelimited" in expected:
            raise DeliveryError(method, "ratelimited", channel=channel)
        self._failed(method, "ratelimited", channel, "gave up after waiting", waited)

    def _failed(self, method: str, error: str, channel: str | None, cause: str, waited: float) -> NoReturn:
        if self.metrics is not None:
            self.metrics.errors.labels(stage="slack_api").inc()
        log.error("slack call failed", method=method, error=error, channel=channel, cause=cause,
                  waited_s=round(waited, 2))
        raise DeliveryError(method, error, channel=channel)

    # -- Poster ------------------------------------------------------------------------------
    def post(
        self, *, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None, metadata: dict[str, Any] | None = None,
    ) -> Posted:
        args: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False, "unfurl_media": False}
        if blocks:
            args["blocks"] = blocks
        if thread_ts:
            args["thread_ts"] = thread_ts
        if metadata:
            args["metadata"] = metadata
        resp = self.call("chat.postMessage", lambda: self.client.chat_postMessage(**args), channel=channel)
        return Posted(channel=str(resp.get("channel") or channel), ts=resp.get("ts"))

    def post_ephemeral(
        self, *, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> Posted:
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks:
            args["blocks"] = blocks
        if thread_ts:
            args["thread_ts"] = thread_ts
        resp = self.call("chat.postEphemeral", lambda: self.client.chat_postEphemeral(**args), channel=channel)
        return Posted(channel=channel, ts=resp.get("message_ts"))

    def respond(
        self, response_url: str, *, text: str, blocks: list[dict[str, Any]] | None = None, ephemeral: bool = True
    ) -> None:
        webhook = WebhookClient(response_url, timeout=10)
        for attempt in range(self.retries + 1):
            try:
                resp = webhook.send(
                    text=text, blocks=blocks, response_type="ephemeral" if ephemeral else "in_channel",
                    replace_original=False,
                )
            except OSError as exc:  # connection refused/reset, timeout (urllib's URLError is an OSError)
                if attempt < self.retries:
                    self._backoff("response_url", None, attempt + 1, type(exc).__name__)
                    continue
                self._failed("response_url", type(exc).__name__, None, "response_url unreachable", 0.0)
            if resp.status_code == 200:
                return
            if resp.status_code == 429 and attempt < self.retries:
                self._sleep(_retry_after(resp.headers))
                continue
            if resp.status_code >= 500 and attempt < self.retries:
                self._sleep(min(0.5 * 2**attempt, 8.0))
                continue
            break
        self._failed("response_url", f"http_{resp.status_code}", None, resp.body[:100] if resp.body else "", 0.0)

    def react(self, *, channel: str, ts: str, name: str, remove: bool = False) -> None:
        method = "reactions.remove" if remove else "reactions.add"
        fn = self.client.reactions_remove if remove else self.client.reactions_add
        try:  # a reaction is a courtesy: never hold an answer back long for it
            self.call(method, lambda: fn(channel=channel, timestamp=ts, name=name), channel=channel, ordered=False,
                      max_wait_s=REACTION_MAX_WAIT_S, expected=("already_reacted", "no_reaction", "ratelimited"))
        except DeliveryError as exc:
            if exc.error not in ("already_reacted", "no_reaction"):
                log.info("reaction skipped", method=method, error=exc.error)

    def upload(self, *, channel: str, filename: str, title: str, content: str, thread_ts: str | None = None) -> None:
        args: dict[str, Any] = {"channel": channel, "filename": filename, "title": title, "content": content}
        if thread_ts:
            args["thread_ts"] = thread_ts
        self.call("files.upload", lambda: self.client.files_upload_v2(**args), channel=channel)

    def history(
        self, *, channel: str, oldest: float | None = None, latest: float | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(messages) < limit:
            args: dict[str, Any] = {"channel": channel, "limit": min(200, limit - len(messages)),
                                    "include_all_metadata": True}
            if oldest is not None:
                args["oldest"] = f"{oldest:.6f}"
            if latest is not None:
                args["latest"] = f"{latest:.6f}"
            if cursor:
                args["cursor"] = cursor
            resp = self.call("conversations.history", functools.partial(self.client.conversations_history, **args),
                             channel=channel, ordered=False)
            messages += list(resp.get("messages") or [])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not resp.get("has_more") or not cursor:
                break
        return messages[:limit]

    def auth_test(self) -> dict[str, Any]:
        """auth.test: who the bot is (user id, bot id, team)."""
        resp = self.call("auth.test", self.client.auth_test, ordered=False)
        return dict(resp.data) if hasattr(resp, "data") and isinstance(resp.data, dict) else dict(resp)


def _retry_after(headers: Any) -> float:
    value = None
    if headers:
        for key in ("Retry-After", "retry-after"):
            raw = headers.get(key)
            if raw:
                value = raw[0] if isinstance(raw, list) else raw
                break
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0
