"""The `firstmate` command line: one Typer app, one module per command group.

Each command module keeps heavy imports (torch, faiss, slack_bolt, kubernetes) inside its
functions, so `firstmate --help` stays fast.
"""

from __future__ import annotations

import sys

import typer

from bot.cli import ask, audit, corpus, digest, index, kube, serve
from bot.config import ConfigError
from bot.errors import UserError

app = typer.Typer(
    name="firstmate",
    help="firstmate: cited answers from the Kubernetes community Q&A archive, and guarded read-only cluster commands.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(corpus.app, name="corpus")
app.add_typer(index.app, name="index")
app.add_typer(audit.app, name="audit")
ask.register(app)
kube.register(app)
digest.register(app)
serve.register(app)


def main() -> None:
    """Console-script entry point.

    Typer's standalone mode turns usage errors into exit code 2 and ``typer.Exit(code)`` into that
    exit code; our own user-facing errors become one line on stderr and their exit code.
    """
    try:
        app()
    except (UserError, ConfigError) as exc:
        typer.echo(f"firstmate: error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        sys.exit(130)
