"""Helpers for the deploy tests: read the Dockerfile, render the kustomize overlays, walk settings.

Imported by the test modules next to it (pytest puts this folder on sys.path; no __init__.py).
"""

from __future__ import annotations

import functools
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
KUSTOMIZE = DEPLOY / "kubernetes"
OVERLAYS = ("dev", "prod")
SLACK_MANIFEST = DEPLOY / "slack-app-manifest.yaml"
SLACK_MANIFEST_SOCKET = DEPLOY / "slack-app-manifest.socket.yaml"


# --------------------------------------------------------------------------------------------- Dockerfile
@dataclass
class Instruction:
    """One Dockerfile instruction, continuation lines joined, comments removed."""

    keyword: str
    value: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form ENTRYPOINT/CMD/RUN, or None for the shell form."""
        import json

        text = self.value.strip()
        if not text.startswith("["):
            return None
        parsed = json.loads(text)
        assert isinstance(parsed, list) and all(isinstance(x, str) for x in parsed), self
        return parsed


@dataclass
class Stage:
    """A build stage: its FROM image (ARGs resolved), its name and its instructions."""

    image: str
    name: str | None
    index: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """ENV values of this stage, in order (later wins), quotes removed as Docker does."""
        out: dict[str, str] = {}
        for ins in self.all("ENV"):
            out.update(parse_env(ins.value, out))
        return out


def parse_env(value: str, known: dict[str, str] | None = None) -> dict[str, str]:
    """Parse ``ENV a=1 b="two words"`` (or legacy ``ENV a 1``), expanding ${VAR} from ``known``."""
    known = dict(known or {})
    tokens = shlex.split(value, posix=True)
    if tokens and "=" not in tokens[0]:
        return {tokens[0]: value.split(None, 1)[1].strip()}
    out: dict[str, str] = {}
    for token in tokens:
        name, _, raw = token.partition("=")
        expanded = re.sub(
            r"\$\{(\w+)\}|\$(\w+)", lambda m: known.get(m.group(1) or m.group(2), m.group(0)), raw
        )
        out[name] = expanded
        known[name] = expanded
    return out


def read_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Split a Dockerfile into instructions (backslash continuations joined, comments dropped)."""
    out: list[Instruction] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].rstrip())
            continue
        buffer.append(stripped)
        text = " ".join(part for part in buffer if part)
        buffer = []
        keyword, _, value = text.partition(" ")
        out.append(Instruction(keyword=keyword.upper(), value=value.strip(), line=start))
    assert not buffer, f"{path}: dangling line continuation at the end"
    return out


def read_stages(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the build stages."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in read_instructions(path):
        if ins.keyword == "FROM":
            parts = ins.value.split()
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), "?"), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image=image, name=name, index=len(stages)))
        elif not stages:
            assert ins.keyword == "ARG", f"line {ins.line}: only ARG may come before the first FROM"
            key, _, default = ins.value.partition("=")
            args[key.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append(ins)
    return args, stages


def dockerignore_patterns(path: Path = DOCKERIGNORE) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def dockerignored(relpath: str, patterns: list[str]) -> bool:
    """Whether ``relpath`` (or a parent folder of it) is excluded by .dockerignore (Go filepath.Match + **)."""
    excluded = False
    parts = Path(relpath).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.strip("/")
        regex = _glob_to_regex(body)
        if any(re.fullmatch(regex, c) for c in candidates):
            excluded = not negate
    return excluded


def _glob_to_regex(pattern: str) -> str:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += r"(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += r".*"
            i += 2
        elif pattern[i] == "*":
            out += r"[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += r"[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return out


# ------------------------------------------------------------------------------------------- kustomize
def kubectl() -> str:
    """Path of kubectl, or skip the test with the reason."""
    found = shutil.which("kubectl") or ("/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None)
    if not found:
        pytest.skip("kubectl not found on PATH or at /usr/bin/kubectl: cannot render the kustomize overlays")
    return found


@functools.cache
def _render(overlay: str) -> tuple[dict[str, Any], ...]:
    exe = kubectl()
    target = KUSTOMIZE / "overlays" / overlay
    proc = subprocess.run(
        [exe, "kustomize", str(target)], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {target} failed:\n{proc.stderr}")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return tuple(docs)


def render(overlay: str) -> list[dict[str, Any]]:
    """The rendered objects of an overlay (a fresh deep copy each call)."""
    import copy

    return copy.deepcopy(list(_render(overlay)))


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_templates(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, pod template with metadata and spec) for every workload that runs pods."""
    for doc in docs:
        kind = doc.get("kind")
        label = f"{kind}/{doc['metadata']['name']}"
        if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield label, doc["spec"]["template"]
        elif kind == "CronJob":
            yield label, doc["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            yield label, doc


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, pod spec) for every workload that runs pods."""
    for label, template in pod_templates(docs):
        yield label, template["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


# -------------------------------------------------------------------------------------------- settings
def settings_field_path(env_name: str) -> list[str] | None:
    """Map an environment name the Settings read onto its field path, or None if it reads nothing.

    ``FIRSTMATE_WEB__PORT`` → ["web", "port"]; ``SLACK_BOT_TOKEN`` → ["slack", "bot_token"].
    """
    from bot.config import WELL_KNOWN_ENV, Settings

    if env_name in WELL_KNOWN_ENV:
        return list(WELL_KNOWN_ENV[env_name])
    if env_name == "FIRSTMATE_CONFIG":
        return ["<config file>"]
    if not env_name.startswith("FIRSTMATE_"):
        return None
    path = env_name[len("FIRSTMATE_") :].lower().split("__")
    model: type[BaseModel] | None = Settings
    for i, part in enumerate(path):
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        nested = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if i < len(path) - 1:
            model = nested
    return path


def _walk_value(value: Any, annotation: Any, where: str) -> list[str]:
    """Recurse into a value by its annotation: models, Optional/Union, lists and dicts of models."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return unknown_settings_keys(value, annotation, where + ".")
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    problems: list[str] = []
    if origin in (list, tuple, set, frozenset) and args and isinstance(value, list):
        for i, item in enumerate(value):
            problems += _walk_value(item, args[0], f"{where}[{i}]")
    elif origin is dict and len(args) == 2 and isinstance(value, dict):
        for key, item in value.items():
            problems += _walk_value(item, args[1], f"{where}.{key}")
    elif args and origin is not typing.Literal:
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(value, dict) and len(models) == 1:
            problems += _walk_value(value, models[0], where)
    return problems


def unknown_settings_keys(data: Any, model: type[BaseModel] | None = None, where: str = "") -> list[str]:
    """Keys in a settings mapping that no field declares: pydantic's extra="ignore" would drop them silently."""
    from bot.config import Settings

    model = model or Settings
    problems: list[str] = []
    if not isinstance(data, dict):
        return problems
    by_key = {(f.alias or name): f for name, f in model.model_fields.items()}
    by_key.update(model.model_fields)
    for key, value in data.items():
        info = by_key.get(key)
        if info is None:
            problems.append(f"{where}{key}")
            continue
        problems += _walk_value(value, info.annotation, f"{where}{key}")
    return problems
