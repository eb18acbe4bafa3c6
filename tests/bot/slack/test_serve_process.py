"""`firstmate serve` as a real process: HTTP transport from the env, probes, and a graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from fakes.slack_api import FakeSlack, SlackEventSender, payload
from slack_harness import SECRET

MAIN = "import sys; sys.argv[0] = 'firstmate'; from bot.cli import main; main()"


class LogReader:
    """Reads the child's JSON log lines from stderr in a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.records: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with self._cv:
                self.raw.append(line)
                if line.startswith("{"):
                    self.records.append(json.loads(line))
                self._cv.notify_all()

    def wait(self, event: str, timeout: float = 120.0, **fields: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for r in self.records:
                    if r.get("event") == event and all(r.get(k) == v for k, v in fields.items()):
                        return r
                if time.monotonic() > deadline:
                    raise AssertionError(f"no log event {event!r}; got:\n{''.join(self.raw[-30:])}")
                self._cv.wait(0.5)


def test_serve_over_http_then_sigterm_finishes_in_flight_answers(
    fake_slack: FakeSlack, tmp_path: Path, hash_searcher: Any
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FIRSTMATE_"))}
    env.update(
        SLACK_BOT_TOKEN=fake_slack.bot_token, SLACK_SIGNING_SECRET=SECRET, FIRSTMATE_SLACK_API_URL=fake_slack.url,
        FIRSTMATE_SLACK__HOST="127.0.0.1", FIRSTMATE_SLACK__PORT="0",
        FIRSTMATE_WEB__HOST="127.0.0.1", FIRSTMATE_WEB__PORT="0",
        FIRSTMATE_RETRIEVAL__EMBEDDER="hash", FIRSTMATE_RETRIEVAL__BUILD_DIR=str(hash_searcher.settings.build_dir),
        FIRSTMATE_STORE__DATA_DIR=str(tmp_path / "data"),
    )
    proc = subprocess.Popen([sys.executable, "-c", MAIN, "serve"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    logs = LogReader(proc)
    try:
        started = logs.wait("transport started", transport="http")
        web = logs.wait("http server listening", server="observability")
        logs.wait("index ready")
        with urllib.request.urlopen(f"http://127.0.0.1:{web['port']}/readyz", timeout=10) as resp:
            assert resp.status == 200
        events = SlackEventSender(f"http://127.0.0.1:{started['port']}", secret=SECRET)
        fake_slack.rate_limit("chat.postMessage", retry_after=2)  # the answer will be in flight...
        envelope = payload("app_mention")
        envelope["event"]["text"] = "<@U0FIRSTMATE> Prometheus 监控 Kubernetes"
        assert events.event(envelope).status == 200
        fake_slack.wait_for("chat.postMessage", ok_only=False)  # ...waiting out the 429
        proc.send_signal(signal.SIGTERM)  # what tini forwards on `kubectl delete pod`
        assert proc.wait(timeout=60) == 0
        [delivered] = fake_slack.calls_to("chat.postMessage")  # finished before exiting
        assert delivered.args["thread_ts"] == "1700000100.000100"
        logs.wait("store closed", timeout=10)
        assert not any(r.get("level") == "error" for r in logs.records)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
