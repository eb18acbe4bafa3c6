"""Lint-style checks of deploy/Dockerfile and .dockerignore (there is no Docker engine here).

What a reviewer would insist on: a pinned base, a multi-stage build on slim Python, the CPU build
of torch, exact pins, tini as PID 1, a fixed non-root UID, no secrets or remote ADDs, a
HEALTHCHECK on the real health port, and ports and paths that agree with the settings.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from deploy_support import (
    DEPLOY,
    DOCKERFILE,
    DOCKERIGNORE,
    REPO,
    Stage,
    dockerignore_patterns,
    dockerignored,
    read_instructions,
    read_stages,
    settings_field_path,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bot.settings.slack import SlackSettings
from bot.settings.web import WebSettings

SECRET_NAME = re.compile(
    r"TOKEN(?!IZERS)|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|DATABASE_URL|STORE__URL", re.I
)
SECRET_VALUE = re.compile(r"xox[abposr]-|xapp-|-----BEGIN|postgres(ql)?://[^@\s]+:[^@\s]+@|AKIA[0-9A-Z]{16}")


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    _, found = read_stages()
    return found


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_base_images_are_pinned_slim_python(stages: list[Stage]) -> None:
    names = {s.name for s in stages if s.name}
    assert len(stages) >= 2, "the image must be a multi-stage build (builder + runtime)"
    for stage in stages:
        if stage.image in names:
            continue  # FROM an earlier stage
        image = stage.image
        assert "?" not in image, f"stage {stage.index}: FROM uses an ARG without a default: {image}"
        digest = re.search(r"@sha256:[0-9a-f]{64}$", image)
        repo_tag = image.split("@", 1)[0]
        tag = repo_tag.rsplit(":", 1)[1] if ":" in repo_tag.rsplit("/", 1)[-1] else ""
        exact = re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9]+)*", tag)
        assert digest or exact, f"stage {stage.index}: base {image!r} is not pinned to a digest or exact version"
        assert tag != "latest", f"stage {stage.index}: base uses :latest"
        assert repo_tag.split(":")[0].endswith("python") and "slim" in tag, f"not a slim Python base: {image}"
        assert tag.startswith("3.11."), f"{image}: pyproject requires Python 3.11"


def test_final_stage_copies_from_builder_and_installs_no_compiler(stages: list[Stage], final: Stage) -> None:
    builders = {s.name for s in stages[:-1]}
    froms = [i.value for i in final.all("COPY") if i.value.startswith("--from=")]
    assert froms, "the runtime stage must copy the venv and the index from the builder stage"
    assert all(v.split()[0].removeprefix("--from=") in builders for v in froms), froms
    runtime_runs = " ".join(i.value for i in final.all("RUN"))
    for tool in ("gcc", "build-essential", "pip install", "git "):
        assert tool not in runtime_runs, f"runtime stage installs {tool!r}; keep it in the builder"


def test_non_root_user_with_fixed_uid(final: Stage) -> None:
    users = final.all("USER")
    assert users, "the runtime stage sets no USER: the container would run as root"
    user = users[-1].value
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000, f"USER {user!r}: use a fixed numeric UID ≥ 1000"
    assert not gid or (gid.isdigit() and int(gid) > 0), f"USER {user!r}: numeric non-root group"
    # Nothing after USER switches back to root.
    after = final.instructions[final.instructions.index(users[-1]) :]
    assert not [i for i in after if i.keyword == "RUN"], "RUN after USER: image layers should be built as root"


def test_tini_is_pid_one_and_runs_firstmate(final: Stage) -> None:
    entry = final.all("ENTRYPOINT")
    assert entry, "no ENTRYPOINT"
    argv = entry[-1].exec_form()
    assert argv is not None, "ENTRYPOINT must use the exec form so tini is PID 1 (no /bin/sh in between)"
    assert argv[:2] == ["tini", "--"], f"ENTRYPOINT {argv}: tini must be PID 1 with `--`"
    assert argv[2:] == ["firstmate"], f"ENTRYPOINT {argv}: tini should run the firstmate console script"
    installs = " ".join(i.value for i in final.all("RUN"))
    assert re.search(r"apt-get install[^&;]*\btini\b", installs), "tini is not installed in the runtime stage"
    cmd = final.all("CMD")
    assert cmd and cmd[-1].exec_form() == ["serve"], "CMD should be the exec-form default command ['serve']"


def test_cmd_is_a_registered_cli_command(final: Stage) -> None:
    import typer.main

    from bot.cli import app

    group = typer.main.get_command(app)
    cmd = final.all("CMD")[-1].exec_form() or []
    names = set(getattr(group, "commands", {}))
    assert cmd[0] in names, f"CMD {cmd}: `firstmate {cmd[0]}` is not a registered command (have: {sorted(names)})"


def test_no_secrets_in_env_or_arg() -> None:
    for ins in read_instructions():
        if ins.keyword not in {"ENV", "ARG", "LABEL"}:
            continue
        assert not SECRET_VALUE.search(ins.value), f"line {ins.line}: a secret-looking value in {ins.keyword}"
        names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", " " + ins.value)
        if ins.keyword == "ARG":
            names.append(ins.value.split("=")[0].strip())
        for name in names:
            assert not SECRET_NAME.search(name), f"line {ins.line}: {ins.keyword} {name} looks like a secret"


def test_no_add_from_urls_and_no_piping_downloads_to_a_shell() -> None:
    for ins in read_instructions():
        if ins.keyword == "ADD":
            assert not re.search(r"https?://|git@", ins.value), f"line {ins.line}: ADD from a URL"
            pytest.fail(f"line {ins.line}: use COPY, not ADD")
        if ins.keyword == "RUN":
            assert not re.search(r"(curl|wget)[^|]*\|\s*(ba)?sh", ins.value), f"line {ins.line}: curl | sh"


def test_healthcheck_targets_the_health_port() -> None:
    _, stages = read_stages()
    checks = stages[-1].all("HEALTHCHECK")
    assert checks, "no HEALTHCHECK in the runtime stage"
    value = checks[-1].value
    assert "CMD" in value and "NONE" not in value.split()[0:1]
    port = WebSettings().port
    assert "/healthz" in value, "HEALTHCHECK should probe /healthz"
    assert f"'FIRSTMATE_WEB__PORT', '{port}'" in value or f":{port}/healthz" in value, (
        f"HEALTHCHECK must default to the web port of the settings ({port})"
    )


def test_exposed_ports_match_settings(final: Stage) -> None:
    exposed = {int(p.split("/")[0]) for i in final.all("EXPOSE") for p in i.value.split()}
    assert WebSettings().port in exposed, f"EXPOSE lacks the health/metrics port {WebSettings().port}"
    assert SlackSettings().port in exposed, f"EXPOSE lacks the Slack HTTP port {SlackSettings().port}"


def test_env_names_map_to_real_settings(stages: list[Stage]) -> None:
    for stage in stages:
        for name in stage.env():
            if name.startswith("FIRSTMATE_") or name in {"SLACK_BOT_TOKEN", "KUBECONFIG"}:
                assert settings_field_path(name), f"stage {stage.index}: ENV {name} sets no field of Settings"


def test_runtime_is_offline_and_read_only_friendly(final: Stage) -> None:
    env = final.env()
    assert env.get("HF_HUB_OFFLINE") == "1", "the pod must never reach a model hub"
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1", "no .pyc writes on a read-only root filesystem"
    assert env.get("FIRSTMATE_STORE__DATA_DIR") == "/data", "the store writes under the /data volume"
    for key in ("HOME", "XDG_CACHE_HOME", "HF_HOME"):
        assert env.get(key, "").startswith("/tmp"), f"{key} must point into the writable /tmp volume"
    build_dir = env.get("FIRSTMATE_RETRIEVAL__BUILD_DIR", "")
    copied = [i.value.split()[-1] for i in final.all("COPY") if i.value.startswith("--from=")]
    assert any(build_dir.startswith(dest.rstrip("/") + "/") for dest in copied), (
        f"the prebuilt index at {build_dir!r} is not copied from the builder"
    )


def test_torch_is_the_cpu_build_installed_first(stages: list[Stage]) -> None:
    builder = stages[0]
    pip_runs = [i for i in builder.all("RUN") if "pip install" in i.value]
    assert pip_runs, "the builder installs nothing with pip"
    first = pip_runs[0].value
    assert "torch" in first and "https://download.pytorch.org/whl/cpu" in first, (
        "torch must be installed first, from the PyTorch CPU index"
    )
    assert re.search(r"torch==[\d.]+\+cpu", first), "pin the CPU torch build exactly (torch==X.Y.Z+cpu)"
    assert "--extra-index-url" not in first, "an extra index could offer a CUDA build"
    for ins in pip_runs:
        for command in re.split(r"&&|;|\|\|", ins.value):
            if "pip install" in command:
                assert not re.search(r"whl/cu\d+|nvidia|triton", command), f"line {ins.line}: CUDA index/package"
    rest = " ".join(i.value for i in pip_runs[1:])
    assert "--constraint deploy/constraints.txt" in rest or "-c deploy/constraints.txt" in rest, (
        "the package install must use the exact pins in deploy/constraints.txt"
    )
    assert "index build" in " ".join(i.value for i in builder.all("RUN")), "the index is not prebuilt"


def test_constraints_pin_every_runtime_dependency_within_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins: dict[str, Version] = {}
    for line in (DEPLOY / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = Version(version)
    stale: list[str] = []
    for spec in project["dependencies"]:
        req = Requirement(spec)
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            stale.append(f"{req.name}: not pinned")
        elif not req.specifier.contains(pinned, prereleases=True):
            stale.append(f"{req.name}: pinned {pinned}, pyproject wants {req.specifier}")
    assert not stale, (
        "deploy/constraints.txt is out of step with pyproject.toml; regenerate it with "
        "`.venv/bin/python deploy/lock_constraints.py`:\n" + "\n".join(stale)
    )
    torch = pins.get("torch")
    assert torch is not None and torch.local == "cpu", f"constraints pin torch {torch}, not a +cpu build"
    assert not [n for n in pins if n.startswith("nvidia-") or n == "triton"], "CUDA packages pinned"


def test_dockerignore_keeps_secrets_and_state_out_but_not_what_copy_needs() -> None:
    assert DOCKERIGNORE.is_file(), ".dockerignore is missing at the build context root"
    patterns = dockerignore_patterns()
    for path in (".env", ".git/config", ".venv/bin/python", "data/firstmate.db", "index/build/x.faiss"):
        assert dockerignored(path, patterns), f".dockerignore does not exclude {path}"
    for ins in read_instructions():
        if ins.keyword != "COPY" or ins.value.startswith("--from="):
            continue
        sources = ins.value.split()[:-1]
        for src in sources:
            assert not src.startswith("--"), f"line {ins.line}: unexpected COPY flag {src}"
            assert (REPO / src).exists(), f"line {ins.line}: COPY source {src} does not exist"
            assert not dockerignored(src, patterns), f"line {ins.line}: COPY {src} is excluded by .dockerignore"


def test_dockerfile_is_where_the_docs_say() -> None:
    assert DOCKERFILE.is_file()
    assert "docker build -f deploy/Dockerfile" in DOCKERFILE.read_text(encoding="utf-8")
