"""Helpers shared by the CLI modules: building the settings once per invocation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from bot.config import Settings


def load_settings(config: Path | None = None) -> Settings:
    """Build the settings for this process (once, at the start of a command)."""
    return Settings.load(config_file=config)


def write_stdout(text: str | bytes) -> None:
    """Write all of ``text`` at once; a closed pipe (``| head``) ends the command quietly, not with an error."""
    try:
        if isinstance(text, bytes):
            sys.stdout.buffer.write(text)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
