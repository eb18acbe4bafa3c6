"""`firstmate digest` as a CronJob runs it: a real process, settings from YAML, fake cluster and fake Slack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes.kube_apiserver import FakeKubeApiServer
from fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[3]
OPS = "C0OPS0001"


@pytest.fixture
def env(tmp_path: Path, hash_searcher: Any) -> Iterator[tuple[dict[str, str], FakeKubeApiServer, FakeSlack]]:
    with FakeKubeApiServer() as kube, FakeSlack() as slack:
        config = {
            "store": {"data_dir": str(tmp_path / "data")},
            "retrieval": {"embedder": "hash", "build_dir": str(hash_searcher.settings.build_dir)},
            "slack": {"api_url": slack.url},
            "cluster": {
                "kubeconfig": str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
                "policy": {"channels": {OPS: {"namespaces": ["shop", "payments"]}}},
            },
            "digest": {
                "schedules": [
                    {"kind": "cluster", "channel": OPS, "cron": "0 9 * * 1-5", "timezone": "Asia/Shanghai"}
                ]
            },
        }
        path = tmp_path / "firstmate.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("FIRSTMATE_", "SLACK_"))}
        environ.update(FIRSTMATE_CONFIG=str(path), PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
        yield environ, kube, slack


def firstmate(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    code = "from bot.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_dry_run_prints_a_realistic_cluster_digest_and_posts_nothing(env: Any) -> None:
    environ, kube, slack = env
    proc = firstmate(environ, "digest", "--kind", "cluster", "--channel", OPS, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("Cluster digest · ") and "payments, shop" in out
    assert (
        "CrashLoopBackOff (1)" in out
        and "shop/web-7c9d8f6b5-m4q7r" in out
        and "Related community Q&A:" in out
    )
    assert "preview" in proc.stderr
    assert slack.calls == []  # nothing reached Slack
    assert "GET" in kube.methods() and kube.changes_requested() == []


def test_cronjob_run_posts_once_then_reports_done(env: Any) -> None:
    environ, _kube, slack = env
    environ = {**environ, "SLACK_BOT_TOKEN": slack.bot_token}
    at = "2025-06-02T09:00:20+08:00"  # a Monday, just after the slot
    first = firstmate(environ, "digest", "--kind", "cluster", "--channel", OPS, "--at", at, "--json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "posted" and result["late"] is False
    assert result["period"] == {"start": "2025-05-30T01:00:00+00:00", "end": "2025-06-02T01:00:00+00:00"}
    assert result["digest"]["meta"]["digest_id"] == result["digest_id"]
    [message] = slack.posted(OPS)
    assert message["ts"] == result["slack_ts"]

    again = firstmate(environ, "digest", "--kind", "cluster", "--channel", OPS, "--at", at)
    assert again.returncode == 0, again.stderr
    assert f"digest {result['digest_id']}: done" in again.stderr
    assert len(slack.posted(OPS)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--kind", "cluster", "--channel", "C0OTHER01"],
            "no digest schedule for kind=cluster channel=C0OTHER01",
        ),
        (["--kind", "weekly", "--channel", OPS], "expected 'cluster' or 'knowledge'"),
        (["--kind", "cluster", "--channel", OPS, "--at", "monday"], "not an ISO time"),
        (["--kind", "cluster", "--channel", OPS, "--cron", "0 9 * *"], "expected 5 fields"),
        (["--kind", "cluster", "--channel", OPS, "--cron", "0 99 * * *"], "cron '0 99 * * *': "),
        (["--kind", "cluster", "--channel", OPS, "--cron", "0 9 * * *", "--timezone", "Mars/Base"],
         "time zone 'Mars/Base' is not a known IANA zone"),
        (["--kind", "cluster", "--channel", OPS], "no Slack bot token"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_2(env: Any, args: list[str], message: str) -> None:
    environ, _kube, slack = env
    proc = firstmate(environ, "digest", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("firstmate: error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "errors.pydantic.dev" not in proc.stderr
    assert slack.posted() == []
