"""Query-term analysis (retrieval.terms): bigram cohesion, Latin typo fixes, names the corpus never uses."""

from __future__ import annotations

from retrieval.terms import Vocabulary, edits1

DF = {
    "prometheus": 40, "promtheus": 1, "flanel": 2, "flannel": 60, "istiod": 1, "istio": 12, "cluster": 300, "kubernetes": 900, "ceph": 60, "rook": 5,
    "备份": 60, "备": 70, "份": 65, "升级": 80, "升": 90, "级": 120, "和": 2000,
}


def vocab(**kw: object) -> Vocabulary:
    return Vocabulary(DF, num_docs=2000, english={"pitfall", "workspace", "transaction"}, **kw)  # type: ignore[arg-type]


def test_edits1_covers_the_four_kinds_of_typo() -> None:
    e = edits1("kube")
    assert {"kbe", "ukbe", "kuba", "kubes"} <= e and "kube" not in e


def test_a_word_scores_full_weight_and_a_seam_between_words_the_floor() -> None:
    v = vocab()
    assert v.cohesion("备份") == 1.0 and v.cohesion("升级") == 1.0
    assert v.cohesion("份和") == 0.25  # 份|和: the characters rarely meet, 和 is everywhere
    assert v.cohesion("kubernetes") == 1.0  # only CJK bigrams are weighed
    assert vocab(cohesion_floor=1.0).cohesion("份和") == 1.0  # floor 1 turns it off


def test_typos_are_fixed_to_the_most_frequent_corpus_word_with_the_same_first_letter() -> None:
    v = vocab()
    assert v.correction("promethues") == "prometheus"  # swapped letters
    assert v.correction("kuberntes") == "kubernetes"  # dropped letter
    assert v.correction("vcluster") is None  # another name, not a typo of cluster
    assert v.correction("prometheus") is None  # known words are left alone
    assert v.correction("cepf") is None  # too short to guess
    # the archive's own rare misspellings still point to the common spelling, but only to a far commoner one
    assert v.correction("promtheus") == "prometheus" and v.correction("flanel") == "flannel"
    assert v.correction("istiod") is None  # 12 uses of istio are not 20 × 1


def test_unknown_names_are_neither_english_nor_typos_nor_corpus_words() -> None:
    v = vocab()
    assert v.unknown_name("crossplane") and v.unknown_name("vcluster")
    assert not v.unknown_name("pitfalls")  # an English word (plural of one in the lexicon)
    assert not v.unknown_name("workspace")
    assert not v.unknown_name("promethues")  # a typo of a corpus word
    assert not v.unknown_name("rook-ceph")  # a compound of corpus words
    assert not v.unknown_name("ceph")


def test_the_deletion_index_finds_the_same_fixes_as_generating_every_edit() -> None:
    from retrieval.terms import within_one_edit

    assert within_one_edit("promethues", "prometheus") and within_one_edit("kuberntes", "kubernetes")
    assert within_one_edit("cluster", "clusters") and not within_one_edit("cluster", "clustre s")
    assert not within_one_edit("abcd", "badc")
    indexed = Vocabulary(DF, num_docs=2000, words=[w for w in DF if w.isascii()])
    plain = vocab()
    for word in ("promethues", "kuberntes", "promtheus", "flanel", "istiod", "vcluster", "jenkisn"):
        assert indexed.correction(word) == plain.correction(word)
