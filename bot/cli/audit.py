"""`firstmate audit tail`: the latest cluster-command audit records (never output, never secrets)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from bot.cli._common import load_settings

app = typer.Typer(help="Audit trail of cluster commands.", no_args_is_help=True)


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@app.command("tail")
def tail(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000, help="How many records.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Settings YAML (default: $FIRSTMATE_CONFIG).")] = None,
) -> None:
    """Show the latest audit records, oldest first (outcome 'unknown' = the process died mid-command)."""
    from bot.store.audit import AuditLog
    from bot.store.db import Database

    settings = load_settings(config)
    log = AuditLog(Database.from_settings(settings.store), unknown_after_s=settings.cluster.audit_unknown_after_s)
    records = log.tail(limit=limit)
    if as_json:
        for r in records:
            typer.echo(json.dumps(r.to_json(), ensure_ascii=False))
        return
    if not records:
        typer.echo("No audit records yet.")
        return
    header = ("TIME (UTC)", "USER", "CHANNEL", "DECISION", "OUTCOME", "MS", "RULE", "COMMAND")
    rows = [
        (_when(r.started_at), r.user, r.channel, r.decision, r.outcome, "-" if r.duration_ms is None else str(r.duration_ms), r.rule or "-", r.command)
        for r in records
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header[:-1])]
    for row in [header, *rows]:
        typer.echo("   ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "   " + row[-1])
