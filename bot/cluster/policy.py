"""Who may read what, where: per-channel bindings, per-user/group grants inside them, rate limits.

The policy lives in the settings YAML (``cluster.policy``) and is validated once by pydantic.
A channel binding is the ceiling; ``everyone``, ``users`` and ``groups`` grant a subset of it.
Unknown channels and DMs are denied unless a binding is configured for them. Every denial names
the rule that denied it, e.g. ``channels.C0SHOP.namespaces``.

Example:
    >>> from bot.cluster.grammar import parse
    >>> policy = Policy(channels={"C0SHOP": ChannelBinding(namespaces=["shop"], default_namespace="shop")})
    >>> evaluate(policy, parse("get pods"), channel="C0SHOP", user="U1").namespaces
    ('shop',)
    >>> evaluate(policy, parse("get pods -n kube-system"), channel="C0SHOP", user="U1").rule
    'channels.C0SHOP.namespaces'
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.cluster.grammar import READ_VERBS, Request
from bot.cluster.resources import ALL_RESOURCES, RESOURCES, lookup

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_NS = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DEFAULT_VERBS = ("get", "describe", "logs", "events", "top", "status", "diagnose")
# What `status` reads; sections whose resource the grant lacks are left out with a note.
STATUS_RESOURCES = ("nodes", "pods", "deployments", "statefulsets", "daemonsets", "events")


def _verbs(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    bad = [v for v in values if v not in READ_VERBS]
    if bad:
        raise ValueError(f"unknown verb(s) {bad}; firstmate only reads: {sorted(READ_VERBS)}")
    return sorted(set(values) - {"help"})


def _resources(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out = []
    for value in values:
        found = lookup(value)
        if found is None:
            raise ValueError(f"resource '{value}' cannot be granted; readable resources: {list(ALL_RESOURCES)}")
        out.append(found.plural)
    return sorted(set(out))


def _namespaces(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    for value in values:
        if not _NS.match(value):
            raise ValueError(f"'{value}' is not a namespace name (wildcards are not allowed: list namespaces explicitly)")
    return sorted(set(values))


class Grant(BaseModel):
    """A subset of a channel's limits for everyone, one user or one group; unset fields inherit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verbs: list[str] | None = None
    resources: list[str] | None = None
    namespaces: list[str] | None = None
    all_namespaces: bool | None = None

    _v = field_validator("verbs")(classmethod(lambda cls, v: _verbs(v)))
    _r = field_validator("resources")(classmethod(lambda cls, v: _resources(v)))
    _n = field_validator("namespaces")(classmethod(lambda cls, v: _namespaces(v)))


class ChannelBinding(BaseModel):
    """What a channel may read at most, its default namespace, and who gets which part of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    verbs: list[str] = Field(default_factory=lambda: list(DEFAULT_VERBS))
    resources: list[str] = Field(default_factory=lambda: list(ALL_RESOURCES))
    namespaces: list[str] = Field(default_factory=list, description="Explicit list; no wildcards.")
    default_namespace: str | None = None
    all_namespaces: bool = Field(default=False, description="Whether -A (all of this binding's namespaces) is allowed.")
    everyone: Grant | None = None
    users: dict[str, Grant] = Field(default_factory=dict)
    groups: dict[str, Grant] = Field(default_factory=dict)

    _v = field_validator("verbs")(classmethod(lambda cls, v: _verbs(v)))
    _r = field_validator("resources")(classmethod(lambda cls, v: _resources(v)))
    _n = field_validator("namespaces")(classmethod(lambda cls, v: _namespaces(v)))

    @model_validator(mode="after")
    def _within_limits(self) -> ChannelBinding:
        if self.default_namespace is not None and self.default_namespace not in self.namespaces:
            raise ValueError(f"default_namespace '{self.default_namespace}' is not in namespaces {self.namespaces}")
        subjects = [("everyone", self.everyone)] if self.everyone else []
        subjects += [(f"users.{k}", g) for k, g in self.users.items()]
        subjects += [(f"groups.{k}", g) for k, g in self.groups.items()]
        for where, grant in subjects:
            for attr in ("verbs", "resources", "namespaces"):
                extra = set(getattr(grant, attr) or ()) - set(getattr(self, attr))
                if extra:
                    raise ValueError(f"{where}.{attr} goes beyond the channel's limits: {sorted(extra)}")
            if grant.all_namespaces and not self.all_namespaces:
                raise ValueError(f"{where}.all_namespaces goes beyond the channel's limits")
        return self


class RateLimit(BaseModel):
    """At most ``requests`` commands per ``per_seconds`` window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(default=20, ge=1)
    per_seconds: float = Field(default=60.0, gt=0)


