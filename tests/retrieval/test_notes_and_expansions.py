"""Note chunks in the index, the embedding cache, and query expansions (dictionary, colloquial, vector gate).

Small hand-made corpora and the hash embedder: no model, a second or two per build.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.build import build_index, load_index, read_manifest
from retrieval.colloquial import colloquial_terms
from retrieval.config import RetrievalSettings
from retrieval.corpus.models import Doc
from retrieval.crosslingual import CrossLingual, lemmas, mine_table, parse_line
from retrieval.dense import HashEmbedder
from retrieval.embed_cache import EmbeddingCache
from retrieval.entries import UNDATED, note_date, note_entry
from retrieval.search import Searcher

QA_TEXT = """### 2019-03-01：存储实践

> Q1：磁盘配额怎么按用户设置？

A：用 XFS 的 project quota 给每个目录设置配额，超过配额写入就会失败。

> Q2：配额满了会怎样？

A：写入失败，需要清理或者调大配额。

> Q3：节点宕机以后 pod 怎么迁移？

A：节点宕机超过 pod-eviction-timeout 后，控制器会在别的节点重建 pod。

> Q4：多个采集进程会互相干扰吗？

A：会抢占 CPU，互相干扰，建议限制资源。

> Q5：日志太多会干扰业务吗？

A：会占满磁盘 IO，给日志限速或者单独挂盘。

### 2019-04-02：调度

> Q1：调度器怎么选择节点？

A：先过滤再打分，选分数最高的节点。
"""

NOTE_DATED = """## 20201013

### dockerfile中的tini

tini 是专用于容器的轻量级 init 系统，作为 PID 1 转发信号给子进程，并收割僵尸进程，避免僵尸进程越积越多。
"""

NOTE_UNDATED = """## kustomize

不用维护多份 yaml 配置文件：base 放基础配置，overlays 放各个环境与 base 的差异，部署时合并生成最终配置。

## links

