"""`firstmate kube`: run one read-only cluster command through exactly the path Slack uses.

Guard → policy → audit → executor, with ``--channel``/``--user`` choosing the policy binding
(default: ``cluster.cli_channel``, which the default policy binds to namespace ``default`` only)
and a generated request id. Exit codes: 0 ok, 2 usage, 3 denied (reason on stderr), 4 cluster error
(including a cluster that is not configured or cannot be reached, and an unavailable audit store).
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli._common import load_settings
from bot.errors import UserError

EPILOG = (
    "Examples: firstmate kube \"get pods -n shop\" · firstmate kube --channel C0SHOP --user U0BOB --json status"
    " · firstmate kube --self-check.\n\n"
    "Exit codes: 0 ok, 2 bad command, 3 denied by policy or unsafe credentials (reason on stderr),"
    " 4 cluster error (unreachable, not configured, API error) or audit store unavailable."
)


def _print_reply(reply: Any, *, as_json: bool) -> None:
    if as_json:
        data = reply.data if reply.data is not None else {"summary": reply.summary}
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        if reply.exit_code:
            typer.echo(reply.summary, err=True)
        return
    if reply.exit_code:
        typer.echo(reply.to_text(), err=True)
        return
    typer.echo(reply.to_text())
    if reply.attachment is not None:
        typer.echo(f"\n----- {reply.attachment.filename} -----\n{reply.attachment.content}")


def _self_check(service: Any, *, as_json: bool) -> int:
    report = service.self_check()
    if as_json:
        typer.echo(json.dumps({
            "completed": report.completed, "safe": report.safe, "reason": report.reason(), "error": report.error,
            "dangerous": [c.label() for c in report.dangerous], "missing": [c.label() for c in report.missing],
            "checked": len(report.needed) + len(report.forbidden),
        }, indent=2))
    else:
        typer.echo(report.reason())
        for c in report.dangerous:
            typer.echo(f"  ALLOWED (must be denied): {c.label()}")
        for c in report.missing:
            typer.echo(f"  missing (commands using it will fail): {c.label()}")
    if not report.completed:
        return 4
    if report.dangerous:
        if service.settings.allow_unsafe_credentials:
            typer.echo("cluster.allow_unsafe_credentials is set: cluster commands run anyway", err=True)
            return 0
        typer.echo("cluster commands stay off until these permissions are removed", err=True)
        return 3
    return 0


def register(app: typer.Typer) -> None:
    """Attach `firstmate kube`."""

    @app.command(
        "kube",
        epilog=EPILOG,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": False},
    )
    def kube(
        command: Annotated[list[str] | None, typer.Argument(help='The command, e.g. "get pods -n shop" (quote it).')] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the typed result as JSON.")] = False,
        channel: Annotated[str | None, typer.Option("--channel", help="Policy binding to use (default: cluster.cli_channel).")] = None,
        user: Annotated[str | None, typer.Option("--user", help="User id for policy and audit (default: cluster.cli_user).")] = None,
        self_check: Annotated[bool, typer.Option("--self-check", help="Check the credentials with SelfSubjectAccessReview and exit.")] = False,
        config: Annotated[Path | None, typer.Option("--config", help="Settings YAML (default: $FIRSTMATE_CONFIG).")] = None,
    ) -> None:
        """Run one guarded, read-only cluster command (get, describe, logs, events, top, status, diagnose, help)."""
        from bot.cluster.service import ClusterService
        from bot.store.db import StoreUnavailable

        settings = load_settings(config)
        try:
            service = ClusterService.from_settings(settings, source="cli", start=False)
        except StoreUnavailable as exc:  # nothing runs unaudited; a store outage is transient, like a cluster error
            raise UserError(f"cluster commands are paused: the audit store is unavailable: {exc}", exit_code=4) from exc
        if self_check:
            raise typer.Exit(_self_check(service, as_json=as_json))
        text = " ".join(command or [])
        reply = service.handle(
            text,
            channel=channel or settings.cluster.cli_channel,
            user=user or settings.cluster.cli_user,
            request_id=f"cli-{uuid.uuid4()}",
        )
        _print_reply(reply, as_json=as_json)
        sys.stdout.flush()
        raise typer.Exit(reply.exit_code)
