"""/healthz, /readyz (not ready while the index loads) and /metrics over real HTTP."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from bot.core.runtime import WarmingSearcher
from bot.observability import Metrics
from bot.web import Health, WebServer, observability_app
from retrieval.models import SearchResult


class SlowIndex:
    """Warm-up blocks until the test releases it, like a big index loading."""

    def __init__(self, *, fail: bool = False) -> None:
        self.release = threading.Event()
        self.fail = fail

    def warm_up(self) -> None:
        self.release.wait(30)
        if self.fail:
            raise FileNotFoundError("index/build/manifest.json: not found")

    def search(self, query: str, *, top_k: int = 5) -> SearchResult:
        return SearchResult(query=query, answered=False, hits=[])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def served() -> Iterator[tuple[WebServer, Health, Metrics]]:
    health, metrics = Health(), Metrics()
    server = WebServer(observability_app(health=health, metrics=metrics), host="127.0.0.1", port=0).start()
    yield server, health, metrics
    server.stop()


def test_not_ready_while_the_index_loads_then_ready(served: tuple[WebServer, Health, Metrics]) -> None:
    server, health, _ = served
    index = SlowIndex()
    searcher = WarmingSearcher(index, health=health)
    health.add_probe("store", lambda: (True, "sqlite"))
    health.set("slack", ok=True, detail="auth.test ok")
    searcher.start_background()
    status, body = _get(server.url + "/readyz")
    assert status == 503
    assert json.loads(body)["checks"]["index"] == {"ok": False, "detail": "loading"}
    assert _get(server.url + "/healthz") == (200, b'{"status": "ok"}\n')  # alive all along
    index.release.set()
    searcher.search("wait for it")  # returns once loaded
    status, body = _get(server.url + "/readyz")
    assert status == 200 and json.loads(body)["ready"] is True


def test_a_failed_index_load_is_reported_and_searches_fail_clearly(served: tuple[WebServer, Health, Metrics]) -> None:
    server, health, _ = served
    index = SlowIndex(fail=True)
    index.release.set()
    searcher = WarmingSearcher(index, health=health)
    with pytest.raises(Exception, match=r"manifest\.json"):
        searcher.search("q")
    status, body = _get(server.url + "/readyz")
    assert status == 503 and "manifest.json" in json.loads(body)["checks"]["index"]["detail"]


def test_a_failing_probe_is_not_ready_never_a_500(served: tuple[WebServer, Health, Metrics]) -> None:
    server, health, _ = served

    def broken() -> tuple[bool, str]:
        raise ConnectionError("db down")

    health.add_probe("store", broken)
    status, body = _get(server.url + "/readyz")
    assert status == 503 and json.loads(body)["checks"]["store"] == {"ok": False, "detail": "ConnectionError"}


def test_metrics_exposition_and_extra_collectors(served: tuple[WebServer, Health, Metrics]) -> None:
    from prometheus_client import Counter

    server, _, metrics = served
    metrics.events_received.labels(kind="app_mention").inc(3)
    metrics.answer_latency.observe(0.4)
    extra = Counter("firstmate_cluster_commands", "by decision", ["decision"], registry=metrics.registry)
    extra.labels(decision="denied").inc()
    status, body = _get(server.url + "/metrics")
    text = body.decode()
    assert status == 200
    assert 'firstmate_events_received_total{kind="app_mention"} 3.0' in text
    assert 'firstmate_answer_latency_seconds_bucket{le="0.5"} 1.0' in text
    assert 'firstmate_cluster_commands_total{decision="denied"} 1.0' in text
    for name in ("firstmate_answers_posted", "firstmate_abstentions", "firstmate_errors"):
        assert f"# TYPE {name}_total counter" in text
    assert _get(server.url + "/nope")[0] == 404
