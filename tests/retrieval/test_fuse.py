"""Fusion, folding and the answer/abstain decision."""

from __future__ import annotations

from retrieval.fuse import FEATURES, Candidate, Evidence, confidence, decide, fold, fuse, max_score


def test_strong_lexical_hit_survives_a_disagreeing_weak_vector_channel() -> None:
    lexical = [(7, 30.0), (1, 5.0), (2, 4.0)]
    vector = [(3, 0.4), (4, 0.39), (1, 0.38), (5, 0.37), (7, 0.2)]
    fused = fuse(lexical, vector, rrf_k=20, lexical_weight=1.0, vector_weight=0.5)
    assert fused[0].idx == 7
    assert fused[0].channels == ["lexical", "vector"]


def test_scores_scale_to_one_when_both_channels_agree() -> None:
    fused = fuse([(1, 3.0)], [(1, 0.9)], rrf_k=10, lexical_weight=1.0, vector_weight=0.5)
    assert abs(fused[0].score / max_score(rrf_k=10, lexical_weight=1.0, vector_weight=0.5) - 1.0) < 1e-9


def test_score_fusion_lets_a_clear_vector_margin_decide_a_close_lexical_race() -> None:
    # BM25 10.0 vs 9.8 is a coin toss; the vector channel is sure. RRF would keep lexical order
    # at these weights; score fusion sees the margins.
    lexical = [(1, 10.0), (2, 9.8), (3, 2.0)]
    vector = [(2, 0.90), (4, 0.62), (1, 0.60), (3, 0.58)]
    by_score = fuse(lexical, vector, method="score", rrf_k=10, lexical_weight=1.0, vector_weight=0.5)
    assert [c.idx for c in by_score[:2]] == [2, 1]
    by_rank = fuse(lexical, vector, method="rrf", rrf_k=10, lexical_weight=1.0, vector_weight=0.3)
    assert by_rank[0].idx == 1
    # … but a lexical hit far ahead is not overturned by a 0.5-weight vector channel.
    far = fuse([(1, 30.0), (2, 6.0)], vector, method="score", rrf_k=10, lexical_weight=1.0, vector_weight=0.5)
    assert far[0].idx == 1
    top = fuse([(5, 3.0), (6, 1.0)], [(5, 0.9), (6, 0.2)], method="score", rrf_k=10, lexical_weight=1.0, vector_weight=0.5)
    assert abs(top[0].score / max_score(method="score", rrf_k=10, lexical_weight=1.0, vector_weight=0.5) - 1.0) < 1e-9


def test_unknown_fusion_method_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="rrf"):
        fuse([(1, 1.0)], [], method="borda", rrf_k=10, lexical_weight=1.0, vector_weight=0.5)


def test_fold_merges_near_duplicates_into_the_better_hit() -> None:
    sigs = {1: frozenset("abcdef"), 2: frozenset("abcdeg"), 3: frozenset("xyz")}
    cands = [Candidate(1, 0.9), Candidate(2, 0.8), Candidate(3, 0.7)]
    kept = fold(cands, signature=sigs.__getitem__, threshold=0.7, limit=5)
    assert [c.idx for c in kept] == [1, 3]
    assert kept[0].folded == [2]


def test_fold_respects_limit() -> None:
    sigs = {i: frozenset({str(i)}) for i in range(10)}
    kept = fold([Candidate(i, 1 - i / 10) for i in range(10)], signature=sigs.__getitem__, threshold=0.8, limit=3)
    assert [c.idx for c in kept] == [0, 1, 2]


def test_decide_answers_on_strong_evidence_and_abstains_with_a_reason() -> None:
    weights = {"bias": -3.0, "coverage": 4.0, "lexical_margin": 1.0}
    top = Candidate(1, 0.1, lexical_rank=1, vector_rank=1, vector_sim=0.9)
    strong = Evidence(coverage=0.9, lexical_top=20.0, lexical_tenth=4.0, vector_margin=0.1, agree=True)
    weak = Evidence(coverage=0.1, lexical_top=3.0, lexical_tenth=2.9, vector_margin=0.0, agree=False)
    yes = decide(top, strong, weights=weights, threshold=0.5)
    assert yes.answered and yes.reason is None and yes.confidence > 0.5
    no = decide(top, weak, weights=weights, threshold=0.5)
    assert not no.answered and no.reason and "10%" in no.reason
    assert confidence(strong, weights) > confidence(weak, weights)
    assert not decide(None, strong, weights=weights, threshold=0.0).answered


def test_evidence_features_are_finite_without_hits() -> None:
    feats = Evidence(coverage=0.0, lexical_top=0.0, lexical_tenth=0.0, vector_margin=0.0, agree=False).features()
    assert set(FEATURES) <= set(feats)  # every feature the fitted model reads is produced
    assert all(v == 0.0 for v in feats.values())


def test_unknown_words_and_names_lower_confidence_under_the_fitted_profiles() -> None:
    from retrieval.config import ABSTAIN_PROFILES

    base = dict(coverage=0.6, lexical_top=12.0, lexical_tenth=4.0, vector_margin=0.1, agree=False, coverage_known=0.6)
    plain = Evidence(**base)  # type: ignore[arg-type]
    unknown = Evidence(**base, unknown_mass=0.4, unknown_names=True)  # type: ignore[arg-type]
    for weights, _threshold in ABSTAIN_PROFILES.values():
        assert set(weights) - {"bias"} <= set(FEATURES)
        assert confidence(unknown, weights) < confidence(plain, weights)
