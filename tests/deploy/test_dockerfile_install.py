"""Replay the Dockerfile's builder stage in a clean venv, as the image build would run it.

There is no Docker engine here, so this test interprets the builder stage itself: WORKDIR, ENV,
COPY (honouring .dockerignore) and RUN, in order, with the container's absolute paths (/opt/venv,
/app, /src) mapped under a temporary folder and `python` being this machine's Python 3.11. The RUN
lines are executed verbatim with one substitution: the PyTorch CPU index URL is dropped, because
this machine reaches only PyPI, whose pip configuration serves the same CPU wheel
(torch==2.13.0+cpu) locally. Everything else — the exact pins, `pip check`, the CPU-torch and
no-CUDA checks, `firstmate index build` with the bundled model, byte-compiling — really runs.

Then it checks what the runtime stage copies exists, and emulates the runtime: with the runtime
stage's ENV, `firstmate index status` and `firstmate ask` work offline from the baked index and
write nothing into the venv or the index (the pod's root filesystem is read-only).

Slow (a few minutes: a full install and an index build), so marked slow/integration.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deploy_support import REPO, Stage, dockerignore_patterns, dockerignored, parse_env, read_stages

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(1800)]

TORCH_INDEX = re.compile(r"--index-url\s+https://download\.pytorch\.org/whl/cpu\s*")
ROOTS = ("/opt/venv", "/app", "/src")


class Replayer:
    """Runs one stage's instructions on this machine with the container paths under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root
        shim = root / "shim-bin"
        shim.mkdir(parents=True)
        (shim / "python").symlink_to(Path(getattr(sys, "_base_executable", sys.executable)).resolve())
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("FIRSTMATE_", "SLACK_", "VIRTUAL_ENV", "PYTHON", "CONDA"))}
        keep["PATH"] = f"{shim}:{keep.get('PATH', '/usr/bin:/bin')}"
        keep["HOME"] = str(root / "home")
        (root / "home").mkdir()
        self.env = keep
        self.log: list[str] = []

    def map(self, text: str) -> str:
        """Container absolute paths → paths under root (only the roots the Dockerfile uses)."""
        for prefix in ROOTS:
            text = re.sub(rf"(?<![\w./:-]){re.escape(prefix)}(?=[/\s\"'\]]|$)", str(self.root) + prefix, text)
        return text

    def run_stage(self, stage: Stage) -> None:
        for ins in stage.instructions:
            handler = getattr(self, f"do_{ins.keyword.lower()}", None)
            if handler is None:
                continue  # USER, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD, LABEL, ARG: no build effect here
            handler(ins.value, ins.line)

    def do_env(self, value: str, line: int) -> None:
        self.env.update(parse_env(self.map(value), self.env))

    def do_workdir(self, value: str, line: int) -> None:
        target = Path(self.map(value))
        self.cwd = target if target.is_absolute() else self.cwd / target
        self.cwd.mkdir(parents=True, exist_ok=True)

    def do_copy(self, value: str, line: int) -> None:
        assert not value.startswith("--"), f"line {line}: COPY flags are not replayed: {value}"
        *sources, dest = value.split()
        patterns = dockerignore_patterns()
        target = Path(self.map(dest))
        target = target if target.is_absolute() else self.cwd / target
        for src in sources:
            origin = REPO / src
            out = target / origin.name if (dest.endswith("/") or len(sources) > 1) else target
            if origin.is_dir():
                def ignore(folder: str, names: list[str]) -> set[str]:
                    rel = Path(folder).relative_to(REPO)
                    return {n for n in names if dockerignored(str(rel / n), patterns)}

                shutil.copytree(origin, out, ignore=ignore, dirs_exist_ok=True)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, out)

    def do_run(self, value: str, line: int) -> None:
        command = self.map(TORCH_INDEX.sub("", value))
        started = time.monotonic()
        proc = subprocess.run(["/bin/sh", "-c", command], cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=1500, check=False)
        self.log.append(f"line {line}: {time.monotonic() - started:.0f}s")
        if proc.returncode != 0:
            tail = (proc.stdout[-3000:] + "\n" + proc.stderr[-3000:]).strip()
            pytest.fail(f"Dockerfile line {line} failed (exit {proc.returncode}): {command[:200]}\n{tail}")


def snapshot(*folders: Path) -> dict[str, tuple[int, float]]:
    out = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                st = path.stat()
                out[str(path)] = (st.st_size, st.st_mtime)
    return out


def test_builder_stage_installs_and_runtime_stage_runs(tmp_path: Path) -> None:
    _, stages = read_stages()
    builder, runtime = stages[0], stages[-1]
    replay = Replayer(tmp_path)
    replay.run_stage(builder)

    venv = Path(replay.map("/opt/venv"))
    python = venv / "bin" / "python"
    freeze = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], capture_output=True, text=True,
                            env=replay.env, check=True).stdout
    assert re.search(r"^torch==[\d.]+\+cpu$", freeze, re.M), "the replayed install has no CPU torch"
    assert not re.search(r"^(nvidia-|triton)", freeze, re.M | re.I), "CUDA packages in the install"
    assert re.search(r"^firstmate==", freeze, re.M), "firstmate itself is not installed (non-editable)"

    # What the runtime stage copies from the builder exists.
    for ins in runtime.all("COPY"):
        if ins.value.startswith("--from="):
            source = ins.value.split()[1]
            assert Path(replay.map(source)).exists(), f"runtime COPY --from source {source} was not built"

    # Runtime emulation: the runtime stage's ENV (tini and USER aside), data and tmp volumes.
    run_env = dict(replay.env)
    run_env.update({k: replay.map(v) for k, v in runtime.env().items() if k != "PATH"})
    run_env["PATH"] = f"{venv / 'bin'}:{replay.env['PATH']}"
    for key in ("HOME", "XDG_CACHE_HOME", "HF_HOME"):
        run_env[key] = str(tmp_path / "runtime-tmp" / key.lower())
    run_env["FIRSTMATE_STORE__DATA_DIR"] = str(tmp_path / "runtime-data")
    run_env["TMPDIR"] = str(tmp_path / "runtime-tmp")
    (tmp_path / "runtime-tmp").mkdir()
    index_dir = Path(run_env["FIRSTMATE_RETRIEVAL__BUILD_DIR"])
    assert index_dir.is_dir() and any(index_dir.iterdir()), "no prebuilt index in the image"
    before = snapshot(venv, index_dir)

    firstmate = str(venv / "bin" / "firstmate")
    status = subprocess.run([firstmate, "index", "status"], cwd=tmp_path / "runtime-tmp", env=run_env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert status.returncode == 0, f"`firstmate index status` in the runtime env failed:\n{status.stderr[-2000:]}"
    ask = subprocess.run([firstmate, "ask", "--json", "pod 一直 CrashLoopBackOff 怎么排查"],
                         cwd=tmp_path / "runtime-tmp", env=run_env, capture_output=True, text=True, timeout=600,
                         check=False)
    assert ask.returncode == 0, f"`firstmate ask` in the runtime env failed:\n{ask.stderr[-2000:]}"
    assert '"hits"' in ask.stdout, ask.stdout[:500]

    after = snapshot(venv, index_dir)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert not changed, f"the runtime wrote into the read-only image paths: {changed[:10]}"
    assert python.exists()
    print("replay timings:", ", ".join(replay.log))
