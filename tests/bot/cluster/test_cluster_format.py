"""Output hygiene: redaction, control characters, code fences, Slack escaping, tables, cutting."""

from __future__ import annotations

import pytest

from bot.cluster.format import cut, render_table
from bot.cluster.grammar import UsageError, parse
from bot.cluster.redact import clean_text, escape_slack
from bot.cluster.tables import human_age
from bot.settings.cluster import ClusterLimits


@pytest.mark.parametrize(("raw", "leak"), [
    ("Authorization: Bearer abcdef0123456789xyz", "abcdef0123456789xyz"),
    ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "eyJhbGciOiJSUzI1NiJ9"),
    ("key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI"),
    ("password=hunter2 user=x", "hunter2"),
    ("DB_PASSWORD: hunter2", "hunter2"),
    ('{"client_secret": "shh-123"}', "shh-123"),
    ("mysql://root:toor@db:3306", "toor"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"),
    ("-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2g (cut off)", "MIIBdzCCAR2g"),
    ("xoxb-123456789012-abcdefghijkl", "xoxb-123456789012"),
    ("ghp_" + "a" * 36, "ghp_aaaa"),
])
def test_redaction(raw: str, leak: str) -> None:
    out = clean_text(raw)
    assert leak not in out and "<redacted" in out


def test_controls_fences_and_slack_markup() -> None:
    out = clean_text("\x1b[31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 a\u202eb\u200bc ```end``` \x07")
    assert out == "red link abc ˋˋˋendˋˋˋ "
    assert escape_slack("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_table_alignment_and_cut() -> None:
    rows = [{"NAME": f"pod-{i}", "STATUS": "Running"} for i in range(100)]
    text = render_table(rows)
    assert text.splitlines()[0] == "NAME     STATUS" and text.splitlines()[1] == "pod-0    Running"
    piece = cut(text, limits=ClusterLimits(), filename="get.txt", title="get pods")
    assert piece.attachment is not None and piece.attachment.content == text
    assert len(piece.inline.splitlines()) == 41 and "40 of 100" in (piece.note or "")
    logs = cut("\n".join(f"line {i}" for i in range(300)), limits=ClusterLimits(), filename="l", title="l", keep_header=False, tail=True)
    assert logs.inline.splitlines()[-1] == "line 299" and "last 40" in (logs.note or "")
    assert cut("short", limits=ClusterLimits(), filename="x", title="x").attachment is None


def test_human_age() -> None:
    from datetime import timedelta as td

    assert [human_age(td(seconds=s)) for s in (5, 150, 1800, 3 * 3600 + 60, 30 * 3600, 3 * 86400 + 7200, 40 * 86400)] == \
        ["5s", "2m30s", "30m", "3h1m", "30h", "3d2h", "40d"]


@pytest.mark.parametrize(("text", "normal"), [
    ("get po -nshop", "get pods -n shop"),
    ("GET Pods --namespace=shop", "get pods -n shop"),
    ("get deployments.apps web -n shop", "get deployments web -n shop"),
    ("ｇｅｔ ｐｏｄｓ", "get pods"),
    ("logs pod/web-1 --tail=20 -p -c web", "logs pods/web-1 -c web --tail 20 --previous"),
    ("events --since=2h --for deploy/web", "events --since 7200s --for deployments/web"),
    ("diagnose web-1", "diagnose pods/web-1"),
    ("kubectl   get   ns", "get namespaces"),
    ("", "help"),
])
def test_grammar_normalises(text: str, normal: str) -> None:
    assert parse(text).normalised() == normal


def test_usage_errors_name_the_token() -> None:
    with pytest.raises(UsageError) as err:
        parse("get pods --tokn=x")
    assert err.value.token == "--tokn=x" and "--tokn" in str(err.value)
    with pytest.raises(UsageError, match="characters long"):
        parse("get pods " + "a" * 600)
