"""`firstmate corpus …` through the installed entry point (.venv/bin/firstmate), as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.corpus.load import MIB, load_corpus
from retrieval.corpus.repair import repair_text

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "corpus"
SEED_QA = ROOT / "index" / "corpus" / "004_77bb0b753ad145a3.txt"
FIRSTMATE = Path(sys.executable).parent / "firstmate"


def run(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    stdin_file: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    if not FIRSTMATE.exists():
        pytest.fail(f"{FIRSTMATE} is missing; install the package (make test) so the console script exists")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMATE_")}
    environment["HF_HUB_OFFLINE"] = "1"
    environment.update(env or {})
    handle = stdin_file.open("rb") if stdin_file else None
    try:
        return subprocess.run(
            [str(FIRSTMATE), *args],
            cwd=cwd,  # a scratch folder: no developer .env is picked up
            env=environment,
            input=stdin,
            stdin=handle if handle else (None if stdin is not None else subprocess.DEVNULL),
            capture_output=True,
            timeout=180,
            check=False,
        )
    finally:
        if handle:
            handle.close()


def assert_user_error(proc: subprocess.CompletedProcess[bytes], *fragments: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr, no traceback."""
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert proc.stdout == b""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("firstmate: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["corpus", "--help"], ["stats", "show", "repair"]),
        (["corpus", "stats", "--help"], ["--json", "--corpus"]),
        (["corpus", "show", "--help"], ["ID", "--json", "--corpus"]),
        (["corpus", "repair", "--help"], ["FILE", "--output", "stdin"]),
    ],
)
def test_help_on_every_command(tmp_path: Path, args: list[str], expected: list[str]) -> None:
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    for word in expected:
        assert word in out


