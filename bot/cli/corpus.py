"""`firstmate corpus …`: counts, one session or Q&A, and the encoding repair as a filter.

The corpus modules are imported inside the commands so `firstmate --help` stays fast. Corpus
problems (``CorpusError``) become the CLI's one-line ``UserError`` (exit code 2); output is built
completely before anything is written, so a failure never leaves half an output behind.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from bot.cli._common import load_settings, write_stdout
from bot.errors import UserError

if TYPE_CHECKING:
    from retrieval.config import RetrievalSettings
    from retrieval.corpus.models import QA, Corpus, CorpusStats, Doc, Session

app = typer.Typer(
    help="Inspect the Q&A corpus and notes, and repair damaged text.",
    no_args_is_help=True,
)

CorpusOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--corpus",
        help="Corpus file or folder (repeatable); replaces retrieval.corpus_paths from the settings.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _retrieval_settings(corpus: list[Path] | None) -> RetrievalSettings:
    settings = load_settings().retrieval
    if corpus:
        settings = settings.model_copy(update={"corpus_paths": list(corpus)})
    return settings


def _load(corpus: list[Path] | None) -> Corpus:
    from retrieval.corpus.errors import CorpusError
    from retrieval.corpus.load import load_configured_corpus

    try:
        return load_configured_corpus(_retrieval_settings(corpus))
    except CorpusError as exc:
        raise UserError(str(exc)) from None




def _stats_text(stats: CorpusStats, corpus: Corpus) -> str:
    qa_files = sum(f.kind == "qa" for f in corpus.files)
    rows = [
        ("sessions", stats.sessions, ""),
        ("Q&As", stats.qas, f"{stats.answerable} answerable"),
        ("empty answers", stats.empty_answers, "kept, never served"),
        ("merged questions", stats.merged_questions, ""),
        ("noise", stats.noise, f"{stats.noise_chars_removed} characters stripped"),
        ("follow-ups", stats.follow_ups, ""),
        ("missing questions", stats.missing_questions, ""),
        ("note chunks", stats.docs, ""),
        ("repaired characters", stats.repaired_chars, ""),
        ("uncertain characters", stats.uncertain_chars, "kept, flagged"),
    ]
    lines = [f"corpus: {stats.files} files ({qa_files} Q&A, {stats.files - qa_files} notes)"]
    lines += [f"  {name:<22}{value:>8}" + (f"   ({note})" if note else "") for name, value, note in rows]
    per_year = ", ".join(f"{year}: {count}" for year, count in stats.qas_per_year.items())
    lines.append(f"  Q&As per year         {per_year or '-'}")
    return "\n".join(lines) + "\n"


@app.command("stats")
def stats(corpus: CorpusOption = None, as_json: JsonOption = False) -> None:
    """Counts: sessions, Q&As, empty answers, merged, noise, notes, repaired and uncertain characters, Q&As per year."""
    loaded = _load(corpus)
    numbers = loaded.stats()
    if as_json:
        write_stdout(numbers.model_dump_json(indent=2) + "\n")
    else:
        write_stdout(_stats_text(numbers, loaded))


def _flags(qa: QA) -> str:
    names = ["empty_answer", "merged_questions", "noise", "missing_question"]
    found = [name for name in names if getattr(qa, name)]
    if qa.uncertain_chars:
        found.append(f"uncertain_chars={qa.uncertain_chars}")
    return ", ".join(found)


def _session_head(session: Session) -> list[str]:
    lines = [
        f"{session.id}  {session.date.isoformat()}  {session.title}",
        f"  source: {session.source}:{session.line}",
    ]
    if session.source_url:
        lines.append(f"  link: {session.source_url}")
    if session.speaker:
        lines.append(f"  speaker: {session.speaker}")
    return lines


def _qa_text(qa: QA) -> list[str]:
    head = f"[{qa.ordinal}] {qa.id}" + (f"  {qa.label}" if qa.label else "") + f"  (line {qa.line})"
    lines = [head]
    if flags := _flags(qa):
        lines.append(f"  flags: {flags}")
    if qa.follow_up_of:
        lines.append(f"  follow-up of: {qa.follow_up_of}")
    lines.append(
        "  Q: "
        + (qa.question.replace("\n", "\n     ") if qa.question else "(question missing in the source)")
    )
    answer = qa.answer.replace("\n", "\n     ") if qa.answer.strip() else "(no answer in the source)"
    lines.append("  A: " + answer)
    return lines


def _show_text(corpus: Corpus, item: Session | QA | Doc) -> str:
    from retrieval.corpus.models import QA, Doc, Session

    lines: list[str] = []
    if isinstance(item, Session):
        qas = corpus.qas_of(item.id)
        lines += _session_head(item)
        lines.append(f"  {len(qas)} Q&As")
        for qa in qas:
            lines += ["", *_qa_text(qa)]
        if item.footer:
            lines += ["", "footer:", *("  " + line for line in item.footer.split("\n"))]
    elif isinstance(item, QA):
        session = corpus.get(item.session_id)
        if isinstance(session, Session):
            lines += [*_session_head(session), ""]
        lines += _qa_text(item)
    elif isinstance(item, Doc):
        part = f" (part {item.part}/{item.parts})" if item.parts > 1 else ""
        lines += [f"{item.id}  {item.title}{part}", f"  source: {item.source}:{item.line}", "", item.text]
    return "\n".join(lines) + "\n"


def _unknown(corpus: Corpus, item_id: str) -> NoReturn:
    known = [*(s.id for s in corpus.sessions), *(q.id for q in corpus.qas), *(d.id for d in corpus.docs)]
    close = difflib.get_close_matches(item_id, known, n=3, cutoff=0.75)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else " (ids look like s-20200602-1a2b3c, qa-1a2b3c4d5e, doc-…)"
    )
    raise UserError(f"unknown id {item_id!r}: no session, Q&A or note chunk has it{hint}")


@app.command("show")
def show(
    item_id: Annotated[
        str, typer.Argument(metavar="ID", help="A session id (s-…), Q&A id (qa-…) or note chunk id (doc-…).")
    ],
    corpus: CorpusOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one session with its Q&As, or one Q&A (or note chunk), readably."""
    from retrieval.corpus.models import Session

    loaded = _load(corpus)
    item = loaded.get(item_id.strip())
    if item is None:
        _unknown(loaded, item_id.strip())
    if as_json:
        payload: dict[str, object] = item.model_dump(mode="json")
        if isinstance(item, Session):
            payload["qas"] = [qa.model_dump(mode="json") for qa in loaded.qas_of(item.id)]
        write_stdout(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        write_stdout(_show_text(loaded, item))


def _read_input(file: Path | None, *, max_bytes: int) -> tuple[bytes, str]:
    from retrieval.corpus.load import MIB

    limit = f"over the limit of {max_bytes / MIB:.1f} MiB (raise retrieval.corpus_max_file_mb)"
    if file is None:
        if sys.stdin.isatty():
            raise UserError("no FILE given and stdin is a terminal: pass a file, or pipe the text in")
        raw = sys.stdin.buffer.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise UserError(f"<stdin>: input is {limit}")
        return raw, "<stdin>"
    if not file.exists():
        raise UserError(f"{file}: no such file")
    if not file.is_file():
        raise UserError(f"{file}: not a regular file")
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise UserError(f"{file}: file is {size / MIB:.1f} MiB, {limit}")
        return file.read_bytes(), str(file)
    except OSError as exc:
        raise UserError(f"{file}: cannot read: {exc.strerror or exc}") from None


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file next to ``path`` and rename it: never a half-written output."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UserError(f"{path}: folder {directory} does not exist")
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None


@app.command("repair")
def repair(
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE", help="Damaged text file; reads stdin when omitted.", show_default=False
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file (atomically) instead of stdout.", show_default=False
        ),
    ] = None,
) -> None:
    """Repair mojibake text (UTF-8 read as cp1252, undefined bytes dropped) and write UTF-8.

    The repaired text goes to stdout (or --output); how many characters were repaired and how many stay uncertain goes to stderr. Uncertain characters are kept (best guess), never dropped.
    """
    from retrieval.corpus.errors import CorpusError
    from retrieval.corpus.load import MIB, decode_text
    from retrieval.corpus.repair import repair_text

    settings = load_settings().retrieval
    raw, where = _read_input(file, max_bytes=int(settings.corpus_max_file_mb * MIB))
    try:
        text = decode_text(raw, where=where, verbatim=True)
    except CorpusError as exc:
        raise UserError(str(exc)) from None
    result = repair_text(text)
    data = result.text.encode("utf-8")
    if output is not None:
        _write_atomically(output, data)
    else:
        write_stdout(data)
    typer.echo(
        f"firstmate: repaired {result.repaired} characters; {result.uncertain} uncertain (kept, not dropped)",
        err=True,
    )
