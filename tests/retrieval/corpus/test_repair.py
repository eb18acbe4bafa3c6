"""The encoding repair: known damaged words, undamaged text untouched, round trips, the real seed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.corpus import repair_domain, repair_sources
from retrieval.corpus.repair import RepairResult, repair_text
from retrieval.corpus.repair_codec import CP1252_UNDEFINED, DROPPED, Scan, candidates, damage, scan
from retrieval.corpus.repair_kn import UNDECIDED, KNModel
from retrieval.corpus.repair_lm import SLOT, NgramModel, frame_flags, tokens
from retrieval.corpus.repair_trigger import TriggerModel
from retrieval.corpus.repair_words import WordModel

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "index" / "corpus" / "004_77bb0b753ad145a3.txt"

# Common words of technical Chinese; sentences built from them must come back exactly.
WORDS = [
    "我们",
    "需要",
    "存储",
    "数据",
    "容器",
    "集群",
    "节点",
    "服务",
    "配置",
    "文件",
    "网络",
    "问题",
    "可以",
    "使用",
    "部署",
    "应用",
    "监控",
    "日志",
    "镜像",
    "版本",
    "升级",
    "资源",
    "调度",
    "管理",
    "系统",
    "环境",
    "生产",
    "测试",
    "方案",
    "支持",
    "请求",
    "访问",
    "数据库",
    "性能",
    "稳定",
    "自动",
    "扩容",
    "备份",
    "恢复",
    "安全",
    "权限",
    "用户",
    "团队",
    "时间",
    "目前",
    "已经",
    "如果",
    "因为",
    "所以",
    "但是",
    "还是",
    "怎么",
    "什么",
    "这个",
    "一个",
    "没有",
    "就是",
    "为了",
    "通过",
    "进行",
    "实现",
    "处理",
    "发现",
    "建议",
    "主要",
    "比较",
    "非常",
    "公司",
    "业务",
    "开发",
    "运维",
    "工具",
    "平台",
]
PUNCT = ["，", "。", "、", "；", "：", "？", "！"]
# Characters never damaged by the repair's scan: Chinese, ASCII, CJK punctuation, and cp1252
# characters that cannot start a UTF-8 sequence (“ ” — … are stray continuation bytes).
CLEAN_ALPHABET = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/()[]{}<>=+*#\n"
    "，。、；：？！（）《》【】“”‘’—…·"
)


def test_known_words_come_back() -> None:
    for text in (
        "数据存储在哪里？",
        "支持 Docker、Kubernetes 等容器平台。",
        "这个方案在生产环境可行吗？",
        "他说：“好的，明天上线。”",
        "我们需要持久化存储和备份吗？",
    ):
        broken = damage(text)
        assert broken != text
        result = repair_text(broken)
        assert result.text == text
        assert result.repaired == sum(1 for ch in text if _damageable(ch))


def test_the_issue_examples() -> None:
    # 等 loses 0xAD (E7 AD 89 -> E7 89): a naive repair gives 灉; 吗 (E5 90 97 -> E5 97) gives 受.
    assert damage("等") == "ç‰"
    assert "灉" in candidates(b"\xe7", b"\x89") and "等" in candidates(b"\xe7", b"\x89")
    assert "受" in candidates(b"\xe5", b"\x97") and "吗" in candidates(b"\xe5", b"\x97")
    assert (
        repair_text(damage("Jenkins、Drone 等工具都对比过吗？")).text == "Jenkins、Drone 等工具都对比过吗？"
    )
    # 、 (E3 80 81) and ” (E2 80 9D) lose their last byte.
    assert repair_text(damage("节点、服务、存储")).text == "节点、服务、存储"
    assert repair_text(damage("所谓“云原生”就是这样")).text == "所谓“云原生”就是这样"


def test_five_byte_damage_as_the_issue_describes_is_repaired_too() -> None:
    text = "容器的存储和网络，等等，都需要考虑吗？"
    assert repair_text(damage(text, dropped=CP1252_UNDEFINED)).text == text


def test_bytes_the_input_shows_intact_are_not_reinserted() -> None:
    # Damaged as the issue describes, 中 (E4 B8 AD) keeps its soft hyphen: 0xAD was not dropped, so a
    # damaged 不 (E4 B8 8D -> E4 B8) can no longer be read as 中. The seed lost every 0xAD: both stay.
    text = "集群中的节点不够用，不是配置的问题。"
    issue = scan(damage(text, dropped=CP1252_UNDEFINED))
    assert issue.survived == {0xAD}
    assert issue.slots and all("中" not in slot.choices for slot in issue.slots)
    five = candidates(b"\xe4", b"\xb8", CP1252_UNDEFINED)
    assert "不" in five and "中" not in five and set(five) < set(candidates(b"\xe4", b"\xb8"))
    seed = scan(damage(text))
    assert seed.survived == set()
    assert all({"中", "不"} <= set(slot.choices) for slot in seed.slots if text[slot.pos] in "中不")
    assert repair_text(damage(text, dropped=CP1252_UNDEFINED)).text == text
    # A soft hyphen in text that is not mojibake proves nothing.
    assert scan("co\xadoperate, café").survived == set()


def test_a_character_that_lost_both_continuation_bytes() -> None:
    # 提 = E6 8F 90: both bytes dropped, only the lead byte 'æ' is left.
    assert damage("提") == "æ"
    assert repair_text(damage("提问链接")).text == "提问链接"


def test_domain_words_the_general_sources_rank_low_come_back() -> None:
    # jieba counts 南段 132 times and 字段 6; 转向 outnumbers 转发; 号 is far commoner than 卷.
    # The tech lexicon, CC-CEDICT and the domain model learned from the corpus tip these.
    for text in (
        "不要把所有字段都暴露出去。",
        "我们部署了一套高可用集群，控制面节点有三个。",
        "流量通过四层转发到后端的 Pod。",
        "把数据目录放到持久卷上，存储卷的回收策略要注意。",
        "告警太多了，大家已经麻木了。",
        "管理员凭证只放在集群内部。",
    ):
        assert repair_text(damage(text)).text == text


def test_cedict_and_the_lexicon_are_read_from_their_files() -> None:
    cedict = repair_sources.curated_words()
    assert len(cedict) > 90_000
    assert {"字段", "转发", "容器", "镜像", "负载均衡", "集群", "中间件"} <= cedict
    assert "南段" not in cedict
    lexicon = repair_sources.lexicon_terms()
    assert len(lexicon) > 3000 and set(lexicon.values()) <= {1, 2, 3}
    assert {"高可用", "控制面", "存储卷"} <= set(lexicon)


def test_a_malformed_lexicon_line_is_a_clear_error(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("# comment\n\n高可用\t1\n控制面\t2\n", encoding="utf-8")
    assert repair_sources.read_lexicon(good) == {"高可用": 1, "控制面": 2}
    bad = tmp_path / "bad.txt"
    bad.write_text("高可用\t1\n控制面 2\n", encoding="utf-8")
    with pytest.raises(repair_sources.RepairDataError, match=r"bad\.txt:2: expected"):
        repair_sources.read_lexicon(bad)
    with pytest.raises(repair_sources.RepairDataError, match="cannot read"):
        repair_sources.read_lexicon(tmp_path / "missing.txt")


def test_completing_a_listed_term_outweighs_a_commoner_unlisted_word() -> None:
    # jieba-like counts (its total is about 60M): 南段 is the likelier pair by frequency alone.
    words = [("南段", 132), ("字段", 6), ("南", 20000), ("字", 20000), ("段", 8000), ("的", 60_000_000)]
    plain = WordModel(words)
    listed = WordModel(words, listed={"字段": 6.0})
    text = "所有X段都"
    assert plain.bonus(text, 2, "南") > plain.bonus(text, 2, "字")  # type: ignore[operator]
    assert listed.bonus(text, 2, "字") > listed.bonus(text, 2, "南")  # type: ignore[operator]
    assert listed.listing("所有字段都", 2) == 6.0 and listed.listing("所有南段都", 2) == 0.0
    assert listed.bonus(text, 2, "，") is None  # words say nothing about punctuation


def test_frame_opens_after_在_从_到_and_closes_at_中_or_punctuation() -> None:
    def inside(text: str) -> str:
        toks = tokens(text)
        return "".join(ch for ch, flag in zip(text, frame_flags(toks), strict=True) if flag)

    assert inside("从负载均衡池移除") == "负载均衡池移除"
    assert inside("在容器中运行") == "容器中"
    assert inside("在容器，运行") == "容器，"  # the comma closes it for what follows
    assert inside("容器运行") == ""


def test_kneser_ney_model_is_a_distribution_over_its_vocabulary() -> None:
    text = "容器中的数据在节点上运行。数据不在容器中保存，容器重建后数据还在。" * 3
    lm = KNModel.from_tokens([tokens(text)], order=5)
    every = np.arange(lm.base)  # dense ids: 0 (unknown) then the vocabulary
    for history in ("数据在容器", "完全没见过", "", "A0"):
        h = lm.dense(tokens(history))[-4:]
        rows = np.tile(h, (len(every), 1)) if len(h) else np.zeros((len(every), 0), dtype=np.int64)
        assert np.exp(lm.logprob(rows, every)).sum() == pytest.approx(1.0)
    # More context sharpens the prediction; an undecided neighbour cuts the context there.
    ctx = lm.dense(tokens("数据在容器"))
    zhong = lm.dense(tokens("中"))
    long_ = lm.logprob(ctx[None, 1:], zhong)[0]
    short = lm.logprob(ctx[None, 4:], zhong)[0]
    cut = ctx.copy()
    cut[2] = UNDECIDED
    assert long_ > short
    assert lm.logprob(cut[None, 1:], zhong)[0] == pytest.approx(lm.logprob(ctx[None, 3:], zhong)[0])
    assert lm.logprob(ctx[None, 1:], np.array([UNDECIDED]))[0] == 0.0  # predicting a slot: no term
    assert lm.dense(np.array([SLOT]))[0] == UNDECIDED
    with pytest.raises(ValueError, match="order"):
        KNModel.from_tokens([tokens(text)], order=9)


def test_kneser_ney_window_score_covers_every_ngram_touching_the_position() -> None:
    lm = KNModel.from_tokens([tokens("把卷挂到节点上。把卷从节点上卸下。")], order=3)
    pad = lm.dense(tokens("\n\n把卷挂到节点上\n\n"))
    at = np.array([3])
    explicit = sum(
        lm.logprob(pad[None, j - 2 : j], pad[j : j + 1])[0] for j in range(3, 6)
    )  # P(卷|..把), P(挂|把卷), P(到|卷挂)
    assert lm.window_score(pad, at, [pad[3:4]])[0] == pytest.approx(explicit)
    hao = lm.dense(tokens("号"))
    assert lm.window_score(pad, at, [pad[3:4]])[0] > lm.window_score(pad, at, [hao])[0]


def test_triggers_follow_the_topic_and_stay_silent_without_one() -> None:
    text = "把数据卷挂载到节点上，卷的容量不够就扩容。" * 5 + "他的编号是多少？编号写在门口。" * 5
    model = TriggerModel([tokens(text)], reach=6, gap=0)
    cand = np.array([ord("卷"), ord("号")])
    storage = model.score(tokens("存储挂载节点\x00容量扩容"), np.array([6, 6]), cand)
    doors = model.score(tokens("门口写着多少\x00"), np.array([6, 6]), cand)
    assert storage[0] > storage[1] and doors[1] > doors[0]
    silent = model.score(tokens("abc\x00"), np.array([1, 1]), cand)  # no Chinese around: no evidence
    assert np.allclose(silent, 0.0)


def test_training_text_ships_and_takes_part_in_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = repair_sources.train_files()
    assert len(files) >= 20
    han = sum(1 for f in files for ch in f.read_text(encoding="utf-8") if "\u4e00" <= ch <= "\u9fff")
    assert han > 130_000
    # Shipped as package data, explicitly (the data folders have no __init__.py).
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "corpus/data/train/*.txt" in pyproject["tool"]["setuptools"]["package-data"]["retrieval"]
    # Editing a training file changes the domain cache key, so the cache is rebuilt.
    here = tmp_path / "corpus"
    (here / "data" / "train").mkdir(parents=True)
    (here / "data" / "train" / "a.txt").write_text("训练文本", encoding="utf-8")
    monkeypatch.setattr(repair_domain, "_HERE", here)
    before = repair_domain.fingerprint([b"seed"])
    (here / "data" / "train" / "a.txt").write_text("训练文本，改过", encoding="utf-8")
    assert repair_domain.fingerprint([b"seed"]) != before
    monkeypatch.setattr(repair_sources, "TRAIN_DIR", tmp_path / "missing")
    with pytest.raises(repair_sources.RepairDataError, match="no training text"):
        repair_sources.train_files()


def test_in_domain_usage_comes_back() -> None:
    # Sentences of our own (not from the benchmark texts): ops vocabulary the in-domain model knows.
    for text in (
        "先把旧节点上的卷卸载，再挂到新节点上。",
        "证书快到期了，记得提前换新的。",
        "这个服务迁到新集群以后，告警少了很多。",
        "日志先存到对象存储，查询的时候再按标签筛选。",
    ):
        assert repair_text(damage(text)).text == text


class _FirstChoice:
    """A stand-in for the base decoder that takes each slot's first candidate (the cache logic is
    under test, not the choice)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, scanned: Scan) -> list[str]:
        self.calls += 1
        return [slot.choices[0] for slot in scanned.slots]


