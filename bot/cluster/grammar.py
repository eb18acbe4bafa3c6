"""Parse a chat command once into a typed, validated ``Request``, or a ``UsageError`` naming the bad token.

The parsed request is the only thing the executor sees: there is no second interpretation of the
text (no shell, no kubectl), so what is validated here is exactly what is read. Checks run on the
raw text first (size, control, zero-width and bidi characters, odd spaces), then on its NFKC form
(non-ASCII left over, shell metacharacters), then token by token against a closed grammar.

Example:
    >>> parse("get po -nshop -l app=web").normalised()
    'get pods -n shop -l app=web'
    >>> try:
    ...     parse("get secrets")
    ... except UsageError as exc:
    ...     print(exc)
    Secrets are never readable through firstmate (token 'secrets')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.cluster.characters import UsageError, check_characters
from bot.cluster.resources import POD_OWNERS, is_secret_word, lookup

VERBS = ("get", "describe", "logs", "events", "top", "status", "diagnose", "help")
READ_VERBS = frozenset(VERBS)
_VERB_SYNONYMS = {"log": "logs", "event": "events", "diag": "diagnose"}
WRITE_VERBS = frozenset(
    ["delete", "apply", "create", "edit", "patch", "replace", "scale", "exec", "attach", "cp", "port-forward", "proxy", "run", "rollout", "label", "annotate", "drain", "cordon", "uncordon", "taint", "set", "expose", "autoscale", "debug", "certificate", "auth", "config", "plugin", "wait"]
)
DEFAULT_MAX_CHARS = 512
MAX_TAIL = 200
DEFAULT_TAIL = 50
MAX_SINCE_SECONDS = 7 * 24 * 3600

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")
_DURATION = re.compile(r"^(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?$")
_FLAG = re.compile(r"^--?[A-Za-z][A-Za-z0-9-]*$")

# kubectl flags that are refused outright, with the reason shown to the user.
_OUTPUT = "output formats are not supported; firstmate prints its own redacted tables"
_CREDENTIAL = "credential and target flags are not accepted; firstmate uses its own read-only identity"
_WATCH = "watch/follow is not supported; each command is one read"
_FORBIDDEN_FLAGS: dict[str, str] = {
    **dict.fromkeys(
        ["-o", "--output", "--template", "--raw", "--show-managed-fields", "--output-watch-events", "--sort-by", "--show-labels", "--label-columns", "-L", "--custom-columns", "--allow-missing-template-keys"],
        _OUTPUT,
    ),
    **dict.fromkeys(
        ["--kubeconfig", "--token", "--server", "-s", "--as", "--as-group", "--as-uid", "--context", "--cluster", "--user", "--username", "--password", "--insecure-skip-tls-verify", "--certificate-authority", "--client-certificate", "--client-key", "--tls-server-name", "--request-timeout", "--cache-dir", "--disable-compression", "--match-server-version", "--profile", "--profile-output", "--vmodule", "-v", "--v", "--log-file"],
        _CREDENTIAL,
    ),
    **dict.fromkeys(["-w", "--watch", "--watch-only", "-f", "--follow", "--filename", "-k", "--kustomize", "-R", "--recursive"], _WATCH),
}

# option name -> (aliases, takes a value)
_OPTIONS: dict[str, tuple[tuple[str, ...], bool]] = {
    "namespace": (("-n", "--namespace"), True),
    "all_namespaces": (("-A", "--all-namespaces"), False),
    "selector": (("-l", "--selector"), True),
    "container": (("-c", "--container"), True),
    "tail": (("--tail",), True),
    "previous": (("-p", "--previous"), False),
    "since": (("--since",), True),
    "for": (("--for",), True),
}
_BY_SPELLING = {spelling: name for name, (spellings, _) in _OPTIONS.items() for spelling in spellings}
_VERB_OPTIONS: dict[str, frozenset[str]] = {
    "get": frozenset({"namespace", "all_namespaces", "selector"}),
    "describe": frozenset({"namespace", "all_namespaces", "selector"}),
    "logs": frozenset({"namespace", "selector", "container", "tail", "previous", "since"}),
    "events": frozenset({"namespace", "all_namespaces", "since", "for"}),
    "top": frozenset({"namespace", "all_namespaces"}),
    "status": frozenset({"namespace", "all_namespaces"}),
    "diagnose": frozenset({"namespace"}),
    "help": frozenset(),
}


@dataclass(frozen=True)
class Request:
    """One validated read: verb, resource, scope and options. Immutable once parsed."""

    verb: str
    resource: str | None = None
    name: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    selector: str | None = None
    container: str | None = None
    tail: int | None = None
    previous: bool = False
    since_seconds: int | None = None
    for_resource: str | None = None
    for_name: str | None = None
    topic: str | None = None
    alias: str | None = field(default=None, compare=False)

    def normalised(self) -> str:
        """Canonical command text (audit, echo): resolved names, fixed option order."""
        parts = [self.verb]
        if self.verb == "help":
            return f"help {self.topic}" if self.topic else "help"
        if self.resource and self.name and self.verb in {"logs", "diagnose"}:
            parts.append(f"{self.resource}/{self.name}")
        elif self.verb == "logs":
            pass  # logs by selector: no positional at all
        else:
            parts += [p for p in (self.resource, self.name) if p]
        if self.namespace:
            parts += ["-n", self.namespace]
        if self.all_namespaces:
            parts.append("-A")
        if self.selector:
            parts += ["-l", self.selector]
        if self.container:
            parts += ["-c", self.container]
        if self.tail is not None:
            parts += ["--tail", str(self.tail)]
        if self.previous:
            parts.append("--previous")
        if self.since_seconds is not None:
            parts += ["--since", f"{self.since_seconds}s"]
        if self.for_resource and self.for_name:
            parts += ["--for", f"{self.for_resource}/{self.for_name}"]
        return " ".join(parts)


def _name(token: str, *, what: str, label: bool = False) -> str:
    if is_secret_word(token):
        raise UsageError(f"Secrets are never readable through firstmate (token '{token}')", token=token)
    pattern = _DNS_LABEL if label else _DNS_SUBDOMAIN
    limit = 63 if label else 253
    if len(token) > limit or not pattern.match(token):
        rule = "a DNS-1123 label" if label else "a DNS-1123 name"
        raise UsageError(
            f"'{token}' is not a valid {what}: it must be {rule} (lowercase letters, digits, '-'{'' if label else ', .'})",
            token=token,
        )
    return token


def _resource(token: str) -> str:
    if "," in token:
        raise UsageError(f"one resource type at a time ('{token}')", token=token)
    if is_secret_word(token):
        raise UsageError(f"Secrets are never readable through firstmate (token '{token}')", token=token)
    found = lookup(token)
    if found is None:
        raise UsageError(
            f"resource '{token}' is not readable through firstmate; try `help` for the list", token=token
        )
    return found.plural


def _selector(value: str) -> str:
    if is_secret_word(value):
        raise UsageError(f"Secrets are never readable through firstmate (token '{value}')", token=value)
    terms = value.split(",")
    out = []
    for term in terms:
        match = re.match(r"^(!?)([^=!]+)(?:(==|!=|=)(.*))?$", term)
        if not match:
            raise UsageError(f"'{term}' is not a label selector term (key, !key, key=value, key!=value)", token=value)
        bang, key, op, val = match.groups()
        if not _LABEL_KEY.match(key) or (bang and op) or (op and not _LABEL_VALUE.match(val or "")):
            raise UsageError(f"'{term}' is not a valid label selector term", token=value)
        out.append(f"{bang}{key}{op or ''}{val or ''}" if op else f"{bang}{key}")
    return ",".join(out)


def _duration(value: str, *, flag: str) -> int:
    match = _DURATION.match(value)
    if not value or not match or not any(match.groups()):
        raise UsageError(f"{flag} '{value}' is not a duration like 30m, 2h or 1d", token=value)
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if not 1 <= seconds <= MAX_SINCE_SECONDS:
        raise UsageError(f"{flag} '{value}' must be between 1s and 7d", token=value)
    return seconds


def _split_kind_name(token: str, *, what: str) -> tuple[str, str]:
    kind, _, name = token.partition("/")
    if not kind or not name or "/" in name:
        raise UsageError(f"'{token}' is not KIND/NAME", token=token)
    return _resource(kind), _name(name, what=what)


def _refuse_forbidden(spelling: str, token: str) -> None:
    """One rule for commands and aliases: a refused flag (``--as``, ``--token``…) says why."""
    reason = _FORBIDDEN_FLAGS.get(spelling)
    if reason is not None:
        raise UsageError(f"option '{spelling}' is refused: {reason}", token=token)


def _options(tokens: list[str], verb: str) -> tuple[list[str], dict[str, str | bool]]:
    """Split tokens into positionals and options; every option is known, allowed for the verb and given once."""
    positionals: list[str] = []
    options: dict[str, str | bool] = {}
    allowed = _VERB_OPTIONS[verb]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("-") or token == "-":
            positionals.append(token)
            continue
        if token == "--":
            raise UsageError("'--' is not supported; options and names go in one list", token=token)
        if token.startswith("--"):
            spelling, eq, inline = token.partition("=")
        else:
            spelling, inline = token[:2], token[2:]
            eq = "=" if inline else ""
            if inline.startswith("="):
                inline = inline[1:]
        if not _FLAG.match(spelling):
            raise UsageError(f"'{token}' is not an option firstmate understands", token=token)
        _refuse_forbidden(spelling, token)
        name = _BY_SPELLING.get(spelling)
        if name is None:
            raise UsageError(f"unknown option '{spelling}'; see `help {verb}`", token=token)
        if name not in allowed:
            raise UsageError(f"option '{spelling}' does not apply to '{verb}'; see `help {verb}`", token=token)
        if name in options:
            raise UsageError(f"option '{spelling}' is given twice", token=token)
        takes_value = _OPTIONS[name][1]
        if not takes_value:
            if eq:
                raise UsageError(f"option '{spelling}' takes no value ('{token}')", token=token)
            options[name] = True
            continue
        if eq:
            value = inline
        elif i < len(tokens) and not tokens[i].startswith("-"):
            value = tokens[i]
            i += 1
        else:
            raise UsageError(f"option '{spelling}' needs a value", token=token)
        if not value:
            raise UsageError(f"option '{spelling}' needs a value", token=token)
        options[name] = value
    return positionals, options


def _help(verb: str, positionals: list[str]) -> Request:
    if len(positionals) > 1:
        raise UsageError(f"unexpected '{positionals[1]}' after help", token=positionals[1])
    topic = positionals[0].lower() if positionals else None
    if topic is not None:
        topic = _VERB_SYNONYMS.get(topic, topic)
        if topic not in READ_VERBS:
            raise UsageError(f"no help on '{topic}'; topics: {', '.join(VERBS)}", token=topic)
    return Request(verb=verb, topic=topic)


def _target(verb: str, positionals: list[str]) -> tuple[str | None, str | None, list[str]]:
    """Resource and name from `RESOURCE [NAME]` or `KIND/NAME`; returns the leftover positionals."""
    if not positionals:
        return None, None, []
    first, rest = positionals[0], positionals[1:]
    if "/" in first:
        resource, name = _split_kind_name(first, what="name")
        return resource, name, rest
    resource = _resource(first)
    if rest:
        return resource, _name(rest[0], what=f"{resource} name", label=resource == "namespaces"), rest[1:]
    return resource, None, []


def check_alias(expansion: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> None:
    """Settings-time check of an alias: clean characters, a read verb, no Secrets, no refused flag.

    An alias may be partial (``logs --tail 20`` still needs a pod name), so the whole command is
    checked again each time it is used; this only refuses what could never be allowed.
    """
    words = check_characters(expansion, max_chars=max_chars).split()
    if not words:
        raise UsageError("the alias expands to nothing")
    verb = _VERB_SYNONYMS.get(words[0].lower(), words[0].lower())
    if verb not in READ_VERBS:
        raise UsageError(f"'{words[0]}' is not one of firstmate's read commands", token=words[0])
    for word in words[1:]:
        if is_secret_word(word):
            raise UsageError(f"Secrets are never readable through firstmate (token '{word}')", token=word)
        if word.startswith("-"):
            _refuse_forbidden(word.partition("=")[0] if word.startswith("--") else word[:2], word)


def parse(text: str, *, aliases: Mapping[str, str] | None = None, max_chars: int = DEFAULT_MAX_CHARS) -> Request:
    """Parse one command (the text after `/k8s`) into a validated request; raises UsageError."""
    normal = check_characters(text, max_chars=max_chars)
    tokens = normal.split()
    if tokens and tokens[0] == "kubectl":
        tokens = tokens[1:]
    alias = None
    if tokens and aliases and tokens[0] in aliases:
        alias = tokens[0]
        expansion = check_characters(aliases[alias], max_chars=max_chars)
        tokens = expansion.split() + tokens[1:]
        if len(" ".join(tokens)) > max_chars:
            raise UsageError(f"alias '{alias}' expands past the {max_chars}-character limit", token=alias)
    if not tokens:
        return Request(verb="help")
    word = tokens[0].lower()
    verb = _VERB_SYNONYMS.get(word, word)
    if verb not in READ_VERBS:
        if is_secret_word(word):
            raise UsageError(f"Secrets are never readable through firstmate (token '{tokens[0]}')", token=tokens[0])
        if verb in WRITE_VERBS:
            raise UsageError(f"'{tokens[0]}' is not a read; firstmate never changes the cluster", token=tokens[0])
        raise UsageError(f"unknown command '{tokens[0]}'; commands: {', '.join(VERBS)}", token=tokens[0])
    positionals, opts = _options(tokens[1:], verb)
    for token in positionals:
        if is_secret_word(token):
            raise UsageError(f"Secrets are never readable through firstmate (token '{token}')", token=token)
    if verb == "help":
        return _help(verb, positionals)
    request = _build(verb, positionals, opts)
    return replace(request, alias=alias) if alias else request


def _build(verb: str, positionals: list[str], opts: dict[str, str | bool]) -> Request:
    namespace = _name(str(opts["namespace"]), what="namespace", label=True) if "namespace" in opts else None
    all_namespaces = bool(opts.get("all_namespaces", False))
    if namespace and all_namespaces:
        raise UsageError("use either -n NAMESPACE or -A, not both", token="-A")
    selector = _selector(str(opts["selector"])) if "selector" in opts else None
    base = Request(verb=verb, namespace=namespace, all_namespaces=all_namespaces, selector=selector)
    if verb in {"status", "events"}:
        if positionals:
            raise UsageError(f"unexpected '{positionals[0]}' after {verb}", token=positionals[0])
        if verb == "events" and "since" in opts:
            base = replace(base, since_seconds=_duration(str(opts["since"]), flag="--since"))
        if verb == "events" and "for" in opts:
            for_resource, for_name = _split_kind_name(str(opts["for"]), what="name")
            base = replace(base, for_resource=for_resource, for_name=for_name)
        return base
    if verb == "logs":
        return _logs(positionals, opts, base)
    if verb == "diagnose":
        return _diagnose(positionals, base)
    resource, name, rest = _target(verb, positionals)
    if resource is None:
        raise UsageError(f"'{verb}' needs a resource type, e.g. `{verb} pods`; see `help {verb}`")
    if rest:
        raise UsageError(f"one name at a time; unexpected '{rest[0]}'", token=rest[0])
    if verb == "top" and resource not in {"pods", "nodes"}:
        raise UsageError(f"`top` shows pods or nodes, not '{resource}'", token=resource)
    if verb == "describe" and not name and not selector:
        raise UsageError("`describe` needs a name or a -l selector", token=resource)
    if name and selector:
        raise UsageError("give a name or a -l selector, not both", token=name)
    if name and all_namespaces:
        raise UsageError("a name cannot be looked up across all namespaces; use -n", token="-A")
    return replace(base, resource=resource, name=name)


def _logs(positionals: list[str], opts: dict[str, str | bool], base: Request) -> Request:
    if len(positionals) > 2:
        raise UsageError(f"unexpected '{positionals[2]}' after logs", token=positionals[2])
    container = _name(str(opts["container"]), what="container name", label=True) if "container" in opts else None
    if len(positionals) == 2:
        if container:
            raise UsageError("give the container once (-c or after the pod name)", token=positionals[1])
        container = _name(positionals[1], what="container name", label=True)
    resource, name = "pods", None
    if positionals:
        if "/" in positionals[0]:
            resource, name = _split_kind_name(positionals[0], what="name")
            if resource != "pods" and resource not in POD_OWNERS:
                raise UsageError(f"logs come from pods or workloads, not '{resource}'", token=positionals[0])
        else:
            name = _name(positionals[0], what="pod name")
    if name is None and not base.selector:
        raise UsageError("`logs` needs a pod name (or KIND/NAME, or -l selector)")
    if name is not None and base.selector:
        raise UsageError("give a pod name or a -l selector, not both", token=name)
    tail = DEFAULT_TAIL
    if "tail" in opts:
        raw = str(opts["tail"])
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_TAIL:
            raise UsageError(f"--tail '{raw}' must be a number from 1 to {MAX_TAIL}", token=raw)
        tail = int(raw)
    since = _duration(str(opts["since"]), flag="--since") if "since" in opts else None
    return replace(
        base,
        resource=resource,
        name=name,
        container=container,
        tail=tail,
        previous=bool(opts.get("previous", False)),
        since_seconds=since,
    )


def _diagnose(positionals: list[str], base: Request) -> Request:
    if not positionals:
        raise UsageError("`diagnose` needs a target: `diagnose pod NAME` or `diagnose deploy NAME`")
    rest: list[str] = []
    name: str | None
    if len(positionals) == 1 and "/" not in positionals[0] and lookup(positionals[0]) is None:
        resource, name = "pods", _name(positionals[0], what="pod name")
    else:
        found, name, rest = _target("diagnose", positionals)
        resource = found or "pods"
    if rest:
        raise UsageError(f"one target at a time; unexpected '{rest[0]}'", token=rest[0])
    if name is None:
        raise UsageError(f"`diagnose {resource}` needs a name")
    if resource != "pods" and resource not in POD_OWNERS:
        raise UsageError(f"`diagnose` works on pods and workloads, not '{resource}'", token=resource)
    return Request(verb="diagnose", resource=resource, name=name, namespace=base.namespace)
