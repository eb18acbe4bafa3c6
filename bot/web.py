"""Health, readiness and metrics over HTTP, plus the threaded server every HTTP endpoint runs on.

* ``/healthz``: the process is alive (always 200 while it serves).
* ``/readyz``: 200 only when every readiness check passes: the index is loaded, the store answers,
  Slack's ``auth.test`` succeeded; other features add their own (the cluster self-check). While the
  index is still loading it is 503, with the failing checks listed in the JSON body.
* ``/metrics``: Prometheus text format from ``Metrics.registry``.

The server is waitress: a production WSGI server in pure Python. One process keeps one copy of the
index in memory (a pre-forking server would load it once per worker on a 2-core box); waitress
reads requests on an async loop and hands complete requests to a fixed pool of threads, so 50
concurrent Slack deliveries cost 50 sockets, not 50 threads, and slow clients hold no worker.

Example:
    >>> health = Health()
    >>> health.set("index", ok=False, detail="loading")
    >>> health.ready()
    (False, {'index': {'ok': False, 'detail': 'loading'}})
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from bot.observability import Metrics, get_logger

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Probe = Callable[[], tuple[bool, str]]

log = get_logger("firstmate.web")


class Health:
    """Named readiness checks: fixed states set by startup code, or probes run on each request.

    Example:
        >>> h = Health()
        >>> h.add_probe("store", lambda: (True, "sqlite"))
        >>> h.ready()[0]
        True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, tuple[bool, str]] = {}
        self._probes: dict[str, Probe] = {}

    def set(self, name: str, *, ok: bool, detail: str = "") -> None:
        """Record the state of one check (e.g. ``index`` loading → loaded)."""
        with self._lock:
            self._states[name] = (ok, detail)

    def add_probe(self, name: str, probe: Probe) -> None:
        """A check evaluated at each ``/readyz`` (must be quick, e.g. a ``SELECT 1``)."""
        with self._lock:
            self._probes[name] = probe

    def ready(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Whether every check passes, and each check's state."""
        with self._lock:
            states = dict(self._states)
            probes = dict(self._probes)
        for name, probe in probes.items():
            try:
                states[name] = probe()
            except Exception as exc:  # a failing probe means not ready, never a 500
                states[name] = (False, type(exc).__name__)
        report = {name: {"ok": ok, "detail": detail} for name, (ok, detail) in sorted(states.items())}
        return all(ok for ok, _ in states.values()), report


def _respond(start_response: Callable[..., Any], status: str, body: bytes, ctype: str) -> list[bytes]:
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def observability_app(*, health: Health, metrics: Metrics) -> WsgiApp:
    """The WSGI app for ``/healthz``, ``/readyz`` and ``/metrics`` (404 elsewhere)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _respond(start_response, "405 Method Not Allowed", b"method not allowed\n", "text/plain")
        if path == "/healthz":
            return _respond(start_response, "200 OK", b'{"status": "ok"}\n', "application/json")
        if path == "/readyz":
            ok, checks = health.ready()
            body = json.dumps({"ready": ok, "checks": checks}).encode() + b"\n"
            return _respond(start_response, "200 OK" if ok else "503 Service Unavailable", body, "application/json")
        if path == "/metrics":
            return _respond(start_response, "200 OK", metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        return _respond(start_response, "404 Not Found", b"not found\n", "text/plain")

    return app


class WebServer:
    """A waitress server running in a background thread; ``port`` is the bound port (0 picks one).

    Example:
        >>> server = WebServer(observability_app(health=Health(), metrics=Metrics()), host="127.0.0.1", port=0)
        >>> server.start().port > 0
        True
        >>> server.stop()
    """

    def __init__(self, app: WsgiApp, *, host: str, port: int, threads: int = 4, name: str = "web") -> None:
        from waitress.server import create_server

        self.name = name
        self._server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            connection_limit=1000,
            backlog=1024,
            channel_timeout=60,
            ident="firstmate",
            clear_untrusted_proxy_headers=True,
        )
        self.host: str = self._server.effective_host
        self.port: int = int(self._server.effective_port)
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:3000``."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WebServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name=f"firstmate-{self.name}", daemon=True)
        self._thread.start()
        log.info("http server listening", server=self.name, host=self.host, port=self.port)
        return self

    def _loop(self) -> None:
        try:
            self._server.run()
        except OSError:
            if not self._stopping:
                raise

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop accepting, let requests in progress finish (up to ``timeout``), close every connection.

        Sockets are closed from inside waitress's loop thread (its trigger runs our callables there),
        so the loop never selects on a closed descriptor.
        """
        from waitress import wasyncore

        self._stopping = True
        accepting_closed = threading.Event()

        def close_listener() -> None:
            # Only the listening socket: the server's own close() would also close the trigger
            # that worker threads still pull when their responses are ready.
            wasyncore.dispatcher.close(self._server)
            accepting_closed.set()

        self._server.trigger.pull_trigger(close_listener)
        accepting_closed.wait(timeout)
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=timeout)
        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._server._map))
        if self._thread is not None:
            self._thread.join(timeout)
