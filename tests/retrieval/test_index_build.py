"""Index build and load: manifest, freshness, atomic swap, damaged files (hash embedder, small corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.build import (
    CURRENT,
    IndexStale,
    IndexUnavailable,
    build_index,
    current_path,
    load_index,
    read_manifest,
)
from retrieval.config import RetrievalSettings
from retrieval.dense import HashEmbedder
from retrieval.search import Searcher

QA_TEXT = """### 2017-11-15：Kubernetes 调度详解

> Q1：普通用户有自定义 Pod 优先级的权限吗？

A：可以。先定义 kind 为 PriorityClass 的资源对象，再在 Pod 的 spec.priorityClassName 里引用它。

> Q2：调度器怎么选择节点？

A：先过滤（predicates）再打分（priorities），选分数最高的节点。

> Q3：这个问题没有人回答

A：

### 2018-04-24：Helm 实践

> Q1：如何在 Helm install 时指定命名空间？

A：`helm install local/testapi-chart --name testapi --namespace mynamespace`。

> Q2：有文档吗

A：[石墨文档](https://shimo.im/docs/abc)
"""


@pytest.fixture
def settings(tmp_path: Path) -> RetrievalSettings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "qa.txt").write_text(QA_TEXT, encoding="utf-8")
    return RetrievalSettings(embedder="hash", hash_dim=64, corpus_paths=[corpus], build_dir=tmp_path / "build")


def test_build_writes_manifest_and_serves_only_real_answers(settings: RetrievalSettings) -> None:
    path = build_index(settings, embedder=HashEmbedder(dim=64))
    assert (settings.build_dir / CURRENT).resolve() == path.resolve()
    manifest = read_manifest(settings)
    for key in ("corpus_hash", "model_id", "tokenizer_version", "settings", "built_at", "files"):
        assert manifest[key]
    assert manifest["model_id"] == "hash-ngram-v1-64"
    assert manifest["entries"] == 3  # the empty answer and the link-only answer are not servable
    index = load_index(settings, model_id="hash-ngram-v1-64")
    questions = {e.question for e in index.entries}
    assert "这个问题没有人回答" not in questions and "有文档吗" not in questions
    assert all(not e.answer.startswith("A：") for e in index.entries)


def test_search_finds_cites_and_abstains(settings: RetrievalSettings) -> None:
    searcher = Searcher(settings, embedder=HashEmbedder(dim=64))
    result = searcher.search("普通用户能自己定义 pod 优先级吗", top_k=3)
    top = result.hits[0]
    assert top.question == "普通用户有自定义 Pod 优先级的权限吗？"
    assert str(top.session.date) == "2017-11-15" and top.session.title == "Kubernetes 调度详解"
    assert "lexical" in top.channels and 0 < top.score <= 1
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    off_topic = searcher.search("今天北京天气怎么样")
    assert not off_topic.answered and off_topic.reason


def test_nothing_changed_loads_without_rebuilding(settings: RetrievalSettings) -> None:
    first = build_index(settings, embedder=HashEmbedder(dim=64))
    searcher = Searcher(settings, embedder=HashEmbedder(dim=64), say=lambda m: pytest.fail(f"rebuilt: {m}"))
    searcher.warm_up()
    assert searcher.index.path == first.resolve()


def test_settings_or_corpus_change_makes_it_stale_and_next_use_rebuilds(settings: RetrievalSettings) -> None:
    build_index(settings, embedder=HashEmbedder(dim=64))
    changed = settings.model_copy(update={"tokenizer_mode": "bigram"})
    with pytest.raises(IndexStale, match="settings changed"):
        load_index(changed, model_id="hash-ngram-v1-64")
    corpus_file = settings.corpus_paths[0] / "qa.txt"
    corpus_file.write_text(QA_TEXT + "\n> Q3：新问题 kustomize 怎么用？\n\nA：用 overlays。\n", encoding="utf-8")
    with pytest.raises(IndexStale, match="corpus changed"):
        load_index(settings, model_id="hash-ngram-v1-64")
    said: list[str] = []
    searcher = Searcher(settings, embedder=HashEmbedder(dim=64), say=said.append)
    assert searcher.search("kustomize overlays").hits[0].question == "新问题 kustomize 怎么用？"
    assert any("corpus changed" in m for m in said)


@pytest.mark.parametrize("damage", ["truncate", "corrupt", "delete"])
def test_damaged_index_is_rebuilt_or_explained(settings: RetrievalSettings, damage: str) -> None:
    path = build_index(settings, embedder=HashEmbedder(dim=64))
    target = path / "vectors.faiss"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:20])
    elif damage == "corrupt":
        raw = bytearray(target.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        target.write_bytes(bytes(raw))
    else:
        target.unlink()
    with pytest.raises(IndexUnavailable, match=r"firstmate index build --force"):
        load_index(settings, model_id="hash-ngram-v1-64")
    strict = settings.model_copy(update={"auto_rebuild": False})
    with pytest.raises(IndexUnavailable, match="firstmate index build"):
        Searcher(strict, embedder=HashEmbedder(dim=64)).warm_up()
    healed = Searcher(settings, embedder=HashEmbedder(dim=64), say=lambda m: None)
    assert healed.search("调度器怎么选节点").hits


def test_missing_index_and_unreadable_manifest(settings: RetrievalSettings) -> None:
    with pytest.raises(IndexUnavailable, match="no index"):
        read_manifest(settings)
    build_index(settings, embedder=HashEmbedder(dim=64))
    (current_path(settings) / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexUnavailable, match="unreadable"):
        read_manifest(settings)


class _Boom(HashEmbedder):
    def encode_passages(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("crash mid-build")


def test_a_crash_mid_build_leaves_the_previous_index_in_place(settings: RetrievalSettings) -> None:
    good = build_index(settings, embedder=HashEmbedder(dim=64))
    before = json.loads((good / "manifest.json").read_text(encoding="utf-8"))
    with pytest.raises(RuntimeError, match="crash mid-build"):
        # No vector cache, or the unchanged texts would never reach the crashing encoder.
        build_index(settings.model_copy(update={"question_boost": 3, "embed_cache": False}), embedder=_Boom(dim=64))
    assert current_path(settings).resolve() == good.resolve()
    assert json.loads((good / "manifest.json").read_text(encoding="utf-8")) == before
    assert not [p for p in settings.build_dir.iterdir() if p.name.startswith(".tmp-index-")]
    load_index(settings, model_id="hash-ngram-v1-64")


def test_missing_corpus_path_is_a_clear_error(tmp_path: Path) -> None:
    settings = RetrievalSettings(embedder="hash", corpus_paths=[tmp_path / "nope"], build_dir=tmp_path / "b")
    with pytest.raises(IndexUnavailable, match="nope"):
        Searcher(settings).warm_up()


TITLED = """### 2016-03-01：Mesos 生产实践

> Q1：服务发现你们怎么做？

A：用 Marathon 的事件流更新 HAProxy 的配置。

### 2016-04-01：Swarm 生产实践

> Q1：服务发现怎么做？

A：服务发现靠内置 DNS，每个服务一个虚拟 IP，服务发现由负载均衡完成。
"""


@pytest.mark.parametrize(("title_boost", "expected"), [(0, "Swarm 生产实践"), (2, "Mesos 生产实践")])
def test_session_title_counts_in_the_lexical_channel(tmp_path: Path, title_boost: int, expected: str) -> None:
    """A question naming the session's topic (Mesos) finds that session's Q&A, which never says it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "qa.txt").write_text(TITLED, encoding="utf-8")
    settings = RetrievalSettings(embedder="hash", hash_dim=64, corpus_paths=[corpus], build_dir=tmp_path / "build",
                                 title_boost=title_boost)
    searcher = Searcher(settings, embedder=HashEmbedder(dim=64))
    explained = searcher.explain("Mesos 的服务发现怎么做", mode="lexical")
    assert explained.result.hits[0].session.title == expected
