"""Pods of the rendered overlays: hardened, probed, sized, and consistent with the image and settings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    OVERLAYS,
    REPO,
    by_kind,
    containers,
    one,
    pod_specs,
    read_stages,
    render,
    settings_field_path,
)

from bot.config import Settings
from bot.settings.slack import SlackSettings
from bot.settings.web import WebSettings

SECRET_ENV = {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "FIRSTMATE_DATABASE_URL",
              "FIRSTMATE_STORE__URL", "FIRSTMATE_RETRIEVAL__EMBEDDINGS_API_KEY"}
SECRET_VALUE = re.compile(r"xox[abposr]-[\w-]+|xapp-[\w-]+|-----BEGIN|://[^/\s:@]+:[^@\s]+@|AKIA[0-9A-Z]{16}")


def dockerfile_uid() -> int:
    _, stages = read_stages()
    return int(stages[-1].all("USER")[-1].value.split(":")[0])


def project_version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports") or [] if "name" in p}
    assert port in named, f"{container['name']}: probe/Service port {port!r} is not a declared container port"
    return int(named[port])


def literal_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(overlay: str) -> list[dict[str, Any]]:
    return render(overlay)


def test_security_context_everywhere(docs: list[dict[str, Any]]) -> None:
    uid = dockerfile_uid()
    for label, spec in pod_specs(docs):
        pod = spec.get("securityContext") or {}
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(key), f"{label}: {key}"
        assert not [v for v in spec.get("volumes") or [] if "hostPath" in v], f"{label}: hostPath volume"
        for c in containers(spec):
            sc = c.get("securityContext") or {}
            where = f"{label}/{c['name']}"
            assert sc.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, f"{where}: runAsNonRoot"
            assert sc.get("runAsUser", pod.get("runAsUser")) == uid, f"{where}: runAsUser ≠ Dockerfile USER {uid}"
            assert sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
            assert sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
            assert not sc.get("privileged"), f"{where}: privileged"
            caps = sc.get("capabilities") or {}
            assert caps.get("drop") == ["ALL"], f"{where}: capabilities must drop ALL"
            assert not caps.get("add"), f"{where}: adds capabilities {caps.get('add')}"
            seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
            assert seccomp == "RuntimeDefault", f"{where}: seccompProfile RuntimeDefault"


def test_writable_paths_are_volumes(docs: list[dict[str, Any]]) -> None:
    """With a read-only root, /tmp and the data dir must be mounts; the config mount is read-only."""
    for label, spec in pod_specs(docs):
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        for c in containers(spec):
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
            env = literal_env(c)
            data_dir = env.get("FIRSTMATE_STORE__DATA_DIR", str(Settings.model_fields["store"].default_factory().data_dir))  # type: ignore[misc]
            for path in ("/tmp", data_dir):
                assert path in mounts, f"{label}/{c['name']}: {path} is not a volume (read-only root)"
                assert not mounts[path].get("readOnly"), f"{label}: {path} must be writable"
            for m in mounts.values():
                assert m["name"] in volumes, f"{label}: mount of undeclared volume {m['name']}"
            config = env.get("FIRSTMATE_CONFIG")
            assert config, f"{label}/{c['name']}: FIRSTMATE_CONFIG is not set"
            folder = str(Path(config).parent)
            assert folder in mounts and mounts[folder].get("readOnly"), f"{label}: config mount {folder}"
            source = volumes[mounts[folder]["name"]].get("configMap")
            assert source, f"{label}: {folder} is not a ConfigMap"
            cm = one(docs, "ConfigMap", source["name"])
            assert Path(config).name in cm["data"], f"{label}: ConfigMap {source['name']} lacks {Path(config).name}"


def test_probes_hit_health_endpoints_on_the_settings_port(docs: list[dict[str, Any]]) -> None:
    deployment = one(docs, "Deployment", "firstmate")
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    web_port = int(literal_env(c).get("FIRSTMATE_WEB__PORT", WebSettings().port))
    assert web_port == WebSettings().port, "the pod moves the web port away from the settings default"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        spec = c.get(probe)
        assert spec and "httpGet" in spec, f"{probe} missing or not an HTTP probe"
        assert spec["httpGet"]["path"] == path, f"{probe} should GET {path}"
        assert port_number(c, spec["httpGet"]["port"]) == web_port, f"{probe} on the wrong port"
    startup = c.get("startupProbe")
    if startup:
        assert startup["httpGet"]["path"] == "/healthz"
        budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        assert budget >= 60, "the startup probe should allow the model and index to load"
    grace = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds")
    assert isinstance(grace, int) and grace >= 30, "terminationGracePeriodSeconds: time to finish answers"


def test_resources_have_requests_and_limits(docs: list[dict[str, Any]]) -> None:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}

    def mem(value: str) -> int:
        number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", value).groups()  # type: ignore[union-attr]
        return int(number) * units[unit]

    for label, spec in pod_specs(docs):
        for c in containers(spec):
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    assert what in (res.get(kind) or {}), f"{label}/{c['name']}: no {what} {kind}"
            assert mem(res["limits"]["memory"]) >= mem(res["requests"]["memory"])
            # Measured: 280–340 MiB resident once the index is loaded (README, "Sizing"; bench/throughput.py).
            assert mem(res["requests"]["memory"]) >= 384 * 2**20, f"{label}: memory request below measured RSS"


def test_no_secret_values_anywhere(docs: list[dict[str, Any]]) -> None:
    assert not by_kind(docs, "Secret"), "a Secret is rendered: secret values would be in git"
    for cm in by_kind(docs, "ConfigMap"):
        for key, value in (cm.get("data") or {}).items():
            assert not SECRET_VALUE.search(value), f"ConfigMap {cm['metadata']['name']}/{key} holds a secret"
    for label, spec in pod_specs(docs):
        for c in containers(spec):
            for e in c.get("env") or []:
                assert not SECRET_VALUE.search(str(e.get("value", ""))), f"{label}: {e['name']} has a secret value"
                if e["name"] in SECRET_ENV:
                    assert "secretKeyRef" in (e.get("valueFrom") or {}), f"{label}: {e['name']} not from a Secret"
            assert not c.get("envFrom"), f"{label}: envFrom hides which variables are set"


def test_env_names_are_real_settings(docs: list[dict[str, Any]]) -> None:
    passthrough = {"DIGEST_CHANNEL"}  # used only for $(…) expansion in args
    for label, spec in pod_specs(docs):
        for c in containers(spec):
            for e in c.get("env") or []:
                if e["name"] in passthrough:
                    continue
                assert settings_field_path(e["name"]), f"{label}: env {e['name']} sets no field of Settings"


def test_image_and_entrypoint_match_the_dockerfile(overlay: str, docs: list[dict[str, Any]]) -> None:
    images = set()
    for label, spec in pod_specs(docs):
        for c in containers(spec):
            image = c["image"]
            images.add(image)
            name, _, tag = image.rpartition(":")
            assert name and tag and tag != "latest", f"{label}: image {image!r} needs an explicit tag"
            assert "command" not in c, f"{label}: `command` would replace the image's tini ENTRYPOINT"
            assert c.get("args"), f"{label}: args should name the firstmate command"
    assert len(images) == 1, f"all workloads should run the same image, got {images}"
    if overlay == "prod":
        (image,) = images
        assert image.endswith(":" + project_version()), f"prod image {image} ≠ project version {project_version()}"


def test_args_parse_with_the_real_cli(docs: list[dict[str, Any]]) -> None:
    import typer.main

    from bot.cli import app

    try:  # recent typer vendors click as typer._click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click import UsageError

    group: Any = typer.main.get_command(app)
    configmaps = {cm["metadata"]["name"]: cm.get("data") or {} for cm in by_kind(docs, "ConfigMap")}
    for label, spec in pod_specs(docs):
        for c in containers(spec):
            env: dict[str, str] = {}
            for e in c.get("env") or []:
                if "value" in e:
                    env[e["name"]] = e["value"]
                elif "configMapKeyRef" in (e.get("valueFrom") or {}):
                    ref = e["valueFrom"]["configMapKeyRef"]
                    env[e["name"]] = configmaps[ref["name"]][ref["key"]]
            args = [re.sub(r"\$\((\w+)\)", lambda m, env=env: env[m.group(1)], a) for a in c["args"]]
            ctx = group.make_context("firstmate", [args[0]], resilient_parsing=True)
            command = group.get_command(ctx, args[0])
            assert command is not None, f"{label}: `firstmate {args[0]}` is not a registered command"
            try:
                command.make_context(args[0], list(args[1:]), parent=ctx)
            except UsageError as exc:
                pytest.fail(f"{label}: `firstmate {' '.join(args)}` is rejected by the CLI: {exc}")


def test_ports_match_settings_and_dockerfile(overlay: str, docs: list[dict[str, Any]]) -> None:
    _, stages = read_stages()
    exposed = {int(p.split("/")[0]) for i in stages[-1].all("EXPOSE") for p in i.value.split()}
    deployment = one(docs, "Deployment", "firstmate")
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
    assert ports.get("health") == WebSettings().port
    if overlay == "prod":
        assert ports.get("slack") == SlackSettings().port == int(literal_env(c)["FIRSTMATE_SLACK__PORT"])
    assert set(ports.values()) <= exposed, f"container ports {ports} not all EXPOSEd by the image ({exposed})"
    service = one(docs, "Service", "firstmate")
    for sp in service["spec"]["ports"]:
        assert port_number(c, sp["targetPort"]) in ports.values()
    selector = service["spec"]["selector"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items(), "the Service does not select the bot's pods"


def test_pod_environment_builds_the_intended_settings(
    overlay: str, docs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Load Settings exactly as the pod would: the ConfigMap file plus the container's env."""
    deployment = one(docs, "Deployment", "firstmate")
    spec = deployment["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    env = literal_env(c)
    cm_name = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(one(docs, "ConfigMap", cm_name)["data"]["settings.yaml"], encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name in [n for n in list(__import__("os").environ) if n.startswith(("FIRSTMATE_", "SLACK_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for e in c.get("env") or []:
        if "secretKeyRef" in (e.get("valueFrom") or {}):
            monkeypatch.setenv(e["name"], "postgresql://u:p@db/firstmate" if "DATABASE" in e["name"] else "placeholder")
    monkeypatch.setenv("FIRSTMATE_CONFIG", str(settings_file))
    settings = Settings.load()
    assert settings.web.port == WebSettings().port
    assert str(settings.store.data_dir) == env["FIRSTMATE_STORE__DATA_DIR"]
    assert settings.cluster.in_cluster is True
    expected_mode = {"dev": "socket", "prod": "http"}[overlay]
    assert settings.slack.mode == expected_mode
    assert settings.slack.bot_token is not None
    if overlay == "dev":
        assert settings.slack.app_token is not None, "Socket Mode needs SLACK_APP_TOKEN"
        assert settings.store.url is None, "dev uses SQLite in the data volume"
    else:
        assert settings.slack.signing_secret is not None, "HTTP mode needs SLACK_SIGNING_SECRET"
        assert settings.store.url is not None, "prod replicas share PostgreSQL"
        assert settings.slack.port == SlackSettings().port
