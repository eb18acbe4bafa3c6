"""Embedders: the hash embedder, the remote OpenAI-compatible client against a fake server, the factory."""

from __future__ import annotations

import numpy as np
import pytest
from fakes.embeddings_api import FakeEmbeddingsState, fake_embeddings_api
from pydantic import SecretStr

from retrieval.config import RetrievalSettings
from retrieval.dense import EmbeddingError, HashEmbedder, LocalModelEmbedder, RemoteEmbedder, make_embedder


def test_hash_embedder_is_deterministic_and_unit_length() -> None:
    e = HashEmbedder(dim=64)
    a = e.encode_passages(["滚动更新", "kubectl get pods"])
    b = e.encode_queries(["滚动更新"])
    assert a.shape == (2, 64) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.allclose(a[0], b[0])
    assert float(a[0] @ a[1]) < 0.9


def test_remote_embedder_batches_sorts_and_normalises() -> None:
    with fake_embeddings_api(FakeEmbeddingsState(dim=8)) as (url, state):
        e = RemoteEmbedder(url, model="m", api_key="sk-test", batch_size=2, sleep=lambda s: None)
        out = e.encode_passages(["a", "b", "c"])
        assert out.shape == (3, 8)
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
        want = np.asarray(state.vector("c"), dtype=np.float32)
        assert np.allclose(out[2], want / np.linalg.norm(want), atol=1e-5)  # order restored by "index"
        assert [len(r["input"]) for r in state.requests] == [2, 1]
        assert e.model_id == "remote:m"
        e.close()


def test_remote_embedder_retries_429_with_retry_after_and_5xx() -> None:
    slept: list[float] = []
    state = FakeEmbeddingsState(script=[("429", "2"), ("503", "")])
    with fake_embeddings_api(state) as (url, _):
        e = RemoteEmbedder(url, model="m", api_key="sk-test", retries=3, backoff_s=0.1, sleep=slept.append)
        assert e.encode_queries(["x"]).shape == (1, 8)
    assert slept == [2.0, 0.2]  # Retry-After honoured, then exponential backoff


def test_remote_embedder_gives_up_after_retries_with_a_clear_error() -> None:
    state = FakeEmbeddingsState(script=[("500", "")] * 5)
    with fake_embeddings_api(state) as (url, _), pytest.raises(EmbeddingError, match="failed after 3 attempts: HTTP 500"):
        RemoteEmbedder(url, model="m", api_key="sk-test", retries=2, sleep=lambda s: None).encode_queries(["x"])


def test_remote_embedder_times_out_then_recovers() -> None:
    state = FakeEmbeddingsState(script=[("stall", "1.5")])
    with fake_embeddings_api(state) as (url, _):
        e = RemoteEmbedder(url, model="m", api_key="sk-test", timeout_s=0.3, retries=1, sleep=lambda s: None)
        assert e.encode_queries(["x"]).shape == (1, 8)


def test_remote_embedder_timeout_exhausted() -> None:
    state = FakeEmbeddingsState(script=[("stall", "1.0"), ("stall", "1.0")])
    with fake_embeddings_api(state) as (url, _), pytest.raises(EmbeddingError, match="ReadTimeout"):
        RemoteEmbedder(url, model="m", api_key="sk-test", timeout_s=0.2, retries=1, sleep=lambda s: None).encode_queries(["x"])


def test_remote_embedder_does_not_retry_a_bad_key() -> None:
    with fake_embeddings_api() as (url, state):
        e = RemoteEmbedder(url, model="m", api_key="wrong", retries=3, sleep=lambda s: pytest.fail("retried a 401"))
        with pytest.raises(EmbeddingError, match="401") as info:
            e.encode_queries(["x"])
        assert "wrong" not in str(info.value)  # the key is never echoed
        assert state.requests == []


def test_remote_embedder_unreachable() -> None:
    e = RemoteEmbedder("http://127.0.0.1:9/v1", model="m", retries=1, timeout_s=0.5, sleep=lambda s: None)
    with pytest.raises(EmbeddingError, match="failed after 2 attempts"):
        e.encode_queries(["x"])


def test_factory() -> None:
    assert isinstance(make_embedder(RetrievalSettings(embedder="hash", hash_dim=32)), HashEmbedder)
    assert isinstance(make_embedder(RetrievalSettings(embedder="minilm")), LocalModelEmbedder)
    remote = make_embedder(
        RetrievalSettings(embedder="remote", embeddings_url="http://x/v1", embeddings_api_key=SecretStr("k"))
    )
    assert isinstance(remote, RemoteEmbedder)
    with pytest.raises(EmbeddingError, match="model_path"):
        make_embedder(RetrievalSettings(embedder="path"))
    with pytest.raises(EmbeddingError, match="embeddings_url"):
        make_embedder(RetrievalSettings(embedder="remote"))


def test_local_model_folder_must_exist(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EmbeddingError, match="not a sentence-transformers model folder"):
        LocalModelEmbedder(tmp_path).warm_up()
