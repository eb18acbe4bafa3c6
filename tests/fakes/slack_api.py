"""A fake Slack: the Web API over real HTTP on loopback, signed event delivery, and Socket Mode.

``FakeSlack`` is a threaded HTTP server on 127.0.0.1, port 0. The real slack_sdk ``WebClient``
talks to it (``base_url=fake.url``). It:

* records every call (method, arguments, token) in ``calls``;
* checks the bearer token like Slack: none → ``not_authed``, wrong → ``invalid_auth``, an app
  token on a bot method → ``not_allowed_token_type``;
* answers Slack-shaped JSON built from named fixture files (``tests/fixtures/slack/method_*.json``);
* validates what Slack validates: ``no_text``, ``msg_too_long``, ``invalid_blocks`` (more than 50
  blocks, a section over 3,000 characters, a button label over 75), unknown channels;
* can be told to answer 429 with ``Retry-After`` (``rate_limit``) or an error such as
  ``channel_not_found`` (``fail``);
* keeps posted messages per channel for ``conversations.history`` (with metadata and paging),
  reactions, file uploads (``files.getUploadURLExternal`` → upload → ``files.completeUploadExternal``),
  and ``response_url`` endpoints (``/respond/<id>``).

``SlackEventSender`` delivers events, slash commands and interactions to a running HTTP app the
way Slack does: HMAC-SHA256 ``v0`` signature over the raw body with a timestamp.

``FakeSocketModeServer`` is a websocket server (the ``websockets`` package) that speaks Socket
Mode: ``hello`` on connect, envelopes pushed by the test, acks recorded by ``envelope_id``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slack"
APP_TOKEN_METHODS = {"apps.connections.open"}


def fixture(name: str) -> Any:
    """A named fixture file, parsed (``method_chat.postMessage.json``, ``payload_app_mention.json``)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def payload(name: str, **overrides: Any) -> dict[str, Any]:
    """``payload_<name>.json`` with top-level keys replaced and ``event__x`` style nested overrides."""
    data: dict[str, Any] = copy.deepcopy(fixture(f"payload_{name}.json"))
    for key, value in overrides.items():
        target = data
        parts = key.split("__")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return data


