"""The cluster health digest: `status` facts for a channel's namespaces, plus what changed.

Per target channel, over the namespaces its cluster policy binding allows: nodes, pods not
running (grouped by reason), workloads below their desired replicas, the top Warning reasons in
the period; and, compared with the facts stored with the previous digest, pods that newly started
failing or recovered, restart counts that grew, and nodes that appeared, disappeared or became
NotReady. Each failure signature links the best-matching corpus Q&A, with its cited session.

If the cluster cannot be read, the digest says so (that is news too) and keeps the previous facts
as the baseline for the next one.

Example:
    >>> _bullets(["a", "b", "c"], limit=2)
    'a\nb\n… and 1 more'
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.cluster.errors import ClusterError
from bot.cluster.policy import STATUS_RESOURCES, Policy, binding_for
from bot.cluster.signatures import PROBLEMS
from bot.core.replies import Reply, Section
from bot.digest.cluster_state import ClusterOff, ClusterSource, changes, facts_of
from bot.digest.models import BuiltDigest, DigestRequest
from bot.errors import UserError
from bot.store.outbox import OutboxStore
from retrieval.models import Hit, SearchBackend

NODE_NOT_READY = "NodeNotReady"
_NODE_QUERY = "节点 NotReady kubelet 故障 排查"
_MAX_LINES = 12


def _pod_line(key: str, info: dict[str, Any]) -> str:
    detail = " ".join(str(info.get("detail") or "").split())
    if len(detail) > 180:
        detail = detail[:179].rstrip() + "…"
    return f"• {key} — {detail}" if detail else f"• {key}"


def _severity(reason: str) -> int:
    return PROBLEMS.index(reason) if reason in PROBLEMS else len(PROBLEMS)


def _bullets(lines: list[str], limit: int = _MAX_LINES) -> str:
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(f"… and {len(lines) - limit} more")
    return "\n".join(shown)


class ClusterDigestBuilder:
    """Builds the cluster digest for one channel.

    Example:
        >>> ClusterDigestBuilder(source=None, policy=Policy(), searcher=None).kind
        'cluster'
    """

    kind = "cluster"

    def __init__(
        self, *, source: ClusterSource | Any, policy: Policy, searcher: SearchBackend | None
    ) -> None:
        self.source = source
        self.policy = policy
        self.searcher = searcher

    def _scope(self, channel: str) -> tuple[tuple[str, ...] | None, frozenset[str], str]:
        rule, binding = binding_for(self.policy, channel)
        if binding is None:
            raise UserError(
                f"channel {channel} has no cluster policy binding (cluster.policy.channels.{channel}); "
                "the cluster digest only shows namespaces a channel may see"
            )
        resources = frozenset(binding.resources) & frozenset(STATUS_RESOURCES)
        namespaces = None if binding.all_namespaces else tuple(binding.namespaces)
        return namespaces, resources, rule

    def _related(self, queries: dict[str, str]) -> tuple[list[Hit], dict[str, int]]:
        """Best corpus Q&A per signature; returns the hits and each signature's citation number."""
        hits: list[Hit] = []
        numbers: dict[str, int] = {}
        if self.searcher is None:
            return hits, numbers
        for reason, query in queries.items():
            if not query:
                continue
            try:
                result = self.searcher.search(query, top_k=3)
            except Exception:
                continue
            if not result.hits:
                continue
            best = result.hits[0]
            existing = next((n for n, h in enumerate(hits, start=1) if h.qa_id == best.qa_id), None)
            if existing is None:
                hits.append(best.model_copy(update={"rank": len(hits) + 1}))
                existing = len(hits)
            numbers[reason] = existing
        return hits, numbers

    def build(self, request: DigestRequest) -> BuiltDigest:
        namespaces, resources, rule = self._scope(request.channel)
        title = f"Cluster digest · {request.period_label()}"
        meta = {**request.base_meta(), "policy_rule": rule}
        sections: list[Section] = []
        if (late := request.late_section()) is not None:
            sections.append(late)
        try:
            state = self.source.read(namespaces=namespaces, resources=resources, since=request.period.start)
        except ClusterError as exc:
            # News in itself; the previous facts stay the baseline for the next digest.
            if isinstance(exc, ClusterOff):
                what, heading, body, code = (
                    "cluster section off (unsafe credentials)",
                    "Cluster section off",
                    "Not reading the cluster",
                    3,
                )
            else:
                what, heading, body, code = (
                    "cluster unreachable",
                    "Cluster unreachable",
                    "Could not read the cluster",
                    4,
                )
            sections.append(Section(title=heading, body=f"{body}: {exc}"))
            reply = Reply(
                kind="digest", summary=f"{title} · {what}", sections=sections, meta=meta, exit_code=code
            )
            return BuiltDigest(reply=reply, facts=dict(request.previous or {}), quiet=False)

        facts = facts_of(state)
        present = {f"{p.namespace}/{p.name}" for p in state.pods}
        delta = changes(request.previous, facts, present=present)
        failing = {k: v for k, v in facts["pods"].items() if v.get("reason")}
        by_reason: dict[str, list[str]] = {}
        for key, info in sorted(failing.items(), key=lambda kv: (_severity(kv[1]["reason"]), kv[0])):
            by_reason.setdefault(info["reason"], []).append(key)
        nodes = facts["nodes"]
        not_ready = sorted(n for n, i in (nodes or {}).items() if not i["ready"])
        warnings = Counter(facts["warnings"])
        node_delta = delta["nodes"]
        facts["failure_reasons"] = {r: len(keys) for r, keys in by_reason.items()}

        quiet = (
            not failing
            and not facts["below"]
            and not not_ready
            and not warnings
            and not delta["recovered"]
            and not delta["gone"]
            and not delta["restarts_grew"]
            and not any(node_delta.values())
        )
        ns_label = "all namespaces" if namespaces is None else ", ".join(state.namespaces) or "no namespaces"
        counts = [f"{len(failing)} pod{'s' if len(failing) != 1 else ''} not running"]
        if nodes is not None:
            counts.insert(0, f"nodes {len(nodes) - len(not_ready)}/{len(nodes)} ready")
        if facts["below"]:
            counts.append(f"{len(facts['below'])} workload(s) below desired")
        summary = f"{title} · {ns_label} · " + ("all quiet" if quiet else ", ".join(counts))
        facts_data = {"facts": facts, "changes": delta}
        if quiet:
            body = (
                f"Nothing to report for {ns_label}: every pod runs, every workload is at its desired replicas"
            )
            body += ", every node is Ready." if nodes is not None else "."
            sections.append(Section(title="All quiet", body=body))
            reply = Reply(kind="digest", summary=summary, sections=sections, meta=meta, data=facts_data)
            return BuiltDigest(reply=reply, facts=facts, quiet=True)

        # Citations are numbered in the order the body mentions them: changes, nodes, then pods.
        order = [failing[key]["reason"] for key in delta["newly_failing"]]
        if not_ready or node_delta["not_ready"]:
            order.append(NODE_NOT_READY)
        order += list(by_reason)
        queries = {
            reason: _NODE_QUERY if reason == NODE_NOT_READY else facts["failure_queries"].get(reason, "")
            for reason in dict.fromkeys(order)
        }
        related, numbers = self._related(queries)

        def cite(reason: str) -> str:
            return f" [{numbers[reason]}]" if reason in numbers else ""

        # What changed since the last digest comes first: that is what people scan for.
        changed: list[str] = []
        if request.previous is None:
            changed.append("First cluster digest for this channel: no earlier facts to compare with.")
        for key in delta["newly_failing"]:
            changed.append(
                f"🔴 newly failing: {key} ({failing[key]['reason']}){cite(failing[key]['reason'])}"
            )
        changed += [f"🟢 recovered: {k}" for k in delta["recovered"]]
        changed += [f"⚪ gone (deleted or replaced): {k}" for k in delta["gone"]]
        changed += [f"🔁 restarts {old} → {new}: {key}" for key, old, new in delta["restarts_grew"]]
        changed += [f"🆕 node appeared: {n}" for n in node_delta["appeared"]]
        changed += [f"➖ node disappeared: {n}" for n in node_delta["disappeared"]]
        changed += [f"🔴 node became NotReady: {n}{cite(NODE_NOT_READY)}" for n in node_delta["not_ready"]]
        changed += [f"🟢 node Ready again: {n}" for n in node_delta["ready_again"]]
        if len(changed) > (1 if request.previous is None else 0):
            sections.append(Section(title="Since the last digest", body=_bullets(changed)))
        elif request.previous is not None:
            sections.append(Section(title="Since the last digest", body="No change."))
        else:
            sections.append(Section(title="Since the last digest", body=changed[0]))

        if nodes is not None:
            lines = [f"{len(nodes) - len(not_ready)}/{len(nodes)} Ready"]
            lines += [
                f"• {n}: {'; '.join(nodes[n]['problems']) or 'NotReady'}{cite(NODE_NOT_READY)}"
                for n in not_ready
            ]
            sections.append(Section(title="Nodes", body=_bullets(lines)))
        if by_reason:
            lines = []
            for reason, keys in by_reason.items():  # worst first, as `status` orders them
                lines.append(f"{reason} ({len(keys)}){cite(reason)}")
                lines += [_pod_line(k, failing[k]) for k in keys[:5]]
                if len(keys) > 5:
                    lines.append(f"  … and {len(keys) - 5} more")
            sections.append(Section(title="Pods not running", body=_bullets(lines, 40)))
        if facts["below"]:
            lines = [f"• {k}: {r}/{d} ready" for k, (r, d) in sorted(facts["below"].items())]
            sections.append(Section(title="Below desired replicas", body=_bullets(lines)))
        if warnings:
            top = warnings.most_common(request.top_n)
            lines = [f"• {reason} ×{count}" for reason, count in top]
            sections.append(Section(title="Top Warning events in the period", body="\n".join(lines)))
        if state.notes:
            sections.append(Section(title="Not shown", body=_bullets([f"• {n}" for n in state.notes])))
        reply = Reply(
            kind="digest", summary=summary, sections=sections, related=related, meta=meta, data=facts_data
        )
        return BuiltDigest(reply=reply, facts=facts, quiet=False)

    def most_frequent_failure(self, outbox: OutboxStore) -> tuple[str, str] | None:
        """(signature, corpus query) of the most frequent failure in the latest cluster digests (any channel)."""
        reasons: Counter[str] = Counter()
        queries: dict[str, str] = {}
        for facts in outbox.latest_snapshots("cluster"):
            reasons.update({str(k): int(v) for k, v in (facts.get("failure_reasons") or {}).items()})
            for k, q in (facts.get("failure_queries") or {}).items():
                queries.setdefault(str(k), str(q))
        for reason, _count in reasons.most_common():
            if queries.get(reason):
                return reason, queries[reason]
        return None
