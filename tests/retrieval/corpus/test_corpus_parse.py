"""Q&A markdown parser: one fixture (cut from the real corpus, repaired) per kind of mess."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from retrieval.corpus.errors import CorpusError
from retrieval.corpus.models import QA
from retrieval.corpus.parse import ParsedQA, parse_qa_markdown

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"


def parse(name: str, *, source: str | None = None) -> ParsedQA:
    return parse_qa_markdown((FIXTURES / name).read_text(encoding="utf-8"), source=source or name)


def qas_of(parsed: ParsedQA, index: int) -> list[QA]:
    session = parsed.sessions[index]
    return [qa for qa in parsed.qas if qa.session_id == session.id]


def test_headings_with_stray_spaces_and_colons() -> None:
    parsed = parse("headings.md")
    assert [(s.date, s.title, s.line) for s in parsed.sessions] == [
        (dt.date(2020, 1, 2), "为你写诗：3 步搭建 Serverless AI 应用", 1),
        (dt.date(2019, 12, 18), "Open Policy Agent 在 Kubernetes 中的应用", 11),
        (dt.date(2016, 9, 20), "Acttao 开发、运维容器化实践", 21),
    ]
    assert parsed.sessions[0].source_url == "https://shimo.im/docs/WjgJJR3pTQKyYDJj"
    assert parsed.sessions[2].source_url is None
    first = qas_of(parsed, 0)[0]
    assert first.label == "Q1"
    assert first.answer.startswith("Funcraft 是 aliyun 函数计算自己开发的工具")  # "A1：" prefix removed
    assert [len(qas_of(parsed, i)) for i in range(3)] == [1, 1, 1]


def test_two_sessions_on_one_date_stay_apart() -> None:
    parsed = parse("same_date.md")
    first, second = parsed.sessions
    assert first.date == second.date == dt.date(2019, 11, 7)
    assert first.id != second.id
    assert first.id.startswith("s-20191107-") and second.id.startswith("s-20191107-")
    assert qas_of(parsed, 0)[0].question.startswith("k8s 各组件")
    assert qas_of(parsed, 1)[0].question.startswith("一台阿里云杭州服务器")


def test_numbered_unnumbered_and_repeated_labels() -> None:
    parsed = parse("labels.md")
    first = qas_of(parsed, 0)
    assert [qa.label for qa in first] == ["Q6", "Q7-0.1", "Q7", "Q11", "Q12", "Q13"]
    assert [qa.ordinal for qa in first] == [1, 2, 3, 4, 5, 6]
    assert first[1].question == "请问自动化测试准备怎么加入呢，"
    assert (
        first[3].question == "系统瓶颈如何测试，使用什么工具，测试方法是怎样的，包括应用层和中间件"
    )  # "Q11:   "
    assert first[4].question == "公司目前就 20 来个开发，适合自己搞这套吗？"  # "Q12 " without colon
    assert first[4].answer.startswith("如果你们还在手动发布的话")  # "A:" without a space
    repeated = qas_of(parsed, 1)
    assert [qa.label for qa in repeated] == ["Q1", "Q2", "Q1"]
    assert len({qa.id for qa in repeated}) == 3
    assert repeated[2].question == "灰度方案实现？"
    fullwidth = qas_of(parsed, 2)
    assert [qa.label for qa in fullwidth] == ["Q", "Q"]  # "> Ｑ：" is a question too
    assert fullwidth[1].question.startswith("请问，Kubernetes 中的 A 域名")


def test_questions_over_several_lines() -> None:
    parsed = parse("multiline.md")
    two_quoted = qas_of(parsed, 0)[1]
    assert two_quoted.question == (
        "如果支持 canary deployment，两个版本的软件是怎么保持 session-sticky 的？是在\nAPIGateway 实现的么？"
    )
    assert two_quoted.answer == "是的"
    continued = qas_of(parsed, 1)[0]
    assert (
        continued.question
        == "请问对 Docker 学习需要看 Docker 源码吗？\n还是用 Docker 等工具来解决问题就可以了？"
    )
    assert continued.answer.startswith("这个得根据实际需要来了")
    nested = qas_of(parsed, 2)
    assert len(nested) == 2
    assert nested[1].question.startswith("想了解一下，你们对镜像的 tag 是怎么管理的？")
    assert nested[1].answer.startswith("tag 由各个用户来定")


def test_answers_without_prefix_quoted_or_spaced() -> None:
    parsed = parse("answers.md")
    unprefixed = qas_of(parsed, 0)[0]
    assert unprefixed.answer == (
        "目前支持通过 IPV6 的 LoadBalancer 暴露，但实现还是在 LoadBalancer 中做 6to4 转换\n\n"
        "目前 Pod 还未支持 IPV6，k8s 从 1.16 中 kube-proxy 等开始支持 IPV6，我们也在积极跟进，"
        "计划今年会和阿里云 IAAS 一起实现原生的 Pod IPv4/IPv6 双栈"
    )
    assert not unprefixed.empty_answer and unprefixed.answerable
    quoted = qas_of(parsed, 1)[0]
    assert quoted.question.endswith("已经被 deprecated 掉了。")
    assert quoted.answer.startswith("我们没有做 Istio 版本更新的自动化")  # "> A：" inside the quote
    spaced = qas_of(parsed, 2)[0]
    assert spaced.answer.startswith("好问题，Eureka")  # "A ："


def test_answer_whose_question_was_lost_is_kept_and_flagged() -> None:
    parsed = parse("answers.md")
    lost, normal = qas_of(parsed, 3)
    assert lost.missing_question and lost.question == ""
    assert lost.answer.startswith("DaemonSet 是 Kubernetes 的一种功能")
    assert not normal.missing_question and normal.question == "你们主要跑的什么类型的应用？"


def test_follow_up_inside_an_answer_becomes_its_own_qa() -> None:
    parsed = parse("follow_up.md")
    parent, follow, after = qas_of(parsed, 0)
    assert follow.label == "再问" and follow.follow_up_of == parent.id
    assert follow.question.startswith("我说的安全问题是")
    assert follow.answer.startswith("这种我觉得应该是称作为 saas 服务")
    assert "再问" not in parent.answer and "冰箱" not in parent.answer
    assert after.follow_up_of is None and after.label == "Q9"


def test_question_glued_into_an_answer_line_and_answer_glued_to_question() -> None:
    parsed = parse("follow_up.md")
    cut, glued = qas_of(parsed, 1)
    assert cut.answer == "几个要点："
    assert glued.question == "Drone 开放 API 服务吗？这样方便其他系统集成。"
    assert glued.answer.startswith("可以调整一下思路")
    same_line = qas_of(parsed, 2)[0]
    assert same_line.question == "Rkt 有提供 Restful 的 API 吗？"
    assert same_line.answer.startswith("没有，因为要实现 Restful\n\nAPI 就必需要有一个常驻运行的进程")


def test_empty_answers_are_kept_and_flagged() -> None:
    parsed = parse("empty.md")
    tail = qas_of(parsed, 0)
    assert [(qa.label, qa.empty_answer) for qa in tail] == [
        ("Q17", False),
        ("Q18", True),
        ("Q19", True),
        ("Q20", True),
    ]
    assert all(qa.answer == "" and not qa.answerable for qa in tail[1:])
    quoted_pair = qas_of(parsed, 1)
    assert [(qa.label, qa.empty_answer) for qa in quoted_pair] == [("Q9", True), ("Q10", True)]
    bullets = qas_of(parsed, 2)
    assert [qa.empty_answer for qa in bullets] == [False, True, True, True]
    assert bullets[3].question == "K8S PYTHON client  的对象如何转 json 的？自己实现 decoder？"


def test_merged_questions_are_flagged() -> None:
    parsed = parse("merged.md")
    plain, answered_together = qas_of(parsed, 0)
    assert not plain.merged_questions
    assert answered_together.merged_questions and answered_together.label == "Q+Q"
    assert answered_together.question.startswith("你们如何做监控的？")
    assert "聊一聊为什么使用传统方法 +APM 监控" in answered_together.question
    assert answered_together.line == 7  # where the first of the two questions starts
    assert len(qas_of(parsed, 0)) == 2  # the unanswered first question was folded in, not duplicated
    numbered = qas_of(parsed, 1)[0]
    assert numbered.merged_questions  # "1.… 2.… 3.…"
    two_questions = qas_of(parsed, 2)[0]
    assert two_questions.merged_questions  # "我有两个问题…第一个问题…第二个问题"


def test_noise_is_flagged_and_obvious_runs_stripped() -> None:
    parsed = parse("noise.md")
    q1, q2, q3 = qas_of(parsed, 0)
    assert q1.noise and q2.noise and q3.noise
    for junk in ("24177411244444117", "71477448", "7d;)eexsnjnkm&/hfb6;"):
        assert junk not in q1.answer
    assert "安装注册，就能拿来用" in q1.answer
    assert "GPSPSPPSPPSPPSP" not in q2.question and "1PS7hig4" not in q2.question
    assert "resource.cpu.request" in q2.question
    assert "说切让我说切让我" not in q2.answer and "传递 yaml 配置文件" in q2.answer
    assert "49377071607499984" not in q3.answer and ".gitlab-ci.yml" in q3.answer
    gibberish, clean = qas_of(parsed, 1)
    assert gibberish.noise and "hefwehfweh" not in gibberish.answer
    assert gibberish.answer.startswith("大数据组件容器化我们也还在探索中")
    assert not clean.noise
    legit = qas_of(parsed, 2)[0]
    assert not legit.noise  # a repeated-digit example token and URLs are not noise
    assert "token 11111111" in legit.answer and "http://xx.com/" in legit.answer


def test_trailing_boilerplate_goes_to_the_footer() -> None:
    parsed = parse("footer.md")
    bio, two_line, chat = parsed.sessions
    assert bio.footer is not None and bio.footer.startswith(
        "以上内容根据 2018 年 9 月 25 日晚微信群分享内容整理"
    )
    assert bio.speaker == "王波"
    assert "以上内容" not in qas_of(parsed, 0)[-1].answer
    assert (
        two_line.footer is not None and "魏世江" in two_line.footer and two_line.footer.startswith("以上内容")
    )
    assert two_line.speaker == "魏世江"
    assert "云栈科技" not in qas_of(parsed, 1)[-1].answer
    assert chat.footer == "`来自 18群 的无痕 2019-11-07 22:38:44，睡觉了拜拜`"
    assert "拜拜" not in qas_of(parsed, 2)[-1].answer
    assert chat.source_url == "https://shimo.im/docs/x3WjRWHhdJVPkdQG"


def test_front_matter_and_readme_are_not_sessions() -> None:
    parsed = parse("preamble.md")
    assert [s.title for s in parsed.sessions] == ["Docker Registry 的定制和性能分析"]
    assert parsed.skipped == [(14, "### README")]
    assert len(parsed.qas) == 2


def test_ids_are_stable_and_independent_of_file_name() -> None:
    first = parse("labels.md", source="a.md")
    again = parse("labels.md", source="elsewhere/b.md")
    assert [s.id for s in first.sessions] == [s.id for s in again.sessions]
    assert [q.id for q in first.qas] == [q.id for q in again.qas]
    assert all(q.id.startswith("qa-") and len(q.id) == 13 for q in first.qas)


def test_editing_one_question_changes_only_its_id() -> None:
    text = (FIXTURES / "labels.md").read_text(encoding="utf-8")
    before = parse_qa_markdown(text, source="x")
    edited = parse_qa_markdown(text.replace("如何代理的 Socket", "如何代理 WebSocket"), source="x")
    changed = [(a.label, a.question) for a, b in zip(before.qas, edited.qas, strict=True) if a.id != b.id]
    assert changed == [("Q2", "如何代理的 Socket")]
    assert [s.id for s in before.sessions] == [s.id for s in edited.sessions]


def test_editing_an_answer_keeps_every_id() -> None:
    text = (FIXTURES / "labels.md").read_text(encoding="utf-8")
    before = parse_qa_markdown(text, source="x")
    edited = parse_qa_markdown(text.replace("全链路没有支持 socket", "全链路暂不支持 socket"), source="x")
    assert [q.id for q in before.qas] == [q.id for q in edited.qas]
    assert [q.answer for q in before.qas] != [q.answer for q in edited.qas]


def test_ids_ignore_repair_uncertainty() -> None:
    text = (FIXTURES / "labels.md").read_text(encoding="utf-8")
    plain = parse_qa_markdown(text, source="x")
    flagged = parse_qa_markdown(text, source="x", uncertain_lines={3: 2, 19: 1})
    assert [q.id for q in plain.qas] == [q.id for q in flagged.qas]
    assert [q.uncertain_chars for q in flagged.qas][:5] == [2, 0, 0, 0, 1]
    assert all(q.uncertain_chars == 0 for q in plain.qas)


def test_question_before_the_first_session_is_an_error_naming_the_line() -> None:
    with pytest.raises(CorpusError, match=r"^qa\.md:3: question before the first session heading"):
        parse_qa_markdown("intro\n\n> Q1：lost?\n\nA：yes\n\n### 2020-01-02：first\n", source="qa.md")


def test_questions_under_a_non_session_heading_are_an_error() -> None:
    text = "### 2020-01-02：ok\n\n> Q：a?\n\nA：b\n\n### 杂项\n\n> Q：c?\n"
    with pytest.raises(CorpusError, match=r"^qa\.md:9: question under heading '### 杂项' \(line 7\)"):
        parse_qa_markdown(text, source="qa.md")


def test_invalid_session_date_is_an_error_naming_the_line() -> None:
    with pytest.raises(CorpusError, match=r"^qa\.md:2: invalid session date '2020-13-45'"):
        parse_qa_markdown("\n### 2020-13-45：bad\n\n> Q：a?\n", source="qa.md")
