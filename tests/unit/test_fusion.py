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


def test_z_and_max_normalisation_values():
    z = normalize([(1, 3.0), (2, 1.0)], "z")
    assert z == {1: pytest.approx(1.0), 2: pytest.approx(-1.0)}  # mean 2, sd 1
    assert normalize([(1, 4.0), (2, 1.0)], "max") == {1: 1.0, 2: 0.25}
    assert normalize([(1, 2.0), (2, 2.0)], "z") == {1: 0.0, 2: 0.0}  # flat run: no division by 0


def test_confidence_measures_how_far_the_best_stands_out():
    from papersift.search.fusion import confidence

    peaked = [(1, 10.0)] + [(i, 1.0) for i in range(2, 11)]
    flat = [(i, 1.0) for i in range(1, 11)]
    assert confidence(peaked) == pytest.approx(3.0)  # (10 - 1.9) / 2.7
    assert confidence(flat) == 0.0 and confidence([(1, 5.0)]) == 0.0


def test_adaptive_convex_leans_on_the_confident_side():
    from papersift.search.fusion import adaptive_convex

    lex_sure = [(1, 10.0)] + [(i, 1.0) for i in range(2, 11)]  # lexical is sure about 1
    sem_flat = [(i, 0.5 - i * 0.001) for i in range(11, 21)]  # semantic barely ranks 11..20
    assert adaptive_convex(lex_sure, sem_flat)[0][0] == 1
    sem_sure = [(11, 0.9)] + [(i, 0.3) for i in range(12, 21)]
    lex_flat = [(i, 2.0 - i * 0.001) for i in range(1, 11)]
    assert adaptive_convex(lex_flat, sem_sure)[0][0] == 11
    assert adaptive_convex([], []) == []


def test_above_floor_keeps_close_neighbours_only():
    from papersift.search.service import above_floor

    sem = [(1, 0.8), (2, 0.31), (3, 0.29)]
    assert above_floor(sem, 0.3) == [(1, 0.8), (2, 0.31)]
    assert above_floor(sem, None) == sem
    assert above_floor(sem, 0.9) == []


def test_vector_cache_is_keyed_by_model_and_exact_text(tmp_path):
    from papersift.index.embedders import HashingEmbedder
    from papersift.index.vector_cache import CachedEmbedder, VectorCache

    class Counting(HashingEmbedder):
        def __init__(self) -> None:
            super().__init__(64)
            self.texts: list[str] = []

        def embed(self, texts, batch_size=32):
            self.texts += texts
            return super().embed(texts, batch_size)

    inner = Counting()
    first = CachedEmbedder(inner, VectorCache.for_collection(tmp_path, "c", inner.name, inner.dim))
    vecs = first.embed(["alpha beta", "gamma"])
    first.cache.save()
    inner2 = Counting()
    second = CachedEmbedder(inner2, VectorCache.for_collection(tmp_path, "c", inner2.name, inner2.dim))
    again = second.embed(["gamma", "alpha beta", "gamma delta"])
    assert inner2.texts == ["gamma delta"]  # only the new text is embedded
    assert (again[0] == vecs[1]).all() and (again[1] == vecs[0]).all()
    assert (second.hits, second.misses) == (2, 1)
    # a file of another model is never used, even under the same name
    path = tmp_path / "hashing-64" / "c.npz"
    assert len(VectorCache(path, "another-model", 64)) == 0 and len(VectorCache(path, "hashing-64", 64)) == 2
