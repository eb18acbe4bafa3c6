"""The work after the ack: a worker pool that answers, posts, and records, exactly once per event.

Listeners hand each job here and return at once, so Slack's 3-second ack never waits on search or
the Web API. A job first *claims* its event id in the store (shared by every replica); duplicate
deliveries (Slack retries, Socket Mode redeliveries) find the claim and stop there. While it works
the asker's message carries a 👀 reaction, removed when the reply is out.

Example:
    >>> Responder.message_key(channel="C1", message_ts="1.2", question_id="q")
    'C1:1.2'
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.core.commands import AnswerOutcome, Core, Incoming, Outcome
from bot.core.language import Language, t
from bot.observability import Metrics, get_logger
from bot.settings.slack import SlackSettings
from bot.slack import blocks
from bot.slack.sender import DeliveryError, SlackSender

log = get_logger("firstmate.slack.responder")

# Errors where the asker can still be told privately through response_url.
_TELL_PRIVATELY = ("not_in_channel", "channel_not_found", "is_archived", "restricted_action", "ratelimited")
# Slack refused our rendering, not the channel: the plain-text fallback still carries the whole reply.
_TEXT_ONLY_RETRY = ("invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long")


class Responder:
    """Runs answers on a pool of ``settings.workers`` threads; see the module docstring."""

    def __init__(
        self,
        *,
        core: Core,
        sender: SlackSender,
        settings: SlackSettings,
        metrics: Metrics,
        owner: str,
    ) -> None:
        self.core = core
        self.sender = sender
        self.settings = settings
        self.metrics = metrics
        self.owner = owner
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="firstmate-answer")
        self._accepting = True
        self._local_claims: set[str] = set()
        self._running: set[str] = set()
        self._claims_lock = threading.Lock()

    # -- scheduling --------------------------------------------------------------------------
    def submit(self, job: Callable[..., None], *args: Any, dedup_key: str | None = None) -> bool:
        """Queue ``job(*args)``; False when shutting down (the caller has acked; Slack may redeliver)."""
        if not self._accepting:
            log.warning("job refused during shutdown", job=job.__name__)
            return False
        self.metrics.in_flight.inc()
        self._pool.submit(self._run, job, args, dedup_key)
        return True

    def _run(self, job: Callable[..., None], args: tuple[Any, ...], dedup_key: str | None) -> None:
        try:
            if dedup_key is not None and not self._claim(dedup_key):
                self.metrics.duplicates.inc()
                log.info("duplicate delivery skipped", dedup_key=dedup_key)
                return
            try:
                job(*args)
            finally:
                if dedup_key is not None:
                    self._finish(dedup_key)
        except Exception as exc:
            self.metrics.errors.labels(stage="worker").inc()
            log.error("job failed", job=job.__name__, error=type(exc).__name__, cause=str(exc)[:200], exc_info=True)
        finally:
            self.metrics.in_flight.dec()

    def _claim(self, key: str) -> bool:
        store = self.core.store
        with self._claims_lock:
            if key in self._running:  # still being answered here, however long a 429 wait takes
                return False
            if store is None:
                if key in self._local_claims:
                    return False
                self._local_claims.add(key)
            self._running.add(key)
        if store is None:
            return True
        try:
            claimed = store.claim_event(key, owner=self.owner, lease_s=self.settings.dedup_lease_s)
        except Exception as exc:  # the store is down: answering (maybe twice) beats dropping the question
            self.metrics.errors.labels(stage="store").inc()
            log.error("could not claim event; answering without cross-replica dedup", error=type(exc).__name__)
            return True
        if not claimed:
            self._release(key)
        return claimed

    def _release(self, key: str) -> None:
        with self._claims_lock:
            self._running.discard(key)

    def _finish(self, key: str) -> None:
        self._release(key)
        if self.core.store is not None:
            try:
                self.core.store.finish_event(key)
            except Exception as exc:
                self.metrics.errors.labels(stage="store").inc()
                log.error("could not mark event done", error=type(exc).__name__)

    def shutdown(self, *, grace_s: float) -> bool:
        """Stop taking jobs and finish those in flight within ``grace_s``; True when all finished."""
        self._accepting = False
        done = threading.Event()

        def drain() -> None:
            self._pool.shutdown(wait=True)
            done.set()

        threading.Thread(target=drain, name="firstmate-drain", daemon=True).start()
        finished = done.wait(grace_s)
        if not finished:
            log.warning("shutdown grace expired with answers still running", grace_s=grace_s)
        return finished

    # -- jobs --------------------------------------------------------------------------------
    def answer_message(self, incoming: Incoming) -> None:
        """A mention, DM, thread follow-up or auto-answer."""
        if incoming.trigger == "thread" and (
            incoming.thread_ts is None or self.core.thread_context(incoming.channel, incoming.thread_ts) is None
        ):
            return  # a thread firstmate did not answer: not ours
        reaction = self.settings.reaction
        if reaction and incoming.ts:
            self.sender.react(channel=incoming.channel, ts=incoming.ts, name=reaction)
        try:
            self.deliver(self.core.handle(incoming), thread_ts=incoming.reply_thread)
        finally:
            if reaction and incoming.ts:
                self.sender.react(channel=incoming.channel, ts=incoming.ts, name=reaction, remove=True)

    def answer_command(self, incoming: Incoming, response_url: str | None, ephemeral: bool) -> None:
        """``/ask`` or ``/k8s``: visible in the channel unless ephemeral; response_url as fallback."""
        outcome = self.core.handle(incoming)
        self.deliver(outcome, thread_ts=None, response_url=response_url, ephemeral=ephemeral,
                     asker=incoming.user if incoming.trigger == "ask" else None)

    def deliver(
        self,
        outcome: Outcome,
        *,
        thread_ts: str | None,
        response_url: str | None = None,
        ephemeral: bool = False,
        asker: str | None = None,
    ) -> None:
        """Render and post one outcome; tell the asker privately when the channel refuses it."""
        incoming = outcome.incoming
        if isinstance(outcome, AnswerOutcome):
            message = blocks.render_answer(outcome.answer, question_id=outcome.question_id,
                                           asker=None if ephemeral else asker)
            kind = "abstained" if outcome.answer.abstained else "answer"
            language: Language = outcome.answer.language
        else:
            message = blocks.render_reply(outcome.reply, language=outcome.language)
            kind, language = outcome.reply.kind, outcome.language
        reply_ts: str | None = None
        try:
            if ephemeral and response_url:
                self.sender.respond(response_url, text=message.text, blocks=message.blocks)
            elif ephemeral:  # no response_url: still only the asker may see it
                self.sender.post_ephemeral(channel=incoming.channel, user=incoming.user, text=message.text,
                                           blocks=message.blocks)
            else:
                reply_ts = self._post(incoming.channel, message, thread_ts)
                if message.attachment is not None:
                    self._upload(incoming.channel, message.attachment, thread_ts or reply_ts)
        except DeliveryError as exc:
            if not (response_url and exc.error in _TELL_PRIVATELY):
                return  # logged with its cause by the sender
            note = blocks.render_notice(t("not_in_channel", language))
            self.sender.respond(response_url, text=note.text + "\n" + message.text,
                                blocks=note.blocks + message.blocks[: blocks.MAX_BLOCKS - 1])
        self.metrics.answers_posted.labels(kind=kind).inc()
        if isinstance(outcome, AnswerOutcome):
            self.core.replied(outcome, reply_ts=reply_ts)
        log.info("reply posted", request_id=incoming.request_id, kind=kind, trigger=incoming.trigger,
                 channel=incoming.channel, ephemeral=ephemeral and bool(response_url))

    def _post(self, channel: str, message: blocks.Message, thread_ts: str | None) -> str | None:
        """chat.postMessage; if Slack rejects the blocks themselves, the text fallback alone still goes out."""
        try:
            return self.sender.post(channel=channel, text=message.text, blocks=message.blocks,
                                    thread_ts=thread_ts).ts
        except DeliveryError as exc:
            if exc.error not in _TEXT_ONLY_RETRY:
                raise
            log.warning("blocks refused; sending the text fallback", error=exc.error, channel=channel)
            return self.sender.post(channel=channel, text=message.text, thread_ts=thread_ts).ts

    def _upload(self, channel: str, attachment: Any, thread_ts: str | None) -> None:
        with contextlib.suppress(DeliveryError):  # logged by the sender; the message itself went out
            self.sender.upload(channel=channel, filename=attachment.filename, title=attachment.title,
                               content=attachment.content[:1_000_000], thread_ts=thread_ts)

    # -- buttons -----------------------------------------------------------------------------
    @staticmethod
    def message_key(*, channel: str | None, message_ts: str | None, question_id: str) -> str:
        """The feedback key of an answer message: channel:ts, or the question for ephemeral ones."""
        return f"{channel}:{message_ts}" if channel and message_ts else f"q:{question_id}"

    def feedback(self, action: dict[str, Any], user: str, container: dict[str, Any], response_url: str | None) -> None:
        """👍/👎: one row per (message, user); a second click updates it."""
        value = _value(action)
        question_id = str(value.get("q") or "")
        if not question_id:
            return
        key = self.message_key(channel=container.get("channel_id"), message_ts=container.get("message_ts"),
                               question_id=question_id)
        verdict = 1 if action.get("action_id") == blocks.ACTION_UP else -1
        result = self.core.feedback(message_key=key, user=user, question_id=question_id, value=verdict)
        if response_url:
            language = self._language(question_id)
            text = t("thanks" if result == "inserted" else "feedback_updated", language)
            with contextlib.suppress(DeliveryError):
                self.sender.respond(response_url, text=text, blocks=blocks.render_notice(text).blocks)

    def more(self, action: dict[str, Any], container: dict[str, Any], response_url: str | None) -> None:
        """"More answers": the next hits, in the answer's thread."""
        value = _value(action)
        question_id = str(value.get("q") or "")
        try:
            offset = int(value.get("o") or 1)
        except (TypeError, ValueError):
            offset = 1
        page = self.core.more(question_id, offset=max(0, offset), page=self.settings.more_page_size)
        if page is None:
            message = blocks.render_notice(t("unknown_question", "en"))
        else:
            message = blocks.render_more(page, question_id=question_id)
        self._post_for_action(message, container, response_url)
        self.metrics.answers_posted.labels(kind="more").inc()

    def full(self, action: dict[str, Any], container: dict[str, Any], response_url: str | None) -> None:
        """"Full answer": the whole of the best answer, in the thread."""
        value = _value(action)
        found = self.core.find_hit(str(value.get("q") or ""), str(value.get("a") or ""))
        if found is None:
            message = blocks.render_notice(t("unknown_question", "en"))
        else:
            hit, language = found
            message = blocks.render_full(hit, language=language)
        self._post_for_action(message, container, response_url)
        self.metrics.answers_posted.labels(kind="full").inc()

    def _post_for_action(self, message: blocks.Message, container: dict[str, Any], response_url: str | None) -> None:
        channel = container.get("channel_id")
        if container.get("is_ephemeral") or not channel:
            if response_url:
                self.sender.respond(response_url, text=message.text, blocks=message.blocks)
            return
        thread = container.get("thread_ts") or container.get("message_ts")
        try:
            self._post(channel, message, thread)
        except DeliveryError:
            if not response_url:
                raise  # logged with its cause by the sender
            self.sender.respond(response_url, text=message.text, blocks=message.blocks)  # only the clicker sees it
            return
        if message.attachment is not None:
            self._upload(channel, message.attachment, thread)

    def _language(self, question_id: str) -> Language:
        store = self.core.store
        record = store.get_question(question_id) if store is not None else None
        return "zh" if record is not None and record.language == "zh" else "en"


def _value(action: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

