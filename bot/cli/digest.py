"""`firstmate digest`: post one scheduled digest now, exactly once (for a Kubernetes CronJob).

    firstmate digest --kind cluster --channel C0123OPS            # post the digest due now
    firstmate digest --kind cluster --channel C0123OPS --dry-run  # print it; post and store nothing
    firstmate digest --kind knowledge --channel C0456 --at 2024-03-11T09:00+08:00 --json

The schedule (cron, time zone) comes from ``digest.schedules`` in the settings; ``--cron`` and
``--timezone`` give one ad hoc. Running it twice, or from two pods at once, posts once.

Exit codes: 0 posted, already posted, skipped (all quiet) or held by another runner; 1 posting
failed (retried by the next run); 2 usage or configuration; 4 the cluster could not be read
(the digest still went out, saying so).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError

from bot.cli._common import load_settings
from bot.config import describe_validation
from bot.errors import UserError

_OK = ("posted", "recovered", "done", "skipped", "backed_off", "preview")


def parse_at(value: str, *, timezone: str) -> dt.datetime:
    """An ISO time; without an offset it is read in the schedule's time zone."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"--at {value!r}: not an ISO time (e.g. 2024-03-11T09:00+08:00)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed.astimezone(dt.UTC)


def _reply_json(reply: Any) -> dict[str, Any] | None:
    if reply is None:
        return None
    data: dict[str, Any] = reply.model_dump(mode="json")
    data["text"] = reply.to_text()
    return data


def run_digest(
    *,
    kind: str,
    channel: str,
    dry_run: bool,
    as_json: bool,
    at: str | None,
    cron: str | None,
    timezone: str | None,
    config: Path | None,
) -> int:
    """The command's body, returning the exit code (tests call it directly)."""
    from bot.digest.clock import ManualClock, SystemClock
    from bot.digest.service import build_runner
    from bot.settings.digest import DigestSchedule

    if kind not in ("cluster", "knowledge"):
        raise UserError(f"--kind {kind!r}: expected 'cluster' or 'knowledge'")
    settings = load_settings(config)
    schedule = settings.digest.find(kind=kind, channel=channel)
    if cron is not None or schedule is None:
        if cron is None:
            raise UserError(
                f"no digest schedule for kind={kind} channel={channel} in digest.schedules; "
                "add one to the settings, or pass --cron (e.g. --cron '0 9 * * 1-5' --timezone Asia/Shanghai)"
            )
        try:
            schedule = DigestSchedule(kind=kind, channel=channel, cron=cron, timezone=timezone or "UTC")
        except ValidationError as exc:
            raise UserError(f"invalid schedule: {describe_validation(exc)}") from None
    elif timezone is not None:
        schedule = schedule.model_copy(update={"timezone": timezone})
    clock = ManualClock(parse_at(at, timezone=schedule.timezone)) if at else SystemClock()

    poster = None
    if dry_run:
        from bot.digest.console import DryRunPoster

        poster = DryRunPoster()
    runner = build_runner(settings, clock=clock, poster=poster)
    outcome = runner.preview(schedule) if dry_run else runner.run(schedule, backfill_first=True)

    if as_json:
        typer.echo(
            json.dumps(
                {**outcome.to_json(), "digest": _reply_json(outcome.reply)}, ensure_ascii=False, indent=2
            )
        )
    else:
        if outcome.reply is not None and (dry_run or outcome.status == "posted"):
            typer.echo(outcome.reply.to_text())
            typer.echo("")
        where = f" (ts {outcome.slack_ts})" if outcome.slack_ts else ""
        reason = f": {outcome.reason}" if outcome.reason else ""
        typer.echo(f"digest {outcome.digest_id or '-'}: {outcome.status}{where}{reason}", err=True)
    if outcome.status not in _OK:
        return 1
    if outcome.reply is not None and outcome.reply.exit_code == 4:
        return 4
    return 0


def register(app: typer.Typer) -> None:
    """Attach `firstmate digest` to the main app."""

    @app.command("digest")
    def digest(
        kind: Annotated[str, typer.Option("--kind", help="cluster or knowledge.")],
        channel: Annotated[str, typer.Option("--channel", help="Target Slack channel ID (C…).")],
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Build and print the digest; post and store nothing.")
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the outcome and the digest as JSON.")
        ] = False,
        at: Annotated[
            str | None,
            typer.Option(
                "--at", help="Run as if it were this ISO time (no offset: the schedule's time zone)."
            ),
        ] = None,
        cron: Annotated[
            str | None, typer.Option("--cron", help="Ad hoc cron schedule (else digest.schedules).")
        ] = None,
        timezone: Annotated[
            str | None, typer.Option("--timezone", help="IANA time zone of the schedule, e.g. Asia/Shanghai.")
        ] = None,
        config: Annotated[
            Path | None, typer.Option("--config", "-c", help="Settings YAML (default: $FIRSTMATE_CONFIG).")
        ] = None,
    ) -> None:
        """Post the digest due now for KIND and CHANNEL, exactly once (run it from a CronJob)."""
        code = run_digest(
            kind=kind,
            channel=channel,
            dry_run=dry_run,
            as_json=as_json,
            at=at,
            cron=cron,
            timezone=timezone,
            config=config,
        )
        if code:
            raise typer.Exit(code)
