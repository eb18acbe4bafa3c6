"""The bypass corpus: every known trick is rejected (usage or denied), and none reaches the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_support import SHOP, RecordingReader, make_settings
from pydantic import ValidationError

from bot.cluster.service import ClusterService
from bot.settings.cluster import ClusterSettings
from bot.store.audit import AuditLog
from bot.store.db import Database

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "kube" / "bypass_corpus.yaml"
ATTACKS: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
# kd and kgp are legitimate aliases (kd is denied for U0NARROW by policy); kdel and ksec cannot pass
# the settings, so the runtime check is exercised by building the settings without validation.
ALIASES = {"kd": "describe pods", "kgp": "get pods", "kdel": "delete pods", "ksec": "get secrets"}


def attack_text(case: dict[str, Any]) -> str:
    """The attack string; ``pad: N`` appends N letters (long names, the size cap)."""
    return str(case["attack"]) + "a" * int(case.get("pad", 0))


def test_corpus_is_large_enough() -> None:
    assert len(ATTACKS) >= 40
    assert len({attack_text(a) + a.get("channel", "") + a.get("user", "") for a in ATTACKS}) == len(ATTACKS)
    assert {a["expect"] for a in ATTACKS} == {"usage", "denied"}


def test_unsafe_aliases_are_refused_when_the_settings_load() -> None:
    for expansion in ("delete pods", "get secrets", "get pods -o yaml", "get pods --token=x"):
        with pytest.raises(ValidationError):
            ClusterSettings(aliases={"kx": expansion})


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClusterService, RecordingReader]:
    reader = RecordingReader()
    settings = make_settings().model_copy(update={"aliases": ALIASES})
    db = Database.sqlite(tmp_path_factory.mktemp("audit") / "audit.db")
    return ClusterService(settings, audit=AuditLog(db), reader=reader), reader


@pytest.mark.parametrize("case", ATTACKS, ids=[repr(a["attack"])[1:-1][:60] for a in ATTACKS])
def test_attack_is_rejected(case: dict[str, Any], service: tuple[ClusterService, RecordingReader]) -> None:
    svc, reader = service
    before = len(reader.calls)
    reply = svc.handle(attack_text(case), channel=case.get("channel", SHOP), user=case.get("user", "U0ALICE"), request_id=f"bypass-{case['attack']!r}-{case.get('channel')}-{case.get('user')}")
    expected = {"usage": ("usage", 2), "denied": ("denied", 3)}[case["expect"]]
    assert (reply.kind, reply.exit_code) == expected, reply.summary
    assert case["match"] in reply.summary, reply.summary
    assert reply.data["allowed"] is False
    assert len(reader.calls) == before, "a rejected command must not read the cluster"
