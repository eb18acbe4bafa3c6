"""The one path every cluster command takes, from Slack, the console or the CLI: guard → policy → audit → read.

1. parse (bot/cluster/grammar.py): a typed request or a usage error naming the bad token;
2. rate limit and policy (bot/cluster/policy.py): allowed, with namespaces, or denied naming the rule;
3. self-check gate (bot/cluster/selfcheck.py): off while the credentials are not verified read-only;
4. audit intent (bot/store/audit.py), keyed by the request id — a retried delivery runs nothing twice;
5. execute through the read-only reader; audit outcome; count metrics.

Example:
    >>> from bot.settings.cluster import ClusterSettings
    >>> from bot.store.db import Database
    >>> svc = ClusterService(ClusterSettings(), audit=AuditLog(Database.sqlite(":memory:")))
    >>> svc.handle("get secrets", channel="cli", user="U1", request_id="r1").exit_code
    2
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from bot.cluster.errors import ClusterError
from bot.cluster.executor import Executor
from bot.cluster.grammar import VERBS, Request, UsageError, parse
from bot.cluster.help import help_reply
from bot.cluster.metrics import ClusterMetrics
from bot.cluster.models import Reader
from bot.cluster.policy import Decision, RateLimiter, evaluate
from bot.cluster.redact import redact
from bot.cluster.selfcheck import Blocked, SelfCheckGate, SelfCheckReport
from bot.core.replies import Reply
from bot.settings.cluster import ClusterSettings
from bot.store.audit import AuditLog
from bot.store.db import Database, StoreUnavailable
from retrieval.models import SearchBackend

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)
_CRED_FLAG = re.compile(
    r"(?i)(--?(?:token|password|username|user|client-key|client-certificate|certificate-authority|kubeconfig|server|s|as|as-group|as-uid|context|cluster)(?:=|\s+))(\S+)"
)


def audit_text(text: str) -> str:
    """A safe, printable form of a rejected command for the audit trail (credential values redacted)."""
    normal = unicodedata.normalize("NFKC", text)[:300]
    normal = redact(_CRED_FLAG.sub(lambda m: m.group(1) + "<redacted>", normal))
    return "".join(ch if 32 <= ord(ch) < 127 else f"\\u{ord(ch):04x}" for ch in normal)


class ClusterService:
    """Guarded, audited, read-only cluster commands. Construct once; ``handle`` is thread-safe.

    The Slack router calls ``handle(text, channel=…, user=…, request_id=event_id)``; the CLI calls it
    with its own channel/user and a generated id.
    """

    def __init__(
        self,
        settings: ClusterSettings,
        *,
        audit: AuditLog,
        reader: Reader | None = None,
        search: SearchBackend | None = None,
        groups: Callable[[str], Iterable[str]] | None = None,
        source: str = "slack",
        clock: Callable[[], float] = time.time,
        metrics: ClusterMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else ClusterMetrics()
        self._audit = audit
        self._source = source
        self._clock = clock
        self._groups = groups
        if reader is None:
            from bot.cluster.reader import KubeReader

            reader = KubeReader(settings)
        self.reader = reader
        self._executor = Executor(reader, limits=settings.limits, search=search)
        self._limiter = RateLimiter(settings.policy.rate_limits)
        self._gate = SelfCheckGate(
            reader, settings.policy, override=settings.allow_unsafe_credentials, retry_s=settings.self_check_retry_s, clock=clock
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        db: Database | None = None,
        searcher: SearchBackend | None = None,
        source: str = "slack",
        start: bool = True,
        metrics: Any = None,
        **_: Any,
    ) -> ClusterService:
        """Build from the whole Settings (the runtime and the CLI call this); ``start`` runs the self-check in the background.

        ``metrics`` is the process's ``bot.observability.Metrics``: the cluster counters join its registry,
        which is what ``/metrics`` serves.
        """
        database = db if db is not None else Database.from_settings(settings.store)
        audit = AuditLog(database, unknown_after_s=settings.cluster.audit_unknown_after_s)
        registry = getattr(metrics, "registry", None)
        service = cls(settings.cluster, audit=audit, search=searcher, source=source, metrics=ClusterMetrics(registry))
        if start:
            threading.Thread(target=service.start, name="cluster-self-check", daemon=True).start()
        return service

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> SelfCheckReport | None:
        """At startup: mark abandoned audit intents 'unknown' and run the self-check (if enabled)."""
        try:
            swept = self._audit.sweep()
            if swept:
                log.warning("cluster audit: %d intents had no outcome; marked unknown", swept)
            if not (self.settings.enabled and self.settings.self_check):
                return None
            report = self.self_check()
        except Exception:  # a background start must never take the process down
            log.exception("cluster start-up check failed")
            return None
        level = logging.INFO if report.safe and not report.missing else logging.WARNING
        log.log(level, "cluster self-check: %s", report.reason())
        if report.completed and report.dangerous and self.settings.allow_unsafe_credentials:
            log.warning("cluster self-check: UNSAFE credentials allowed by cluster.allow_unsafe_credentials")
        return report

    def readiness(self) -> tuple[bool, str]:
        """The self-check's verdict for /readyz.

        Not ready while the first check runs, or when the credentials can write or read Secrets (a
        rollout with over-privileged RBAC should stall). An unreachable cluster keeps the pod ready: answers
        still work, and cluster commands stay off with a reason until the check completes.
        """
        if not (self.settings.enabled and self.settings.self_check):
            return True, "self-check disabled"
        report = self._gate.report
        if report is None:
            return False, "self-check pending"
        if not report.completed:
            # Unreachable or unconfigured: answers still work, cluster commands stay off until it completes.
            return True, f"cluster commands off until the self-check completes: {report.reason()}"
        if report.dangerous and not self.settings.allow_unsafe_credentials:
            return False, f"unsafe credentials, cluster commands off: {report.reason()}"
        return True, report.reason()

    def self_check(self) -> SelfCheckReport:
        """Run the SelfSubjectAccessReview self-check now."""
        return self._gate.run()

    # -- the one path -------------------------------------------------------------------------------

    def handle(self, text: str, *, channel: str, user: str, request_id: str) -> Reply:
        """Parse, check, audit and run one command; always returns a Reply, never raises for bad input."""
        started = time.monotonic()
        meta = {"request_id": request_id}
        try:
            request = parse(text, aliases=self.settings.aliases, max_chars=self.settings.limits.max_command_chars)
        except UsageError as exc:
            return self._usage(exc, text, channel=channel, user=user, request_id=request_id, started=started)
        meta["command"] = request.normalised()
        decision = self._decide(request, channel=channel, user=user)
        blocked: Blocked | None = None
        if decision.allowed and request.verb != "help" and self.settings.self_check:
            blocked = self._gate.check()
            if blocked is not None:
                decision = Decision(allowed=False, rule="self_check", reason=blocked.reason)
        meta["rule"] = decision.rule
        audited = "allowed" if decision.allowed else (blocked.decision if blocked is not None else "denied")
        try:
            fresh = self._audit.begin(
                request_id=request_id, source=self._source, user=user, channel=channel, command=request.normalised(),
                verb=request.verb, scope=",".join(decision.namespaces) or None,
                decision=audited, rule=decision.rule, reason=decision.reason,
            )
        except StoreUnavailable as exc:
            log.error("cluster audit unavailable: %s", exc)
            self.metrics.record(verb=request.verb, decision="error", seconds=time.monotonic() - started)
            return Reply(kind="error", summary="Cluster commands are paused: the audit store is unavailable.", exit_code=4, meta=meta,
                         data={"allowed": False, "error": "AuditUnavailable", "message": str(exc)})
        if not fresh:
            return Reply(kind="cluster", summary=f"Already handled (request {request_id}); not run twice.", meta={**meta, "duplicate": "true"})
        if blocked is not None and blocked.decision == "error":
            self._finish(request_id, request.verb, "error", "error", started, error="ClusterUnavailable")
            return Reply(kind="error", summary=f"Cluster error: {blocked.reason}", exit_code=4, meta=meta,
                         data={"allowed": False, "rule": "self_check", "error": "ClusterUnavailable", "reason": blocked.reason})
        if not decision.allowed:
            self._finish(request_id, request.verb, "denied", "denied", started)
            return Reply(kind="denied", summary=f"Denied by {decision.rule}: {decision.reason}", exit_code=3, data=decision.to_json(), meta=meta)
        if request.verb == "help":
            reply = help_reply(request, decision, aliases=self.settings.aliases)
            self._finish(request_id, "help", "ok", "allowed", started)
            return reply.model_copy(update={"meta": meta})
        return self._execute(request, decision, request_id=request_id, started=started, meta=meta)

    def _decide(self, request: Request, *, channel: str, user: str) -> Decision:
        if not self.settings.enabled:
            return Decision(allowed=False, rule="cluster.enabled", reason="cluster commands are switched off in the settings")
        groups = tuple(self._groups(user)) if self._groups else ()
        decision = evaluate(self.settings.policy, request, channel=channel, user=user, groups=groups)
        if not decision.allowed or request.verb == "help":
            return decision
        limited = self._limiter.check(user=user, channel=channel)
        return limited or decision

    def _execute(self, request: Request, decision: Decision, *, request_id: str, started: float, meta: dict[str, str]) -> Reply:
        now = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)
        try:
            reply = self._executor.run(request, decision, now=now)
        except ClusterError as exc:
            self._finish(request_id, request.verb, "error", "error", started, error=type(exc).__name__)
            return Reply(kind="error", summary=f"Cluster error: {exc}", exit_code=4, meta=meta,
                         data={"allowed": True, "error": type(exc).__name__, "message": str(exc)})
        except Exception:
            log.exception("cluster command failed (request %s)", request_id)
            self._finish(request_id, request.verb, "error", "error", started, error="InternalError")
            return Reply(kind="error", summary=f"Internal error while reading the cluster (request {request_id}); see the bot's log.",
                         exit_code=4, meta=meta, data={"allowed": True, "error": "InternalError"})
        size = len(reply.to_text().encode()) + (len(reply.attachment.content.encode()) if reply.attachment else 0)
        rows = reply.data.get("total") if isinstance(reply.data, dict) and isinstance(reply.data.get("total"), int) else None
        self._finish(request_id, request.verb, "ok", "allowed", started, rows=rows, size=size)
        return reply.model_copy(update={"meta": {**reply.meta, **meta}})

    def _usage(self, exc: UsageError, text: str, *, channel: str, user: str, request_id: str, started: float) -> Reply:
        meta = {"request_id": request_id, "rule": "grammar"}
        try:
            fresh = self._audit.begin(
                request_id=request_id, source=self._source, user=user, channel=channel, command=audit_text(text),
                verb=None, scope=None, decision="usage", rule="grammar", reason=str(exc),
            )
        except StoreUnavailable as err:
            log.error("cluster audit unavailable: %s", err)
            fresh = True
        if not fresh:
            return Reply(kind="cluster", summary=f"Already handled (request {request_id}); not run twice.", meta={**meta, "duplicate": "true"})
        self._finish(request_id, "invalid", "usage", "usage", started)
        return Reply(
            kind="usage",
            summary=f"Can't run that: {exc}",
            exit_code=2,
            data={"allowed": False, "rule": "grammar", "reason": str(exc), "token": exc.token},
            meta=meta,
        )

    def _finish(self, request_id: str, verb: str, outcome: str, decision: str, started: float, *,
                rows: int | None = None, size: int | None = None, error: str | None = None) -> None:
        elapsed = time.monotonic() - started
        self.metrics.record(verb=verb if verb in VERBS else "invalid", decision=decision, seconds=elapsed)
        try:
            self._audit.finish(request_id, outcome=outcome, duration_ms=int(elapsed * 1000), result_rows=rows, result_bytes=size, error=error)
        except StoreUnavailable as exc:  # the intent stays and reads as 'unknown'
            log.error("cluster audit outcome not written for %s: %s", request_id, exc)
