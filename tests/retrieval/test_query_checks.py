"""Bad queries get a reason, never an exception."""

from __future__ import annotations

import json

import pytest

from retrieval.query import check_query, clean_text


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\x00\x01\x02", "empty"),
        ("🙂🙂🙂", "no words"),
        ("？？？！！！...", "no words"),
        ("x" * 20_000, "too long"),
        ("\ud800", "empty"),
    ],
)
def test_bad_queries_have_a_problem(raw: str, fragment: str) -> None:
    checked = check_query(raw, max_chars=2000)
    assert checked.problem is not None and fragment in checked.problem
    json.dumps(checked.text, ensure_ascii=False).encode("utf-8")  # printable and encodable


def test_lone_surrogates_and_controls_are_removed_but_the_rest_searched() -> None:
    checked = check_query("怎么\ud83d回滚\x07 deployment\u200b", max_chars=2000)
    assert checked.problem is None
    assert checked.text == "怎么回滚 deployment"
    checked.text.encode("utf-8")


def test_clean_text_collapses_whitespace() -> None:
    assert clean_text(" a \n\n b\r\n") == "a b"
