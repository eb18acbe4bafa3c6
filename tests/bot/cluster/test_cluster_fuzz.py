"""Fuzzing the guard: any input is an allowed typed request or a usage error, never an exception,
and what the reader is asked for is exactly what was validated."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from cluster_support import RecordingReader
from hypothesis import HealthCheck, given, settings
from hypothesis import event as _event
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from bot.cluster.errors import ClusterError
from bot.cluster.executor import Executor
from bot.cluster.grammar import Request, UsageError, parse
from bot.cluster.policy import ChannelBinding, Policy, evaluate
from bot.cluster.resources import ALL_RESOURCES, RESOURCES
from bot.settings.cluster import ClusterLimits

NAMESPACES = ["default", "shop", "payments"]
POLICY = Policy(channels={"C0ALL": ChannelBinding(
    verbs=["get", "describe", "logs", "events", "top", "status", "diagnose"],
    namespaces=NAMESPACES, default_namespace="shop", all_namespaces=True)})
ALIASES = {"kgp": "get pods", "kl": "logs --tail 20", "kx": "exec web"}
NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)

WORDS = [
    "get", "describe", "logs", "log", "events", "top", "status", "diagnose", "help", "kubectl", "delete", "exec", "apply",
    "kgp", "kl", "kx", *ALL_RESOURCES, "po", "deploy", "sts", "svc", "ns", "no", "pvc", "hpa", "cm", "secret", "secrets",
    "secrets.v1.", "pod/web-1", "deploy/web", "sts/worker", "job/x", "svc/web", "Secrets", "serviceaccounts",
    "web-1", "web", "worker-0", "a.b", "Web", "-x-", "shop", "payments", "kube-system", "default",
    "-n", "-nshop", "-n=payments", "--namespace", "--namespace=shop", "-A", "--all-namespaces", "-l", "app=web",
    "-lapp=web", "--selector=tier!=db,!canary", "-c", "web", "--container=envoy", "--tail", "--tail=20", "20", "0",
    "201", "-1", "-p", "--previous", "--since", "--since=1h", "30m", "1d2h", "--for", "pod/web-1", "--for=deploy/web",
    "-o", "-oyaml", "--output=json", "--raw", "--token=x", "-s", "--server", "--as=admin", "-w", "-f", "--", "-",
    "--kubeconfig=/k", "--context=x", ";", "&&", "|", "$(id)", "`id`", "'pods'", "\"x\"", "ѕecrets", "ｇｅｔ", "－n", "—n",
    "\u200b", "\u202e", "{", "}", "*", "?", "=", ",", "/", "..", "app in (a)",
]
SEPARATORS = [" ", " ", " ", "  ", "\t", "\u00a0", "\n", "\u3000", ""]


@st.composite
def commands(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=0, max_size=9))
    out = ""
    for w in words:
        out += w + draw(st.sampled_from(SEPARATORS))
    return out


SPELLINGS = [n for r in RESOURCES.values() for n in (r.plural, r.singular, *r.short)]
OPTION_SNIPPETS = {
    "get": ["-n shop", "-npayments", "--namespace=default", "-n=shop", "-A", "--all-namespaces", "-l app=web", "-lapp=web,tier!=db", "--selector=!canary"],
    "describe": ["-n shop", "-A", "-l app=web", "--namespace payments"],
    "logs": ["-n shop", "-c web", "--container=envoy", "--tail 20", "--tail=200", "-p", "--previous", "--since 1h", "--since=90s"],
    "events": ["-n shop", "-A", "--since 30m", "--for pod/web-1", "--for=deploy/web", "--namespace=payments"],
    "top": ["-n shop", "-A", "--namespace=payments"],
    "status": ["-n shop", "-A", "-npayments"],
    "diagnose": ["-n shop", "--namespace=payments"],
    "help": [],
}


@st.composite
def structured(draw: st.DrawFn) -> str:
    """Mostly well-formed commands, so the allowed path is exercised often."""
    verb = draw(st.sampled_from(list(OPTION_SNIPPETS)))
    parts = [verb]
    name = st.sampled_from(["web-1", "web", "worker-0", "api-5f7b9c4d8-w8n3z", "node-a", "shop"])
    if verb in {"get", "describe"}:
        parts.append(draw(st.sampled_from(SPELLINGS)))
        if draw(st.booleans()):
            parts.append(draw(name))
    elif verb == "logs":
        parts.append(draw(st.one_of(name, st.sampled_from(["pod/web-1", "deploy/web", "sts/worker", "job/nightly"]))))
    elif verb == "top":
        parts.append(draw(st.sampled_from(["pods", "po", "nodes", "no"])))
    elif verb == "diagnose":
        parts += [*draw(st.sampled_from([["pod"], ["deploy"], ["sts"], []])), draw(name)]
    elif verb == "help" and draw(st.booleans()):
        parts.append(draw(st.sampled_from(list(OPTION_SNIPPETS))))
    parts += draw(st.lists(st.sampled_from(OPTION_SNIPPETS[verb] or ["-n shop"]), max_size=3))
    if draw(st.integers(0, 9)) == 0:  # sometimes one hostile token anywhere
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(WORDS)))
    return " ".join(parts)


def event(label: str) -> None:
    with contextlib.suppress(InvalidArgument):  # outside a hypothesis test
        _event(label)


def _namespaced(resource: str | None) -> bool:
    return bool(resource and RESOURCES[resource].namespaced)


def expected_first_calls(req: Request, namespaces: tuple[str, ...]) -> list[tuple[Any, ...]] | None:
    """What the reader must be asked first for this request (None: only the scope invariant is checked)."""
    if req.verb == "get":
        if not _namespaced(req.resource):
            return [("get", req.resource, None, req.name)] if req.name else [("list", req.resource, None, req.selector, None)]
        return [("get", req.resource, ns, req.name) if req.name else ("list", req.resource, ns, req.selector, None) for ns in namespaces]
    if req.verb == "events":
        field = None
        if req.for_resource:
            field = f"involvedObject.kind={RESOURCES[req.for_resource].kind},involvedObject.name={req.for_name}"
        return [("list", "events", ns, None, field) for ns in namespaces]
    if req.verb == "logs" and req.resource == "pods" and req.name:
        return [("get", "pods", namespaces[0], req.name),
                ("logs", namespaces[0], req.name, req.container or "main", req.tail, req.previous, req.since_seconds)]
    if req.verb == "top":
        return [("metrics", "pods", ns) for ns in namespaces] if req.resource == "pods" else [("metrics", "nodes", None)]
    return None


def check(text: str) -> None:
    try:
        req = parse(text, aliases=ALIASES)
    except UsageError as exc:
        assert str(exc) and "\n" not in str(exc)
        event("usage error")
        return
    assert isinstance(req, Request)
    assert parse(req.normalised()) == req, "the normalised form must parse back to the same request"
    assert all(ord(ch) < 128 for ch in req.normalised())
    decision = evaluate(POLICY, req, channel="C0ALL", user="U1")
    if not decision.allowed:
        assert decision.rule and decision.reason
        event("denied by policy")
        return
    event(f"allowed: {req.verb}")
    reader = RecordingReader()
    if req.verb != "help":
        # e.g. describe -l matching nothing raises NotFound; the calls made so far are still checked
        with contextlib.suppress(ClusterError):
            Executor(reader, limits=ClusterLimits()).run(req, decision, now=NOW)
    for call in reader.calls:
        if call[0] in {"list", "get"}:
            resource, ns = call[1], call[2]
            assert ns is None if not RESOURCES[resource].namespaced else ns in decision.namespaces, call
            assert resource != "secrets"
        elif call[0] == "logs":
            assert call[1] in decision.namespaces
            assert 1 <= call[4] <= 200
    expected = expected_first_calls(req, decision.namespaces)
    if expected is not None:
        assert reader.calls[: len(expected)] == expected


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(commands())
def test_grammar_inputs(text: str) -> None:
    check(text)


@FUZZ
@given(structured())
def test_structured_commands(text: str) -> None:
    check(text)


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_unicode(text: str) -> None:
    check(text)


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(structured(), commands(), st.text(max_size=600)))
def test_fuzz_twenty_thousand(text: str) -> None:
    check(text)


def test_known_good_commands_reach_the_reader_as_parsed() -> None:
    for text in ("get pods -n payments -l app=web", "logs web-1 -c web --tail 30 -p --since 1h -n shop",
                 "events -A --for deploy/web", "top pods -A", "get nodes node-a", "get deploy web"):
        check(text)
    assert parse("get pods -nshop") == parse("get po --namespace=shop") == parse("get pods -n=shop")
