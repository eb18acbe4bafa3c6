"""Least privilege, checked: SelfSubjectAccessReview for what firstmate needs and what it must never have.

Needed: every verb/resource pair the policy allows, in each bound namespace (cluster-scoped ones
cluster-wide). Must be denied: get/list/watch on Secrets, pods/exec, pods/attach, pods/portforward,
nodes/proxy, impersonate, and create/update/patch/delete on anything (each readable resource, Secrets,
RBAC objects, ``*``). If any of those is allowed, cluster commands stay off (users are told why)
unless ``cluster.allow_unsafe_credentials`` is set. Until a check completes, commands stay off too.

Example:
    >>> from bot.cluster.policy import ChannelBinding, Policy
    >>> p = Policy(channels={"C1": ChannelBinding(verbs=["get"], resources=["pods"], namespaces=["shop"])})
    >>> [c.label() for c in needed_checks(p)]
    ['get pods in shop', 'list pods in shop']
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.cluster.errors import ClusterError
from bot.cluster.models import AccessReview, Reader
from bot.cluster.policy import STATUS_RESOURCES, ChannelBinding, Policy
from bot.cluster.resources import ALL_RESOURCES, RESOURCES

WRITE_VERBS = ("create", "update", "patch", "delete")
_EXTRA_WRITE_TARGETS = (("", "secrets"), ("", "serviceaccounts"), ("rbac.authorization.k8s.io", "roles"),
                        ("rbac.authorization.k8s.io", "rolebindings"), ("*", "*"))
_CLUSTER_WRITE_TARGETS = (("rbac.authorization.k8s.io", "clusterroles"), ("rbac.authorization.k8s.io", "clusterrolebindings"), ("*", "*"))


def _bindings(policy: Policy) -> list[ChannelBinding]:
    return [*policy.channels.values(), *(b for b in (policy.unknown_channels, policy.direct_messages) if b is not None)]


def _api_needs(verb: str, resource: str) -> list[tuple[str, str, str]]:
    """(API verb, resource, subresource) pairs one policy verb on one resource needs."""
    if verb == "get":
        return [("get", resource, ""), ("list", resource, "")]
    if verb == "describe":
        return [("get", resource, ""), ("list", resource, "")]
    if verb == "logs" and resource == "pods":
        return [("get", "pods", "log"), ("get", "pods", ""), ("list", "pods", "")]
    if verb == "events" and resource == "events":
        return [("list", "events", "")]
    if verb == "diagnose" and resource == "pods":
        return [("get", "pods", ""), ("list", "pods", "")]
    if verb == "status" and resource in STATUS_RESOURCES:
        return [("list", resource, "")]
    return []


def needed_checks(policy: Policy) -> list[AccessReview]:
    """One review per (verb, resource, namespace) the policy can exercise."""
    seen: dict[tuple[str, str, str, str, str], AccessReview] = {}
    for binding in _bindings(policy):
        for verb in binding.verbs:
            if verb == "top":
                continue  # metrics.k8s.io may be absent; `top` reports that itself
            for resource in binding.resources:
                spec = RESOURCES[resource]
                scopes = binding.namespaces if spec.namespaced else [""]
                for api_verb, res, sub in _api_needs(verb, resource):
                    for ns in scopes:
                        key = (api_verb, spec.group, res, sub, ns)
                        seen.setdefault(key, AccessReview(verb=api_verb, resource=res, group=spec.group, subresource=sub, namespace=ns))
    return sorted(seen.values(), key=lambda c: (c.namespace, c.resource, c.subresource, c.verb))


def forbidden_checks(policy: Policy) -> list[AccessReview]:
    """Reviews that must all come back denied."""
    namespaces = sorted({ns for b in _bindings(policy) for ns in b.namespaces})
    out: list[AccessReview] = []
    for ns in ["", *namespaces]:
        out += [AccessReview(verb=v, resource="secrets", namespace=ns) for v in ("get", "list", "watch")]
        for sub in ("exec", "attach", "portforward"):
            out += [AccessReview(verb=v, resource="pods", subresource=sub, namespace=ns) for v in ("create", "get")]
        out.append(AccessReview(verb="create", resource="pods", subresource="eviction", namespace=ns))
        targets = [(RESOURCES[r].group, r) for r in ALL_RESOURCES if RESOURCES[r].namespaced] + list(_EXTRA_WRITE_TARGETS)
        if not ns:
            targets = [(RESOURCES[r].group, r) for r in ALL_RESOURCES if not RESOURCES[r].namespaced] + list(_CLUSTER_WRITE_TARGETS)
        out += [AccessReview(verb=v, resource=r, group=g, namespace=ns) for g, r in targets for v in WRITE_VERBS]
    out += [AccessReview(verb=v, resource="nodes", subresource="proxy") for v in ("get", "create")]
    out += [AccessReview(verb="impersonate", resource=r) for r in ("users", "groups", "serviceaccounts", "uids")]
    return out


@dataclass(frozen=True)
class SelfCheckReport:
    """The outcome of one self-check run."""

    completed: bool
    needed: tuple[AccessReview, ...] = ()
    forbidden: tuple[AccessReview, ...] = ()
    error: str | None = None
    at: float = 0.0

    @property
    def missing(self) -> tuple[AccessReview, ...]:
        """Permissions the policy needs that the credentials lack (those commands will fail with 403)."""
        return tuple(c for c in self.needed if not c.allowed)

    @property
    def dangerous(self) -> tuple[AccessReview, ...]:
        """Permissions the credentials must not have but do."""
        return tuple(c for c in self.forbidden if c.allowed)

    @property
    def safe(self) -> bool:
        """Completed, and nothing dangerous is allowed."""
        return self.completed and not self.dangerous

    def reason(self) -> str:
        """One line for users and logs."""
        if not self.completed:
            return f"cannot reach the cluster to verify that firstmate's credentials are read-only: {self.error}"
        if self.dangerous:
            kinds = []
            if any(c.resource == "secrets" and c.verb in {"get", "list", "watch"} for c in self.dangerous):
                kinds.append("read Secrets")
            if any(c.verb in WRITE_VERBS for c in self.dangerous):
                kinds.append("write")
            if any(c.subresource in {"exec", "attach", "portforward", "proxy"} for c in self.dangerous):
                kinds.append("exec/attach/port-forward/proxy")
            if any(c.verb == "impersonate" for c in self.dangerous):
                kinds.append("impersonate")
            first = ", ".join(c.label() for c in self.dangerous[:3])
            return f"firstmate's cluster credentials can {' and '.join(kinds)} ({len(self.dangerous)} checks, e.g. {first})"
        if self.missing:
            return f"credentials are read-only; {len(self.missing)} permissions the policy uses are missing (e.g. {self.missing[0].label()})"
        return f"credentials are read-only and cover the policy ({len(self.needed)} needed, {len(self.forbidden)} forbidden checks)"


def run_self_check(reader: Reader, policy: Policy, *, workers: int = 4, clock: Callable[[], float] = time.time) -> SelfCheckReport:
    """Ask the API server about every needed and forbidden permission."""
    needed, forbidden = needed_checks(policy), forbidden_checks(policy)

    def batch(checks: Iterable[AccessReview]) -> tuple[AccessReview, ...]:
        return reader.review(list(checks))

    try:
        chunks = [needed[i : i + 25] for i in range(0, len(needed), 25)] + [forbidden[i : i + 25] for i in range(0, len(forbidden), 25)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            answers = [a for part in pool.map(batch, chunks) for a in part]
    except ClusterError as exc:
        return SelfCheckReport(completed=False, error=str(exc), at=clock())
    return SelfCheckReport(True, tuple(answers[: len(needed)]), tuple(answers[len(needed) :]), at=clock())


@dataclass(frozen=True)
class Blocked:
    """Why cluster commands are off: ``unsafe`` credentials (a denial) or an unverified cluster (an error)."""

    reason: str
    unsafe: bool

    @property
    def decision(self) -> str:
        """How the audit and the reply count it: unsafe credentials deny (3), an unverified cluster errs (4)."""
        return "denied" if self.unsafe else "error"


class SelfCheckGate:
    """Keeps the last report; cluster commands pass only when it is safe (or the override is set).

    Example:
        >>> from bot.cluster.policy import Policy
        >>> class Down:
        ...     def review(self, checks):
        ...         raise ClusterError("the API server unreachable")
        >>> SelfCheckGate(Down(), Policy(), override=False, retry_s=60).check().unsafe  # type: ignore[arg-type]
        False
    """

    def __init__(self, reader: Reader, policy: Policy, *, override: bool, retry_s: float, recheck_s: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._reader, self._policy, self._override = reader, policy, override
        self._retry, self._recheck, self._clock = retry_s, recheck_s, clock
        self._report: SelfCheckReport | None = None
        self._lock = threading.Lock()

    @property
    def report(self) -> SelfCheckReport | None:
        """The last report, if any."""
        return self._report

    def run(self) -> SelfCheckReport:
        """Run the self-check now (one at a time: a command arriving meanwhile waits for this answer)."""
        with self._lock:
            return self._run_locked()

    def _run_locked(self) -> SelfCheckReport:
        report = run_self_check(self._reader, self._policy, clock=self._clock)
        self._report = report
        return report

    def check(self) -> Blocked | None:
        """None when cluster commands may run; otherwise why they are off."""
        with self._lock:
            report, now = self._report, self._clock()
            stale = report is None or (not report.completed and now - report.at >= self._retry) or now - report.at >= self._recheck
            if stale:
                report = self._run_locked()
        assert report is not None
        if report.safe or (report.completed and self._override):
            return None
        if not report.completed:
            return Blocked(report.reason(), unsafe=False)
        return Blocked(f"cluster commands are off: {report.reason()}. Fix firstmate's RBAC (see README, cluster)", unsafe=True)
