import pytest

from papersift.search.fusion import convex, minmax, normalize, rrf


def test_rrf_rewards_documents_ranked_high_in_both_runs():
    a = [(1, 9.0), (2, 8.0), (3, 7.0)]
    b = [(2, 0.9), (3, 0.8), (4, 0.7)]
    fused = rrf([a, b], k=60)
    assert [k for k, _ in fused][:2] == [2, 3]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_rrf_ties_break_by_key_and_empty_runs_are_fine():
    assert rrf([[(5, 1.0)], [(4, 1.0)]]) == [(4, 1 / 61), (5, 1 / 61)]
    assert rrf([[], []]) == []


def test_rrf_weights_shift_the_balance():
    a, b = [(1, 1.0)], [(2, 1.0)]
    assert rrf([a, b], weights=[1.0, 2.0])[0][0] == 2


def test_minmax_scales_and_handles_constant_scores():
    assert minmax([(1, 10.0), (2, 5.0), (3, 0.0)]) == {1: 1.0, 2: 0.5, 3: 0.0}
    assert minmax([(1, 3.0), (2, 3.0)]) == {1: 1.0, 2: 1.0}
    assert minmax([]) == {}


@pytest.mark.parametrize(("alpha", "top"), [(0.0, 1), (1.0, 2)])
def test_convex_alpha_selects_one_side(alpha, top):
    lex = [(1, 12.0), (2, 1.0)]
    sem = [(2, 0.9), (1, 0.1)]
    assert convex(lex, sem, alpha)[0][0] == top


def test_convex_missing_documents_get_the_runs_floor():
    fused = dict(convex([(1, 2.0), (2, 1.0)], [(3, 0.5)], alpha=0.5))
    assert fused[3] == pytest.approx(0.5)  # lexical floor 0.0 (min-max), semantic 1.0
    assert fused[2] == pytest.approx(0.5)  # lexical 0.0, semantic floor 1.0
    tuned = dict(convex([(1, 4.0), (2, 2.0)], [(2, 0.8), (3, 0.6)], alpha=0.6, lex_norm="max", sem_norm="raw"))
    assert tuned[1] == pytest.approx(0.4 * 1.0 + 0.6 * 0.6)
    assert tuned[3] == pytest.approx(0.4 * 0.5 + 0.6 * 0.6)


@pytest.mark.parametrize("how", ["minmax", "max", "z", "raw"])
def test_normalize_keeps_order(how):
    run = [(1, 9.0), (2, 4.0), (3, 1.0)]
    scaled = normalize(run, how)
    assert scaled[1] > scaled[2] > scaled[3]
