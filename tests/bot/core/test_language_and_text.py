"""Language detection and clean cutting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.language import detect_language, t
from bot.core.text import cut, measure


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("pod 一直 Pending 怎么办", "zh"),
        ("Prometheus 监控 Kubernetes", "zh"),
        ("为什么", "zh"),
        ("How do I debug CrashLoopBackOff?", "en"),
        ("what does 镜 mean in the image registry docs", "en"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_strings_exist_in_both_languages() -> None:
    assert t("outdated", "en", year=2017) == "Archive from 2017; may be outdated."
    assert t("outdated", "zh", year=2017).startswith("2017 年")


def test_cut_prefers_sentence_boundaries() -> None:
    text = "第一句话说明了调度。第二句话很长很长很长很长很长很长很长很长"
    short, was_cut = cut(text, 16)
    assert was_cut and short == "第一句话说明了调度。…"


@given(st.text(max_size=500), st.integers(min_value=2, max_value=400))
def test_cut_fits_and_is_a_prefix(text: str, limit: int) -> None:
    short, was_cut = cut(text, limit)
    assert measure(short) <= limit
    assert was_cut or short == text
    if was_cut:
        assert text.startswith(short[:-1].rstrip())