class RateLimits(BaseModel):
    """Rate limits per Slack user and per channel (per process)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_user: RateLimit = Field(default_factory=lambda: RateLimit(requests=20, per_seconds=60))
    per_channel: RateLimit = Field(default_factory=lambda: RateLimit(requests=60, per_seconds=60))


def _default_channels() -> dict[str, ChannelBinding]:
    return {
        "cli": ChannelBinding(
            description="The `firstmate kube` CLI and the local console: read-only, namespace 'default' only.",
            namespaces=["default"],
            default_namespace="default",
        )
    }


class Policy(BaseModel):
    """The whole cluster-command policy (``cluster.policy`` in the settings YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[str, ChannelBinding] = Field(default_factory=_default_channels)
    unknown_channels: ChannelBinding | None = Field(default=None, description="Binding for unlisted channels; none = deny.")
    direct_messages: ChannelBinding | None = Field(default=None, description="Binding for DMs (D…); none = deny.")
    groups: dict[str, list[str]] = Field(default_factory=dict, description="Group id -> member user ids.")
    rate_limits: RateLimits = Field(default_factory=RateLimits)

    @field_validator("channels", "groups")
    @classmethod
    def _ids(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            if not _ID.match(key):
                raise ValueError(f"'{key}' is not a channel/group id (letters, digits, '_', '-', '.')")
        return value


@dataclass(frozen=True)
class Effective:
    """The grant a user has in a channel, after inheritance."""

    rule: str
    verbs: frozenset[str]
    resources: frozenset[str]
    namespaces: tuple[str, ...]
    all_namespaces: bool
    default_namespace: str | None
    origin: tuple[tuple[str, str], ...] = ()

    def rule_for(self, attr: str) -> str:
        """The rule that set ``attr`` (the channel, everyone, a user or a group), e.g. ``channels.C1.users.U1.verbs``."""
        return f"{dict(self.origin).get(attr, self.rule)}.{attr}"


@dataclass(frozen=True)
class Decision:
    """Allowed (with the namespaces to read) or denied (with the rule and a one-line reason)."""

    allowed: bool
    rule: str
    reason: str
    namespaces: tuple[str, ...] = ()
    grant: Effective | None = None

    def to_json(self) -> dict[str, object]:
        """The shape `firstmate kube --json` prints for a denial."""
        return {"allowed": self.allowed, "rule": self.rule, "reason": self.reason}


def _merge(base: Effective, grant: Grant, rule: str) -> Effective:
    origin = dict(base.origin)
    for attr in ("verbs", "resources", "namespaces", "all_namespaces"):
        if getattr(grant, attr) is not None:
            origin[attr] = rule
    return Effective(
        rule=rule,
        verbs=frozenset(grant.verbs) if grant.verbs is not None else base.verbs,
        resources=frozenset(grant.resources) if grant.resources is not None else base.resources,
        namespaces=tuple(grant.namespaces) if grant.namespaces is not None else base.namespaces,
        all_namespaces=grant.all_namespaces if grant.all_namespaces is not None else base.all_namespaces,
        default_namespace=base.default_namespace,
        origin=tuple(sorted(origin.items())),
    )


def binding_for(policy: Policy, channel: str) -> tuple[str, ChannelBinding | None]:
    """The binding that applies to ``channel`` and the rule name that selected it."""
    if channel in policy.channels:
        return f"channels.{channel}", policy.channels[channel]
    if channel.startswith("D"):
        return "direct_messages", policy.direct_messages
    return "unknown_channels", policy.unknown_channels


def effective(policy: Policy, *, channel: str, user: str, groups: Iterable[str] = ()) -> Effective | None:
    """The user's grant in the channel, or None when the channel has no binding."""
    rule, binding = binding_for(policy, channel)
    if binding is None:
        return None
    ceiling = Effective(
        rule=rule,
        verbs=frozenset(binding.verbs),
        resources=frozenset(binding.resources),
        namespaces=tuple(binding.namespaces),
        all_namespaces=binding.all_namespaces,
        default_namespace=binding.default_namespace,
        origin=tuple((a, rule) for a in ("all_namespaces", "namespaces", "resources", "verbs")),
    )
    base = _merge(ceiling, binding.everyone, f"{rule}.everyone") if binding.everyone else ceiling
    if user in binding.users:
        return _merge(base, binding.users[user], f"{rule}.users.{user}")
    member_of = set(groups) | {g for g, members in policy.groups.items() if user in members}
    matched = [(g, binding.groups[g]) for g in sorted(member_of) if g in binding.groups]
    if not matched:
        return base
    merged = [_merge(base, grant, f"{rule}.groups.{g}") for g, grant in matched]
    if len(merged) == 1:
        return merged[0]
    combined = f"{rule}.groups.{'+'.join(g for g, _ in matched)}"
    return Effective(
        rule=combined,
        verbs=frozenset().union(*(m.verbs for m in merged)),
        resources=frozenset().union(*(m.resources for m in merged)),
        namespaces=tuple(sorted(set().union(*(m.namespaces for m in merged)))),
        all_namespaces=any(m.all_namespaces for m in merged),
        default_namespace=base.default_namespace,
        origin=tuple((a, combined) for a in ("verbs", "resources", "namespaces", "all_namespaces")),
    )


def resources_read(request: Request) -> tuple[str, ...]:
    """Every resource type a request reads (for the policy check)."""
    if request.verb in {"help", "status"}:
        return ()
    if request.verb == "events":
        return ("events",) + ((request.for_resource,) if request.for_resource else ())
    if request.verb == "logs":
        return ("pods",) if request.resource in (None, "pods") else ("pods", str(request.resource))
    if request.verb == "diagnose":
        return ("pods",) if request.resource == "pods" else ("pods", str(request.resource))
    return (str(request.resource),)


def _deny(rule: str, reason: str) -> Decision:
    return Decision(allowed=False, rule=rule, reason=reason)


def _namespaced(request: Request) -> bool:
    if request.verb in {"status", "events", "logs", "diagnose"}:
        return True
    spec = RESOURCES.get(request.resource or "")
    return bool(spec and spec.namespaced)


def evaluate(policy: Policy, request: Request, *, channel: str, user: str, groups: Iterable[str] = ()) -> Decision:
    """Allow or deny one parsed request for one user in one channel."""
    if request.verb == "help":
        grant = effective(policy, channel=channel, user=user, groups=groups)
        return Decision(allowed=True, rule="help", reason="help is always available", grant=grant)
    grant = effective(policy, channel=channel, user=user, groups=groups)
    if grant is None:
        rule, _ = binding_for(policy, channel)
        where = "direct messages" if rule == "direct_messages" else f"channel {channel}"
        return _deny(rule, f"cluster commands are not enabled in {where}")
    if request.verb not in grant.verbs:
        allowed = ", ".join(sorted(grant.verbs)) or "none"
        return _deny(grant.rule_for("verbs"), f"'{request.verb}' is not allowed here (allowed: {allowed})")
    for resource in resources_read(request):
        if resource not in grant.resources:
            return _deny(grant.rule_for("resources"), f"reading {resource} is not allowed here")
    allowed_ns = ", ".join(grant.namespaces) or "none"
    if request.resource == "namespaces" and request.name and request.name not in grant.namespaces:
        # A Namespace object is cluster-scoped, but reading one is still reading that namespace.
        return _deny(grant.rule_for("namespaces"), f"namespace '{request.name}' is not allowed here (allowed: {allowed_ns})")
    if not _namespaced(request):
        return Decision(allowed=True, rule=grant.rule, reason="allowed", grant=grant)
    if request.all_namespaces:
        if not grant.all_namespaces:
            return _deny(grant.rule_for("all_namespaces"), f"-A is not allowed here; use -n with one of: {allowed_ns}")
        return Decision(allowed=True, rule=grant.rule, reason="allowed", namespaces=grant.namespaces, grant=grant)
    if request.namespace is not None:
        if request.namespace not in grant.namespaces:
            return _deny(
                grant.rule_for("namespaces"), f"namespace '{request.namespace}' is not allowed here (allowed: {allowed_ns})"
            )
        return Decision(allowed=True, rule=grant.rule, reason="allowed", namespaces=(request.namespace,), grant=grant)
    if request.verb == "status":
        if not grant.namespaces:
            return _deny(grant.rule_for("namespaces"), "no namespaces are allowed here")
        return Decision(allowed=True, rule=grant.rule, reason="allowed", namespaces=grant.namespaces, grant=grant)
    default = grant.default_namespace if grant.default_namespace in grant.namespaces else None
    if default is None and len(grant.namespaces) == 1:
        default = grant.namespaces[0]
    if default is None:
        return _deny(grant.rule_for("namespaces"), f"no default namespace here; add -n (one of: {allowed_ns})")
    return Decision(allowed=True, rule=grant.rule, reason="allowed", namespaces=(default,), grant=grant)


class RateLimiter:
    """Sliding-window limits per user and per channel, in this process.

    Example:
        >>> rl = RateLimiter(RateLimits(per_user=RateLimit(requests=1, per_seconds=60)), clock=lambda: 0.0)
        >>> rl.check(user="U1", channel="C1") is None, rl.check(user="U1", channel="C1") is not None
        (True, True)
    """

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, *, user: str, channel: str) -> Decision | None:
        """None when allowed (and counted); a denial naming the limit otherwise."""
        now = self._clock()
        keys = (("per_user", user, self._limits.per_user), ("per_channel", channel, self._limits.per_channel))
        with self._lock:
            for scope, who, limit in keys:
                window = self._hits.setdefault((scope, who), deque())
                while window and window[0] <= now - limit.per_seconds:
                    window.popleft()
                if len(window) >= limit.requests:
                    wait = max(1, int(window[0] + limit.per_seconds - now + 0.999))
                    what = "you have" if scope == "per_user" else "this channel has"
                    return _deny(
                        f"rate_limits.{scope}",
                        f"{what} used {limit.requests} commands in {limit.per_seconds:g}s; try again in {wait}s",
                    )
            for scope, who, _ in keys:
                self._hits[(scope, who)].append(now)
        return None
