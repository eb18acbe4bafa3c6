"""Shared test setup: offline model hub, and no stray Slack/Kubernetes settings from the developer's shell."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "KUBECONFIG", "FIRSTMATE_CONFIG"):
    os.environ.pop(_name, None)
