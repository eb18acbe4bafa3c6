"""Search over the bundled corpus with the shared `hash_searcher` fixture (no model)."""

from __future__ import annotations

from typing import Any

import pytest

from retrieval.entries import is_junk_answer
from retrieval.fuse import jaccard
from retrieval.models import SearchBackend, SearchResult


def test_chinese_paraphrase_finds_its_qa_first(hash_searcher: Any) -> None:
    result = hash_searcher.search("普通用户能自己定义 pod 优先级吗")
    assert result.answered
    top = result.hits[0]
    assert "优先级" in top.question and str(top.session.date) == "2017-11-15"


def test_english_question_finds_the_chinese_answer(hash_searcher: Any) -> None:
    result = hash_searcher.search("how to set the interval between pods during a deployment rolling update")
    assert any("minReadySeconds" in h.answer for h in result.hits[:5])


def test_code_tokens_match_whole(hash_searcher: Any) -> None:
    result = hash_searcher.search("--net=host")
    assert any("--net=host" in (h.question + h.answer) for h in result.hits)


@pytest.mark.parametrize("query", ["", "x" * 20_000, "🙂🙂🙂", "？？！！", "\x00\x07\x1b\r\n", "\ud800"])
def test_bad_queries_abstain_with_a_reason(hash_searcher: Any, query: str) -> None:
    result = hash_searcher.search(query)
    assert isinstance(result, SearchResult)
    assert not result.answered and result.hits == [] and result.reason
    result.model_dump_json()  # serialisable, no lone surrogate left


def test_terminal_escape_junk_abstains(hash_searcher: Any) -> None:
    result = hash_searcher.search("\x1b[31m\x1b[0m")
    assert not result.answered and result.reason
    assert "\x1b" not in result.query


def test_a_question_with_a_lone_surrogate_is_still_answered(hash_searcher: Any) -> None:
    result = hash_searcher.search("普通用户能自己定义\udc80 pod 优先级吗")
    assert result.hits and "\udc80" not in result.query
    result.query.encode("utf-8")


def test_unanswerable_questions_abstain_but_show_maybe_related(hash_searcher: Any) -> None:
    result = hash_searcher.search("怎么做红烧肉")
    assert not result.answered
    assert result.reason and "may be related" in result.reason


def test_a_product_the_archive_never_mentions_is_not_answered(hash_searcher: Any) -> None:
    result = hash_searcher.search("Karpenter 节点自动伸缩怎么配置")
    assert not result.answered
    assert result.hits  # still offers the closest sessions


def test_no_empty_or_junk_answer_is_ever_indexed(hash_searcher: Any) -> None:
    entries = hash_searcher.index.entries
    assert len(entries) > 2000
    assert all(e.answer.strip() and not is_junk_answer(e.answer) for e in entries)


def test_hits_are_folded_not_repeated(hash_searcher: Any) -> None:
    for query in ("k8s 持久化存储有什么方案推荐", "发布系统权限怎么控制", "gitlab-runner jenkins drone"):
        result = hash_searcher.search(query, top_k=10)
        ids = [h.qa_id for h in result.hits]
        assert len(ids) == len(set(ids))
        texts = [h.question + h.answer[:400] for h in result.hits]
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                a = frozenset(texts[i][k : k + 2] for k in range(len(texts[i]) - 1))
                b = frozenset(texts[j][k : k + 2] for k in range(len(texts[j]) - 1))
                assert jaccard(a, b) < 0.95, (query, texts[i][:40])


def test_top_k_is_respected_and_ranks_are_dense(hash_searcher: Any) -> None:
    backend: SearchBackend = hash_searcher
    result = backend.search("prometheus 监控", top_k=3)
    assert [h.rank for h in result.hits] == [1, 2, 3]
    assert all(0 < h.score <= 1 for h in result.hits)
    assert result.hits[0].score >= result.hits[-1].score


def test_a_lowercase_name_the_archive_never_uses_counts_against_answering(hash_searcher: Any) -> None:
    ex = hash_searcher.explain("crossplane 怎么管理云上的数据库")
    assert ex.evidence is not None and ex.evidence.unknown_names
    known = hash_searcher.explain("prometheus 怎么监控容器")
    assert known.evidence is not None and not known.evidence.unknown_names


def test_a_typo_in_a_product_name_finds_what_the_right_spelling_finds(hash_searcher: Any) -> None:
    hits = hash_searcher.explain("jenkisn", top_k=3, mode="lexical").result.hits
    assert hits and all("jenkins" in (h.question + h.answer).lower() for h in hits)
    plain = hash_searcher.settings
    try:
        hash_searcher.settings = plain.model_copy(update={"spelling": False})
        assert hash_searcher.explain("jenkisn", top_k=3, mode="lexical").result.hits == []
    finally:
        hash_searcher.settings = plain


def test_glued_and_hyphenated_spellings_match(hash_searcher: Any) -> None:
    tok = hash_searcher.index.tokenizer
    assert "hostgw" in tok.tokenize("flannel host-gw 模式") and "dockercompose" in tok.tokenize("docker-compose")


def test_inflected_words_and_acronyms_are_not_unknown_products(hash_searcher: Any) -> None:
    # 'VMs' is the plural of the archive's 'VM', 'SMS' an English acronym (短信): neither withholds an answer
    assert hash_searcher._unknown_names("how do containers reach apps in VMs? alerts by SMS?") == []
    assert hash_searcher._unknown_names("Karpenter 和 etcd3 怎么配") == ["karpenter"]  # etcd3 → etcd is known


def test_an_unknown_compound_counts_through_its_parts(hash_searcher: Any) -> None:
    """'bare-host' (and its glued 'barehost') is no word nobody uses: its parts bare and host stand for it."""
    alternatives = [u.alternatives for u in hash_searcher._units("bare-host deploys, auth/tls")[0]]
    assert not any({"bare-host", "barehost", "auth/tls"} & alts for alts in alternatives)
    assert all(any(word in alts for alts in alternatives) for word in ("bare", "host", "auth", "tls"))
    kept = [u.alternatives for u in hash_searcher._units("host-gw 模式")[0]]
    assert any("host-gw" in alts for alts in kept)  # a compound the archive uses stays a unit of its own
