"""The settings each overlay mounts are valid for the real Settings, with no key pydantic would drop.

Settings ignore unknown keys (``extra="ignore"``), so a misspelt key in the ConfigMap would be
silently lost; here every key must name a field. The digest CronJobs must match a configured
schedule, and the shutdown timings must fit inside the pod's grace period.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import OVERLAYS, by_kind, containers, one, render, unknown_settings_keys

from bot.config import Settings


def mounted_settings(docs: list[dict[str, Any]]) -> str:
    deployment = one(docs, "Deployment", "firstmate")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    name = next(v["configMap"]["name"] for v in volumes if v["name"] == "config")
    return str(one(docs, "ConfigMap", name)["data"]["settings.yaml"])


def load(text: str, tmp_path: Path) -> Settings:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return Settings.load(config_file=path)


def test_unknown_key_walker_can_fail() -> None:
    data = {"slak": {}, "web": {"prot": 1}, "cluster": {"policy": {"channels": {"C1": {"namespace": ["a"]}}}}}
    assert unknown_settings_keys(data) == ["slak", "web.prot", "cluster.policy.channels.C1.namespace"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_mounted_settings_are_valid_and_fully_known(overlay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = mounted_settings(render(overlay))
    data = yaml.safe_load(text)
    assert unknown_settings_keys(data) == [], f"{overlay}: keys no setting reads (typos are silently dropped)"
    monkeypatch.chdir(tmp_path)
    settings = load(text, tmp_path)
    assert settings.retrieval.auto_rebuild is False, "a pod must never rebuild the index (read-only root filesystem)"
    assert settings.cluster.allow_unsafe_credentials is False
    assert settings.log_json is True, "logs are JSON in the cluster"
    assert "<" not in text.replace("<redacted>", ""), "placeholder brackets left in the settings"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shutdown_fits_the_grace_period(overlay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render(overlay)
    monkeypatch.chdir(tmp_path)
    settings = load(mounted_settings(docs), tmp_path)
    deployment = one(docs, "Deployment", "firstmate")
    spec = deployment["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    pre_stop = 0
    command = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    if command[:1] == ["sleep"]:
        pre_stop = int(command[1])
    needed = pre_stop + settings.slack.shutdown_grace_s + 5  # closing the store and transports
    assert spec["terminationGracePeriodSeconds"] >= needed, (
        f"{overlay}: grace {spec['terminationGracePeriodSeconds']}s < preStop {pre_stop}s + "
        f"shutdown_grace_s {settings.slack.shutdown_grace_s}s + 5s"
    )


def test_prod_cronjobs_match_configured_schedules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render("prod")
    monkeypatch.chdir(tmp_path)
    settings = load(mounted_settings(docs), tmp_path)
    jobs = by_kind(docs, "CronJob")
    assert jobs
    for job in jobs:
        (c,) = containers(job["spec"]["jobTemplate"]["spec"]["template"]["spec"])
        args = c["args"]
        kind, channel = args[args.index("--kind") + 1], args[args.index("--channel") + 1]
        schedule = settings.digest.find(kind=kind, channel=channel)
        assert schedule is not None, f"{job['metadata']['name']}: no digest.schedules entry for {kind}→{channel}"
        assert job["spec"]["schedule"] == schedule.cron, f"{job['metadata']['name']}: cron differs from settings"
        assert job["spec"]["timeZone"] == schedule.timezone, f"{job['metadata']['name']}: time zone differs"
