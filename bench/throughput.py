"""What one replica can take: answers per second and resident memory of the search path.

One firstmate replica answers from one in-process index (BM25 + FAISS) and the configured query
encoder (by default multilingual-e5 on ONNX Runtime). This benchmark loads exactly that, the way a pod does (`Settings` → `Searcher`,
the built index under FIRSTMATE_RETRIEVAL__BUILD_DIR, offline), then:

* prints the RSS after loading (the floor of the pod's memory request) and the peak RSS under load;
* runs the dev and held-out questions round-robin for a fixed time, with 1, 2, 4 and 8 threads
  (the bot answers on a thread pool: ``slack.workers``), and prints answers/s and p50/p95 latency;
* with ``--serve N``: starts a real `firstmate serve` (Socket Mode) against the test fakes (Slack
  Web API, Socket Mode server, kube-apiserver), pushes N mentions at once and prints end-to-end
  answers/s (event in → answer posted) and the server's RSS when ready and at its peak.

The numbers sized deploy/kubernetes (README, "Deploy" → "Sizing" and "Scale-out"). Timing is
printed, never asserted. Usage, from the checkout:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/throughput.py                # 20 s per thread count
    HF_HUB_OFFLINE=1 .venv/bin/python bench/throughput.py --seconds 5 --threads 1 2
    HF_HUB_OFFLINE=1 .venv/bin/python bench/throughput.py --json
    HF_HUB_OFFLINE=1 .venv/bin/python bench/throughput.py --serve 200   # also the whole bot, end to end
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = ROOT / "bench" / "data"


def rss_mib() -> float:
    """Current resident set size of this process, MiB (psutil when present, else /proc)."""
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:  # pragma: no cover - psutil is a dependency, /proc is the fallback
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def load_queries() -> list[str]:
    queries: list[str] = []
    for name in ("devset.jsonl", "heldout.jsonl"):
        path = DATA / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    queries.append(str(json.loads(line)["query"]))
    if not queries:
        queries = ["pod 一直 CrashLoopBackOff 怎么排查", "how to roll back a deployment", "Docker 镜像太大怎么优化"]
    return queries


def run(searcher: Any, queries: list[str], *, threads: int, seconds: float, top_k: int) -> dict[str, Any]:
    """Run queries on ``threads`` threads for ``seconds``; answers/s and latency percentiles."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    counter = iter(range(10**9))

    def worker() -> None:
        local: list[float] = []
        while time.perf_counter() < stop_at:
            with lock:
                i = next(counter)
            started = time.perf_counter()
            searcher.search(queries[i % len(queries)], top_k=top_k)
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)

    began = time.perf_counter()
    pool = [threading.Thread(target=worker, name=f"bench-{n}") for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "threads": threads,
        "answers": len(latencies),
        "answers_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pick(0.50), 1),
        "p95_ms": round(pick(0.95), 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "rss_mib": round(rss_mib(), 1),
    }


def _proc_mib(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) // 1024
    return out


def serve_run(events: int) -> dict[str, Any]:
    """`firstmate serve` in Socket Mode against the fakes; N mentions pushed at once, answers/s end to end."""
    import contextlib
    import socket
    import subprocess
    import tempfile
    import urllib.request

    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.kube_apiserver import FakeKubeApiServer
    from fakes.slack_api import FakeSlack, FakeSocketModeServer, payload

    queries = load_queries()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="firstmate-bench-")))
        slack = stack.enter_context(FakeSlack())
        sock = FakeSocketModeServer().start()
        stack.callback(sock.stop)
        kube = stack.enter_context(FakeKubeApiServer())
        slack.socket_url = sock.url
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update({
            "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token, "FIRSTMATE_SLACK__MODE": "socket",
            "FIRSTMATE_SLACK_API_URL": slack.url, "FIRSTMATE_WEB__PORT": str(port), "FIRSTMATE_LOG_JSON": "true",
            "FIRSTMATE_STORE__DATA_DIR": str(tmp / "data"), "FIRSTMATE_CLUSTER__IN_CLUSTER": "false",
            "KUBECONFIG": str(kube.write_kubeconfig(tmp / "kubeconfig")), "FIRSTMATE_DIGEST__ENABLED": "false",
        })
        log = stack.enter_context((tmp / "serve.log").open("w", encoding="utf-8"))
        began = time.perf_counter()
        proc = subprocess.Popen([str(Path(sys.executable).with_name("firstmate")), "serve"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        stack.callback(lambda: proc.poll() is None and (proc.terminate(), proc.wait(60)))
        while True:
            if proc.poll() is not None:
                raise SystemExit("firstmate serve exited:\n" + (tmp / "serve.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.3)
        ready_s = time.perf_counter() - began
        ready_mem = _proc_mib(proc.pid)
        posted = lambda: sum(1 for c in slack.calls if c.method == "chat.postMessage")  # noqa: E731
        start_count = posted()
        started = time.perf_counter()
        for i in range(events):
            sock.push(payload("app_mention", event_id=f"EvBENCH{i:06d}", event__ts=f"1700000000.{i:06d}",
                              event__text=f"<@{slack.bot_user_id}> {queries[i % len(queries)]}"))
        while posted() - start_count < events and time.perf_counter() - started < 600:
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        done = posted() - start_count
        return {"events": events, "answered": done, "seconds": round(elapsed, 2),
                "answers_per_s": round(done / elapsed, 1), "ready_s": round(ready_s, 1),
                "rss_ready_mib": ready_mem.get("VmRSS"), "rss_peak_mib": _proc_mib(proc.pid).get("VmHWM")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration per thread count")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", type=int, default=0, metavar="N",
                        help="also run `firstmate serve` against the test fakes and push N mentions")
    args = parser.parse_args(argv)

    from bot.config import Settings
    from retrieval.search import Searcher

    start_rss = rss_mib()
    settings = Settings.load()
    searcher = Searcher(settings.retrieval)
    began = time.perf_counter()
    searcher.warm_up()
    searcher.search("warm up the query encoder", top_k=args.top_k)
    loaded = {
        "load_s": round(time.perf_counter() - began, 2),
        "rss_start_mib": round(start_rss, 1),
        "rss_loaded_mib": round(rss_mib(), 1),
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "index": str(settings.retrieval.build_dir),
    }
    queries = load_queries()
    if not args.json:
        print(f"index {loaded['index']}: loaded in {loaded['load_s']} s; RSS {loaded['rss_start_mib']} MiB at start, "
              f"{loaded['rss_loaded_mib']} MiB loaded; {loaded['affinity']} CPUs usable; {len(queries)} queries")
        print(f"{'threads':>7} {'answers/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'RSS MiB':>8}")
    rows = []
    for threads in args.threads:
        row = run(searcher, queries, threads=threads, seconds=args.seconds, top_k=args.top_k)
        rows.append(row)
        if not args.json:
            print(f"{row['threads']:>7} {row['answers_per_s']:>10} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['rss_mib']:>8}")
    peak = round(peak_rss_mib(), 1)
    served = serve_run(args.serve) if args.serve else None
    if args.json:
        print(json.dumps({**loaded, "runs": rows, "peak_rss_mib": peak, "serve": served}, ensure_ascii=False))
    else:
        print(f"peak RSS {peak} MiB")
        if served:
            print(f"firstmate serve (Socket Mode, fakes): ready in {served['ready_s']} s at {served['rss_ready_mib']} MiB; "
                  f"{served['answered']}/{served['events']} mentions answered in {served['seconds']} s = "
                  f"{served['answers_per_s']} answers/s; peak RSS {served['rss_peak_mib']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
