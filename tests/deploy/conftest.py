"""Fixtures shared by the deploy tests that run firstmate as a pod or a Job would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIRSTMATE = Path(sys.executable).with_name("firstmate")


@pytest.fixture(scope="session")
def hash_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index built with the model-free hash embedder (the image bakes the MiniLM one)."""
    build_dir = tmp_path_factory.mktemp("hash-index")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIRSTMATE_", "SLACK_"))}
    env.update({"FIRSTMATE_RETRIEVAL__EMBEDDER": "hash", "FIRSTMATE_RETRIEVAL__BUILD_DIR": str(build_dir)})
    proc = subprocess.run([str(FIRSTMATE), "index", "build"], env=env, capture_output=True, text=True,
                          timeout=600, check=False, cwd=build_dir)
    assert proc.returncode == 0, f"`firstmate index build` (hash embedder) failed:\n{proc.stderr[-2000:]}"
    return build_dir
