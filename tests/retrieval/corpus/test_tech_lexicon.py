"""The hand-written tech lexicon that corpus repair uses to prefer technical readings.

The file ships as package data (retrieval/corpus/data/tech_lexicon.txt); these tests read it the
way the installed package does and hold it to its format: one simplified-Chinese term per line,
tab, tier 1–3, no repeats, sorted by tier then term.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from importlib.resources import files

import pytest

_CJK_ONLY = re.compile(r"[\u4e00-\u9fff]+")
# Traditional-only forms of characters common in ops vocabulary (鏡像, 節點, 雲, 網關…). Used when opencc
# is not installed, so the "simplified only" rule is still checked against the likely mistakes.
_TRADITIONAL = set(
    "鏡雲節點碼術調務個據體線網檔設數標籤憑證權倉庫資監關將從對開閉啟動運維護鍵誤報錯測試環變組態實現"
    "應業傳輸請響連處進記憶儲叢負載滾蓋層級協議題驗書認離縮擴發佈號頭際視圖說顯為與於"
)
_MUST_HAVE = (
    "容器",
    "镜像",
    "集群",
    "节点",
    "部署",
    "字段",
    "配置",
    "日志",
    "高可用",
    "控制面",
    "存储卷",
    "转发",
    "持久化存储",
    "服务网格",
    "命名空间",
    "灰度发布",
    "滚动更新",
    "负载均衡",
    "健康检查",
    "资源配额",
    "环境变量",
    "配置文件",
    "数据库",
    "主从复制",
    "读写分离",
)


def _read_lines() -> list[str]:
    resource = files("retrieval.corpus").joinpath("data/tech_lexicon.txt")
    return resource.read_text(encoding="utf-8").splitlines()


def _parse() -> list[tuple[str, int]]:
    entries: list[tuple[str, int]] = []
    for number, line in enumerate(_read_lines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        assert len(fields) == 2, f"line {number}: expected term<TAB>tier, got {line!r}"
        term, tier = fields
        assert tier in {"1", "2", "3"}, f"line {number}: tier must be 1, 2 or 3, got {tier!r}"
        entries.append((term, int(tier)))
    return entries


def test_header_says_what_it_is() -> None:
    first = _read_lines()[0]
    assert first.startswith("#")
    assert "firstmate" in first


def test_every_line_parses_and_there_are_enough_terms() -> None:
    entries = _parse()
    assert len(entries) >= 4000
    assert {tier for _term, tier in entries} == {1, 2, 3}


def test_no_duplicate_terms() -> None:
    counts = Counter(term for term, _tier in _parse())
    repeated = sorted(t for t, n in counts.items() if n > 1)
    assert not repeated, f"repeated terms: {repeated[:20]}"


def test_terms_are_cjk_only_words() -> None:
    bad = [term for term, _tier in _parse() if not _CJK_ONLY.fullmatch(term) or len(term) < 2]
    assert not bad, f"terms that are not 2+ CJK ideographs: {bad[:20]}"


def test_terms_are_simplified() -> None:
    terms = [term for term, _tier in _parse()]
    bad = [t for t in terms if _TRADITIONAL.intersection(t)]
    assert not bad, f"traditional characters in: {bad[:20]}"


@pytest.mark.skipif(importlib.util.find_spec("opencc") is None, reason="opencc not installed")
def test_terms_survive_traditional_to_simplified_unchanged() -> None:
    import opencc

    converter = opencc.OpenCC("t2s")
    bad = [t for t, _tier in _parse() if converter.convert(t) != t]
    assert not bad, f"opencc changes: {bad[:20]}"


def test_sorted_by_tier_then_term() -> None:
    entries = _parse()
    assert entries == sorted(entries, key=lambda e: (e[1], e[0]))


def test_core_ops_vocabulary_is_present_and_common() -> None:
    tiers = dict(_parse())
    missing = [t for t in _MUST_HAVE if t not in tiers]
    assert not missing, f"missing core terms: {missing}"
    assert all(tiers[t] == 1 for t in ("容器", "镜像", "集群", "节点", "部署", "字段", "配置", "日志"))
