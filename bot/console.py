"""The console transport: talk to firstmate in a terminal, through the same core as Slack.

Each line is a message, as in a DM: a question, ``k8s …``, or a slash command:

* ``/ask QUESTION``, ``/k8s COMMAND`` — as in Slack;
* ``/reply TEXT`` — a follow-up in the thread of the last answer (uses its question as context);
* ``/more`` — the "More answers" button; ``/full`` — the whole best answer;
* ``/up`` / ``/down`` — 👍 / 👎 on the last answer;
* ``/help``, ``/quit`` (or Ctrl-D).

Replies are the plain-text renderings of the same ``Answer`` and ``Reply`` models Slack turns into
Block Kit. Cluster commands run as channel ``cluster.cli_channel`` (default ``cli``), the policy
binding `firstmate kube` uses too (namespace ``default`` unless configured).

Example:
    >>> import io
    >>> from bot.core.commands import Core
    >>> from retrieval.models import SearchResult
    >>> class Nothing:
    ...     def search(self, query, *, top_k=5):
    ...         return SearchResult(query=query, answered=False, hits=[])
    >>> out = io.StringIO()
    >>> Console(Core(searcher=Nothing(), store=None), out=out).run(io.StringIO("what is a pod?\\n"), prompt="")
    0
    >>> "No confident answer." in out.getvalue()
    True
"""

from __future__ import annotations

import itertools
from typing import TextIO

from bot.core.answering import MorePage
from bot.core.commands import AnswerOutcome, Core, Incoming, Outcome, Trigger
from bot.core.language import Language, t

HINT = "(/more more answers · /full whole answer · /reply follow up · /up /down feedback · /help · /quit)"
CONSOLE_HELP = """Type a question, or:
  /ask QUESTION      ask (same as typing it)
  /k8s COMMAND       a read-only cluster command, e.g. /k8s status
  /reply TEXT        follow up on the last answer (its question is used as context)
  /more              more answers for the last question
  /full              the whole best answer when it was shortened
  /up, /down         feedback on the last answer
  /quit              leave (or Ctrl-D)"""


def render_more(page: MorePage) -> str:
    """Plain text of a "More answers" page."""
    if not page.hits:
        return t("no_more", page.language)
    lines = [t("more_heading", page.language, question=page.question)]
    for n, hit in enumerate(page.hits, start=page.offset + 1):
        lines += ["", f"[{n}] {hit.session.label()} · "
                      f"{t('question', page.language)}: {hit.question}", hit.answer.strip()]
    return "\n".join(lines)


class Console:
    """A line-oriented transport over ``Core``; ``run`` reads until EOF or ``/quit``."""

    def __init__(self, core: Core, *, out: TextIO, user: str = "console", channel: str = "cli",
                 more_page_size: int = 3) -> None:
        self.core = core
        self.out = out
        self.user = user
        self.channel = channel
        self.more_page_size = more_page_size
        self._ts = itertools.count(1)
        self._last: AnswerOutcome | None = None
        self._last_root: str | None = None
        self._more_offset = 1

    def run(self, lines: TextIO, *, prompt: str = "firstmate> ", interruptible: bool = False) -> int:
        """Read and answer lines until EOF or /quit; returns the exit code (0).

        ``interruptible`` (a terminal): Ctrl-C abandons the line being typed or the answer being
        worked on and shows a new prompt, as shells do; Ctrl-D or /quit leaves.
        """
        while True:
            if prompt:
                self.out.write(prompt)
                self.out.flush()
            try:
                line = lines.readline()
                if not line:  # EOF (Ctrl-D)
                    if prompt:
                        self.out.write("\n")
                    return 0
                reply = self.handle_line(line.rstrip("\n"))
            except KeyboardInterrupt:
                if not interruptible:
                    raise
                self.out.write("\n(interrupted; Ctrl-D or /quit to leave)\n\n")
                self.out.flush()
                continue
            if reply is None:
                return 0
            if reply:
                self.out.write(reply + "\n\n")
                self.out.flush()

    def handle_line(self, line: str) -> str | None:
        """The text reply to one line; None means quit; '' means nothing to say."""
        text = line.strip()
        if not text:
            return ""
        command, _, rest = text.partition(" ")
        command = command.lower()
        if command in ("/quit", "/exit"):
            return None
        if command == "/help":
            return CONSOLE_HELP
        if command == "/ask":
            return self._message(rest, trigger="ask")
        if command == "/k8s":
            return self._message(rest, trigger="k8s")
        if command == "/reply":
            if self._last_root is None:
                return "Nothing to reply to yet: ask a question first."
            return self._message(rest, trigger="thread", thread_ts=self._last_root)
        if command == "/more":
            return self._more()
        if command == "/full":
            return self._full()
        if command in ("/up", "/down"):
            return self._feedback(1 if command == "/up" else -1)
        if command.startswith("/"):
            return f"Unknown command {command}; type /help."
        return self._message(text, trigger="console")

    def _message(self, text: str, *, trigger: Trigger, thread_ts: str | None = None) -> str:
        ts = f"{next(self._ts)}.000000"
        incoming = Incoming(text=text, user=self.user, channel=self.channel, trigger=trigger, transport="console",
                            ts=ts, thread_ts=thread_ts, reply_in_thread=True)
        outcome: Outcome = self.core.handle(incoming)
        if isinstance(outcome, AnswerOutcome):
            self._last = outcome
            self._last_root = thread_ts or ts
            self._more_offset = 1
            self.core.replied(outcome, reply_ts=None)
            hint = "" if outcome.answer.abstained else "\n" + HINT
            return outcome.answer.to_text() + hint
        return outcome.reply.to_text()

    def _language(self) -> Language:
        return self._last.answer.language if self._last is not None else "en"

    def _more(self) -> str:
        if self._last is None:
            return "Ask a question first."
        page = self.core.more(self._last.question_id, offset=self._more_offset, page=self.more_page_size)
        if page is None:
            return t("unknown_question", self._language())
        self._more_offset += len(page.hits)
        return render_more(page)

    def _full(self) -> str:
        if self._last is None or self._last.answer.best is None:
            return "No answer to show in full."
        found = self.core.find_hit(self._last.question_id, self._last.answer.best.qa_id)
        hit = found[0] if found is not None else self._last.answer.best
        return hit.answer.strip()

    def _feedback(self, value: int) -> str:
        if self._last is None:
            return "Ask a question first."
        result = self.core.feedback(message_key=f"console:{self._last.question_id}", user=self.user,
                                    question_id=self._last.question_id, value=value)
        return t("thanks" if result == "inserted" else "feedback_updated", self._language())
