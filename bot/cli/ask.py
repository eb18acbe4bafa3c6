"""`firstmate ask`: answer a question from the knowledge base, with numbered citations.

Three shapes of output:
- default: the best answer, trimmed, then ``[1] date · session title · Q: question`` citations;
- ``--json``: one JSON object ``{"query", "answered", "hits": [...], "reason"}``; a hit from an engineer's
  note (``kind: "doc"``) also carries ``source``, ``section``, ``line`` and ``date_known`` (false when
  the note states no date: ``session.date`` is then the 1970-01-01 placeholder);
- ``--json --stdin``: one question per input line, one JSON object per line, in order, index loaded
  once. An empty or unusable line yields ``answered: false`` with a ``reason``, never a crash.

The retrieval stack (numpy, faiss, bm25s, jieba) is imported inside the command, so `--help` is fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli._common import load_settings, write_stdout
from bot.errors import UserError

if TYPE_CHECKING:
    from retrieval.models import Hit, SearchResult
    from retrieval.search import Searcher

ANSWER_CHARS = 700


def result_json(result: SearchResult) -> dict[str, Any]:
    """The stable JSON shape of one answer (extra keys beyond the contract are additive)."""
    return {
        "query": result.query,
        "answered": result.answered,
        "reason": result.reason,
        "confidence": result.confidence,
        "hits": [
            {
                "rank": h.rank,
                "score": h.score,
                "session": {"id": h.session.id, "date": h.session.date.isoformat(), "title": h.session.title},
                "question": h.question,
                "answer": h.answer,
                "qa_id": h.qa_id,
                "kind": h.kind,
                "channels": h.channels,
                "folded": h.folded,
                **(
                    {"source": h.source, "section": h.section, "line": h.line, "date_known": h.session.date_known}
                    if h.kind == "doc"
                    else {}
                ),
            }
            for h in result.hits
        ],
    }


def trim(text: str, limit: int = ANSWER_CHARS) -> str:
    """Cut at a sentence end before ``limit`` characters when there is one, else at ``limit``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    ends = [cut.rfind(p) for p in ("。", "！", "？", ". ", "；")]
    best = max(ends)
    if best > limit // 2:
        cut = cut[: best + 1]
    return cut.rstrip() + " …"


def citation(rank: int, date: str, title: str, question: str) -> str:
    q = " ".join(question.split())
    if len(q) > 120:
        q = q[:119] + "…"
    return f"[{rank}] {date} · {title} · Q: {q}"


def note_citation(rank: int, hit: Hit) -> str:
    """``[2] note 000_….txt:37 · 20201013 › dockerfile中的tini (2020-10-13)``; 'undated' when it has no date."""
    when = hit.session.date.isoformat() if hit.session.date_known else "undated"
    where = f"{hit.source}:{hit.line}" if hit.line else str(hit.source)
    return f"[{rank}] note {where} · {hit.section or hit.session.title} ({when})"


def render_text(result: SearchResult) -> str:
    """Human-readable answer with numbered citations, or the abstention with maybe-related sessions."""
    lines: list[str] = []
    cites = [
        note_citation(h.rank, h) if h.kind == "doc" else citation(h.rank, h.session.date.isoformat(), h.session.title, h.question)
        for h in result.hits
    ]
    if result.answered and result.hits:
        lines.append(trim(result.hits[0].answer))
        lines.append("")
        lines.extend(cites)
    else:
        lines.append(f"No confident answer: {result.reason or 'nothing matched closely enough'}.")
        if cites:
            lines.append("")
            lines.append("Maybe related:")
            lines.extend(cites)
    return "\n".join(lines) + "\n"




def _searcher(config: Path | None) -> Searcher:
    from retrieval.search import Searcher

    settings = load_settings(config).retrieval
    return Searcher(
        settings,
        progress=sys.stderr.isatty(),
        say=lambda msg: typer.echo(f"firstmate: {msg}", err=True),
    )


def _warm(searcher: Searcher) -> None:
    from retrieval.build import IndexUnavailable
    from retrieval.dense import EmbeddingError

    try:
        searcher.warm_up()
    except (IndexUnavailable, EmbeddingError) as exc:
        raise UserError(str(exc)) from None


def _stdin_lines() -> Any:
    """Input lines as text; undecodable bytes become U+FFFD instead of an exception."""
    for raw in sys.stdin.buffer:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def ask_command(
    question: Annotated[list[str] | None, typer.Argument(help="The question (quotes optional).", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object per question.")] = False,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read one question per line from standard input.")] = False,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=50, help="Hits to return (default: settings).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML settings file (default: $FIRSTMATE_CONFIG).")] = None,
) -> None:
    """Answer a question from the Kubernetes community Q&A archive, citing the sessions it came from."""
    if stdin and question:
        raise UserError("give the question as an argument or use --stdin, not both")
    if stdin and not json_out:
        raise UserError("--stdin needs --json (one JSON object per input line)")
    if not stdin and not question:
        raise UserError("no question given: firstmate ask 'how do I roll back a deployment?' (or --json --stdin)")
    searcher = _searcher(config)
    k = top_k or searcher.settings.top_k
    if stdin:
        _warm(searcher)
        for line in _stdin_lines():
            result = searcher.search(line, top_k=k)
            write_stdout(json.dumps(result_json(result), ensure_ascii=False) + "\n")
        return
    text = " ".join(question or [])
    from retrieval.query import check_query

    checked = check_query(text, max_chars=searcher.settings.max_query_chars)
    if checked.problem and not json_out:
        raise UserError(checked.problem)
    if not checked.problem:
        _warm(searcher)
    result = searcher.search(text, top_k=k)
    write_stdout(json.dumps(result_json(result), ensure_ascii=False) + "\n" if json_out else render_text(result))


def register(app: typer.Typer) -> None:
    """Attach `ask` to the main app."""
    app.command("ask", no_args_is_help=False)(ask_command)
