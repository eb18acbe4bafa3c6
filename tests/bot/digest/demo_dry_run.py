"""Show a realistic digest without a cluster or Slack: the fake kube-apiserver, then `firstmate digest --dry-run`.

    .venv/bin/python tests/bot/digest/demo_dry_run.py            # cluster digest
    .venv/bin/python tests/bot/digest/demo_dry_run.py --json     # the same as JSON

It starts the fake API server from the tests (realistic pods in CrashLoopBackOff, ImagePullBackOff,
Evicted, Pending…), writes a kubeconfig and a settings file into a temporary folder, and runs the
real CLI against them. Nothing is posted and nothing outside that folder is written (the corpus
index is the one under index/build, built on first use).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))

import yaml  # noqa: E402
from fakes.kube_apiserver import FakeKubeApiServer  # noqa: E402


def main() -> int:
    extra = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="firstmate-demo-") as tmp, FakeKubeApiServer() as kube:
        folder = Path(tmp)
        config = {
            "store": {"data_dir": str(folder / "data")},
            "cluster": {
                "kubeconfig": str(kube.write_kubeconfig(folder / "kubeconfig")),
                "policy": {"channels": {"C0OPS0001": {"namespaces": ["shop", "payments"]}}},
            },
            "digest": {
                "schedules": [
                    {
                        "kind": "cluster",
                        "channel": "C0OPS0001",
                        "cron": "0 9 * * 1-5",
                        "timezone": "Asia/Shanghai",
                    }
                ]
            },
        }
        path = folder / "firstmate.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FIRSTMATE_", "SLACK_"))}
        env.update(FIRSTMATE_CONFIG=str(path), PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
        cmd = [
            sys.executable,
            "-c",
            "from bot.cli import main; main()",
            "digest",
            "--kind",
            "cluster",
            "--channel",
            "C0OPS0001",
            "--dry-run",
            *extra,
        ]
        return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
