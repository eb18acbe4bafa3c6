"""Which language the asker wrote in, and the bot's own words in that language.

The corpus is Chinese; askers write Chinese, English, or a mix ("pod 一直 Pending 怎么办"). The
bot mirrors the asker in its own words (headings, buttons, notes); corpus text stays as it is.
English speakers rarely type Han characters while Chinese speakers type English product names
("Prometheus 监控 Kubernetes"), so two Han characters make a question Chinese, and so does a lone
one in a short text.

Example:
    >>> detect_language("pod 一直 Pending 怎么办")
    'zh'
    >>> detect_language("Prometheus 监控 Kubernetes")
    'zh'
    >>> detect_language("How do I debug CrashLoopBackOff?")
    'en'
    >>> t("no_answer", "zh")
    '没有把握的答案。'
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> Language:
    """'zh' when the text is mostly Chinese, otherwise 'en'."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    return "zh" if han >= 2 or (han == 1 and latin <= 10) else "en"


_STRINGS: dict[str, dict[Language, str]] = {
    "answer_heading": {"en": "Best answer from the community archive", "zh": "社区问答中的最佳答案"},
    "from_session": {"en": "From", "zh": "出自"},
    "sources": {"en": "Sources", "zh": "出处"},
    "no_answer": {"en": "No confident answer.", "zh": "没有把握的答案。"},
    "maybe_related": {"en": "These sessions might be related:", "zh": "这些分享可能相关："},
    "nothing_related": {"en": "Nothing in the archive looks related.", "zh": "问答库里没有找到相关内容。"},
    "outdated": {"en": "Archive from {year}; may be outdated.", "zh": "{year} 年的存档，内容可能已过时。"},
    "helpful": {"en": "Helpful", "zh": "有帮助"},
    "not_helpful": {"en": "Not helpful", "zh": "没帮助"},
    "more": {"en": "More answers", "zh": "更多答案"},
    "full": {"en": "Full answer", "zh": "完整答案"},
    "truncated": {"en": "(answer shortened)", "zh": "（答案已截短）"},
    "more_heading": {"en": "More answers for: {question}", "zh": "更多答案：{question}"},
    "no_more": {"en": "No more answers for this question.", "zh": "这个问题没有更多答案了。"},
    "question": {"en": "Q", "zh": "问"},
    "asked": {"en": "{user} asked: {question}", "zh": "{user} 问：{question}"},
    "thanks": {"en": "Thanks, your feedback was recorded.", "zh": "谢谢，已记录你的反馈。"},
    "feedback_updated": {"en": "Thanks, your feedback was updated.", "zh": "谢谢，已更新你的反馈。"},
    "long_question": {
        "en": "Your message was long; I searched with its first {n} characters.",
        "zh": "消息太长，只用前 {n} 个字符做了检索。",
    },
    "empty_question": {
        "en": "Ask me a question about Kubernetes or Docker, e.g. `/ask why is my pod Pending?`",
        "zh": "请问一个 Kubernetes 或 Docker 的问题，例如 `/ask pod 一直 Pending 怎么办？`",
    },
    "search_failed": {
        "en": "Sorry, search failed; please try again later (request {request_id}).",
        "zh": "抱歉，检索失败，请稍后再试（请求 {request_id}）。",
    },
    "cluster_disabled": {"en": "cluster commands are not enabled", "zh": "集群命令未启用"},
    "followup_context": {"en": "Follow-up to: {question}", "zh": "追问：{question}"},
    "not_in_channel": {
        "en": "I can't post in this channel yet; invite me with `/invite @firstmate`. Here is the answer just for you.",
        "zh": "我还不能在这个频道发消息，请用 `/invite @firstmate` 邀请我。以下答案只有你能看到。",
    },
    "unknown_question": {
        "en": "That question is no longer in my store.",
        "zh": "存储里已经找不到这个问题了。",
    },
    "help": {
        "en": "Ask a question: mention me, DM me, or use `/ask QUESTION` (`--private` for a reply only you see).\n"
        "Cluster commands: `/k8s status`, `/k8s get pods -n NAMESPACE`, or `@firstmate k8s …`.",
        "zh": "提问：@我、私信我，或用 `/ask 问题`（加 `--private` 只有你能看到回答）。\n"
        "集群命令：`/k8s status`、`/k8s get pods -n 命名空间`，或 `@firstmate k8s …`。",
    },
}


def t(key: str, language: Language, **values: object) -> str:
    """The bot's sentence ``key`` in ``language``, with ``{placeholders}`` filled."""
    text = _STRINGS[key][language]
    return text.format(**values) if values else text