def test_domain_text_is_learned_once_then_read_from_the_cache(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "clean.txt").write_text("干净的笔记，不需要修复。", encoding="utf-8")
    seed = damage("存储卷和告警都在集群里。" * 5)
    (corpus / "seed.txt").write_text(seed, encoding="utf-8")
    cache = tmp_path / "build" / "repair"
    choose = _FirstChoice()
    first = repair_domain.domain_text(choose, corpus_dir=corpus, cache_dir=cache, min_slots=5)
    assert choose.calls == 1 and first.text and "\x00" not in first.text
    assert first.sources == {repair_domain.text_hash(seed)}  # the clean note teaches nothing
    assert repair_domain.text_hash(seed.replace("\n", "\r\n")) in first.sources
    assert len(list(cache.glob("domain-*.txt"))) == 1
    again = repair_domain.domain_text(choose, corpus_dir=corpus, cache_dir=cache, min_slots=5)
    assert again == first and choose.calls == 1  # from the cache
    # A changed corpus file is learned anew, and the stale cache file is replaced.
    (corpus / "seed.txt").write_text(damage("存储卷和告警。" * 10), encoding="utf-8")
    repair_domain.domain_text(choose, corpus_dir=corpus, cache_dir=cache, min_slots=5)
    assert choose.calls == 2 and len(list(cache.glob("domain-*.txt"))) == 1
    # Too little damage, or no corpus folder: nothing to learn, no error.
    nothing = repair_domain.Domain()
    assert repair_domain.domain_text(choose, corpus_dir=corpus, cache_dir=cache, min_slots=10_000) == nothing
    assert (
        repair_domain.domain_text(choose, corpus_dir=tmp_path / "none", cache_dir=cache, min_slots=1)
        == nothing
    )


