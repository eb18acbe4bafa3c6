"""Fixtures for the cluster tests: the fake kube-apiserver and a kubeconfig for it (helpers: cluster_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.kube_apiserver import FakeKubeApiServer


@pytest.fixture
def kube_api() -> Iterator[FakeKubeApiServer]:
    """A fresh fake API server for one test (faults and mutations stay local)."""
    with FakeKubeApiServer(metrics=True) as api:
        yield api


@pytest.fixture(scope="module")
def shared_kube_api() -> Iterator[FakeKubeApiServer]:
    """One fake API server for a module's read-only tests."""
    with FakeKubeApiServer(metrics=True) as api:
        yield api


@pytest.fixture
def kubeconfig(kube_api: FakeKubeApiServer, tmp_path: Path) -> Path:
    return kube_api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture(scope="module")
def shared_kubeconfig(shared_kube_api: FakeKubeApiServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_kube_api.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