def test_stats_json_on_the_bundled_corpus(tmp_path: Path) -> None:
    proc = run("corpus", "stats", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    stats = json.loads(proc.stdout)
    assert stats["sessions"] == 225
    assert stats["qas"] == 2391
    assert stats["empty_answers"] == 31
    assert stats["docs"] == 103  # the four notes at the default 400-character chunk cap
    assert sum(stats["qas_per_year"].values()) == 2391
    for key in ("merged_questions", "noise", "repaired_chars", "uncertain_chars", "follow_ups", "answerable"):
        assert isinstance(stats[key], int)


def test_stats_text(tmp_path: Path) -> None:
    proc = run("corpus", "stats", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert "corpus: 5 files (1 Q&A, 4 notes)" in out
    assert any(line.split()[:2] == ["sessions", "225"] for line in out.splitlines())
    assert "2015: 421" in out


def test_corpus_paths_come_from_settings_and_can_be_overridden(tmp_path: Path) -> None:
    env = {"FIRSTMATE_RETRIEVAL__CORPUS_PATHS": json.dumps([str(FIXTURES / "labels.md")])}
    from_env = run("corpus", "stats", "--json", cwd=tmp_path, env=env)
    assert from_env.returncode == 0, from_env.stderr.decode()
    assert json.loads(from_env.stdout)["sessions"] == 3
    config = tmp_path / "firstmate.yaml"
    config.write_text(f"retrieval:\n  corpus_paths: ['{FIXTURES / 'footer.md'}']\n", encoding="utf-8")
    from_yaml = run("corpus", "stats", "--json", cwd=tmp_path, env={"FIRSTMATE_CONFIG": str(config)})
    assert from_yaml.returncode == 0, from_yaml.stderr.decode()
    assert json.loads(from_yaml.stdout)["sessions"] == 3
    flags = run(
        "corpus",
        "stats",
        "--json",
        "--corpus",
        str(FIXTURES / "labels.md"),
        "--corpus",
        str(FIXTURES / "footer.md"),
        cwd=tmp_path,
        env=env,
    )
    assert flags.returncode == 0, flags.stderr.decode()
    assert json.loads(flags.stdout)["sessions"] == 6


def test_show_session_qa_and_doc(tmp_path: Path) -> None:
    corpus = load_corpus([FIXTURES / "labels.md"])
    session = corpus.sessions[2]
    proc = run("corpus", "show", session.id, "--corpus", str(FIXTURES / "labels.md"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert f"{session.id}  2016-08-28  基于容器技术构建企业级 PaaS 云平台实践" in out
    assert "2 Q&As" in out and "flags: empty_answer" in out and "(no answer in the source)" in out

    qa = corpus.qas[1]
    proc = run("corpus", "show", qa.id, "--corpus", str(FIXTURES / "labels.md"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert "谊品生鲜如何从零开始快速打造 CI/CD 流水线" in out
    assert f"{qa.id}  Q7-0.1" in out and "Q: 请问自动化测试准备怎么加入呢，" in out
    assert "A: 发布成功后，调用自动化测试平台 API" in out

    proc = run("corpus", "show", qa.id, "--json", "--corpus", str(FIXTURES / "labels.md"), cwd=tmp_path)
    assert json.loads(proc.stdout)["id"] == qa.id

    notes = load_corpus([FIXTURES / "notes" / "markdown_note.md"])
    proc = run("corpus", "show", notes.docs[1].id, "--corpus", str(FIXTURES / "notes"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "20201013 › OAM" in proc.stdout.decode()


def test_show_unknown_id(tmp_path: Path) -> None:
    corpus_flag = ["--corpus", str(FIXTURES / "labels.md")]
    assert_user_error(run("corpus", "show", "qa-nope", *corpus_flag, cwd=tmp_path), "unknown id 'qa-nope'")
    near = load_corpus([FIXTURES / "labels.md"]).qas[0].id[:-1] + "x"
    line = assert_user_error(run("corpus", "show", near, *corpus_flag, cwd=tmp_path), "did you mean")
    assert load_corpus([FIXTURES / "labels.md"]).qas[0].id in line


def test_repair_from_file_and_stdin_matches_the_library(tmp_path: Path) -> None:
    damaged = b"".join(SEED_QA.read_bytes().splitlines(keepends=True)[17:40])
    expected = repair_text(damaged.decode("utf-8"))
    source = tmp_path / "damaged.txt"
    source.write_bytes(damaged)
    from_file = run("corpus", "repair", str(source), cwd=tmp_path)
    from_stdin = run("corpus", "repair", cwd=tmp_path, stdin=damaged)
    for proc in (from_file, from_stdin):
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stdout == expected.text.encode("utf-8")
        assert proc.stdout != damaged
        report = proc.stderr.decode().strip()
        assert report == (
            f"firstmate: repaired {expected.repaired} characters; {expected.uncertain} uncertain (kept, not dropped)"
        )
    target = tmp_path / "out" / "repaired.txt"
    target.parent.mkdir()
    to_file = run("corpus", "repair", str(source), "--output", str(target), cwd=tmp_path)
    assert to_file.returncode == 0 and to_file.stdout == b""
    assert target.read_bytes() == from_file.stdout


def test_repair_passes_clean_text_through_byte_identical(tmp_path: Path) -> None:
    clean = "kubectl get pods -A\n存储卷怎么挂载？等一下吗\r\nTabs\tand “quotes” — café\n".encode()
    proc = run("corpus", "repair", cwd=tmp_path, stdin=clean)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == clean


def test_repair_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    assert_user_error(run("corpus", "repair", str(missing), cwd=tmp_path), str(missing), "no such file")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"ok\nstill ok\ncaf\xe9\n")
    assert_user_error(run("corpus", "repair", str(latin), cwd=tmp_path), f"{latin}:3: not UTF-8 text")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert_user_error(run("corpus", "repair", str(empty), cwd=tmp_path), f"{empty}: empty file")
    assert_user_error(run("corpus", "repair", cwd=tmp_path, stdin=b""), "<stdin>: empty file")
    target = tmp_path / "never.txt"
    assert_user_error(run("corpus", "repair", str(latin), "-o", str(target), cwd=tmp_path), "not UTF-8")
    assert not target.exists() and not list(tmp_path.glob(".never.txt.*"))


def _sparse_junk(path: Path) -> Path:
    with path.open("wb") as handle:
        handle.write(os.urandom(4096))
        handle.truncate(100 * MIB)
    return path


def test_hundred_megabytes_of_junk_is_refused(tmp_path: Path) -> None:
    junk = _sparse_junk(tmp_path / "junk.txt")
    assert_user_error(
        run("corpus", "repair", str(junk), cwd=tmp_path), str(junk), "100.0 MiB", "over the limit"
    )
    assert_user_error(
        run("corpus", "repair", cwd=tmp_path, stdin_file=junk), "<stdin>: input is over the limit"
    )
    assert_user_error(run("corpus", "stats", "--corpus", str(junk), cwd=tmp_path), str(junk), "100.0 MiB")


def test_stats_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    assert_user_error(
        run("corpus", "stats", "--corpus", str(missing), cwd=tmp_path), f"{missing}: no such file"
    )
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"### 2020-01-02: x\n\n> Q: caf\xe9?\n")
    assert_user_error(
        run("corpus", "stats", "--corpus", str(latin), cwd=tmp_path), f"{latin}:3: not UTF-8 text"
    )
    no_sessions = tmp_path / "qa.md"
    no_sessions.write_text("> Q1：一？\n\nA：二\n\n> Q2：三？\n\nA：四\n", encoding="utf-8")
    assert_user_error(
        run("corpus", "show", "qa-x", "--corpus", str(no_sessions), cwd=tmp_path),
        f"{no_sessions}:1:",
        "no session heading",
    )
    empty = tmp_path / "empty.md"
    empty.write_text("\n", encoding="utf-8")
    assert_user_error(run("corpus", "stats", "--corpus", str(empty), cwd=tmp_path), f"{empty}: empty file")
