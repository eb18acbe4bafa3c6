"""Slack load benchmark: 500 signed mention events, 50 at a time, at `firstmate serve` over HTTP.

The bot runs as its own process (`firstmate serve`, HTTP transport, real bolt + waitress + store),
talking to the fake Slack Web API from tests/fakes/ on loopback. This script plays Slack: it signs
each event (HMAC v0), sends them with 50 concurrent connections, then waits for the answers.

It prints:
  * ack latency p50 / p99 / max (target p99 <= 1 s; Slack's hard limit is 3 s);
  * answered exactly once, answered twice or more, never answered (target: all 500 exactly once),
    counting duplicate deliveries too when --retries is given;
  * answers per second end to end, and the bot process's peak RSS (sampled every 50 ms).

Usage (from the checkout):
    .venv/bin/python bench/slack_load.py                      # the configured embedder (MiniLM)
    .venv/bin/python bench/slack_load.py --embedder hash      # model-free, faster to start
    .venv/bin/python bench/slack_load.py --events 500 --concurrency 50 --retries 100 --workers 8
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import psutil  # noqa: E402
from fakes.slack_api import FakeSlack, SlackEventSender, payload  # noqa: E402

SECRET = "bench-signing-secret-0123456789"
QUESTIONS = [
    "pod 一直 Pending 怎么办", "Prometheus 监控 Kubernetes", "etcd 备份怎么做", "Calico 网络性能如何",
    "Kubernetes 调度器 NodeSelector", "Jenkins CI/CD 流程", "Istio service mesh 生产实践",
    "How do I monitor Kubernetes with Prometheus?", "How do you back up etcd?", "What is the weather in Paris",
    "Docker 镜像太大怎么办", "Helm chart 怎么管理", "日志如何收集", "有状态服务怎么部署在 Kubernetes 上",
]
MAIN = "import sys; sys.argv[0] = 'firstmate'; from bot.cli import main; main()"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _start_bot(fake: FakeSlack, args: argparse.Namespace, data_dir: Path) -> tuple[subprocess.Popen[str], int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FIRSTMATE_"))}
    env.update(
        SLACK_BOT_TOKEN=fake.bot_token, SLACK_SIGNING_SECRET=SECRET, FIRSTMATE_SLACK_API_URL=fake.url,
        FIRSTMATE_SLACK__HOST="127.0.0.1", FIRSTMATE_SLACK__PORT="0", FIRSTMATE_WEB__ENABLED="false",
        FIRSTMATE_SLACK__WORKERS=str(args.workers), FIRSTMATE_STORE__DATA_DIR=str(data_dir),
        FIRSTMATE_CLUSTER__ENABLED="false", FIRSTMATE_LOG_LEVEL="INFO", HF_HUB_OFFLINE="1",
    )
    if args.embedder:
        env["FIRSTMATE_RETRIEVAL__EMBEDDER"] = args.embedder
        if args.embedder == "hash":
            env["FIRSTMATE_RETRIEVAL__BUILD_DIR"] = str(Path(tempfile.gettempdir()) / "firstmate-bench-hash-index")
    proc = subprocess.Popen([sys.executable, "-c", MAIN, "serve", "--transport", "http"], cwd=ROOT, env=env,
                            text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = 0
    lines: list[str] = []
    ready = False
    assert proc.stderr is not None
    deadline = time.monotonic() + args.start_timeout
    while time.monotonic() < deadline and not (port and ready):
        line = proc.stderr.readline()
        if not line:
            raise SystemExit("bench: the bot exited during start-up:\n" + "".join(lines[-20:]))
        lines.append(line)
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "transport started":
                port = int(record["port"])
            elif record.get("event") == "index ready":
                ready = True
            elif record.get("event") == "index":
                print(f"bench: {record.get('detail')}", flush=True)
    if not (port and ready):
        raise SystemExit("bench: the bot did not become ready in time")
    threading.Thread(target=lambda: [lines.append(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    return proc, port, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--retries", type=int, default=0, help="extra duplicate deliveries (same event_id)")
    parser.add_argument("--workers", type=int, default=8, help="answer worker threads in the bot")
    parser.add_argument("--embedder", choices=["e5", "minilm", "hash"], default=None, help="default: the settings'")
    parser.add_argument("--start-timeout", type=float, default=1800.0)
    parser.add_argument("--answer-timeout", type=float, default=900.0)
    args = parser.parse_args()

    rng = random.Random(7)
    with FakeSlack() as fake, tempfile.TemporaryDirectory(prefix="firstmate-bench-") as tmp:
        proc, port, lines = _start_bot(fake, args, Path(tmp))
        child = psutil.Process(proc.pid)
        peak = [child.memory_info().rss]
        idle_rss = peak[0]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                try:
                    peak[0] = max(peak[0], child.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.05)

        threading.Thread(target=sample, daemon=True).start()
        sender = SlackEventSender(f"http://127.0.0.1:{port}", secret=SECRET)
        envelopes = []
        for n in range(args.events):
            ts = f"1700{n:06d}.000100"
            env = payload("app_mention", event_id=f"EvBench{n:05d}", event_time=1700000000 + n)
            env["event"].update(ts=ts, event_ts=ts, channel=f"C{n % 20:04d}",
                                text=f"<@U0FIRSTMATE> {QUESTIONS[n % len(QUESTIONS)]}")
            envelopes.append((env, None))
        for _ in range(args.retries):
            env, _ = envelopes[rng.randrange(args.events)]
            envelopes.append((env, 1))
        rng.shuffle(envelopes)

        def deliver(item: tuple[dict[str, Any], int | None]) -> tuple[int, float]:
            env, retry = item
            d = sender.event(env, retry_num=retry)
            return d.status, d.elapsed_s

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(pool.map(deliver, envelopes))
        sent_s = time.perf_counter() - started
        statuses = Counter(status for status, _ in results)
        acks = [elapsed for _, elapsed in results]

        deadline = time.monotonic() + args.answer_timeout
        while time.monotonic() < deadline and len(fake.calls_to("chat.postMessage")) < args.events:
            time.sleep(0.2)
        time.sleep(2.0)  # let any (wrong) duplicate answer arrive before counting
        answered_s = time.perf_counter() - started
        per_event = Counter(c.args.get("thread_ts") for c in fake.calls_to("chat.postMessage"))
        sampling.set()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)

    once = sum(1 for n in per_event.values() if n == 1)
    twice = sum(1 for n in per_event.values() if n > 1)
    never = args.events - len(per_event)
    errors = sum(1 for line in lines if '"level": "error"' in line)
    print()
    print(f"slack load: {args.events} mention events (+{args.retries} duplicate deliveries), "
          f"{args.concurrency} concurrent, {args.workers} answer workers, embedder={args.embedder or 'settings'}")
    print(f"  HTTP statuses:        {dict(statuses)}")
    print(f"  ack latency:          p50 {_percentile(acks, 0.5) * 1000:.1f} ms · p99 {_percentile(acks, 0.99) * 1000:.1f} ms"
          f" · max {max(acks) * 1000:.1f} ms · mean {statistics.mean(acks) * 1000:.1f} ms   (target p99 <= 1000 ms)")
    print(f"  answered exactly once: {once}/{args.events} · more than once: {twice} · never: {never}")
    print(f"  all events sent in {sent_s:.1f} s; all answers in {answered_s:.1f} s "
          f"→ {len(per_event) / answered_s:.1f} answers/s end to end")
    print(f"  bot RSS: idle {idle_rss / 2**20:.0f} MiB · peak {peak[0] / 2**20:.0f} MiB")
    print(f"  bot exit code after SIGTERM: {code}; error log lines: {errors}")


if __name__ == "__main__":
    main()
