"""FAISS stores: exact and approximate, saved and loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.vectors import VectorStore


def _unit(n: int, d: int, seed: int = 1) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_each_kind_finds_the_vector_itself_and_round_trips(kind: str, tmp_path: Path) -> None:
    x = _unit(2000, 32)
    ids = np.arange(2000, dtype=np.int64) * 3 + 5  # ids are ours, not positions
    store = VectorStore.build(x, ids, kind=kind, ivf_nlist=16)
    store.tune(hnsw_ef_search=64, ivf_nprobe=16)
    scores, found = store.search(x[:50], k=3)
    assert (found[:, 0] == ids[:50]).mean() >= 0.95
    assert np.all(scores[:, 0] <= 1.0001)
    path = tmp_path / "v.faiss"
    store.save(path)
    again = VectorStore.load(path, kind=kind)
    again.tune(ivf_nprobe=16)
    assert again.size == 2000 and again.dim == 32
    assert (again.search(x[:1], k=1)[1][0, 0]) == ids[0]


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown vector index kind"):
        VectorStore.build(_unit(4, 4), np.arange(4), kind="lsh")
