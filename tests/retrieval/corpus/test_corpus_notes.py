"""Notes → Doc chunks: split by heading, heading path as title, size cap, nothing dropped."""

from __future__ import annotations

import re
from pathlib import Path

from retrieval.corpus.notes import TITLE_SEPARATOR, split_note

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "notes"
CORPUS = Path(__file__).resolve().parents[3] / "index" / "corpus"


def _read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_markdown_headings_bold_pseudo_headings_and_fences() -> None:
    docs = split_note(_read("markdown_note.md"), source="markdown_note.md")
    assert [d.title for d in docs] == [
        "20201013 › Rudr、 Dapr",
        "20201013 › OAM",
        "20201013 › KEDA",
        "20201013 › dockerfile中的tini",
        "20201013 › 云原生应用的管理 › 安装Porter",
    ]
    porter = docs[4]
    assert porter.heading_path == ("20201013", "云原生应用的管理", "安装Porter")
    assert porter.line == 57
    # A '#' comment inside a code fence is text, not a heading.
    assert "# 下载packr2，解压到GO_PATH/bin目录下面" in porter.text
    assert porter.text.count("```") == 2
    assert all("[TOC]" not in d.text for d in docs)
    assert docs[1].text.startswith("OAM是阿里巴巴与微软联合推出的开放应用模型")


def test_plain_text_note_with_numbered_headings() -> None:
    docs = split_note(_read("numbered_note.txt"), source="numbered_note.txt")
    titles = [d.title for d in docs]
    root = "2W字长文吐血整理 Docker&云原生"
    assert titles[0] == root
    assert f"{root} › 一、概念介绍 › 1.1 Docker" in titles
    assert f"{root} › 一、概念介绍 › 1.1 Docker › 1. Docker历史" in titles
    assert f"{root} › 一、概念介绍 › 1.2 Kubernetes" in titles
    assert f"{root} › 二、如何CICD › 2.2 自己做CICD" in titles
    # Shell prompts starting with '#' are not headings in a plain-text note.
    assert not any("wangjun @" in t for t in titles)
    assert any("# wangjun @ LPT004412 in ~ [17:03:04]" in d.text for d in docs)


def test_size_cap_splits_on_paragraphs_and_loses_no_line() -> None:
    text = _read("numbered_note.txt")
    docs = split_note(text, source="n.txt", max_chars=300)
    assert max(len(d.text) for d in docs) <= 300 + 300 // 4
    split = [d for d in docs if d.parts > 1]
    assert split and all(1 <= d.part <= d.parts for d in split)
    joined = "\n".join(d.text for d in docs)
    headings = {t for d in docs for t in d.heading_path}
    bare_heading = re.compile(r"^(?:[一二三四五六七八九十]+、|\d+\.\d+ )")  # a heading with no text under it
    for line in text.split("\n"):
        if line.strip() and line.strip() not in headings and not bare_heading.match(line):
            assert line.rstrip() in joined, line


def test_a_single_huge_line_is_cut_hard() -> None:
    text = "## Big\n\n" + "字" * 2500 + "\n"
    docs = split_note(text, source="big.md", max_chars=1000)
    assert [len(d.text) for d in docs] == [1000, 1000, 500]
    assert "".join(d.text for d in docs) == "字" * 2500


def test_empty_sections_and_scraps_are_skipped() -> None:
    docs = split_note(
        "05-13\n\n## istio operator design\n\n\n## helm\n\n## kustomize\n\n不用维护多份yaml配置文件。\n",
        source="x.md",
    )
    assert [d.title for d in docs] == ["kustomize"]


def test_doc_ids_are_stable_unique_and_content_based() -> None:
    text = (CORPUS / "002_39f4a495a914cc29.txt").read_text(encoding="utf-8")
    first = split_note(text, source="a.txt")
    again = split_note(text, source="b.txt")
    assert [d.id for d in first] == [d.id for d in again]
    assert len({d.id for d in first}) == len(first)
    assert all(re.fullmatch(r"doc-[0-9a-f]{10}", d.id) for d in first)
    edited = split_note(text.replace("制作Image有两种方法", "制作镜像有两种方法"), source="a.txt")
    changed = [d.title for d, e in zip(first, edited, strict=True) if d.id != e.id]
    assert changed == [f"POC(Proof of Concept)课题{TITLE_SEPARATOR}制作镜像"]
