"""A fake OpenAI-compatible embeddings API on loopback (port 0), for testing `RemoteEmbedder`.

Honest like the real thing: it checks the bearer token (401), rejects malformed bodies (400),
and can be told to answer the next requests with 429 + Retry-After, a 5xx, or to stall past the
client's timeout. Vectors are deterministic functions of the input text.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeEmbeddingsState:
    api_key: str = "sk-test"
    dim: int = 8
    # Scripted failures for the next requests, consumed in order: ("429", "1"), ("503", ""), ("stall", "2.0").
    script: list[tuple[str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def vector(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        return [(b - 127.5) / 127.5 for b in digest[: self.dim]]


def _handler(state: FakeEmbeddingsState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with state.lock:
                step = state.script.pop(0) if state.script else None
            if self.path != "/v1/embeddings":
                self._send(404, {"error": {"message": "not found"}})
                return
            if self.headers.get("Authorization") != f"Bearer {state.api_key}":
                self._send(401, {"error": {"message": "invalid api key"}})
                return
            try:
                payload = json.loads(body)
                inputs = payload["input"]
                if isinstance(inputs, str):
                    inputs = [inputs]
                if not payload.get("model") or not all(isinstance(t, str) and t for t in inputs):
                    raise ValueError("bad input")
            except (ValueError, KeyError, TypeError):
                self._send(400, {"error": {"message": "invalid request body"}})
                return
            with state.lock:
                state.requests.append(payload)
            if step is not None:
                kind, arg = step
                if kind == "stall":
                    time.sleep(float(arg))
                elif kind == "429":
                    self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": arg or "1"})
                    return
                else:
                    self._send(int(kind), {"error": {"message": "upstream error"}})
                    return
            data = [{"object": "embedding", "index": i, "embedding": state.vector(t)} for i, t in enumerate(inputs)]
            self._send(200, {"object": "list", "data": list(reversed(data)), "model": payload["model"]})

    return Handler


@contextmanager
def fake_embeddings_api(state: FakeEmbeddingsState | None = None) -> Iterator[tuple[str, FakeEmbeddingsState]]:
    """Run the fake on 127.0.0.1:0; yields (base URL ending in /v1, state)."""
    state = state or FakeEmbeddingsState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
