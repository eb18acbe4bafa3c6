"""English → Chinese query expansion."""

from __future__ import annotations

from retrieval.glossary import GLOSSARY, english_terms, expand_english


def test_longest_phrase_wins() -> None:
    terms = dict(english_terms("How do I do a rolling update with persistent storage?"))
    assert "rolling update" in terms and "update" not in terms
    assert "persistent storage" in terms


def test_product_names_are_not_translated() -> None:
    assert expand_english("istio calico kubectl") == []


def test_hyphens_and_case() -> None:
    assert "反亲和" in expand_english("Pod Anti-Affinity")


def test_keys_are_lower_case_and_renderings_non_empty() -> None:
    for key, renderings in GLOSSARY.items():
        assert key == key.lower().strip()
        assert renderings and all(r.strip() for r in renderings)


def test_phrasal_verbs_expand_like_their_nouns() -> None:
    # "back up" is how people type it; the corpus says 备份 either way.
    assert expand_english("how do I back up etcd?") == expand_english("etcd backup") == ["备份"]
    assert "缩容" in expand_english("scale down a deployment")
    assert "搭建" in expand_english("how to set up a private registry")
