"""`firstmate index …`: build the search index, and show whether it is current.

`build` writes a fresh index folder and swaps it in atomically; without ``--force`` it does
nothing when the index already matches the corpus and the settings. `status` reads the manifest.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli._common import load_settings
from bot.errors import UserError

app = typer.Typer(help="Build and inspect the search index (BM25 + vectors).", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file (default: $FIRSTMATE_CONFIG).", show_default=False)
]


@app.command("build")
def build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the index is current.")] = False,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: on a TTY).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Build the index from the corpus (embeds every Q&A; about a minute with the bundled model)."""
    from retrieval.build import IndexUnavailable, build_index, read_manifest, staleness
    from retrieval.dense import EmbeddingError, make_embedder

    settings = load_settings(config).retrieval
    try:
        embedder = make_embedder(settings)
        if not force:
            try:
                manifest = read_manifest(settings)
                reason = staleness(settings, manifest, model_id=embedder.model_id)
            except IndexUnavailable:
                reason = "missing"
            if reason is None:
                typer.echo(
                    f"index is up to date ({manifest['entries']} entries incl. {manifest.get('note_chunks', 0)} note "
                    f"chunks, built {manifest['built_at']}); "
                    "use --force to rebuild"
                )
                return
        show = sys.stderr.isatty() if progress is None else progress
        build_index(settings, embedder=embedder, progress=show, say=typer.echo)
    except (IndexUnavailable, EmbeddingError) as exc:
        raise UserError(str(exc)) from None


@app.command("status")
def status(
    json_out: Annotated[bool, typer.Option("--json", help="Print the manifest and state as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show where the index is, what it was built from, and whether it is current."""
    from retrieval.build import IndexUnavailable, current_path, read_manifest, staleness
    from retrieval.dense import EmbeddingError, make_embedder

    settings = load_settings(config).retrieval
    try:
        manifest = read_manifest(settings)
    except IndexUnavailable as exc:
        raise UserError(str(exc), exit_code=1) from None
    try:
        reason = staleness(settings, manifest, model_id=make_embedder(settings).model_id)
    except (IndexUnavailable, EmbeddingError) as exc:
        reason = str(exc)
    state: dict[str, Any] = {
        "path": str(current_path(settings).resolve()),
        "current": reason is None,
        "stale_reason": reason,
        **{k: manifest.get(k) for k in ("built_at", "build_seconds", "entries", "note_chunks", "vectors",
                                        "vectors_reused", "model_id", "dim", "tokenizer_version", "corpus_hash")},
        "vector_index": manifest.get("settings", {}).get("vector_index"),
        "embed_text": manifest.get("settings", {}).get("embed_text"),
    }
    if json_out:
        typer.echo(json.dumps(state, ensure_ascii=False, indent=2))
        return
    for key, value in state.items():
        typer.echo(f"{key:18} {value}")
    if reason:
        typer.echo("the index will be rebuilt on next use, or run `firstmate index build`")
