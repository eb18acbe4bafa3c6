"""Tokenizer and BM25 channel."""

from __future__ import annotations

import pytest

from retrieval.lexical import LexicalIndex, Tokenizer, mine_domain_words


@pytest.mark.parametrize("mode", ["bigram", "jieba", "mix", "mixuni", "bigramuni"])
def test_latin_and_code_tokens_stay_whole_and_case_folded(mode: str) -> None:
    tokens = Tokenizer(mode=mode).tokenize("用 Kubectl 看 StatefulSet，docker run --net=host 和 kube-proxy")
    for expected in ("kubectl", "statefulset", "--net=host", "kube-proxy", "proxy", "docker"):
        assert expected in tokens
    assert "StatefulSet" not in tokens


def test_full_width_text_is_normalised() -> None:
    assert "kubectl" in Tokenizer(mode="bigram").tokenize("ＫＵＢＥＣＴＬ")


def test_cjk_bigrams_and_replacement_characters_split_runs() -> None:
    tokens = Tokenizer(mode="bigram").tokenize("持久化存储")
    assert tokens == ["持久", "久化", "化存", "存储"]
    broken = Tokenizer(mode="bigram").tokenize("持\ufffd化")
    assert all("\ufffd" not in t for t in broken)
    assert broken == ["持", "化"]


def test_unigram_modes_keep_single_characters_next_to_unrecovered_ones() -> None:
    tokens = Tokenizer(mode="bigramuni").tokenize("数\ufffd盘")
    assert "数" in tokens and "盘" in tokens
    assert "的" not in Tokenizer(mode="bigramuni").tokenize("我的盘")


def test_domain_words_reach_jieba() -> None:
    plain = Tokenizer(mode="jieba").tokenize("服务网格的灰度发布")
    tuned = Tokenizer(mode="jieba", domain_words=["服务网格", "灰度发布"]).tokenize("服务网格的灰度发布")
    assert "服务网格" in tuned and "灰度发布" in tuned
    assert Tokenizer(mode="jieba", domain_words=["服务网格"]).version != Tokenizer(mode="jieba").version
    assert "的" not in plain


def test_mining_finds_a_repeated_term_in_varied_contexts() -> None:
    contexts = ["我们用", "他们说", "如何做", "为什么", "线上的", "测试中", "大规模", "小团队"]
    tails = ["方案", "实践", "问题", "经验", "好处", "风险", "成本", "工具"]
    texts = [f"{a}灰度发布{b}" for a in contexts for b in tails]
    words = mine_domain_words(texts, min_count=5)
    assert "灰度发布" in words
    assert "度发" not in words


def test_weighted_bm25_and_doc_has() -> None:
    tok = Tokenizer(mode="bigram")
    docs = [tok.tokenize(t) for t in ("滚动更新 deployment", "持久化存储 ceph rbd", "调度 scheduler 优先级")]
    index = LexicalIndex.build(docs)
    scores = index.scores({"ceph": 1.0})
    assert int(scores.argmax()) == 1 and scores[0] == 0
    weighted = index.scores({"ceph": 1.0, "调度": 2.0})
    assert int(weighted.argmax()) == 2
    assert index.doc_has(1, "rbd") and not index.doc_has(0, "rbd")
    assert not index.doc_has(0, "never-seen")
    assert index.idf("never-seen") > index.idf("ceph")
    assert not index.scores({"never-seen": 1.0}).any()


@pytest.mark.parametrize("n", [10, 1000, 200_000])
def test_top_indices_is_exact_and_ordered(n: int) -> None:
    import numpy as np

    from retrieval.lexical import top_indices

    rng = np.random.default_rng(n)
    scores = np.where(rng.random(n) < 0.5, 0.0, rng.gamma(2.0, 2.0, n))
    got = top_indices(scores, 50)
    positive = np.flatnonzero(scores > 0)
    want = positive[np.argsort(-scores[positive], kind="stable")][:50]
    assert np.array_equal(scores[got], scores[want])
    assert all(scores[got] > 0)
    assert len(top_indices(np.zeros(n), 5)) == 0


def test_question_framing_makes_no_bigrams() -> None:
    tok = Tokenizer(mode="bigramuni")
    tokens = tok.tokenize("这个命令是干什么的")
    assert "命令" in tokens and not {"干什", "么的", "是干"} & set(tokens)
    assert {"高可", "可用"} <= set(tok.tokenize("nginx 怎么做高可用")) and "么做" not in tok.tokenize("nginx 怎么做高可用")


def test_a_version_glued_to_a_name_also_yields_the_name() -> None:
    tokens = Tokenizer(mode="bigram").tokenize("etcd3 centos7 k8s log4j")
    assert {"etcd3", "etcd", "centos7", "centos", "k8s", "log4j"} <= set(tokens) and "k" not in tokens
