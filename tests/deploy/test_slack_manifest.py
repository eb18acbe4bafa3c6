"""The Slack app manifests agree with what the code registers and calls, and with the Ingress.

* Commands and events: recorded by building the real bolt app with ``bot.slack.app.build_app``
  while ``App.event``/``App.command``/``App.action``… are wrapped to note their arguments.
* Scopes: the Web API methods the code calls (found in bot/ by AST: attribute names that are
  ``slack_sdk.WebClient`` methods) mapped to the scopes Slack requires for them, plus the scopes the
  subscribed events and slash commands need. The manifest must ask for exactly those: missing
  scopes break features, extra ones break least privilege.
* URLs (HTTP variant): HTTPS on the Ingress host, on paths the HTTP front serves and the Ingress routes.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from deploy_support import REPO, SLACK_MANIFEST, SLACK_MANIFEST_SOCKET, one, render

pytest.importorskip("slack_bolt", reason="slack-bolt is not installed")

# Scopes Slack requires for each Web API method firstmate may call (api.slack.com/methods).
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "chat_postMessage": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_delete": {"chat:write"},
    "chat_getPermalink": set(),
    "reactions_add": {"reactions:write"},
    "reactions_remove": {"reactions:write"},
    "files_upload_v2": {"files:write"},
    "files_upload": {"files:write"},
    "files_getUploadURLExternal": {"files:write"},
    "files_completeUploadExternal": {"files:write"},
    # History: public channels need channels:history; private ones groups:history.
    "conversations_history": {"channels:history"},
    "conversations_replies": {"channels:history"},
    "conversations_info": {"channels:read"},
    "conversations_open": {"im:write"},
    "users_info": {"users:read"},
    "usergroups_list": {"usergroups:read"},
    "usergroups_users_list": {"usergroups:read"},
}
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
}


def manifest(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a YAML mapping"
    return data


@pytest.fixture(scope="module")
def registered() -> dict[str, set[str]]:
    """What bot.slack.app.build_app registers on a real bolt App (no network: authorize is local)."""
    import slack_bolt
    from slack_sdk import WebClient

    from bot.settings.slack import SlackSettings
    from bot.slack import app as slack_app
    from bot.slack.parse import BotIdentity

    seen: dict[str, set[str]] = {"event": set(), "command": set(), "action": set(), "message": set(),
                                 "view": set(), "shortcut": set(), "options": set()}
    originals = {kind: getattr(slack_bolt.App, kind) for kind in seen}

    def recorder(kind: str) -> Any:
        def wrapped(self: Any, constraint: Any = None, *args: Any, **kwargs: Any) -> Any:
            if isinstance(constraint, dict):
                seen[kind].add(str(constraint.get("type") or constraint.get("action_id") or constraint))
            else:
                seen[kind].add(str(constraint if constraint is not None else ""))
            return originals[kind](self, constraint, *args, **kwargs)

        return wrapped

    with pytest.MonkeyPatch.context() as mp:
        for kind in seen:
            mp.setattr(slack_bolt.App, kind, recorder(kind))
        client = WebClient(token="xoxb-not-a-real-token", base_url="http://127.0.0.1:9/api/")
        slack_app.build_app(
            SlackSettings(signing_secret="not-a-real-secret"),
            client=client,
            responder=object(),  # type: ignore[arg-type]
            identity=BotIdentity(user_id="U0BOT", bot_id="B0BOT", team_id="T0TEAM"),
            metrics=object(),  # type: ignore[arg-type]
        )
    assert seen["event"] or seen["command"], "build_app registered no listener at all"
    return seen


def called_methods() -> set[str]:
    """WebClient API methods referenced anywhere in bot/ (calls, or attributes passed as callables)."""
    from slack_sdk import WebClient

    api = {name for name in vars(WebClient) if not name.startswith("_") and "_" in name}
    found: set[str] = set()
    for path in (REPO / "bot").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in api:
                found.add(node.attr)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "api_call"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value.replace(".", "_"))
    return found


def test_both_variants_agree() -> None:
    http, socket = manifest(SLACK_MANIFEST), manifest(SLACK_MANIFEST_SOCKET)
    assert http["settings"]["socket_mode_enabled"] is False
    assert socket["settings"]["socket_mode_enabled"] is True
    assert http["oauth_config"] == socket["oauth_config"]
    assert http["settings"]["event_subscriptions"]["bot_events"] == socket["settings"]["event_subscriptions"]["bot_events"]
    assert [c["command"] for c in http["features"]["slash_commands"]] == [
        c["command"] for c in socket["features"]["slash_commands"]
    ]
    assert http["settings"]["interactivity"]["is_enabled"] == socket["settings"]["interactivity"]["is_enabled"]
    text = yaml.safe_dump(socket)
    assert "request_url" not in text and "url:" not in text, "Socket Mode takes no request URLs"


@pytest.mark.parametrize("path", [SLACK_MANIFEST, SLACK_MANIFEST_SOCKET], ids=["http", "socket"])
def test_manifest_shape(path: Path) -> None:
    data = manifest(path)
    info = data["display_information"]
    assert info["name"] and len(info["description"]) <= 140
    assert 175 <= len(info.get("long_description", "x" * 175)) <= 4000, "Slack wants 175–4000 characters"
    assert data["features"]["bot_user"]["display_name"]
    home = data["features"]["app_home"]
    assert home["messages_tab_enabled"] and not home["messages_tab_read_only_enabled"], "users must be able to DM"
    for cmd in data["features"]["slash_commands"]:
        assert cmd["command"].startswith("/") and cmd["description"]


def test_commands_match_the_code(registered: dict[str, set[str]]) -> None:
    wanted = {c["command"] for c in manifest(SLACK_MANIFEST)["features"]["slash_commands"]}
    assert wanted == {"/ask", "/k8s"}, "the product's commands are /ask and /k8s"
    assert registered["command"] == wanted, f"code registers {registered['command']}, manifest has {wanted}"


def test_events_match_the_code(registered: dict[str, set[str]]) -> None:
    events = set(manifest(SLACK_MANIFEST)["settings"]["event_subscriptions"]["bot_events"])
    code = set(registered["event"])
    if registered["message"]:
        code.add("message")
    handled = {e.split(".")[0] for e in events}
    assert handled <= code, f"manifest subscribes to {sorted(events)} but the code handles only {sorted(code)}"
    for name in code:
        if name == "message":
            assert {"message.im", "message.channels"} <= events, "DMs and thread follow-ups need message.* events"
        else:
            assert name in events, f"the code listens for {name!r} but the manifest does not subscribe to it"


def test_interactivity_matches_the_code(registered: dict[str, set[str]]) -> None:
    interactive = any(registered[k] for k in ("action", "view", "shortcut", "options"))
    for path in (SLACK_MANIFEST, SLACK_MANIFEST_SOCKET):
        assert manifest(path)["settings"]["interactivity"]["is_enabled"] is interactive, path.name


def test_scopes_are_exactly_what_the_code_needs(registered: dict[str, set[str]]) -> None:
    data = manifest(SLACK_MANIFEST)
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    methods = called_methods()
    unknown = sorted(m for m in methods if m not in METHOD_SCOPES)
    assert not unknown, f"the code calls {unknown}: add their scopes to METHOD_SCOPES and the manifests"
    needed: set[str] = set().union(*(METHOD_SCOPES[m] for m in methods))
    needed |= {EVENT_SCOPES[e] for e in data["settings"]["event_subscriptions"]["bot_events"]}
    if registered["command"]:
        needed.add("commands")
    assert {"chat:write", "app_mentions:read"} <= needed, f"sanity: found methods {sorted(methods)}"
    assert scopes >= needed, f"manifest lacks scopes {sorted(needed - scopes)}"
    assert scopes <= needed, f"manifest asks for scopes nothing uses: {sorted(scopes - needed)}"


def test_http_urls_reach_the_code_through_the_ingress() -> None:
    from bot.slack.http import SLACK_PATHS

    data = manifest(SLACK_MANIFEST)
    urls = [c["url"] for c in data["features"]["slash_commands"]]
    urls.append(data["settings"]["event_subscriptions"]["request_url"])
    urls.append(data["settings"]["interactivity"]["request_url"])
    ingress = one(render("prod"), "Ingress")
    hosts = {r["host"] for r in ingress["spec"]["rules"]}
    prefixes = [p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "https", f"{url}: Slack requires HTTPS"
        assert parts.hostname in hosts and parts.hostname in tls_hosts, f"{url}: not the Ingress host {hosts}"
        assert parts.path in SLACK_PATHS, f"{url}: the HTTP front serves only {SLACK_PATHS}"
        assert any(parts.path.startswith(p.rstrip("/") + "/") or parts.path == p for p in prefixes), (
            f"{url}: the Ingress does not route {parts.path}"
        )
    assert urlsplit(data["settings"]["event_subscriptions"]["request_url"]).path == "/slack/events"
