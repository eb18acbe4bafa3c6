"""Failure signatures: what is wrong with a pod, in one word (for grouping) and one line (for people).

Status groups pods by ``pod_problem``; diagnose names ``signature``; the digest compares them over
time. Each signature carries a search query for the community Q&A corpus (in the corpus's
language, with the English reason kept as a keyword).

Example:
    >>> from bot.cluster.models import KubeObject, pod_view
    >>> pod = pod_view(KubeObject.from_json("pods", {"metadata": {"name": "w"}, "spec": {"containers": [{"name": "w"}]},
    ...     "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
    ...     "message": "0/3 nodes are available: 3 Insufficient memory."}]}}))
    >>> pod_problem(pod)
    'Pending/Unschedulable'
    >>> signature(pod).line
    'Pending — Unschedulable: 0/3 nodes are available: 3 Insufficient memory.'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.cluster.models import ContainerView, EventView, PodView

PROBLEMS = (
    "CrashLoopBackOff", "OOMKilled", "ImagePullBackOff/ErrImagePull", "Pending/Unschedulable", "Pending",
    "Evicted", "CreateContainerConfigError", "Error", "NotReady",
)
_PULL = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
_QUERIES = {
    "CrashLoopBackOff": "CrashLoopBackOff 容器 反复 重启 崩溃 退出",
    "OOMKilled": "OOMKilled 内存 限制 limit 容器 被杀 重启",
    "ImagePullBackOff/ErrImagePull": "ImagePullBackOff 镜像 拉取 失败 私有 仓库 registry",
    "Pending/Unschedulable": "Pending 调度 失败 资源 不足 节点 scheduler",
    "Pending": "Pod Pending 创建 容器 卡住",
    "Evicted": "Evicted 驱逐 节点 内存 磁盘 压力",
    "CreateContainerConfigError": "容器 配置 错误 ConfigMap Secret 挂载",
    "Error": "容器 退出 错误 日志 排查",
    "NotReady": "readiness 探针 健康 检查 失败 就绪",
    "NodeNotReady": "节点 NotReady kubelet 故障",
}


def _main(pod: PodView) -> list[ContainerView]:
    return [c for c in pod.containers if not c.init]


def pod_problem(pod: PodView) -> str | None:
    """The group a pod that is not healthy belongs to, or None when it is fine (or completed)."""
    if pod.reason == "Evicted":
        return "Evicted"
    if pod.phase == "Succeeded":
        return None
    containers = pod.containers
    if any(c.state == "waiting" and c.reason == "CrashLoopBackOff" for c in containers):
        return "CrashLoopBackOff"
    if any(c.state == "waiting" and c.reason in _PULL for c in containers):
        return "ImagePullBackOff/ErrImagePull"
    if any(c.state == "waiting" and c.reason in {"CreateContainerConfigError", "CreateContainerError"} for c in containers):
        return "CreateContainerConfigError"
    if any(c.reason == "OOMKilled" or (c.last_reason == "OOMKilled" and not c.ready) for c in containers):
        return "OOMKilled"
    if pod.phase == "Pending":
        scheduled = pod.conditions.get("PodScheduled")
        return "Pending/Unschedulable" if scheduled and scheduled[0] == "False" else "Pending"
    if pod.phase == "Failed" or any(c.state == "terminated" and c.exit_code not in (0, None) and not c.init for c in containers):
        return "Error"
    main = _main(pod)
    if pod.phase == "Running" and main and not all(c.ready for c in main) and not pod.deleting:
        return "NotReady"
    return None


def severity(pod: PodView) -> tuple[int, int]:
    """Sort key: worst pods first (problem rank, then restarts)."""
    problem = pod_problem(pod)
    rank = PROBLEMS.index(problem) if problem in PROBLEMS else len(PROBLEMS)
    return (rank, -pod.restarts)


@dataclass(frozen=True)
class Signature:
    """One failure signature: group key, one line for people, and a corpus search query."""

    key: str
    line: str
    query: str
    healthy: bool = False


def _exit(c: ContainerView) -> str:
    code, reason = (c.exit_code, c.reason) if c.state == "terminated" else (c.last_exit_code, c.last_reason)
    parts = [f"last exit {code}" if code is not None else "", reason]
    return " ".join(p for p in parts if p)


def signature(pod: PodView, events: Sequence[EventView] = ()) -> Signature:
    """Name what is wrong with the pod in one line (healthy pods get a healthy signature)."""
    problem = pod_problem(pod)
    bad = next((c for c in pod.containers if c.state == "waiting" and c.reason), None)
    query = _QUERIES.get(problem or "", "")
    if problem in {"CrashLoopBackOff", "OOMKilled"}:
        c = next((c for c in pod.containers if c.reason == "CrashLoopBackOff" or c.last_reason == "OOMKilled" or c.reason == "OOMKilled"), pod.containers[0])
        oom = "OOMKilled" in (c.reason, c.last_reason)
        detail = _exit(c)
        if oom and c.memory_limit:
            detail += f", limit {c.memory_limit}"
        head = "CrashLoopBackOff" if c.reason == "CrashLoopBackOff" else "OOMKilled"
        line = f"{head} — {detail}" if detail else head
        line += f" ({c.restarts} restarts, container {c.name})"
        if oom:
            query = _QUERIES["OOMKilled"] + (" CrashLoopBackOff" if head == "CrashLoopBackOff" else "")
        return Signature(problem or head, line, query)
    if problem == "ImagePullBackOff/ErrImagePull" and bad is not None:
        why = next((e.message for e in events if "failed to pull" in e.message.lower()), "")
        tail = why.rsplit(": ", 1)[-1] if why else ""
        line = f"{bad.reason} — image '{bad.image}' cannot be pulled" + (f": {tail}" if tail else "")
        return Signature(problem, line, query)
    if problem == "Pending/Unschedulable":
        _status, reason, message = pod.conditions["PodScheduled"]
        return Signature(problem, f"Pending — {reason or 'Unschedulable'}: {message.split(' preemption:')[0]}".strip(), query)
    if problem == "Evicted":
        return Signature(problem, f"Evicted — {pod.message.split('. ')[0] if pod.message else 'the node reclaimed resources'}", query)
    if problem == "CreateContainerConfigError" and bad is not None:
        return Signature(problem, f"{bad.reason} — {bad.message or 'the container configuration is invalid'}", query)
    if problem == "Error":
        failed = next((c for c in pod.containers if c.state == "terminated" and c.exit_code), None)
        line = f"Error — container {failed.name} exited {failed.exit_code} {failed.reason}".strip() if failed else f"Error — pod {pod.phase}"
        return Signature(problem, line, query)
    if problem == "Pending":
        what = f"{bad.reason}" if bad is not None else "waiting to start"
        return Signature(problem, f"Pending — {what}", query)
    if problem == "NotReady":
        names = ", ".join(c.name for c in _main(pod) if not c.ready)
        probe = next((e.message for e in events if e.reason == "Unhealthy"), "")
        return Signature(problem, f"NotReady — container(s) {names} not ready" + (f": {probe}" if probe else ""), query)
    main = _main(pod)
    return Signature("Healthy", f"No failure — {pod.phase}, {sum(c.ready for c in main)}/{len(main)} containers ready", "", healthy=True)
