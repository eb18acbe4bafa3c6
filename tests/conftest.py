"""Shared test setup: offline model hub, and no stray Slack/Kubernetes settings from the developer's shell."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "KUBECONFIG", "FIRSTMATE_CONFIG"):
    os.environ.pop(_name, None)


# -- PostgreSQL (tests/fakes/postgres.py): a real server, started once per session ----------------
import shutil as _shutil  # noqa: E402
import tempfile as _tempfile  # noqa: E402
import uuid as _uuid  # noqa: E402
from collections.abc import Iterator as _Iterator  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

import pytest  # noqa: E402
from fakes.postgres import PostgresServer, PostgresUnavailable  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server() -> _Iterator[PostgresServer]:
    """A throwaway PostgreSQL server; skips with the reason when it cannot be started."""
    base = _Path(_tempfile.mkdtemp(prefix="firstmate-pg-"))
    try:
        server = PostgresServer.start(base)
    except PostgresUnavailable as exc:
        _shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield server
    server.stop()
    _shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a database on the session's PostgreSQL server (shared by the session's tests)."""
    return postgres_server.create_database("firstmate_session")


@pytest.fixture
def postgres_fresh_url(postgres_server: PostgresServer) -> str:
    """URL of a new, empty database for one test."""
    return postgres_server.create_database(f"t_{_uuid.uuid4().hex[:12]}")


# -- Search with the deterministic hash embedder (no model), built once per session ----------------
@pytest.fixture(scope="session")
def hash_searcher(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The real ``retrieval.search.Searcher`` over the bundled corpus, hash embedder, warmed up."""
    from retrieval.config import RetrievalSettings
    from retrieval.search import Searcher

    searcher = Searcher(RetrievalSettings(embedder="hash", build_dir=tmp_path_factory.mktemp("hash-index")))
    searcher.warm_up()
    return searcher

