"""Render read results as kubectl-like text: aligned tables, describe, logs — cleaned and size-capped.

Everything cluster-sourced passes ``clean_text`` (controls stripped, secrets redacted, code fences
broken). Long output is cut to what fits one chat message, with a note, and the full text is
attached (within the attachment cap).

Example:
    >>> print(render_table([{"NAME": "web", "READY": "1/1"}, {"NAME": "api-long", "READY": "0/1"}]))
    NAME       READY
    web        1/1
    api-long   0/1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.cluster.models import KubeObject, thaw
from bot.cluster.redact import clean_text
from bot.core.replies import Attachment, Section
from bot.settings.cluster import ClusterLimits

_DROP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def _cell(value: str) -> str:
    return " ".join(clean_text(value).split()) or "<none>"


def render_table(rows: Sequence[Mapping[str, str]]) -> str:
    """Columns aligned with three spaces between them, like kubectl."""
    if not rows:
        return ""
    headers = list(rows[0])
    cells = [[_cell(str(row.get(h, ""))) for h in headers] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["   ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


@dataclass(frozen=True)
class Cut:
    """What fits in the message, a note about the rest, and the attachment with everything."""

    inline: str
    note: str | None
    attachment: Attachment | None


def cut(text: str, *, limits: ClusterLimits, filename: str, title: str, keep_header: bool = True, tail: bool = False) -> Cut:
    """Keep at most ``inline_rows`` lines / ``inline_chars`` characters; attach the full text if cut."""
    lines = text.splitlines()
    budget_rows = limits.inline_rows + (1 if keep_header else 0)
    if len(lines) <= budget_rows and len(text) <= limits.inline_chars:
        return Cut(text, None, None)
    header = lines[:1] if keep_header and not tail else []
    body = lines[len(header) :]
    picked: list[str] = []
    size = sum(len(h) + 1 for h in header)
    source = reversed(body) if tail else iter(body)
    for line in source:
        if len(picked) >= limits.inline_rows or size + len(line) + 1 > limits.inline_chars:
            break
        picked.append(line)
        size += len(line) + 1
    if tail:
        picked.reverse()
    shown = len(picked)
    inline = "\n".join(header + picked)
    content = text
    data = content.encode()
    clipped = ""
    if len(data) > limits.attachment_max_bytes:
        content = data[: limits.attachment_max_bytes].decode("utf-8", errors="ignore")
        clipped = f", itself cut at {limits.attachment_max_bytes // 1000} kB"
    which = "last" if tail else "first"
    note = f"Showing the {which} {shown} of {len(body)} lines; the full output is attached{clipped}."
    return Cut(inline, note, Attachment(filename=filename, title=title, content=content))


def sections_for(cut_result: Cut, *, title: str | None = None) -> list[Section]:
    """Sections of a reply for a (maybe cut) monospace body."""
    sections = [Section(title=title, body=cut_result.inline or "(nothing)", monospace=True)]
    if cut_result.note:
        sections.append(Section(body=cut_result.note))
    return sections


# -- describe ------------------------------------------------------------------------------------------


def _env_line(env: Mapping[str, Any]) -> str:
    ref = env.get("valueFrom") or {}
    if "secretKeyRef" in ref:
        r = ref["secretKeyRef"]
        return f"{env.get('name')}:  <set to the key '{r.get('key')}' in secret '{r.get('name')}'>"
    if "configMapKeyRef" in ref:
        r = ref["configMapKeyRef"]
        return f"{env.get('name')}:  <set to the key '{r.get('key')}' of config map '{r.get('name')}'>"
    if "fieldRef" in ref:
        return f"{env.get('name')}:  ({ref['fieldRef'].get('fieldPath')})"
    if "resourceFieldRef" in ref:
        return f"{env.get('name')}:  ({ref['resourceFieldRef'].get('resource')})"
    return f"{env.get('name')}:  <redacted>"


def _yamlish(value: Any, indent: int = 0, key: str | None = None) -> list[str]:
    pad = "  " * indent
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            if k == "env" and isinstance(v, list):
                out.append(f"{pad}{k}:")
                out += [f"{pad}  {_env_line(e)}" for e in v if isinstance(e, Mapping)]
            elif isinstance(v, Mapping | list) and v:
                out.append(f"{pad}{k}:")
                out += _yamlish(v, indent + 1, k)
            else:
                out.append(f"{pad}{k}: {_scalar(v)}")
        return out
    if isinstance(value, list):
        out = []
        for item in value:
            sub = _yamlish(item, indent + 1)
            if sub:
                out.append(f"{pad}- {sub[0].strip()}")
                out += sub[1:]
        return out
    return [f"{pad}{_scalar(value)}"]


def _scalar(value: Any) -> str:
    if value is None:
        return "<none>"
    if isinstance(value, Mapping | list):
        return "{}" if isinstance(value, Mapping) else "[]"
    return str(value).replace("\n", "\\n")


def describe(obj: KubeObject, *, events: Sequence[Mapping[str, str]] = ()) -> str:
    """A describe-style view: metadata, spec and status, env values redacted, no managedFields/last-applied."""
    raw = thaw(obj.raw)
    meta = raw.get("metadata") or {}
    lines = [f"Name:         {obj.name}"]
    if obj.namespace:
        lines.append(f"Namespace:    {obj.namespace}")
    lines.append(f"Kind:         {obj.kind}")
    lines.append(f"Created:      {meta.get('creationTimestamp', '<unknown>')}")
    labels = meta.get("labels") or {}
    lines.append("Labels:       " + ("\n              ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"))
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _DROP_ANNOTATIONS}
    lines.append("Annotations:  " + ("\n              ".join(f"{k}: {v}" for k, v in sorted(annotations.items())) or "<none>"))
    owners = meta.get("ownerReferences") or []
    if owners:
        lines.append(f"Controlled By:  {owners[0].get('kind')}/{owners[0].get('name')}")
    if obj.resource == "configmaps":
        keys = sorted([*(raw.get("data") or {}), *(raw.get("binaryData") or {})])
        lines += ["", "Data (keys only; values are never shown):"] + [f"  {k}" for k in keys]
    for part in ("spec", "status", "subsets", "involvedObject"):
        if raw.get(part):
            lines += ["", f"{part[0].upper()}{part[1:]}:", *_yamlish(raw[part], 1)]
    if obj.resource == "events":
        lines += ["", f"Type: {raw.get('type')}  Reason: {raw.get('reason')}  Count: {raw.get('count')}", f"Message: {raw.get('message')}"]
    if events:
        lines += ["", "Events:", render_table(events)]
    elif obj.resource not in {"events", "configmaps"}:
        lines += ["", "Events:  <none>"]
    return clean_text("\n".join(lines))
