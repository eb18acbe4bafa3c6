"""A poster for `--dry-run` and the console: it never posts, and has no history.

Example:
    >>> DryRunPoster().find_digest(channel="C1", digest_id="x", oldest=None) is None  # type: ignore[arg-type]
    True
"""

from __future__ import annotations

import datetime as dt

from bot.core.replies import Reply
from bot.digest.models import DigestPostError


class DryRunPoster:
    """Refuses to post: a dry run must never reach Slack (``preview`` does not call it)."""

    def post_digest(self, *, channel: str, digest_id: str, reply: Reply) -> str:
        raise DigestPostError("dry run: nothing is posted", definite=True, exit_code=2)

    def find_digest(self, *, channel: str, digest_id: str, oldest: dt.datetime) -> str | None:
        return None
