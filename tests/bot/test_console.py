"""The console transport: same core as Slack, readable text, clean EOF; and `firstmate run` without tokens."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.console import Console
from bot.core.commands import Core
from bot.store.db import Database
from bot.store.questions import QuestionStore

ROOT = Path(__file__).resolve().parents[2]
MAIN = "import sys; sys.argv[0] = \"firstmate\"; from bot.cli import main; main()"


def _console(searcher: Any) -> tuple[Console, io.StringIO, QuestionStore]:
    store = QuestionStore(Database.sqlite(":memory:"))
    out = io.StringIO()
    return Console(Core(searcher=searcher, store=store), out=out), out, store


def test_a_conversation(hash_searcher: Any) -> None:
    console, out, store = _console(hash_searcher)
    script = "\n".join([
        "Kubernetes 调度器 NodeSelector",
        "/more",
        "/reply 那 NodeSelector 呢？",
        "/up",
        "/down",
        "/ask What is the weather in Paris",
        "/k8s get pods",
        "k8s status",
        "/bogus",
        "",
    ]) + "\n"
    assert console.run(io.StringIO(script), prompt="") == 0  # EOF ends the session cleanly
    text = out.getvalue()
    assert "社区问答中的最佳答案 [1]:" in text and "出处:" in text
    assert "更多答案：Kubernetes 调度器 NodeSelector" in text and "[2] " in text
    assert "追问：Kubernetes 调度器 NodeSelector" in text  # the follow-up used the thread's question
    assert "谢谢，已记录你的反馈。" in text and "谢谢，已更新你的反馈。" in text
    assert "No confident answer." in text
    assert text.count("cluster commands are not enabled") == 2
    assert "Unknown command /bogus" in text
    questions = store.questions_between(0, 1e12)
    assert [q.trigger for q in questions] == ["console", "thread", "ask"]
    assert questions[1].context == "Kubernetes 调度器 NodeSelector"
    [fb] = store.feedback_for(f"console:{questions[1].id}")
    assert fb.value == -1


class RecordingCluster:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def handle(self, text: str, *, channel: str, user: str, request_id: str) -> Any:
        from bot.core.replies import Reply

        self.calls.append((text, channel))
        return Reply(kind="cluster", summary=f"ran {text} in {channel}")


def test_cluster_commands_use_the_cli_policy_binding() -> None:
    """The console is the `cli` channel of the cluster policy (as `firstmate kube`), not an unknown one."""
    from bot.cluster.policy import Policy, binding_for

    cluster = RecordingCluster()
    store = QuestionStore(Database.sqlite(":memory:"))
    out = io.StringIO()
    console = Console(Core(searcher=_Nothing(), store=store, cluster=cluster), out=out)
    assert console.handle_line("/k8s get pods") == "ran get pods in cli"
    assert console.handle_line("k8s status") == "ran status in cli"
    assert cluster.calls == [("get pods", "cli"), ("status", "cli")]
    rule, binding = binding_for(Policy(), console.channel)  # the default policy has a binding for it
    assert binding is not None and rule.endswith("cli")


class _Nothing:
    def search(self, query: str, *, top_k: int = 5) -> Any:
        from retrieval.models import SearchResult

        return SearchResult(query=query, answered=False, hits=[])


class _Interrupting:
    """Stdin whose user presses Ctrl-C once while typing, then asks, then leaves."""

    def __init__(self, lines: list[str | None]) -> None:
        self.lines = lines

    def readline(self) -> str:
        line = self.lines.pop(0)
        if line is None:
            raise KeyboardInterrupt
        return line


def test_ctrl_c_abandons_the_line_or_the_answer_and_keeps_the_session() -> None:
    class SlowThenFine:
        calls = 0

        def search(self, query: str, *, top_k: int = 5) -> Any:
            SlowThenFine.calls += 1
            if SlowThenFine.calls == 1:
                raise KeyboardInterrupt  # Ctrl-C while the first answer is being searched
            return _Nothing().search(query, top_k=top_k)

    out = io.StringIO()
    console = Console(Core(searcher=SlowThenFine(), store=None), out=out)
    lines: list[str | None] = [None, "first question\n", "second question\n", "/quit\n"]
    assert console.run(_Interrupting(lines), prompt="", interruptible=True) == 0  # type: ignore[arg-type]
    text = out.getvalue()
    assert text.count("(interrupted; Ctrl-D or /quit to leave)") == 2
    assert "No confident answer." in text  # the session went on and answered the next question
    with pytest.raises(KeyboardInterrupt):  # piped input: Ctrl-C still ends the program
        Console(Core(searcher=_Nothing(), store=None), out=io.StringIO()).run(_Interrupting([None]), prompt="")  # type: ignore[arg-type]


def test_quit_and_help() -> None:
    from retrieval.models import SearchResult

    class Nothing:
        def search(self, query: str, *, top_k: int = 5) -> SearchResult:
            return SearchResult(query=query, answered=False, hits=[])

    console, out, _ = _console(Nothing())
    assert console.handle_line("/help") is not None and "/reply" in (console.handle_line("/help") or "")
    assert console.handle_line("/more") == "Ask a question first."
    assert console.handle_line("/quit") is None
    assert console.run(io.StringIO("/quit\nnever read\n"), prompt="> ") == 0
    assert "never read" not in out.getvalue()


def test_firstmate_run_without_tokens_is_the_console_and_builds_the_index(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FIRSTMATE_"))}
    env.update(
        FIRSTMATE_RETRIEVAL__EMBEDDER="hash",
        FIRSTMATE_RETRIEVAL__BUILD_DIR=str(tmp_path / "index"),  # a fresh clone: nothing built yet
        FIRSTMATE_STORE__DATA_DIR=str(tmp_path / "data"),
        HF_HUB_OFFLINE="1",
    )
    proc = subprocess.run(
        [sys.executable, "-c", MAIN, "run"], input="Prometheus 监控 Kubernetes\n/more\n", cwd=tmp_path,
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "loading the knowledge index" in proc.stderr and "building the index" in proc.stderr
    # Progress and warnings (e.g. no kubeconfig) are short `firstmate: …` lines, not log records.
    assert [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("firstmate: ")] == []
    assert "[1] " in proc.stdout and "更多答案" in proc.stdout
    assert (tmp_path / "data" / "firstmate.db").exists()


def test_firstmate_serve_without_tokens_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FIRSTMATE_"))}
    proc = subprocess.run([sys.executable, "-c", MAIN, "serve"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("firstmate: error: no Slack tokens") and "Traceback" not in proc.stderr
