"""Every rendered object deserializes into the kubernetes client's models, with no unknown field.

kubectl kustomize does not validate against the API schema, and the API server would reject (or,
with older clients, silently drop) a misspelt field. The client's models carry the schema: each
model's ``attribute_map`` names its JSON keys and ``openapi_types`` their types, so walking the
YAML with them flags any key the API does not know, and ``ApiClient.deserialize`` must then build
the model without complaint.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from deploy_support import OVERLAYS, render

kubernetes = pytest.importorskip("kubernetes", reason="the kubernetes client package is not installed")
from kubernetes import client as k8s  # noqa: E402

PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "datetime": (str, dt.datetime),
    "date": (str, dt.date),
}


def model_name(doc: dict[str, Any]) -> str:
    """apps/v1 Deployment → V1Deployment; policy/v1 PodDisruptionBudget → V1PodDisruptionBudget."""
    version = doc["apiVersion"].rsplit("/", 1)[-1]
    return version[0].upper() + version[1:] + doc["kind"]


def unknown_fields(value: Any, type_name: str, where: str) -> list[str]:
    """Keys and values that do not fit the client model ``type_name`` (JSON paths of the offenders)."""
    type_name = type_name.strip()
    if m := re.fullmatch(r"Optional\[(.*)\]", type_name):
        return unknown_fields(value, m.group(1), where)
    if m := re.fullmatch(r"(?:List|list)\[(.*)\]", type_name):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [p for i, item in enumerate(value) for p in unknown_fields(item, m.group(1), f"{where}[{i}]")]
    if m := re.fullmatch(r"(?:Dict|dict)[\[(]\s*str,\s*(.*)[\])]", type_name):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping"]
        return [p for k, item in value.items() for p in unknown_fields(item, m.group(1), f"{where}.{k}")]
    if type_name == "object":
        return []  # IntOrString, quantities, free-form
    if type_name in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[type_name]) and not (type_name == "int" and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {type_name}, got {type(value).__name__} {value!r}"]
    model = getattr(k8s, type_name, None)
    assert model is not None, f"{where}: the client has no model {type_name}"
    if not isinstance(value, dict):
        return [f"{where}: expected a {type_name} mapping"]
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    problems = []
    for key, item in value.items():
        attr = by_json.get(key)
        if attr is None:
            problems.append(f"{where}.{key}: unknown field of {type_name}")
            continue
        problems += unknown_fields(item, model.openapi_types[attr], f"{where}.{key}")
    return problems


def test_walker_flags_unknown_and_mistyped_fields() -> None:
    """The checker itself must be able to fail."""
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "lables": {"a": "b"}},
        "spec": {
            "replicas": "2",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i", "securityContxt": {}}]}},
        },
    }
    problems = unknown_fields(bad, model_name(bad), "$")
    assert any("metadata.lables" in p for p in problems)
    assert any("spec.replicas" in p for p in problems)
    assert any("securityContxt" in p for p in problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_objects_have_no_unknown_fields(overlay: str) -> None:
    docs = render(overlay)
    problems: list[str] = []
    for doc in docs:
        name = model_name(doc)
        problems += unknown_fields(doc, name, f"{doc['kind']}/{doc['metadata']['name']}")
    assert not problems, f"{overlay}: fields the Kubernetes API does not know:\n" + "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_objects_deserialize_into_client_models(overlay: str) -> None:
    api = k8s.ApiClient()
    for doc in render(overlay):
        name = model_name(doc)
        try:
            obj = api.deserialize(json.dumps(doc), name, "application/json")
        except (ValueError, TypeError) as exc:  # required fields missing, bad enum values
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']} does not deserialize: {exc}")
        assert type(obj).__name__ == name
        # Round trip: what the client would send equals what we wrote (nothing dropped).
        assert api.sanitize_for_serialization(obj) == doc, f"{doc['kind']}/{doc['metadata']['name']} lost data"
