"""Fuzzing at the HTTP boundary: what the real kubernetes client sends is exactly the validated request.

test_cluster_fuzz.py checks the calls the executor makes on the Reader interface; this one goes one
layer further down. Generated commands are parsed and checked by the policy, then run through the
executor and the real ``KubeReader`` (official client) against the fake kube-apiserver, and the
HTTP requests that arrive are compared with the typed request: method, path (resource, namespace,
name, subresource) and the query parameters that carry the request's fields (labelSelector,
fieldSelector, container, tailLines, previous, sinceSeconds, limit, limitBytes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_support import make_settings
from fakes.kube_apiserver import FakeKubeApiServer, Recorded
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.cluster.errors import ClusterError
from bot.cluster.executor import Executor
from bot.cluster.grammar import Request, UsageError, parse
from bot.cluster.policy import ChannelBinding, Decision, Policy, evaluate
from bot.cluster.reader import KubeReader
from bot.cluster.resources import RESOURCES

NAMESPACES = ["default", "shop", "payments"]
POLICY = Policy(channels={"C0ALL": ChannelBinding(
    verbs=["get", "describe", "logs", "events", "top", "status", "diagnose"],
    namespaces=NAMESPACES, default_namespace="shop", all_namespaces=True)})
NOW = dt.datetime.now(dt.UTC)

SPELLINGS = sorted({n for r in RESOURCES.values() for n in (r.plural, r.singular, *r.short)})
PODS = ["web-7c9d8f6b5-k2x9p", "web-7c9d8f6b5-m4q7r", "worker-0", "cart-6d5c7b9f4-r5h8j", "ledger-84f6d7c9b-h2k4d", "nope-1"]
NAMES = ["web", "api", "worker", "ledger", "web-config", "node-a", "shop", "nightly-report", "missing", *PODS[:2]]
NS_OPTS = ["-n shop", "-npayments", "--namespace=default", "-n=shop", "-A", "--all-namespaces", "-n kube-system"]
NAMESPACE_OPTIONS = {"get": NS_OPTS, "describe": NS_OPTS, "events": NS_OPTS, "top": NS_OPTS, "logs": ["-n shop", "-n payments"]}
OPTIONS = {
    "get": ["-l app=web", "-lapp=cart,tier!=db", "--selector=!canary", "-l app in (web)"],
    "describe": ["-l app=web", "-l app=cart"],
    "logs": ["-c web", "--container=envoy", "-c cart", "--tail 20", "--tail=200", "--tail 1",
             "-p", "--previous", "--since 1h", "--since=90s", "-l app=web"],
    "events": ["--since 30m", "--for pod/web-7c9d8f6b5-m4q7r", "--for=deploy/web", "--for sts/worker"],
    "top": [],
}


@st.composite
def commands(draw: st.DrawFn) -> str:
    verb = draw(st.sampled_from(list(OPTIONS)))
    parts = [verb]
    if verb in {"get", "describe"}:
        parts.append(draw(st.sampled_from(SPELLINGS)))
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(NAMES)))
    elif verb == "logs":
        parts.append(draw(st.one_of(st.sampled_from(PODS), st.sampled_from(["deploy/web", "sts/worker", "pod/worker-0"]))))
    elif verb == "top":
        parts.append(draw(st.sampled_from(["pods", "po", "nodes", "no"])))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(NAMESPACE_OPTIONS[verb])))
    if OPTIONS[verb]:
        parts += draw(st.lists(st.sampled_from(OPTIONS[verb]), max_size=2, unique=True))
    return " ".join(parts)


def base_path(resource: str) -> str:
    spec = RESOURCES[resource]
    return f"/apis/{spec.group}/{spec.version}" if spec.group else "/api/v1"


def object_path(resource: str, namespace: str | None, name: str | None = None) -> str:
    ns = f"/namespaces/{namespace}" if RESOURCES[resource].namespaced else ""
    return f"{base_path(resource)}{ns}/{resource}" + (f"/{name}" if name else "")


def one(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def check_list(r: Recorded, resource: str, namespace: str | None, *, selector: str | None, field: str | None) -> None:
    assert r.path == object_path(resource, namespace), (r.path, resource, namespace)
    assert one(r.query, "labelSelector") == selector
    assert one(r.query, "fieldSelector") == field
    assert one(r.query, "limit") == "500"


def check_get_or_list(arrived: list[Recorded], req: Request, decision: Decision) -> None:
    resource = str(req.resource)
    scopes: list[str | None] = list(decision.namespaces) if RESOURCES[resource].namespaced else [None]
    first = arrived[0]
    if req.name:
        assert first.path == object_path(resource, scopes[0], req.name)
        assert "labelSelector" not in first.query
        return
    for r, ns in zip(arrived, scopes, strict=False):  # one list per namespace, in order (small lists: one page)
        check_list(r, resource, ns, selector=req.selector, field=None)


def check_logs(arrived: list[Recorded], req: Request, decision: Decision) -> None:
    ns = decision.namespaces[0]
    if req.resource != "pods" or not req.name:
        first = arrived[0]
        if req.resource == "pods":  # by selector
            check_list(first, "pods", ns, selector=req.selector, field=None)
        else:  # a workload first, then its pods
            assert first.path == object_path(str(req.resource), ns, req.name)
        for r in arrived:
            if r.path.endswith("/log"):
                assert one(r.query, "tailLines") == str(req.tail)
        return
    assert arrived[0].path == object_path("pods", ns, req.name)
    if len(arrived) == 1:  # the pod does not exist: nothing else is asked
        return
    log = arrived[1]
    assert log.path == object_path("pods", ns, req.name) + "/log"
    assert one(log.query, "tailLines") == str(req.tail)
    assert one(log.query, "limitBytes") == "65536"
    assert one(log.query, "previous") == ("true" if req.previous else None)
    assert one(log.query, "sinceSeconds") == (str(req.since_seconds) if req.since_seconds else None)
    if req.container:
        assert one(log.query, "container") == req.container
    else:
        assert one(log.query, "container")  # the executor names the default container explicitly


def check_events(arrived: list[Recorded], req: Request, decision: Decision) -> None:
    field = None
    if req.for_resource:
        field = f"involvedObject.kind={RESOURCES[req.for_resource].kind},involvedObject.name={req.for_name}"
    assert len(arrived) == len(decision.namespaces)
    for r, ns in zip(arrived, decision.namespaces, strict=True):
        check_list(r, "events", ns, selector=None, field=field)


def check_top(arrived: list[Recorded], req: Request, decision: Decision) -> None:
    paths = [r.path for r in arrived]
    if paths[0] == "/apis":  # discovery (is metrics.k8s.io served?), cached by the reader for a while
        paths = paths[1:]
    if req.resource == "pods":
        assert paths == [f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods" for ns in decision.namespaces]
    else:
        assert paths == ["/apis/metrics.k8s.io/v1beta1/nodes"]


@pytest.fixture(scope="module")
def wired(shared_kube_api: FakeKubeApiServer, shared_kubeconfig: Path) -> Iterator[tuple[FakeKubeApiServer, Executor]]:
    reader = KubeReader(make_settings(shared_kubeconfig), sleep=lambda _: None)
    yield shared_kube_api, Executor(reader, limits=make_settings().limits)
    reader.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=commands())
def test_the_client_asks_for_exactly_the_validated_request(wired: tuple[FakeKubeApiServer, Executor], text: str) -> None:
    api, executor = wired
    try:
        req = parse(text)
    except UsageError:
        event("usage error")
        return
    decision = evaluate(POLICY, req, channel="C0ALL", user="U1")
    if not decision.allowed:
        event("denied")
        return
    before = len(api.requests)
    with contextlib.suppress(ClusterError):  # 404s and 400s from the fake are fine; what was asked still counts
        executor.run(req, decision, now=NOW)
    arrived = api.requests[before:]
    assert arrived, f"{text!r}: nothing reached the API server"
    for r in arrived:
        assert r.method == "GET", (text, r.method, r.path)
        assert "secrets" not in r.path and not r.query.get("watch")
        if "/namespaces/" in r.path:
            namespace = r.path.split("/namespaces/")[1].split("/")[0]
            # a namespaced read stays in the decided namespaces; reading a Namespace object, in the grant's
            allowed = decision.namespaces or (decision.grant.namespaces if decision.grant else ())
            assert namespace in allowed, (text, r.path)
    checks: dict[str, Any] = {"get": check_get_or_list, "describe": check_get_or_list, "logs": check_logs,
                              "events": check_events, "top": check_top}
    checks[req.verb](arrived, req, decision)
    event(f"checked: {req.verb}")
