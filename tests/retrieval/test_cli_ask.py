"""`firstmate ask` and `firstmate index` end to end, in fresh processes (hash embedder, bundled corpus)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).parent / "firstmate"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    build = tmp_path_factory.mktemp("cli-index")
    e = dict(os.environ, FIRSTMATE_RETRIEVAL__EMBEDDER="hash", FIRSTMATE_RETRIEVAL__BUILD_DIR=str(build))
    proc = subprocess.run([str(EXE), "index", "build", "--no-progress"], env=e, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "index built" in proc.stdout
    return e


def run(env: dict[str, str], *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(EXE), *args], env=env, input=stdin, capture_output=True, cwd=ROOT, timeout=120)


def test_index_build_is_a_no_op_when_current_and_status_says_so(env: dict[str, str]) -> None:
    again = run(env, "index", "build")
    assert again.returncode == 0 and b"up to date" in again.stdout
    status = run(env, "index", "status", "--json")
    state = json.loads(status.stdout)
    assert state["current"] is True and state["entries"] > 2000 and state["model_id"].startswith("hash")


def test_ask_prints_answer_then_numbered_citations(env: dict[str, str]) -> None:
    proc = run(env, "ask", "普通用户能自己定义", "pod", "优先级吗")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    body, _, cites = out.partition("\n\n")
    assert body.strip()
    lines = cites.strip().splitlines()
    assert lines[0].startswith("[1] 2017-11-15 · ") and " · Q: " in lines[0] and "优先级" in lines[0]
    assert all(line.startswith(f"[{i}] ") for i, line in enumerate(lines, 1))


def test_ask_json_follows_the_contract(env: dict[str, str]) -> None:
    proc = run(env, "ask", "--json", "--top-k", "3", "helm install 指定 namespace")
    obj = json.loads(proc.stdout)
    assert set(obj) >= {"query", "answered", "hits"} and isinstance(obj["answered"], bool)
    assert len(obj["hits"]) == 3
    for i, hit in enumerate(obj["hits"], 1):
        assert hit["rank"] == i and isinstance(hit["score"], float)
        assert set(hit["session"]) == {"id", "date", "title"} and len(hit["session"]["date"]) == 10
        assert hit["question"] and hit["answer"]


def test_note_hits_carry_where_they_come_from(env: dict[str, str]) -> None:
    proc = run(env, "ask", "--json", "--top-k", "5", "kustomize 的 base 和 overlays")
    hits = json.loads(proc.stdout)["hits"]
    note = next(h for h in hits if h["kind"] == "doc")
    assert set(note["session"]) == {"id", "date", "title"} and len(note["session"]["date"]) == 10
    assert note["source"].startswith("001_") and note["line"] > 0 and "kustomize" in note["section"]
    assert note["date_known"] is False and note["session"]["date"] == "1970-01-01"
    assert all("source" not in h for h in hits if h["kind"] == "qa")
    text = run(env, "ask", "kustomize 的 base 和 overlays").stdout.decode()
    assert any(line.startswith("[") and " note 001_" in line and "(undated)" in line for line in text.splitlines())


def test_stdin_batch_keeps_order_and_survives_bad_lines(env: dict[str, str]) -> None:
    lines = ["普通用户能自己定义 pod 优先级吗", "", "🙂🙂", "x" * 20_000, "怎么做红烧肉", "helm install 指定 namespace"]
    data = ("\n".join(lines) + "\n").encode() + b"bad \xff\xfe bytes kubectl\n"
    proc = run(env, "ask", "--json", "--stdin", stdin=data)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(out) == 7
    assert out[0]["answered"] and "优先级" in out[0]["hits"][0]["question"]
    assert out[1] == {"query": "", "answered": False, "reason": out[1]["reason"], "confidence": None, "hits": []}
    assert out[1]["reason"]
    assert not out[2]["answered"] and "no words" in out[2]["reason"]
    assert not out[3]["answered"] and "too long" in out[3]["reason"]
    assert not out[4]["answered"]
    assert "helm" in out[5]["query"]
    assert "kubectl" in out[6]["query"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask"], "no question given"),
        (["ask", "🙂"], "no words"),
        (["ask", "--stdin"], "--stdin needs --json"),
        (["ask", "--json", "--stdin", "extra"], "not both"),
    ],
)
def test_bad_invocations_get_one_clear_line(env: dict[str, str], args: list[str], message: str) -> None:
    proc = run(env, *args, stdin=b"")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.startswith("firstmate: error: ") and message in err and "Traceback" not in err


def test_broken_index_without_auto_rebuild_says_how_to_fix(env: dict[str, str], tmp_path: Path) -> None:
    e = dict(env, FIRSTMATE_RETRIEVAL__BUILD_DIR=str(tmp_path / "empty"), FIRSTMATE_RETRIEVAL__AUTO_REBUILD="false")
    proc = run(e, "ask", "kubectl")
    assert proc.returncode == 2
    assert b"firstmate index build" in proc.stderr and b"Traceback" not in proc.stderr
