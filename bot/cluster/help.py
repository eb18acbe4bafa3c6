"""`help`: what this user may run in this channel, with examples (no cluster access).

Example:
    >>> from bot.cluster.grammar import parse
    >>> from bot.cluster.policy import Decision
    >>> help_reply(parse("help"), Decision(allowed=True, rule="help", reason=""), aliases={}).summary
    'Cluster commands are not enabled here.'
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.cluster.grammar import MAX_TAIL, Request
from bot.cluster.policy import Decision
from bot.core.replies import Reply, Section

USAGE: dict[str, tuple[str, str]] = {
    "get": ("get RESOURCE [NAME] [-n NS | -A] [-l SELECTOR]", "get pods -n shop -l app=web"),
    "describe": ("describe RESOURCE NAME [-n NS]  (or -l SELECTOR)", "describe deploy web -n shop"),
    "logs": (f"logs POD|KIND/NAME [-c CONTAINER] [--tail N<={MAX_TAIL}] [--previous] [--since 1h] [-n NS]", "logs web-7c9d8f6b5-m4q7r --previous"),
    "events": ("events [-n NS | -A] [--since 1h] [--for KIND/NAME]", "events -n shop --since 30m"),
    "top": ("top pods|nodes [NAME] [-n NS]", "top pods -n shop"),
    "status": ("status [-n NS | -A]", "status"),
    "diagnose": ("diagnose pod|deploy NAME [-n NS]", "diagnose deploy web -n shop"),
    "help": ("help [COMMAND]", "help logs"),
}
NEVER = (
    "Never: Secrets, writes of any kind, exec/attach/port-forward, output formats (-o, --template, --raw), "
    "credential or target flags (--token, --server, --as, --kubeconfig…), watch/follow."
)


def help_reply(request: Request, decision: Decision, *, aliases: Mapping[str, str]) -> Reply:
    """The help text, narrowed to the user's grant in this channel."""
    grant = decision.grant
    if request.topic:
        usage, example = USAGE[request.topic]
        body = f"{usage}\n\nexample: {example}"
        allowed = grant is not None and (request.topic in grant.verbs or request.topic == "help")
        note = "" if allowed else "\n(not allowed for you in this channel)"
        return Reply(kind="help", summary=f"help: {request.topic}", sections=[Section(body=body + note, monospace=True)])
    if grant is None:
        return Reply(kind="help", summary="Cluster commands are not enabled here.",
                     sections=[Section(body="Ask an admin to add a binding for this channel to the cluster policy."), Section(body=NEVER)])
    verbs = [v for v in USAGE if v in grant.verbs or v == "help"]
    lines = [USAGE[v][0] for v in verbs]
    scope = [
        f"namespaces: {', '.join(grant.namespaces) or 'none'}" + (f"; without -n: {grant.default_namespace}" if grant.default_namespace else ""),
        f"-A: {'allowed (over those namespaces)' if grant.all_namespaces else 'not allowed'}",
        f"resources: {', '.join(sorted(grant.resources))}",
    ]
    sections = [Section(title="Commands you can run here", body="\n".join(lines), monospace=True), Section(title="Scope", body="\n".join(scope))]
    if aliases:
        sections.append(Section(title="Aliases", body="\n".join(f"{k} = {v}" for k, v in sorted(aliases.items())), monospace=True))
    sections.append(Section(body=NEVER))
    return Reply(kind="help", summary=f"Read-only cluster commands ({grant.rule})", sections=sections)
