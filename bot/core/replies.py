"""Transport-neutral replies for cluster commands and digests.

The cluster service and the digest builders return a ``Reply``; Slack renders it as Block Kit
(bot/slack/blocks.py), the console and the CLI as plain text (``Reply.to_text``). Answers to
questions have their own model in bot/core/answering.py.

Example:
    >>> r = Reply(kind="cluster", summary="2 pods", sections=[Section(body="NAME  READY", monospace=True)])
    >>> "NAME" in r.to_text()
    True
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retrieval.models import Hit


class Section(BaseModel):
    """A block of the reply: prose, or a monospace table/log."""

    model_config = ConfigDict(frozen=True)

    title: str | None = None
    body: str
    monospace: bool = False


class Attachment(BaseModel):
    """Long output sent as a file (Slack) or printed in full (CLI)."""

    model_config = ConfigDict(frozen=True)

    filename: str
    title: str
    content: str


class Reply(BaseModel):
    """One reply to a cluster command or one digest."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["cluster", "denied", "usage", "error", "help", "digest"]
    summary: str = Field(description="One line: what happened, or why it was denied.")
    sections: list[Section] = Field(default_factory=list)
    attachment: Attachment | None = None
    related: list[Hit] = Field(default_factory=list, description="Cited community Q&As, e.g. for diagnose.")
    data: Any = Field(default=None, description="The typed result for --json (rows, decision…).")
    exit_code: int = Field(default=0, description="CLI exit code: 0 ok, 2 usage, 3 denied, 4 cluster error.")
    meta: dict[str, str] = Field(default_factory=dict, description="E.g. digest_id, rule, request_id.")

    def to_text(self) -> str:
        """Plain-text rendering for the console and the CLI."""
        lines = [self.summary]
        for section in self.sections:
            if section.title:
                lines += ["", section.title]
            lines += ["", section.body] if not section.title else [section.body]
        for n, hit in enumerate(self.related, start=1):
            if n == 1:
                lines += ["", "Related community Q&A:"]
            lines.append(f"[{n}] {hit.session.label()} · Q: {hit.question}")
        if self.attachment is not None:
            lines += ["", f"(full output: {self.attachment.filename})"]
        return "\n".join(lines)
