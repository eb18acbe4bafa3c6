"""Make cluster text safe to show: strip terminal control sequences, redact secrets, defuse chat markup.

Logs, events, annotations and messages come from workloads we don't control. Before any of it is
shown: ANSI/OSC escape sequences and control characters are removed (bidi and zero-width too),
token-looking strings are replaced by ``<redacted>`` (bearer tokens, JWTs, AWS keys, ``password=``
and friends, credentials in URLs, PEM blocks, Slack/GitHub tokens), and code fences are broken so
the text cannot escape its code block. ``escape_slack`` escapes ``& < >`` for Slack mrkdwn.

Example:
    >>> clean_text("login password=hunter2 \\x1b[31mred\\x1b[0m")
    'login password=<redacted> red'
    >>> clean_text("postgres://shop:S3cret@db:5432/x")
    'postgres://shop:<redacted>@db:5432/x'
"""

from __future__ import annotations

import re
import unicodedata

REDACTED = "<redacted>"

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.S)
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2" + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), REDACTED),
    (re.compile(r"\bsk_(?:live|test)_[A-Za-z0-9]{10,}"), REDACTED),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(@)"), r"\1" + REDACTED + r"\2"),
    (
        re.compile(
            r"(?i)\b([a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)"
            r"[a-z0-9_.-]*)(\s*[=:]\s*|\"\s*:\s*\")((?!<)[^\s\"',;&]+)"
        ),
        r"\1\2" + REDACTED,
    ),
)
_FENCE = re.compile(r"`{3,}")


def strip_controls(text: str) -> str:
    """Remove ANSI/OSC sequences and control, zero-width and bidi characters; keep newlines, tabs become spaces."""
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\t", "    ")
    return "".join(
        ch for ch in text if ch == "\n" or not (unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} or ch in "\u2028\u2029")
    )


def redact(text: str) -> str:
    """Replace token-looking strings with ``<redacted>``."""
    text = _PEM.sub("<redacted PEM block>", text)
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def defuse_fences(text: str) -> str:
    """Break runs of backticks so cluster text cannot close the code block it is shown in."""
    return _FENCE.sub(lambda m: "ˋ" * len(m.group(0)), text)


def clean_text(text: str) -> str:
    """Everything cluster-sourced goes through this before it is shown."""
    return defuse_fences(redact(strip_controls(text)))


def escape_slack(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as markup (``<!channel>``, links, entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