def test_an_unwritable_cache_costs_time_not_the_repair(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed.txt").write_text(damage("存储卷和告警。" * 10), encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    choose = _FirstChoice()
    domain = repair_domain.domain_text(choose, corpus_dir=corpus, cache_dir=blocker / "repair", min_slots=5)
    assert domain.text and choose.calls == 1


def test_undamaged_text_is_byte_identical() -> None:
    for text in (
        "",
        "plain ASCII, nothing to do\n",
        "干净的中文文本，不需要修复。存储、等等、吗？",
        "café naïve “quotes” — 100 € … Größe",
        "emoji 😀 and 中文 mixed with Ünïcödé",
    ):
        result = repair_text(text)
        assert result.text == text
        assert (result.repaired, result.uncertain, result.uncertain_spans) == (0, 0, [])


def test_clean_and_damaged_parts_in_one_text() -> None:
    clean = "干净的中文：存储与网络。"
    text = clean + "\n" + damage("损坏的部分：存储与网络。")
    result = repair_text(text)
    assert result.text == clean + "\n" + "损坏的部分：存储与网络。"


def test_deterministic() -> None:
    broken = damage("在 Kubernetes 中，存储卷的回收策略默认是 Delete 吗？")
    first, second = repair_text(broken), repair_text(broken)
    assert first == second


def test_uncertain_spans_point_at_the_kept_best_guess() -> None:
    # A short ambiguous input: 中/不 and 可/启 share damaged forms.
    text = damage("中 不 可 启 字 南 吗 受")
    result = repair_text(text, uncertain_margin=50.0)  # flag everything to inspect the spans
    assert result.uncertain == len(result.uncertain_spans) == len(result.uncertain_offsets) == result.repaired
    for span in result.uncertain_spans:
        assert result.text[span.offset] == span.chosen
        assert text[span.source_offset : span.source_offset + len(span.source)] == span.source
        assert span.chosen not in span.alternatives and span.alternatives
        assert 0.0 < span.confidence <= 1.0
    assert "\ufffd" not in result.text


def test_truncated_sequence_nothing_fits_is_kept_not_dropped() -> None:
    # E0 85 ("à…"): no dropped byte completes it to a valid, assigned character.
    assert candidates(b"\xe0", b"\x85") == ()
    text = damage("数据存储") + "à…x"
    result = repair_text(text)
    assert result.unresolved == 1
    assert result.text == "数据存储à…x"


def test_result_model_defaults_stay_compatible() -> None:
    result = RepairResult(text="x")
    assert (result.repaired, result.uncertain, result.uncertain_offsets) == (0, 0, [])


def test_import_does_not_load_the_models() -> None:
    code = (
        "import sys, retrieval.corpus.repair\n"
        "print(sorted(m for m in ('jieba', 'retrieval.corpus.repair_sources', 'retrieval.corpus.repair_decode') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=CLEAN_ALPHABET, max_size=80))
def test_property_undamaged_text_is_unchanged(text: str) -> None:
    result = repair_text(text)
    assert result.text == text
    assert result.repaired == 0


sentences = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map("".join),
    min_size=1,
    max_size=4,
).flatmap(
    lambda parts: st.lists(st.sampled_from(PUNCT), min_size=len(parts), max_size=len(parts)).map(
        lambda marks: "".join(p + m for p, m in zip(parts, marks, strict=True))
    )
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(sentences)
def test_property_damage_then_repair_gives_the_text_back(text: str) -> None:
    assert repair_text(damage(text)).text == text


def _damageable(ch: str) -> bool:
    raw = ch.encode("utf-8")
    return len(raw) > 1 and any(b in DROPPED for b in raw[1:])


@pytest.mark.skipif(not SEED.exists(), reason="the vendored seed is not in this checkout")
def test_real_seed_is_repaired() -> None:
    raw = SEED.read_text(encoding="utf-8")
    before = scan(raw)
    assert len(before.slots) == 38226  # truncated sequences in the seed as vendored
    assert "存储" not in raw
    result = repair_text(raw)
    assert result.repaired == 38226
    assert result.unresolved == 0
    assert "\ufffd" not in result.text
    # Nothing truncated is left, and the text is now Chinese rather than mojibake.
    assert scan(result.text).slots == []
    assert result.text.count("å") < 10 and result.text.count("ä¸") == 0
    for word, at_least in (("存储", 400), ("等", 400), ("吗", 500), ("、", 700), ("集群", 500)):
        assert result.text.count(word) >= at_least, word
    # Uncertain characters are few, flagged with offsets, and kept (never dropped).
    assert 0 < result.uncertain < len(result.text) // 1000
    assert all(result.text[s.offset] == s.chosen for s in result.uncertain_spans)
    assert result.text.startswith("---\ntitle: (2000+) kubernetes 社群分享 QA 汇总\n")


def test_general_prior_does_not_reward_unseen_characters() -> None:
    """The prior enters with a negative weight, so an unseen character must not look 'rarer' than a
    character seen once (that would make an unknown character win a close call)."""
    stream = np.array([1, 2, 3, 1, 2, 4, 1, 5], dtype=np.int64)  # 1 ×3, 2 ×2, 3/4/5 once, 9 never
    model = NgramModel.from_tokens([stream])
    seen_thrice, seen_once, unseen = model.prior(np.array([1, 3, 9], dtype=np.int64))
    assert seen_thrice > seen_once
    assert unseen == seen_once
