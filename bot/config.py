"""The one typed Settings object: the only place firstmate reads its configuration.

Sources, highest priority first: explicit arguments, ``FIRSTMATE_*`` environment variables
(nested with ``__``, e.g. ``FIRSTMATE_SLACK__PORT``), the well-known names Slack and Kubernetes
users already set (``SLACK_BOT_TOKEN``, ``KUBECONFIG``…), a ``.env`` file, then an optional YAML
file named by ``FIRSTMATE_CONFIG``. Settings are built once at startup and passed down.

Example:
    >>> Settings.load().web.port > 0
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from bot.settings.cluster import ClusterSettings
from bot.settings.digest import DigestSettings
from bot.settings.slack import SlackSettings
from bot.settings.store import StoreSettings
from bot.settings.web import WebSettings
from retrieval.config import RetrievalSettings

# Environment names people already use, mapped onto our nested fields.
WELL_KNOWN_ENV: dict[str, tuple[str, str]] = {
    "SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "SLACK_APP_TOKEN": ("slack", "app_token"),
    "SLACK_SIGNING_SECRET": ("slack", "signing_secret"),
    "FIRSTMATE_SLACK_API_URL": ("slack", "api_url"),
    "KUBECONFIG": ("cluster", "kubeconfig"),
    "FIRSTMATE_DATABASE_URL": ("store", "url"),
}


class ConfigError(ValueError):
    """The configuration cannot be read; the message names the file or variable."""


class _WellKnownEnvSource(PydanticBaseSettingsSource):
    """Reads the well-known unprefixed names (SLACK_BOT_TOKEN, KUBECONFIG…)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for env_name, (section, key) in WELL_KNOWN_ENV.items():
            value = os.environ.get(env_name)
            if value:
                out.setdefault(section, {})[key] = value
        return dict(out)


class Settings(BaseSettings):
    """All of firstmate's configuration, validated once."""

    model_config = SettingsConfigDict(
        env_prefix="FIRSTMATE_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        nested_model_default_partial_update=True,
    )

    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON logs; default: JSON unless on a TTY.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            _WellKnownEnvSource(settings_cls),
            dotenv_settings,
        ]
        if settings_cls.model_config.get("yaml_file"):
            sources.append(YamlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @classmethod
    def load(cls, *, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build the settings once at startup; ``config_file`` defaults to ``$FIRSTMATE_CONFIG``."""
        env_path = os.environ.get("FIRSTMATE_CONFIG")
        yaml_path = config_file or (Path(env_path) if env_path else None)
        klass: type[Settings] = cls
        if yaml_path is not None:
            if not yaml_path.is_file():
                raise ConfigError(f"{yaml_path}: configuration file not found (FIRSTMATE_CONFIG)")
            config = SettingsConfigDict(**{**cls.model_config, "yaml_file": yaml_path})
            klass = type(cls.__name__, (cls,), {"model_config": config, "__module__": cls.__module__})
        where = str(yaml_path) if yaml_path else "environment"
        try:
            return klass(**overrides)
        except ValidationError as exc:
            raise ConfigError(f"{where}: invalid configuration: {describe_validation(exc)}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: invalid configuration: {_describe_yaml(exc)}") from exc
        except (OSError, UnicodeDecodeError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: invalid configuration: {type(exc).__name__}") from exc


def describe_validation(exc: ValidationError, *, limit: int = 4) -> str:
    """Where and what is wrong, never the offending value: it may be a token or a password.

    Example:
        >>> from bot.settings.web import WebSettings
        >>> try:
        ...     WebSettings(port="xoxb-secret")
        ... except ValidationError as e:
        ...     print(describe_validation(e))
        port: Input should be a valid integer, unable to parse string as an integer
    """
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    more = len(problems) - limit
    return "; ".join(problems[:limit]) + (f"; and {more} more" if more > 0 else "")


def _describe_yaml(exc: yaml.YAMLError) -> str:
    """The YAML problem and its line, without the snippet of the file (it may hold a secret)."""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 1})" if mark is not None else str(problem)
