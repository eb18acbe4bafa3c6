"""The pieces every transport shares, built once from the settings: store, search, core, health.

The index loads (or builds, on a fresh clone) in a background thread so a server can answer
``/healthz`` at once and report ``/readyz`` 503 until search is ready; questions that arrive
meanwhile wait for it instead of failing. The console warms up in the foreground with a progress
message instead.

Example:
    >>> from retrieval.models import SearchResult
    >>> class Echo:
    ...     def search(self, query, *, top_k=5):
    ...         return SearchResult(query=query, answered=False, hits=[])
    >>> w = WarmingSearcher(Echo())
    >>> w.warm_up(); w.ready
    True
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.core.answering import AnswerContext
from bot.core.commands import ClusterHandler, Core
from bot.errors import UserError
from bot.observability import Metrics, get_logger
from bot.store.db import Database
from bot.store.questions import QuestionStore
from bot.web import Health
from retrieval.models import SearchBackend, SearchResult

log = get_logger("firstmate.runtime")


class SearchUnavailable(Exception):
    """The index could not be loaded or built; the message says why."""


class WarmingSearcher:
    """A ``SearchBackend`` that loads its inner searcher once and makes callers wait for it."""

    def __init__(self, inner: Any, *, health: Health | None = None) -> None:
        self.inner = inner
        self.health = health
        self._done = threading.Event()
        self._error: str | None = None
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None
        if health is not None:
            health.set("index", ok=False, detail="loading")

    @property
    def ready(self) -> bool:
        """True once the index is loaded (and not failed)."""
        return self._done.is_set() and self._error is None

    @property
    def error(self) -> str | None:
        """Why loading failed, if it did."""
        return self._error

    def warm_up(self) -> None:
        """Load now, in this thread (a no-op when already done)."""
        with self._started:
            if self._done.is_set():
                return
            try:
                warm = getattr(self.inner, "warm_up", None)
                if callable(warm):
                    warm()
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                log.error("index unavailable", error=type(exc).__name__, cause=str(exc)[:300])
                if self.health is not None:
                    self.health.set("index", ok=False, detail=self._error[:200])
            else:
                if self.health is not None:
                    self.health.set("index", ok=True, detail="loaded")
                log.info("index ready")
            finally:
                self._done.set()

    def start_background(self) -> None:
        """Load in a daemon thread; ``search`` waits for it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.warm_up, name="firstmate-warm-up", daemon=True)
            self._thread.start()

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        """Search once the index is ready; raises ``SearchUnavailable`` when it failed to load."""
        if not self._done.is_set():
            self.start_background()
            self._done.wait()
        if self._error is not None:
            raise SearchUnavailable(self._error)
        result: SearchResult = self.inner.search(query, top_k=top_k)
        return result


def load_searcher(settings: Settings, *, say: Callable[[str], None] | None = None) -> Any:
    """The real retrieval searcher (heavy modules load in its ``warm_up``, not here)."""
    from retrieval.search import Searcher

    return Searcher(settings.retrieval, say=say)


def load_cluster_handler(settings: Settings, **deps: Any) -> ClusterHandler | None:
    """The cluster feature's handler when it is installed and enabled, else None.

    The cluster module provides ``bot.cluster.service.ClusterService.from_settings(settings, **deps)``.
    """
    if not settings.cluster.enabled:
        return None
    try:
        module = importlib.import_module("bot.cluster.service")
    except ImportError:
        return None
    factory = getattr(getattr(module, "ClusterService", None), "from_settings", None)
    if factory is None:
        return None
    try:
        handler: ClusterHandler = factory(settings, **deps)
    except UserError as exc:
        log.warning("cluster commands disabled", cause=str(exc)[:200])
        return None
    return handler


@dataclass
class Runtime:
    """Everything a transport needs, and ``close`` for shutdown."""

    settings: Settings
    db: Database
    store: QuestionStore
    metrics: Metrics
    health: Health
    searcher: WarmingSearcher
    core: Core

    def close(self) -> None:
        """Close the store's connections (the last step of a graceful shutdown)."""
        self.db.close()
        log.info("store closed", store=self.db.label)


def build_runtime(
    settings: Settings,
    *,
    searcher: Any | None = None,
    cluster: ClusterHandler | None = None,
    load_cluster: bool = True,
    say: Callable[[str], None] | None = None,
) -> Runtime:
    """Open the store, wrap the searcher, and build the core; nothing slow happens here."""
    metrics = Metrics()
    health = Health()
    db = Database.from_settings(settings.store)
    store = QuestionStore(db, event_retention_s=settings.store.event_retention_days * 86400)
    store.purge_events(older_than_s=store.event_retention_s)
    health.add_probe("store", lambda: (db.ping(), db.label))
    warming = WarmingSearcher(searcher if searcher is not None else load_searcher(settings, say=say), health=health)
    backend: SearchBackend = warming
    if cluster is None and load_cluster:
        cluster = load_cluster_handler(settings, searcher=backend, db=db, metrics=metrics)
    readiness = getattr(cluster, "readiness", None)
    if callable(readiness):
        health.add_probe("cluster", readiness)
    else:
        health.set("cluster", ok=True, detail="cluster commands not configured")
    context = AnswerContext(top_k=settings.retrieval.top_k, max_question_chars=min(2000, _max_query(settings)))
    core = Core(searcher=backend, store=store, cluster=cluster, answer_context=context, metrics=metrics)
    return Runtime(settings=settings, db=db, store=store, metrics=metrics, health=health, searcher=warming, core=core)


def _max_query(settings: Settings) -> int:
    return int(getattr(settings.retrieval, "max_query_chars", 2000))
