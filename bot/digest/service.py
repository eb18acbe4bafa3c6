"""Assembly from the settings: the runner (for the CLI/CronJob) and the scheduler thread (for serve).

Heavy or networked pieces (the Slack client, the kubernetes reader, the search index) are built
here on demand, never at import, and may be passed in instead: `firstmate serve` shares its
database and searcher; tests pass fakes.

Example:
    >>> from bot.config import Settings
    >>> handle = start_scheduler(Settings(digest={"enabled": False}))
    >>> handle.running
    False
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.digest.clock import Clock, SystemClock
from bot.digest.models import DigestBuilder, DigestPoster
from bot.digest.runner import DigestRunner
from bot.digest.scheduler import DigestScheduler, SchedulerHandle
from bot.store.db import Database
from bot.store.outbox import OutboxStore
from retrieval.models import SearchBackend, SearchResult, SessionRef

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)


class LazySearch:
    """A SearchBackend that builds the real searcher on first use and never fails a digest.

    Digests link corpus Q&As as a help, not as their point: if the index cannot be loaded the
    digest still goes out, without links, and the reason is logged once.

    Example:
        >>> LazySearch(lambda: None).search("x").answered
        False
    """

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._backend: Any = None
        self._failed: str | None = None
        self._sessions: dict[str, SessionRef] | None = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._backend is None and self._failed is None:
                try:
                    self._backend = self._factory()
                except Exception as exc:
                    self._failed = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    log.warning(
                        "digest: corpus search unavailable; digests go out without Q&A links: %s",
                        self._failed,
                    )
            return self._backend

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        backend = self._get()
        if backend is None:
            return SearchResult(
                query=query, answered=False, hits=[], reason=self._failed or "search unavailable"
            )
        try:
            result: SearchResult = backend.search(query, top_k=top_k)
        except Exception as exc:
            log.warning("digest: corpus search failed: %s", type(exc).__name__)
            return SearchResult(query=query, answered=False, hits=[], reason="search failed")
        return result

    def session(self, session_id: str) -> SessionRef | None:
        """Title and date of a corpus session, from the loaded index (None if unknown)."""
        if self._sessions is None:
            backend = self._get()
            self._sessions = session_table(backend) if backend is not None else {}
        return self._sessions.get(session_id)


def session_table(searcher: Any) -> dict[str, SessionRef]:
    """Session id → citation (date, title), from a loaded ``retrieval.search.Searcher`` index."""
    index = getattr(searcher, "index", None)
    table: dict[str, SessionRef] = {}
    for entry in getattr(index, "entries", None) or []:
        if entry.session_id in table:
            continue
        try:
            table[entry.session_id] = SessionRef(
                id=entry.session_id, date=dt.date.fromisoformat(entry.date), title=entry.title
            )
        except ValueError:
            continue
    return table


def lazy_sessions(searcher: Any) -> Callable[[str], SessionRef | None]:
    """A session lookup over ``searcher``'s index (or its ``inner`` one), built on first use."""
    table: dict[str, SessionRef] | None = None

    def lookup(session_id: str) -> SessionRef | None:
        nonlocal table
        if table is None:
            try:
                found = session_table(getattr(searcher, "inner", searcher))
            except Exception:  # no index yet: show ids this time, try again next digest
                return None
            if not found:
                return None
            table = found
        return table.get(session_id)

    return lookup


def default_searcher(settings: Settings) -> LazySearch:
    """The corpus searcher of the settings, loaded on first use."""

    def make() -> SearchBackend:
        from retrieval.search import Searcher

        searcher = Searcher(settings.retrieval)
        searcher.warm_up()
        return searcher

    return LazySearch(make)


def build_builders(
    settings: Settings,
    *,
    db: Database,
    searcher: SearchBackend | None = None,
    cluster_source: Any = None,
) -> dict[str, DigestBuilder]:
    """The cluster and knowledge builders, sharing one searcher."""
    from bot.digest.cluster import ClusterDigestBuilder
    from bot.digest.cluster_state import KubeClusterSource
    from bot.digest.knowledge import KnowledgeDigestBuilder
    from bot.store.questions import QuestionStore

    search = searcher if searcher is not None else default_searcher(settings)
    sessions = search.session if isinstance(search, LazySearch) else lazy_sessions(search)
    outbox = OutboxStore(db)
    cluster = ClusterDigestBuilder(
        source=cluster_source
        if cluster_source is not None
        else KubeClusterSource.from_settings(settings.cluster),
        policy=settings.cluster.policy,
        searcher=search,
    )
    knowledge = KnowledgeDigestBuilder(
        questions=QuestionStore(db),
        searcher=search,
        sessions=sessions,
        failure_hint=lambda: cluster.most_frequent_failure(outbox),
    )
    return {"cluster": cluster, "knowledge": knowledge}


def build_runner(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    poster: DigestPoster | None = None,
    builders: dict[str, DigestBuilder] | None = None,
    searcher: SearchBackend | None = None,
    cluster_source: Any = None,
    metrics: Any = None,
) -> DigestRunner:
    """A runner wired from the settings; every piece can be passed in instead."""
    database = db if db is not None else Database.from_settings(settings.store)
    if poster is None:
        from bot.slack.digest_poster import SlackDigestPoster

        poster = SlackDigestPoster.from_settings(settings, metrics=metrics)
    return DigestRunner(
        outbox=OutboxStore(database),
        poster=poster,
        builders=builders
        if builders is not None
        else build_builders(settings, db=database, searcher=searcher, cluster_source=cluster_source),
        clock=clock or SystemClock(),
        settings=settings.digest,
    )


def start_scheduler(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    poster: DigestPoster | None = None,
    searcher: SearchBackend | None = None,
    cluster_source: Any = None,
    metrics: Any = None,
    builders: dict[str, DigestBuilder] | None = None,
) -> SchedulerHandle:
    """Start the digest thread of `firstmate serve`; returns a handle whose ``stop()`` ends it.

    Does nothing (an idle handle) when digests are disabled or no schedule is configured.
    """
    schedules = [s for s in settings.digest.schedules if s.enabled]
    if not settings.digest.enabled or not schedules:
        log.info(
            "digest scheduler not started: %s", "disabled" if not settings.digest.enabled else "no schedules"
        )
        return SchedulerHandle(None, None)
    the_clock = clock or SystemClock()
    runner = build_runner(
        settings,
        db=db,
        clock=the_clock,
        poster=poster,
        builders=builders,
        searcher=searcher,
        cluster_source=cluster_source,
        metrics=metrics,
    )
    scheduler = DigestScheduler(
        runner=runner,
        schedules=schedules,
        clock=the_clock,
        poll_seconds=settings.digest.poll_seconds,
        backfill_first=settings.digest.post_first_missed,
    )
    return scheduler.start()
