"""All Block Kit rendering: answers, abstentions, "More answers", full answers, cluster replies.

Slack's limits are enforced here, once: at most 50 blocks, 3,000 characters in a section, 4,000
in the notification fallback, 75 in a button label. Everything that reaches Slack is escaped
(``&``, ``<``, ``>``), and mentions found in corpus or cluster text (``<!channel>``, ``<!here>``,
``<@U…>``, ``@channel``) are neutralised so an archived answer can never ping a channel. Long text
is cut cleanly (bot.core.text.cut), accounting for the escapes before they are applied.

Example:
    >>> safe("<!channel> deploy & pray")
    '@\u200bchannel deploy &amp; pray'
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from bot.core.answering import Answer, Citation, MorePage
from bot.core.language import Language, t
from bot.core.replies import Attachment, Reply
from bot.core.text import cut, measure, utf16_units
from retrieval.models import Hit

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FALLBACK = 4000
MAX_BUTTON_TEXT = 75
ZWSP = "\u200b"

ACTION_UP = "fm_feedback_up"
ACTION_DOWN = "fm_feedback_down"
ACTION_MORE = "fm_more"
ACTION_FULL = "fm_full"

_SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>", re.IGNORECASE)
_SUBTEAM = re.compile(r"<!subteam\^[^>]*>", re.IGNORECASE)
_USER = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", re.IGNORECASE)
_BARE = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_FENCE = re.compile(r"```")


Block = dict[str, Any]


class Message(NamedTuple):
    """One Slack message: blocks, fallback text, and maybe a file to upload after it.

    A tuple whose first two items are ``(blocks, text)``, the shape the digest poster expects.
    """

    blocks: list[Block]
    text: str
    attachment: Attachment | None = None


def neutralise(text: str) -> str:
    """Turn Slack mention syntax into inert text (a zero-width space after the @)."""
    text = _SPECIAL.sub(lambda m: f"@{ZWSP}{m.group(1).lower()}", text)
    text = _SUBTEAM.sub(f"@{ZWSP}group", text)
    text = _USER.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return _BARE.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe(text: str) -> str:
    """Neutralised and escaped: the only way text from outside reaches a message."""
    return escape(neutralise(text))


def _escaped_cost(ch: str) -> int:
    return 5 if ch == "&" else 4 if ch in "<>" else utf16_units(ch)


def fit(text: str, limit: int) -> tuple[str, bool]:
    """``safe(text)`` cut cleanly so the escaped result is at most ``limit`` long; and whether it was cut."""
    short, was_cut = cut(neutralise(text), limit, cost=_escaped_cost)
    return escape(short), was_cut


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(label: str, action_id: str, value: dict[str, Any], *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": cut(label, MAX_BUTTON_TEXT)[0], "emoji": True},
        "action_id": action_id,
        "value": json.dumps(value, separators=(",", ":")),
    }
    if style:
        button["style"] = style
    return button


def _fallback(text: str) -> str:
    return fit(text, MAX_FALLBACK)[0]


def _link(title: str, url: str | None, budget: int) -> str:
    shown, _ = fit(title, budget)
    if url and url.startswith(("http://", "https://")) and not any(c in url for c in "<>| "):
        return f"<{url}|{shown.replace('|', '¦')}>"
    return shown


def citation_mrkdwn(c: Citation, language: Language) -> str:
    """``[1] 2017-03-02 · <link|title> · Q: question`` (escaped, each part bounded)."""
    question, _ = fit(c.question, 400)
    source = c.session.model_copy(update={"title": _link(c.session.title, c.session.source_url, 200)})
    return f"[{c.number}] {source.label()} · {t('question', language)}: {question}"


def _lines_section(heading: str, lines: list[str]) -> Block:
    """A section of lines under a bold heading, dropping whole lines that do not fit."""
    text = f"*{heading}*"
    for line in lines:
        if measure(text) + 1 + measure(line) > MAX_SECTION:
            break
        text += "\n" + line
    return _section(text)


def _cap(blocks: list[Block]) -> list[Block]:
    return blocks[:MAX_BLOCKS]


def render_answer(answer: Answer, *, question_id: str, asker: str | None = None) -> Message:
    """The answer message: best answer, numbered sources, notes, and the buttons."""
    lang = answer.language
    blocks: list[Block] = []
    if asker is not None:
        asked, _ = fit(answer.question, 300)
        blocks.append(_context(t("asked", lang, user=f"<@{asker}>", question=asked)))
    notes = []
    if answer.original_length is not None:
        notes.append(t("long_question", lang, n=len(answer.question)))
    if answer.context:
        notes.append(t("followup_context", lang, question=fit(answer.context, 200)[0]))
    if notes:
        blocks.append(_context(" ".join(notes)))
    actions: list[Block] = []
    if answer.abstained:
        heading = f"*{t('no_answer', lang)}* " + (t("maybe_related", lang) if answer.citations else t("nothing_related", lang))
        blocks.append(_section(heading))
        if answer.citations:
            blocks.append(_lines_section(t("sources", lang), [citation_mrkdwn(c, lang) for c in answer.citations]))
    else:
        heading = f"*{t('answer_heading', lang)}* [1]\n"
        body, was_cut = fit(answer.text or "", MAX_SECTION - len(heading))
        blocks.append(_section(heading + body))
        notes = []
        if answer.outdated_year is not None:
            notes.append(f":warning: {t('outdated', lang, year=answer.outdated_year)}")
        if was_cut:
            notes.append(t("truncated", lang))
        if notes:
            blocks.append(_context("  ".join(notes)))
        blocks.append({"type": "divider"})
        blocks.append(_lines_section(t("sources", lang), [citation_mrkdwn(c, lang) for c in answer.citations]))
        if was_cut and answer.best is not None:
            actions.append(_button(f"📄 {t('full', lang)}", ACTION_FULL, {"q": question_id, "a": answer.best.qa_id}))
        actions.append(_button(f"➕ {t('more', lang)}", ACTION_MORE, {"q": question_id, "o": 1}))
    actions[0:0] = [
        _button(f"👍 {t('helpful', lang)}", ACTION_UP, {"q": question_id}),
        _button(f"👎 {t('not_helpful', lang)}", ACTION_DOWN, {"q": question_id}),
    ]
    blocks.append({"type": "actions", "block_id": f"fm_actions_{question_id}", "elements": actions})
    return Message(text=_fallback(answer.to_text()), blocks=_cap(blocks))


def _hit_blocks(hit: Hit, number: int, language: Language) -> list[Block]:
    ref = Citation(number=number, qa_id=hit.qa_id, session=hit.session, question=hit.question, kind=hit.kind)
    head = citation_mrkdwn(ref, language) + "\n"
    body, _ = fit(hit.answer.strip(), MAX_SECTION - len(head))
    return [_section(head + body)]


def render_more(page: MorePage, *, question_id: str) -> Message:
    """The next hits, each with its citation, and another "More answers" button while there are more."""
    lang = page.language
    if not page.hits:
        return Message(blocks=[_section(t("no_more", lang))], text=t("no_more", lang))
    heading = t("more_heading", lang, question=fit(page.question, 200)[0])
    blocks: list[Block] = [_section(f"*{heading}*")]
    lines = [heading]
    for n, hit in enumerate(page.hits, start=page.offset + 1):
        blocks += _hit_blocks(hit, n, lang)
        lines.append(f"[{n}] {hit.session.label()} · {hit.question}")
    if page.has_more:
        next_offset = page.offset + len(page.hits)
        blocks.append({"type": "actions", "block_id": f"fm_more_{question_id}_{next_offset}", "elements": [
            _button(f"➕ {t('more', lang)}", ACTION_MORE, {"q": question_id, "o": next_offset}),
        ]})
    return Message(text=_fallback("\n".join(lines)), blocks=_cap(blocks))


def _chunks(text: str, limit: int) -> list[str]:
    """Escaped pieces of at most ``limit``, cut cleanly, covering all of ``text``."""
    pieces: list[str] = []
    rest = neutralise(text)
    while rest:
        piece, was_cut = cut(rest, limit, cost=_escaped_cost, ellipsis="")
        if not was_cut:
            pieces.append(escape(rest))
            break
        if not piece:  # a single unbreakable run longer than the limit: hard cut
            piece = rest[: limit // 5]
        pieces.append(escape(piece))
        rest = rest[len(piece):].lstrip()
    return pieces


def render_full(hit: Hit, *, language: Language) -> Message:
    """The whole of one answer, over several sections (a file past 50 blocks)."""
    ref = Citation(number=1, qa_id=hit.qa_id, session=hit.session, question=hit.question, kind=hit.kind)
    blocks: list[Block] = [_section(citation_mrkdwn(ref, language))]
    pieces = _chunks(hit.answer.strip(), MAX_SECTION)
    attachment = None
    if len(pieces) > MAX_BLOCKS - 1:
        pieces = pieces[: MAX_BLOCKS - 2]
        attachment = Attachment(filename=f"answer-{hit.qa_id}.txt", title=hit.session.title, content=hit.answer)
    blocks += [_section(p) for p in pieces]
    return Message(text=_fallback(hit.answer), blocks=_cap(blocks), attachment=attachment)


def _code_sections(body: str, title: str | None) -> list[Block]:
    fence_cost = 8 + (len(title) + 3 if title else 0)
    body = _FENCE.sub("ʼʼʼ", body)
    out = []
    for n, piece in enumerate(_chunks(body, MAX_SECTION - fence_cost)):
        head = f"*{escape(title)}*\n" if title and n == 0 else ""
        out.append(_section(f"{head}```{piece}```"))
    return out


def render_reply(reply: Reply, *, language: Language = "en") -> Message:
    """A cluster command reply, help, usage or error: summary, sections, related Q&As, attachment."""
    blocks: list[Block] = [_section(fit(reply.summary, MAX_SECTION)[0])]
    for section in reply.sections:
        if section.monospace:
            blocks += _code_sections(section.body, section.title)
        else:
            head = f"*{escape(section.title)}*\n" if section.title else ""
            blocks += [_section(head + p if i == 0 else p) for i, p in enumerate(_chunks(section.body, MAX_SECTION - len(head)))]
    if reply.related:
        refs = [Citation(number=n, qa_id=h.qa_id, session=h.session, question=h.question, kind=h.kind)
                for n, h in enumerate(reply.related, start=1)]
        blocks.append(_lines_section(t("sources", language), [citation_mrkdwn(c, language) for c in refs]))
    attachment = reply.attachment
    if len(blocks) > MAX_BLOCKS:
        full = reply.to_text() if attachment is None else attachment.content
        attachment = attachment or Attachment(filename="output.txt", title=reply.summary[:100], content=full)
        blocks = [*blocks[: MAX_BLOCKS - 1], _context("… (cut; the full output is attached)")]
    return Message(text=_fallback(reply.to_text()), blocks=_cap(blocks), attachment=attachment)


def render_notice(text: str) -> Message:
    """A one-line message in the bot's own words (thanks, errors)."""
    return Message(text=_fallback(text), blocks=[_section(fit(text, MAX_SECTION)[0])])
