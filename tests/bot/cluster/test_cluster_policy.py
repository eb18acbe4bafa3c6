"""Policy: bindings as ceilings, user/group grants, defaults, DMs, config validation, rate limits; grammar basics."""

from __future__ import annotations

import pytest
from cluster_support import PAY, SHOP, make_policy
from pydantic import ValidationError

from bot.cluster.grammar import UsageError, parse
from bot.cluster.policy import ChannelBinding, Grant, Policy, RateLimit, RateLimiter, RateLimits, evaluate
from bot.settings.cluster import ClusterSettings


def decide(text: str, channel: str = SHOP, user: str = "U0ALICE") -> tuple[bool, str, tuple[str, ...]]:
    d = evaluate(make_policy(), parse(text, aliases={"kd": "describe pods"}), channel=channel, user=user)
    return d.allowed, d.rule, d.namespaces


def test_defaults_and_namespaces() -> None:
    assert decide("get pods") == (True, "channels.C0SHOP.everyone", ("shop",))
    assert decide("get pods -A") == (True, "channels.C0SHOP.everyone", ("payments", "shop"))
    assert decide("status") == (True, "channels.C0SHOP.everyone", ("payments", "shop"))
    assert decide("get nodes")[0:2] == (True, "channels.C0SHOP.everyone")
    assert decide("get pods -n kube-system")[:2] == (False, "channels.C0SHOP.namespaces")


def test_users_and_groups_narrow_or_widen_within_the_channel() -> None:
    assert decide("get pods", user="U0NARROW") == (True, "channels.C0SHOP.users.U0NARROW", ("shop",))
    assert decide("get pods -n payments", user="U0NARROW")[:2] == (False, "channels.C0SHOP.users.U0NARROW.namespaces")
    assert decide("kd web", user="U0NARROW")[:2] == (False, "channels.C0SHOP.users.U0NARROW.verbs")
    assert decide("kd web", user="U0ONCALL")[:2] == (True, "channels.C0SHOP.groups.oncall")
    widened = Policy(channels={"C1": ChannelBinding(namespaces=["a", "b"], default_namespace="a",
                                                    everyone=Grant(verbs=["get"], namespaces=["a"]),
                                                    users={"U2": Grant(verbs=["get", "logs"], namespaces=["a", "b"])})})
    assert not evaluate(widened, parse("logs x"), channel="C1", user="U1").allowed
    assert evaluate(widened, parse("logs x -n b"), channel="C1", user="U2").allowed


def test_unknown_channels_and_dms_are_denied_by_default_but_configurable() -> None:
    assert decide("get pods", channel="D0DM")[:2] == (False, "direct_messages")
    assert decide("get pods", channel="C0OTHER")[:2] == (False, "unknown_channels")
    policy = Policy(direct_messages=ChannelBinding(verbs=["status"], namespaces=["shop"]))
    assert evaluate(policy, parse("status"), channel="D0DM", user="U1").allowed
    assert not evaluate(policy, parse("get pods -n shop"), channel="D0DM", user="U1").allowed


def test_help_is_always_allowed() -> None:
    assert decide("help", channel="C0OTHER")[0]


@pytest.mark.parametrize("bad", [
    {"channels": {"C1": {"namespaces": ["a"], "default_namespace": "b"}}},
    {"channels": {"C1": {"namespaces": ["a"], "users": {"U1": {"namespaces": ["a", "b"]}}}}},
    {"channels": {"C1": {"namespaces": ["a"], "everyone": {"verbs": ["get", "delete"]}}}},
    {"channels": {"C1": {"namespaces": ["*"]}}},
    {"channels": {"C1": {"resources": ["secrets"]}}},
    {"channels": {"C1": {"verbs": ["exec"]}}},
    {"channels": {"C1": {"namespaces": ["a"], "groups": {"g": {"all_namespaces": True}}}}},
    {"channels": {"bad channel!": {}}},
])
def test_invalid_policies_fail_at_load(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ClusterSettings(policy=bad)  # type: ignore[arg-type]


def test_aliases_are_checked_at_load_and_at_run_time() -> None:
    with pytest.raises(ValidationError, match="not one of firstmate's read commands"):
        ClusterSettings(aliases={"kdel": "delete pods"})
    with pytest.raises(UsageError, match="never changes"):
        parse("kdel web", aliases={"kdel": "delete pods"})
    assert parse("kgp -n shop", aliases={"kgp": "get pods"}).normalised() == "get pods -n shop"


def test_rate_limits_per_user_and_channel() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimits(per_user=RateLimit(requests=2, per_seconds=10), per_channel=RateLimit(requests=3, per_seconds=10)),
                          clock=lambda: now[0])
    assert limiter.check(user="U1", channel="C1") is None
    assert limiter.check(user="U1", channel="C1") is None
    denied = limiter.check(user="U1", channel="C1")
    assert denied is not None and denied.rule == "rate_limits.per_user"
    assert limiter.check(user="U2", channel="C1") is None
    assert limiter.check(user="U3", channel="C1").rule == "rate_limits.per_channel"  # type: ignore[union-attr]
    now[0] = 11
    assert limiter.check(user="U1", channel="C1") is None


def test_pay_channel_is_narrow() -> None:
    assert decide("get pods", channel=PAY) == (True, "channels.C0PAY", ("payments",))
    assert decide("logs x", channel=PAY)[:2] == (False, "channels.C0PAY.verbs")
