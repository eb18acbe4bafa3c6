"""The cluster digest against the fake kube-apiserver, through the real kubernetes client.

It shows `status` facts for the channel's namespaces only, links each failure signature to a
corpus Q&A (the real Searcher, hash embedder), and on the next digest says what changed.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from digest_helpers import MemoryPoster
from fakes.kube_apiserver import CLUSTER_ADMIN, FakeKubeApiServer

from bot.cluster.policy import ChannelBinding, Policy
from bot.digest.clock import ManualClock
from bot.digest.cluster import ClusterDigestBuilder
from bot.digest.cluster_state import KubeClusterSource
from bot.digest.runner import DigestRunner
from bot.settings.cluster import ClusterSettings
from bot.settings.digest import DigestSchedule, DigestSettings
from bot.store.db import Database
from bot.store.outbox import OutboxStore

OPS = "C0OPS0001"
POLICY = Policy(
    channels={
        OPS: ChannelBinding(namespaces=["shop", "payments"]),
        "C0NOKUBE1": ChannelBinding(namespaces=[], resources=["pods"]),
    }
)


@pytest.fixture
def kube() -> Iterator[FakeKubeApiServer]:
    with FakeKubeApiServer() as api:
        yield api


def cluster_runner(
    kube: FakeKubeApiServer,
    tmp_path: Path,
    db: Database,
    searcher: Any,
    clock: ManualClock,
    poster: MemoryPoster,
    *,
    allow_unsafe_credentials: bool = False,
) -> DigestRunner:
    settings = ClusterSettings(
        kubeconfig=kube.write_kubeconfig(tmp_path / "kubeconfig"),
        policy=POLICY,
        limits={"backoff_s": 0.0, "backoff_max_s": 0.0},
        allow_unsafe_credentials=allow_unsafe_credentials,
    )
    builder = ClusterDigestBuilder(
        source=KubeClusterSource.from_settings(settings), policy=POLICY, searcher=searcher
    )
    return DigestRunner(
        outbox=OutboxStore(db),
        poster=poster,
        builders={"cluster": builder},
        clock=clock,
        settings=DigestSettings(),
    )


def schedule(channel: str = OPS) -> DigestSchedule:
    return DigestSchedule(kind="cluster", channel=channel, cron="0 9 * * *", timezone="Asia/Shanghai")


def pod(kube: FakeKubeApiServer, ns: str, name: str) -> dict[str, Any]:
    return next(p for p in kube.namespaced["pods"][ns] if p["metadata"]["name"] == name)


def test_first_digest_shows_status_facts_with_cited_qas(
    kube: FakeKubeApiServer, tmp_path: Path, sqlite_db: Database, hash_searcher: Any
) -> None:
    clock = ManualClock(kube.now)
    poster = MemoryPoster()
    runner = cluster_runner(kube, tmp_path, sqlite_db, hash_searcher, clock, poster)
    outcome = runner.run(schedule())
    assert outcome.status == "posted"
    reply = poster.messages[0].reply
    text = reply.to_text()
    assert "nodes 3/4 ready" in reply.summary and "4 pods not running" in reply.summary
    assert "node-c: NotReady" in text
    node_line = next(line for line in text.splitlines() if line.startswith("• node-c: NotReady"))
    assert node_line.endswith("]")  # the NotReady node links its corpus Q&A too
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", text.split("Related community Q&A:")[0])}
    assert cited == set(range(1, len(reply.related) + 1))  # every related Q&A is referenced in the body
    for reason, pod_name in [  # the same groups as `status`
        ("CrashLoopBackOff", "shop/web-7c9d8f6b5-m4q7r"),
        ("ImagePullBackOff/ErrImagePull", "shop/api-5f7b9c4d8-w8n3z"),
        ("Pending/Unschedulable", "shop/worker-1"),
        ("Evicted", "shop/cart-6d5c7b9f4-p9t2v"),
    ]:
        assert pod_name in text
        heading = next(line for line in text.splitlines() if line.startswith(f"{reason} ("))
        assert "[" in heading  # the signature links a corpus Q&A
    assert "last exit 137 OOMKilled, limit 256Mi" in text  # diagnose's one-line signature
    body = text.split("Related community Q&A:")[0]
    first_seen = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", body)))
    assert first_seen == sorted(first_seen)  # citations numbered in the order they appear
    assert "shop/deployments/web: 1/2 ready" in text
    assert "BackOff ×64" in text  # Warning events counted by reason
    assert "kube-system" not in text and "coredns" not in text  # outside the channel's namespaces
    assert reply.related and all(hit.session.title and hit.session.date for hit in reply.related)
    assert "Related community Q&A:" in text
    assert "First cluster digest for this channel" in text
    assert "GET" in kube.methods() and kube.changes_requested() == []  # the digest only ever reads
    # The knowledge digest's "From the archive" can fall back on the most frequent failure seen here.
    builder = runner.builders["cluster"]
    assert isinstance(builder, ClusterDigestBuilder)
    hint = builder.most_frequent_failure(OutboxStore(sqlite_db))
    assert hint is not None and hint[0] in {
        "CrashLoopBackOff",
        "ImagePullBackOff/ErrImagePull",
        "Pending/Unschedulable",
        "Evicted",
    }
    assert hint[1]  # with its corpus query


def test_second_digest_says_what_changed(
    kube: FakeKubeApiServer, tmp_path: Path, sqlite_db: Database, hash_searcher: Any
) -> None:
    clock = ManualClock(kube.now)
    poster = MemoryPoster()
    runner = cluster_runner(kube, tmp_path, sqlite_db, hash_searcher, clock, poster)
    assert runner.run(schedule()).status == "posted"

    # Overnight: web recovers, worker-0 restarts three more times, ledger starts crash-looping,
    # node-c is removed, node-d joins, node-b goes NotReady.
    web = pod(kube, "shop", "web-7c9d8f6b5-m4q7r")
    web["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": "2025-06-01T12:00:00Z"}}
    web["status"]["containerStatuses"][0]["ready"] = True
    pod(kube, "shop", "worker-0")["status"]["containerStatuses"][0]["restartCount"] = 4
    ledger = pod(kube, "payments", "ledger-84f6d7c9b-q8w1e")["status"]["containerStatuses"][0]
    ledger.update(
        restartCount=5,
        ready=False,
        state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={"terminated": {"reason": "Error", "exitCode": 1}},
    )
    nodes = kube.cluster["nodes"]
    node_c = next(n for n in nodes if n["metadata"]["name"] == "node-c")
    node_d = copy.deepcopy(next(n for n in nodes if n["metadata"]["name"] == "node-a"))
    node_d["metadata"]["name"] = "node-d"
    nodes.remove(node_c)
    nodes.append(node_d)
    node_b = next(n for n in nodes if n["metadata"]["name"] == "node-b")
    for cond in node_b["status"]["conditions"]:
        if cond["type"] == "Ready":
            cond.update(status="False", reason="KubeletNotReady", message="PLEG is not healthy")

    clock.advance(dt.timedelta(days=1))
    outcome = runner.run(schedule())
    assert outcome.status == "posted"
    text = poster.messages[1].reply.to_text()
    changed = text.split("Since the last digest", 1)[1].split("\n\n", 1)[0]
    assert "newly failing: payments/ledger-84f6d7c9b-q8w1e (CrashLoopBackOff)" in changed
    assert "recovered: shop/web-7c9d8f6b5-m4q7r" in changed
    assert "restarts 1 → 4: shop/worker-0/worker" in changed
    assert "restarts 0 → 5: payments/ledger-84f6d7c9b-q8w1e/ledger" in changed
    assert "node appeared: node-d" in changed
    assert "node disappeared: node-c" in changed
    assert "node became NotReady: node-b" in changed
    assert "First cluster digest" not in text
    snap = OutboxStore(sqlite_db).snapshot("cluster", OPS)
    assert snap is not None and snap.digest_id == outcome.digest_id  # the baseline for the next one


def test_unchanged_cluster_says_no_change_and_healthy_namespace_is_all_quiet(
    kube: FakeKubeApiServer, tmp_path: Path, sqlite_db: Database, hash_searcher: Any
) -> None:
    quiet_policy = Policy(
        channels={
            "C0PAY0001": ChannelBinding(namespaces=["payments"], resources=["pods", "deployments", "events"])
        }
    )
    settings = ClusterSettings(kubeconfig=kube.write_kubeconfig(tmp_path / "kubeconfig"), policy=quiet_policy)
    builder = ClusterDigestBuilder(
        source=KubeClusterSource.from_settings(settings), policy=quiet_policy, searcher=hash_searcher
    )
    poster = MemoryPoster()
    clock = ManualClock(kube.now)
    runner = DigestRunner(
        outbox=OutboxStore(sqlite_db),
        poster=poster,
        builders={"cluster": builder},
        clock=clock,
        settings=DigestSettings(all_quiet="post"),
    )
    outcome = runner.run(schedule("C0PAY0001"))
    assert outcome.status == "posted"
    reply = poster.messages[0].reply
    assert "all quiet" in reply.summary and "payments" in reply.summary
    assert "nodes" not in reply.summary  # this channel may not read nodes
    assert len(reply.to_text().splitlines()) <= 8  # short


def test_channel_without_cluster_policy_gets_a_clear_error(
    kube: FakeKubeApiServer, tmp_path: Path, sqlite_db: Database
) -> None:
    poster = MemoryPoster()
    runner = cluster_runner(kube, tmp_path, sqlite_db, None, ManualClock(kube.now), poster)
    outcome = runner.run(schedule("C0UNBOUND"))
    assert outcome.status == "failed"
    assert "no cluster policy binding" in outcome.reason and "C0UNBOUND" in outcome.reason
    assert poster.messages == []


def test_unreachable_cluster_is_reported_and_keeps_the_baseline(
    kube: FakeKubeApiServer, tmp_path: Path, sqlite_db: Database, hash_searcher: Any
) -> None:
    clock = ManualClock(kube.now)
    poster = MemoryPoster()
    runner = cluster_runner(kube, tmp_path, sqlite_db, hash_searcher, clock, poster)
    assert runner.run(schedule()).status == "posted"
    first = OutboxStore(sqlite_db).snapshot("cluster", OPS)
    kube.add_fault(".*", "500", times=None)  # the API server fails every request from now on
    clock.advance(dt.timedelta(days=1))
    outcome = runner.run(schedule())
    assert outcome.status == "posted"
    reply = poster.messages[1].reply
    assert "cluster unreachable" in reply.summary and reply.exit_code == 4
    assert "Could not read the cluster" in reply.to_text()
    second = OutboxStore(sqlite_db).snapshot("cluster", OPS)
    assert first is not None and second is not None and second.facts == first.facts


@pytest.mark.parametrize("override", [False, True])
def test_unsafe_credentials_keep_the_cluster_section_off_unless_overridden(
    tmp_path: Path, sqlite_db: Database, hash_searcher: Any, override: bool
) -> None:
    with FakeKubeApiServer(rules=CLUSTER_ADMIN) as kube:
        poster = MemoryPoster()
        runner = cluster_runner(
            kube,
            tmp_path,
            sqlite_db,
            hash_searcher,
            ManualClock(kube.now),
            poster,
            allow_unsafe_credentials=override,
        )
        assert runner.run(schedule()).status == "posted"
        reply = poster.messages[0].reply
        listed = [r.path for r in kube.requests if r.method == "GET" and r.path.endswith("/pods")]
    if override:
        assert reply.exit_code == 0 and "CrashLoopBackOff (1)" in reply.to_text()
        assert listed
    else:
        assert "cluster section off (unsafe credentials)" in reply.summary and reply.exit_code == 3
        text = reply.to_text()
        assert "Not reading the cluster: cluster commands are off:" in text and "secrets" in text
        assert listed == []  # over-privileged credentials are not used to read anything
