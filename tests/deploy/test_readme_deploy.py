"""The README's deploy section tells the truth about the manifests: the Secrets it says to create are
exactly the ones (and the keys) the pods reference, and the commands name real paths."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
from deploy_support import OVERLAYS, REPO, by_kind, containers, pod_specs, render

SECTION = re.compile(r"<!-- section:deploy -->(.*?)<!-- /section:deploy -->", re.S)


def deploy_section() -> str:
    match = SECTION.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert match and match.group(1).strip(), "README.md has no deploy section"
    return match.group(1)


def documented_secrets(text: str) -> dict[str, set[str]]:
    """Secret name → keys, from every `kubectl … create secret generic NAME --from-…=KEY=…` in the text."""
    out: dict[str, set[str]] = {}
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        if "create secret generic" not in line:
            continue
        words = shlex.split(line.split("#", 1)[0].replace("<(", "(").replace(")", ""), posix=True)
        name = words[words.index("generic") + 1]
        keys = out.setdefault(name, set())
        for word in words:
            m = re.match(r"--from-(?:file|literal)=([\w.-]+)=", word)
            if m:
                keys.add(m.group(1))
    return out


def referenced_secrets(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for _, spec in pod_specs(docs):
        for c in containers(spec):
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    out.setdefault(ref["name"], set()).add(ref["key"])
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_readme_creates_every_secret_the_pods_use(overlay: str) -> None:
    text = deploy_section()
    heading = re.search(rf"(?ms)^#+ .*\b{overlay}\b.*?(?=^#+ |\Z)", text)
    assert heading, f"no README heading mentions the {overlay} overlay"
    documented = documented_secrets(text)
    for name, keys in referenced_secrets(render(overlay)).items():
        assert name in documented, f"{overlay}: the README never creates Secret {name}"
        assert keys <= documented[name], f"{overlay}: README's {name} lacks keys {sorted(keys - documented[name])}"


def test_readme_documents_the_tls_secret_and_the_apply_command() -> None:
    text = deploy_section()
    assert "kubectl apply -k deploy/kubernetes/overlays/dev" in text
    for ingress in by_kind(render("prod"), "Ingress"):
        for tls in ingress["spec"].get("tls") or []:
            assert tls["secretName"] in text, f"README does not say how {tls['secretName']} is created"
    # Repository paths (not `kubectl … deploy/firstmate`, which names a Deployment).
    for path in re.findall(r"(?<![\w/-])deploy/(?:kubernetes/[\w./-]+|[\w.-]+\.\w+|Dockerfile)", text):
        assert (REPO / path.rstrip(".")).exists(), f"README names {path}, which does not exist"
    assert "/readyz" in text and "/healthz" in text


def test_secret_values_never_on_the_command_line() -> None:
    text = deploy_section()
    assert "--from-literal" not in text, "--from-literal puts secrets in shell history and the process list"
    assert not re.search(r"xox[abp]-[0-9A-Za-z]{6,}|xapp-\d-[0-9A-Za-z]{6,}", text), "a token in the README"