@dataclass
class Call:
    """One request the fake received."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.time)
    status: int = 200


class FakeSlack:
    """The fake Web API. Use as a context manager; see the module docstring."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token-000",
        app_token: str = "xapp-fake-app-token-000",
        bot_user_id: str = "U0FIRSTMATE",
        bot_id: str = "B0FIRSTMATE",
        team_id: str = "T0FAKE",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.reactions: dict[tuple[str, str], set[str]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.missing_channels: set[str] = set()
        self.not_in_channels: set[str] = set()
        self.socket_url: str | None = None
        self._faults: dict[str, list[tuple[int, str, float]]] = {}
        self._cv = threading.Condition()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The Web API base URL for WebClient(base_url=…)."""
        return self.base + "/api/"

    def start(self) -> FakeSlack:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------
    def rate_limit(self, method: str, *, retry_after: float = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get HTTP 429 with ``Retry-After``."""
        with self._cv:
            self._faults.setdefault(method, []).extend([(429, "ratelimited", retry_after)] * times)

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        with self._cv:
            self._faults.setdefault(method, []).extend([(status, error, 0.0)] * times)

    def response_url(self) -> str:
        """A fresh response_url; what the app sends there lands in ``responses[id]``."""
        rid = uuid.uuid4().hex[:12]
        self.responses[rid] = []
        return f"{self.base}/respond/{rid}"

    def calls_to(self, method: str, *, ok_only: bool = True) -> list[Call]:
        with self._cv:
            return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def wait_for(self, method: str, count: int = 1, *, timeout: float = 20.0, ok_only: bool = True) -> list[Call]:
        """Block until ``count`` calls of ``method`` arrived (raises AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                found = [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} call(s) to {method}, got {len(found)}: "
                                         f"{[c.method for c in self.calls]}")
                self._cv.wait(left)

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted with chat.postMessage (to one channel, or all), oldest first."""
        with self._cv:
            if channel is not None:
                return list(self.messages.get(channel, []))
            return [m for msgs in self.messages.values() for m in msgs]

    # -- request handling --------------------------------------------------------------------
    def _record(self, call: Call) -> None:
        with self._cv:
            self.calls.append(call)
            self._cv.notify_all()

    def _fault(self, method: str) -> tuple[int, str, float] | None:
        with self._cv:
            pending = self._faults.get(method)
            return pending.pop(0) if pending else None

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _check_token(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if method in APP_TOKEN_METHODS:
            return None if token == self.app_token else "invalid_auth"
        if token == self.app_token:
            return "not_allowed_token_type"
        return None if token == self.bot_token else "invalid_auth"

    def handle_api(self, method: str, args: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One Web API call → (status, JSON body, extra headers)."""
        error = self._check_token(method, token)
        if error is not None:
            self._record(Call(method, args, token, status=401))
            return 200, {"ok": False, "error": error}, {}
        fault = self._fault(method)
        if fault is not None:
            status, code, retry_after = fault
            self._record(Call(method, args, token, status=status if status != 200 else 299))
            headers = {"Retry-After": str(int(retry_after))} if status == 429 else {}
            return status, {"ok": False, "error": code}, headers
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        body = handler(args) if handler is not None else self._from_fixture(method)
        self._record(Call(method, args, token, status=200 if body.get("ok") else 299))
        return 200, body, {}

    def _from_fixture(self, method: str) -> dict[str, Any]:
        path = FIXTURES / f"method_{method}.json"
        if not path.exists():
            return {"ok": False, "error": "unknown_method"}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    # -- methods with behaviour --------------------------------------------------------------
    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        body = self._from_fixture("auth.test")
        body.update(user_id=self.bot_user_id, bot_id=self.bot_id, team_id=self.team_id)
        return body

    def _channel_error(self, channel: Any) -> str | None:
        if not channel or not isinstance(channel, str) or channel in self.missing_channels:
            return "channel_not_found"
        if channel in self.not_in_channels:
            return "not_in_channel"
        return None

    def _validate_blocks(self, blocks: Any) -> str | None:
        if blocks is None:
            return None
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return "invalid_blocks_format"
        if not isinstance(blocks, list) or len(blocks) > 50:
            return "invalid_blocks"
        for block in blocks:
            texts = [block.get("text")] if block.get("type") == "section" else []
            texts += list(block.get("elements") or []) if block.get("type") == "context" else []
            for text in texts:
                if isinstance(text, dict) and len(str(text.get("text", "")).encode("utf-16-le")) // 2 > 3000:
                    return "invalid_blocks"
            if block.get("type") == "actions":
                for element in block.get("elements") or []:
                    if len(element.get("text", {}).get("text", "")) > 75 or len(element.get("value", "")) > 2000:
                        return "invalid_blocks"
        return None

    def _message_error(self, args: dict[str, Any]) -> str | None:
        error = self._channel_error(args.get("channel"))
        if error:
            return error
        if not args.get("text") and not args.get("blocks"):
            return "no_text"
        if len(str(args.get("text") or "")) > 40000:
            return "msg_too_long"
        return self._validate_blocks(args.get("blocks"))

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        error = self._message_error(args)
        if error:
            return {"ok": False, "error": error}
        blocks = args.get("blocks")
        message = {
            "type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "ts": self._next_ts(),
            "text": args.get("text") or "", "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
            "thread_ts": args.get("thread_ts"),
            "metadata": json.loads(args["metadata"]) if isinstance(args.get("metadata"), str) else args.get("metadata"),
        }
        with self._cv:
            self.messages.setdefault(args["channel"], []).append(message)
        body = self._from_fixture("chat.postMessage")
        body.update(channel=args["channel"], ts=message["ts"], message={**body.get("message", {}), **message})
        return body

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        error = self._message_error(args)
        if error:
            return {"ok": False, "error": error}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        body = self._from_fixture("chat.postEphemeral")
        body["message_ts"] = self._next_ts()
        return body

    def _reaction(self, args: dict[str, Any], *, add: bool) -> dict[str, Any]:
        error = self._channel_error(args.get("channel"))
        if error:
            return {"ok": False, "error": error}
        if not args.get("timestamp") or not args.get("name"):
            return {"ok": False, "error": "invalid_arguments"}
        key = (args["channel"], args["timestamp"])
        with self._cv:
            names = self.reactions.setdefault(key, set())
            if add and args["name"] in names:
                return {"ok": False, "error": "already_reacted"}
            if not add and args["name"] not in names:
                return {"ok": False, "error": "no_reaction"}
            (names.add if add else names.discard)(args["name"])
        return {"ok": True}

    def _m_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._reaction(args, add=True)

    def _m_reactions_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._reaction(args, add=False)

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        error = self._channel_error(args.get("channel"))
        if error:
            return {"ok": False, "error": error}
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or 9e12)
        limit = max(1, min(int(args.get("limit") or 100), 999))
        start = int(args.get("cursor") or 0)
        with self._cv:
            newest_first = [m for m in reversed(self.messages.get(args["channel"], []))
                            if oldest < float(m["ts"]) <= latest]
        page = newest_first[start: start + limit]
        has_more = start + limit < len(newest_first)
        body = self._from_fixture("conversations.history")
        body.update(messages=copy.deepcopy(page), has_more=has_more,
                    response_metadata={"next_cursor": str(start + limit) if has_more else ""})
        return body

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        with self._cv:
            self.uploads[file_id] = {"filename": args["filename"], "length": int(args["length"]), "content": None}
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        files = json.loads(files) if isinstance(files, str) else files
        if not files:
            return {"ok": False, "error": "invalid_arguments"}
        if args.get("channel_id") and self._channel_error(args["channel_id"]):
            return {"ok": False, "error": self._channel_error(args["channel_id"]) or ""}
        out = []
        with self._cv:
            for item in files:
                upload = self.uploads.get(item.get("id"))
                if upload is None or upload["content"] is None:
                    return {"ok": False, "error": "file_not_found"}
                upload.update(title=item.get("title"), channel=args.get("channel_id"), thread_ts=args.get("thread_ts"))
                out.append({"id": item["id"], "title": item.get("title"), "name": upload["filename"]})
        return {"ok": True, "files": out}

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}

    # -- HTTP plumbing -----------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                      ctype: str = "application/json; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _args(self, raw: bytes) -> dict[str, Any]:
                parsed = urllib.parse.urlparse(self.path)
                args: dict[str, Any] = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
                ctype = self.headers.get("Content-Type", "")
                if raw and "application/json" in ctype:
                    args.update(json.loads(raw.decode("utf-8")))
                elif raw:
                    args.update({k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode("utf-8")).items()})
                return args

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = urllib.parse.urlparse(self.path).path
                if path.startswith("/api/"):
                    method = path[len("/api/"):]
                    args = self._args(raw)
                    auth = self.headers.get("Authorization", "")
                    token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", None)
                    status, body, headers = fake.handle_api(method, args, token)
                    self._send(status, json.dumps(body).encode("utf-8"), headers)
                elif path.startswith("/upload/"):
                    file_id = path.rsplit("/", 1)[-1]
                    with fake._cv:
                        upload = fake.uploads.get(file_id)
                        if upload is not None:
                            upload["content"] = raw
                    self._send(200 if upload is not None else 404, b"OK - %d" % len(raw), ctype="text/plain")
                elif path.startswith("/respond/"):
                    rid = path.rsplit("/", 1)[-1]
                    if rid not in fake.responses:
                        self._send(404, b"no_such_response_url", ctype="text/plain")
                        return
                    body = json.loads(raw.decode("utf-8") or "{}")
                    with fake._cv:
                        fake.responses[rid].append(body)
                    fake._record(Call(f"response_url:{rid}", body, None))
                    self._send(200, b"ok", ctype="text/html")
                else:
                    self._send(404, b'{"ok": false, "error": "unknown_method"}')

            do_POST = _handle
            do_GET = _handle

        return Handler


# -- event delivery ---------------------------------------------------------------------------
def sign(body: bytes, *, secret: str, timestamp: str) -> str:
    """Slack's request signature: ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """The app's answer to one delivery."""

    status: int
    body: bytes
    elapsed_s: float


class SlackEventSender:
    """Sends signed requests to a running HTTP app, as Slack does."""

    def __init__(self, base_url: str, *, secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret

    def raw(self, path: str, body: bytes, *, content_type: str, timestamp: str | None = None,
            signature: str | None = None, headers: dict[str, str] | None = None) -> Delivery:
        ts = timestamp if timestamp is not None else str(int(time.time()))
        sig = signature if signature is not None else sign(body, secret=self.secret, timestamp=ts)
        request = urllib.request.Request(self.base_url + path, data=body, method="POST", headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig,
            **(headers or {}),
        })
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return Delivery(resp.status, resp.read(), time.perf_counter() - started)
        except urllib.error.HTTPError as exc:
            return Delivery(exc.code, exc.read(), time.perf_counter() - started)

    def event(self, envelope: dict[str, Any], *, retry_num: int | None = None, **kw: Any) -> Delivery:
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
        return self.raw("/slack/events", body, content_type="application/json", headers=headers, **kw)

    def command(self, fields: dict[str, Any], **kw: Any) -> Delivery:
        body = urllib.parse.urlencode(fields).encode()
        return self.raw("/slack/commands", body, content_type="application/x-www-form-urlencoded", **kw)

    def interaction(self, action_payload: dict[str, Any], **kw: Any) -> Delivery:
        body = urllib.parse.urlencode({"payload": json.dumps(action_payload, ensure_ascii=False)}).encode()
        return self.raw("/slack/interactions", body, content_type="application/x-www-form-urlencoded", **kw)


# -- Socket Mode --------------------------------------------------------------------------------
class FakeSocketModeServer:
    """A Socket Mode websocket endpoint on loopback: sends ``hello``, pushes envelopes, records acks.

    Like Slack, envelopes go to the newest live connection, and an envelope sent on a connection that
    closes before its ack is queued again with ``retry_attempt`` raised. That matters because
    slack_sdk's websocket-client adapter may open a second connection at start-up (its monitor can
    tick before the first socket exists) and then close the first.
    """

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self.live: set[int] = set()
        self._outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._cv = threading.Condition()
        self._server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=fake"

    def start(self) -> FakeSocketModeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def push(self, envelope_payload: dict[str, Any], *, kind: str = "events_api", retry_attempt: int = 0) -> str:
        """Queue one envelope for the connected client; returns its envelope_id."""
        envelope_id = uuid.uuid4().hex
        self._outbox.put({"envelope_id": envelope_id, "type": kind, "payload": envelope_payload,
                          "accepts_response_payload": kind != "events_api", "retry_attempt": retry_attempt,
                          "retry_reason": "timeout" if retry_attempt else ""})
        return envelope_id

    def wait_ack(self, envelope_id: str, *, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for ack in self.acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for envelope {envelope_id}")
                self._cv.wait(left)

    def _acked(self, envelope_id: str) -> bool:
        return any(ack.get("envelope_id") == envelope_id for ack in self.acks)

    def _session(self, conn: Any) -> None:
        with self._cv:
            self.connections += 1
            number = self.connections
            self.live.add(number)
        sent: list[dict[str, Any]] = []
        try:
            conn.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0FAKE"}}))
        except Exception:
            self._close_session(number, sent)
            return
        stop = threading.Event()

        def reader() -> None:
            try:
                for message in conn:
                    data = json.loads(message)
                    with self._cv:
                        self.acks.append(data)
                        self._cv.notify_all()
            except Exception:
                pass
            finally:
                stop.set()

        threading.Thread(target=reader, daemon=True).start()
        while not stop.is_set():
            with self._cv:
                newest = number == max(self.live)
            if not newest:  # an older connection the client is replacing: deliver nothing more on it
                stop.wait(0.05)
                continue
            try:
                envelope = self._outbox.get(timeout=0.1)
            except queue.Empty:
                continue
            sent.append(envelope)
            try:
                conn.send(json.dumps(envelope))
            except Exception:
                break
        stop.wait(1.0)  # acks already on the wire still count
        self._close_session(number, sent)

    def _close_session(self, number: int, sent: list[dict[str, Any]]) -> None:
        with self._cv:
            self.live.discard(number)
            unacked = [e for e in sent if not self._acked(e["envelope_id"])]
        for envelope in unacked:  # Slack redelivers what was never acknowledged
            self._outbox.put({**envelope, "retry_attempt": envelope["retry_attempt"] + 1, "retry_reason": "timeout"})
