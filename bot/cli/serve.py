"""`firstmate serve`, `firstmate console` and `firstmate run` (the README's run command).

* ``serve``: the Slack bot. Socket Mode when the bot and app tokens are set, HTTP when the bot
  token and signing secret are set (or as ``slack.mode`` says). Health and metrics on ``web.port``.
* ``console``: the same core in the terminal, for a machine without Slack.
* ``run``: ``serve`` when Slack tokens are set, otherwise ``console``.

All three build the index on first use when it is missing (a fresh clone), with a progress message.
SIGTERM (sent by tini in the container) and Ctrl-C stop the server gracefully: no new events,
in-flight answers finish, the store is closed.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Literal, cast

import typer

from bot.cli._common import load_settings
from bot.errors import UserError

CONFIG_OPTION = typer.Option(None, "--config", "-c", help="YAML settings file (default: $FIRSTMATE_CONFIG).")


class _InteractiveInput:
    """``readline()`` over ``input()``, so a terminal gets line editing and history."""

    def __init__(self, prompt: str) -> None:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (enables editing for input())
        self.prompt = prompt

    def readline(self) -> str:
        try:
            return input(self.prompt) + "\n"
        except EOFError:
            sys.stdout.write("\n")
            return ""


def _say(message: str) -> None:
    typer.echo(f"firstmate: {message}", err=True)


def run_console(settings: Any) -> int:
    """Warm up (building the index if needed) and run the console on stdin/stdout."""
    from bot.console import Console
    from bot.core.runtime import build_runtime
    from bot.observability import configure_logging

    configure_logging(level="WARNING", plain=True)  # warnings as short `firstmate: warning: …` lines
    runtime = build_runtime(settings, say=_say)
    try:
        _say("loading the knowledge index (the first run builds it; this can take a few minutes)…")
        runtime.searcher.warm_up()
        if runtime.searcher.error is not None:
            raise UserError(f"search is unavailable: {runtime.searcher.error}")
        interactive = sys.stdin.isatty()
        if interactive:
            typer.echo("firstmate console — ask about Kubernetes and Docker; /help for commands, Ctrl-D to leave.")
        console = Console(
            runtime.core,
            out=sys.stdout,
            channel=settings.cluster.cli_channel,
            more_page_size=settings.slack.more_page_size,
        )
        if interactive:
            return console.run(_InteractiveInput("firstmate> "), prompt="", interruptible=True)  # type: ignore[arg-type]
        return console.run(sys.stdin, prompt="")
    finally:
        runtime.close()


def run_server(settings: Any, *, transport: str | None = None) -> int:
    """Run the Slack transport until SIGTERM/SIGINT, then shut down gracefully."""
    from bot.core.runtime import build_runtime
    from bot.observability import configure_logging, get_logger
    from bot.slack.app import SlackService
    from bot.web import WebServer, observability_app

    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    log = get_logger("firstmate.serve")
    chosen = transport or settings.slack.transport()
    if chosen == "console" and settings.slack.mode == "console":
        raise UserError("slack.mode is 'console' (FIRSTMATE_SLACK__MODE): run `firstmate console`, or unset it to serve Slack")
    if chosen not in ("socket", "http"):
        raise UserError(
            "no Slack tokens: set SLACK_BOT_TOKEN with SLACK_APP_TOKEN (Socket Mode) or with "
            "SLACK_SIGNING_SECRET (HTTP), or run `firstmate console`"
        )
    runtime = build_runtime(settings, say=lambda m: log.info("index", detail=m))
    runtime.searcher.start_background()
    obs = observability_app(health=runtime.health, metrics=runtime.metrics)
    web: WebServer | None = None
    service: SlackService | None = None
    digests: Any = None
    stop = threading.Event()
    running = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if not running.is_set():  # still starting (auth.test, Socket Mode connect): nothing in flight, stop now
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)
        stop.set()  # running: stop taking events, let in-flight answers finish

    # Installed before the transport starts, so a signal during start-up still closes what was opened.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        shares_port = chosen == "http" and settings.web.port == settings.slack.port != 0
        if settings.web.enabled and not shares_port:
            web = WebServer(obs, host=settings.web.host, port=settings.web.port, threads=settings.web.threads,
                            name="observability").start()
        service = SlackService.start(settings.slack, core=runtime.core, metrics=runtime.metrics,
                                     health=runtime.health, transport=cast(Literal["socket", "http"], chosen),
                                     observability=obs)
        from bot.digest.service import start_scheduler  # digests: scheduler thread (bot/digest/)

        digests = start_scheduler(settings, db=runtime.db, searcher=runtime.searcher, metrics=runtime.metrics)
        running.set()
        log.info("firstmate is running", transport=chosen, store=runtime.db.label)
        while not stop.wait(1.0):
            pass
        log.info("shutting down", grace_s=settings.slack.shutdown_grace_s)
    finally:
        if digests is not None:
            digests.stop()
        if service is not None:
            service.stop(grace_s=settings.slack.shutdown_grace_s)
        if web is not None:
            web.stop()
        runtime.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def register(app: typer.Typer) -> None:
    """Attach `serve`, `console` and `run` to the main app."""

    @app.command("serve")
    def serve(
        config: Path | None = CONFIG_OPTION,
        transport: str | None = typer.Option(
            None, "--transport", "-t", help="socket or http (default: chosen from the tokens that are set)."
        ),
    ) -> None:
        """Run the Slack bot (Socket Mode or HTTP Events API) with /healthz, /readyz and /metrics."""
        if transport is not None and transport not in ("socket", "http"):
            raise UserError(f"--transport must be socket or http, not {transport!r}")
        raise typer.Exit(run_server(load_settings(config), transport=transport))

    @app.command("console")
    def console(config: Path | None = CONFIG_OPTION) -> None:
        """Talk to firstmate in the terminal: questions, /ask, /k8s, /more, /reply (Ctrl-D to leave)."""
        raise typer.Exit(run_console(load_settings(config)))

    @app.command("run")
    def run(config: Path | None = CONFIG_OPTION) -> None:
        """Start firstmate: the Slack bot when Slack tokens are set, otherwise the console."""
        settings = load_settings(config)
        if settings.slack.transport() == "console":
            raise typer.Exit(run_console(settings))
        raise typer.Exit(run_server(settings))