[官方文档](https://kubectl.docs.kubernetes.io/)
"""


@pytest.fixture
def settings(tmp_path: Path) -> RetrievalSettings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "qa.txt").write_text(QA_TEXT, encoding="utf-8")
    (corpus / "000_notes.md").write_text(NOTE_DATED, encoding="utf-8")
    (corpus / "001_notes.md").write_text(NOTE_UNDATED, encoding="utf-8")
    return RetrievalSettings(embedder="hash", hash_dim=64, corpus_paths=[corpus], build_dir=tmp_path / "build")


# --- note chunks ------------------------------------------------------------------------------


def test_note_chunks_are_indexed_and_cited_as_notes(settings: RetrievalSettings) -> None:
    searcher = Searcher(settings, embedder=HashEmbedder(dim=64))
    hit = searcher.search("tini 僵尸进程", top_k=3).hits[0]
    assert hit.kind == "doc" and hit.source == "000_notes.md" and hit.line == 3
    assert hit.section == "20201013 › dockerfile中的tini" and hit.question == "dockerfile中的tini"
    assert hit.session.kind == "note" and hit.session.id == "note:000_notes.md"
    assert hit.session.date == dt.date(2020, 10, 13) and hit.session.date_known
    assert "PID 1" in hit.answer

    undated = searcher.search("kustomize overlays base", top_k=3).hits[0]
    assert undated.kind == "doc" and undated.source == "001_notes.md"
    assert not undated.session.date_known and undated.session.date.isoformat() == UNDATED

    qa = searcher.search("磁盘配额怎么按用户设置").hits[0]
    assert qa.kind == "qa" and qa.session.kind == "session" and qa.source is None and qa.session.date_known


def test_link_only_note_chunks_are_not_indexed(settings: RetrievalSettings) -> None:
    build_index(settings, embedder=HashEmbedder(dim=64))
    index = load_index(settings, model_id="hash-ngram-v1-64")
    docs = [e for e in index.entries if e.kind == "doc"]
    assert {e.question for e in docs} == {"dockerfile中的tini", "kustomize"}
    assert read_manifest(settings)["note_chunks"] == 2


def test_note_entry_parts_and_dates() -> None:
    doc = Doc(id="doc-1", source="n.md", title="a › b", text="正文" * 30, line=7, heading_path=("a", "b"), part=2, parts=3)
    entry = note_entry(doc)
    assert entry is not None and entry.question == "b (2/3)" and entry.line == 7 and not entry.date_known
    assert note_entry(doc.model_copy(update={"text": "FROM\n支持变量"})) is None
    assert note_date(["2021-03-04 周报"]) == "2021-03-04" and note_date(["20201013"]) == "2020-10-13"
    assert note_date(["05-13", "v1.20.3"]) is None


# --- embedding cache --------------------------------------------------------------------------


class _Counting(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=64)
        self.embedded = 0

    def encode_passages(self, texts: Any, *, progress: Any = None) -> np.ndarray:
        self.embedded += len(texts)
        return super().encode_passages(texts, progress=progress)


def test_rebuild_embeds_only_changed_texts(settings: RetrievalSettings) -> None:
    first = _Counting()
    build_index(settings, embedder=first)
    total = read_manifest(settings)["entries"]
    assert first.embedded == total and read_manifest(settings)["vectors_reused"] == 0
    qa = settings.corpus_paths[0] / "qa.txt"
    qa.write_text(QA_TEXT.replace("选分数最高的节点", "选分数最高的节点（默认调度器）"), encoding="utf-8")
    second = _Counting()
    build_index(settings, embedder=second)
    assert second.embedded == 1 and read_manifest(settings)["vectors_reused"] == total - 1
    fresh = np.asarray(HashEmbedder(dim=64).encode_passages(["调度器怎么选择节点？\n先过滤再打分，选分数最高的节点（默认调度器）。"]))
    index = load_index(settings, model_id="hash-ngram-v1-64")
    assert index.vectors.size == total and fresh.shape == (1, 64)


def test_a_damaged_embedding_cache_is_ignored(settings: RetrievalSettings) -> None:
    build_index(settings, embedder=HashEmbedder(dim=64))
    cache = EmbeddingCache(settings.build_dir / "models", model_id="hash-ngram-v1-64").path
    cache.write_bytes(b"not a numpy file")
    again = _Counting()
    build_index(settings, embedder=again)
    assert again.embedded == read_manifest(settings)["entries"]
    assert Searcher(settings, embedder=HashEmbedder(dim=64)).search("调度器怎么选择节点").hits


# --- English words through the dictionary; colloquial Chinese ----------------------------------


def test_cedict_lines_lemmas_and_table() -> None:
    assert parse_line("配額 配额 [pei4 e2] /quota/ration/") == ("配额", ["quota", "ration"])
    assert parse_line("宕機 宕机 [dang4 ji1] /to crash (of a computer)/") == ("宕机", ["crash"])
    assert parse_line("not a line") is None
    assert {"mount", "mounted"} <= lemmas("mounted") and "policy" in lemmas("policies")
    assert "run" in lemmas("ran") and "hard" in lemmas("hardest") and "easy" in lemmas("easiest")
    entries = [("配额", ["quota", "ration"]), ("定额", ["fixed amount", "quota"]), ("名额", ["quota"]), ("宕机", ["crash"])]
    table = mine_table(["配额 定额", "配额 宕机", "宕机"], entries=entries, min_df=2)
    assert table == {"quota": ["配额"], "ration": ["配额"], "crash": ["宕机"]}  # 定额, 名额: too rare here
    cross = CrossLingual.from_json(json.loads(json.dumps(CrossLingual(table).to_json())))
    assert cross.expand("What happens when the quotas run out after a crash?") == [("quotas", ["配额"]), ("crash", ["宕机"])]


def test_english_words_outside_the_glossary_find_chinese_answers(settings: RetrievalSettings) -> None:
    searcher = Searcher(settings, embedder=HashEmbedder(dim=64))
    assert "interfere" in searcher.index.crosslingual.table  # from CC-CEDICT: 干扰 is used in this corpus
    query = "will collectors interfere with each other?"
    target = "多个采集进程会互相干扰吗？"  # says 干扰; 'interfere' is in no glossary

    def lexical_hits() -> set[str]:
        return {h.question for h in searcher.search(query, top_k=10).hits if "lexical" in h.channels}

    assert target in lexical_hits()
    searcher.settings = settings.model_copy(update={"dictionary_weight": 0.0})
    assert target not in lexical_hits()


def test_colloquial_chinese_gets_written_forms(settings: RetrievalSettings) -> None:
    assert [p for p, _ in colloquial_terms("节点挂了，pod 起不来")] == ["挂了", "起不来"]
    assert colloquial_terms("数据库的数据盘") == []  # no single-character keys inside written words
    searcher = Searcher(settings, embedder=HashEmbedder(dim=64))
    hit = searcher.search("节点挂了 pod 咋整").hits[0]
    assert "宕机" in hit.question


# --- the vector channel is skipped when the model cannot read the query -------------------------


class _Blind(HashEmbedder):
    def unknown_share(self, text: str) -> float:
        return 1.0 if any("\u4e00" <= ch <= "\u9fff" for ch in text) else 0.0


def test_vector_channel_is_skipped_for_queries_the_model_cannot_read(settings: RetrievalSettings) -> None:
    gated = settings.model_copy(update={"vector_skip_unknown": 0.6})
    searcher = Searcher(gated, embedder=_Blind(dim=64))
    assert all(h.channels == ["lexical"] for h in searcher.search("磁盘配额怎么按用户设置").hits)
    assert any("vector" in h.channels for h in searcher.search("xfs project quota").hits)
    searcher.settings = settings  # default: never skip
    assert any("vector" in h.channels for h in searcher.search("磁盘配额怎么按用户设置").hits)
