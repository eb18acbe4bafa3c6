"""Helpers shared by the CLI modules: building the settings once per invocation."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings


def load_settings(config: Path | None = None) -> Settings:
    """Build the settings for this process (once, at the start of a command)."""
    return Settings.load(config_file=config)
