"""Correlation core against numpy.corrcoef and scipy.stats.pearsonr, with and without gaps."""
import numpy as np
import pytest
from scipy import stats

from backbone import correlation as C


def _returns(t=120, n=9, seed=1, missing=0.0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(t, 1))
    r = 0.6 * f * rng.choice([-1, 1], size=n) + rng.normal(size=(t, n)) * 0.01 + rng.normal(size=(t, n))
    r *= 0.01
    if missing:
        r[rng.random(r.shape) < missing] = np.nan
    return r


def test_matches_numpy_corrcoef_without_missing_values():
    r = _returns()
    got, n = C.pairwise_pearson(r, r)
    np.testing.assert_allclose(got, np.corrcoef(r, rowvar=False), atol=1e-12)
    assert (n == r.shape[0]).all()


def test_pairwise_complete_matches_pearsonr_on_each_pair():
    r = _returns(t=80, n=7, missing=0.2, seed=3)
    got, n = C.pairwise_pearson(r[:, :3], r[:, 3:])
    p = C.p_values(got, n)
    for i in range(3):
        for j in range(4):
            both = np.isfinite(r[:, i]) & np.isfinite(r[:, 3 + j])
            ref = stats.pearsonr(r[both, i], r[both, 3 + j])
            assert n[i, j] == both.sum()
            assert got[i, j] == pytest.approx(ref.statistic, abs=1e-10)
            assert p[i, j] == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-14)


def test_large_offset_prices_do_not_cancel():
    rng = np.random.default_rng(0)
    x = 1e6 + rng.normal(size=(50, 2))
    x[3, 0] = np.nan
    got, _ = C.pairwise_pearson(x, x)
    both = np.isfinite(x[:, 0])
    assert got[0, 1] == pytest.approx(stats.pearsonr(x[both, 0], x[both, 1]).statistic, abs=1e-9)


def test_p_values_edges():
    p = C.p_values(np.array([1.0, 0.5, np.nan, 0.3]), np.array([10, 2, 10, 30]))
    assert p[0] == 0.0 and np.isnan(p[1]) and np.isnan(p[2])
    assert p[3] == pytest.approx(stats.pearsonr(*_pair_with_r(0.3, 30)).pvalue, rel=1e-6)


def _pair_with_r(target, n):
    # two series with correlation exactly `target` (Gram-Schmidt)
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=n), rng.normal(size=n)
    a = (a - a.mean()) / np.linalg.norm(a - a.mean())
    b = b - b.mean()
    b = b - (b @ a) * a
    b /= np.linalg.norm(b)
    return a, target * a + np.sqrt(1 - target ** 2) * b


@pytest.mark.parametrize("block", [1, 3, 4, 50])
def test_blockwise_topk_equals_full_matrix_topk(block):
    r = _returns(t=60, n=11, missing=0.1, seed=7)
    k, min_overlap = 3, 30
    top, _ = C.correlate_topk(r, k, min_overlap, block=block)
    full, n = C.pairwise_pearson(r, r)
    np.fill_diagonal(full, np.nan)
    full[n < min_overlap] = np.nan
    for i in range(r.shape[1]):
        row = full[i]
        pos = sorted([v for v in row if np.isfinite(v) and v > 0], reverse=True)[:k]
        neg = sorted([v for v in row if np.isfinite(v) and v < 0])[:k]
        np.testing.assert_allclose(top.pos_r[i, :len(pos)], pos, atol=1e-12)
        np.testing.assert_allclose(top.neg_r[i, :len(neg)], neg, atol=1e-12)
        for j in range(k):
            if top.pos_idx[i, j] >= 0:
                assert full[i, top.pos_idx[i, j]] == pytest.approx(top.pos_r[i, j])
                assert top.pos_n[i, j] == n[i, top.pos_idx[i, j]]


def test_thin_pairs_skipped_and_counted():
    r = _returns(t=40, n=3)
    r[:30, 2] = np.nan  # symbol 2 overlaps the others on 10 bars only
    top, skipped = C.correlate_topk(r, 2, min_overlap=20, block=2)
    assert skipped == 2
    assert 2 not in top.pos_idx[0] and 2 not in top.neg_idx[0]
    assert (top.pos_idx[2] == -1).all() and (top.neg_idx[2] == -1).all()


def test_align_and_sparse_symbols_are_reported():
    grid = np.arange(0, 10 * 86400, 86400)
    syms, eps, px = [], [], []
    for d in range(10):
        syms += ["A", "B"]
        eps += [grid[d], grid[d]]
        px += [100 + d, 50 + (d % 3)]
    syms += ["C", "C", "A"]
    eps += [grid[0], grid[1], 12345]  # C has one return; A has an off-grid row
    px += [10, 11, 999]
    al = C.align_closes(syms, eps, px, grid, universe=["A", "B", "C", "D"])
    assert al.off_grid == 1 and al.closes.shape == (10, 4)
    assert np.isnan(al.closes[:, 3]).all()
    ret = C.simple_returns(al.closes)
    assert ret[0, 0] == pytest.approx(101 / 100 - 1)
    kept, sub, dropped = C.drop_sparse(al.symbols, ret, min_overlap=5)
    assert kept == ["A", "B"] and sub.shape == (9, 2)
    assert {(d.symbol, d.observations) for d in dropped} == {("C", 1), ("D", 0)}


def test_related_rows_are_ranked():
    r = _returns(t=100, n=6, seed=11)
    top, _ = C.correlate_topk(r, 2, 10, block=4)
    rows = C.related_rows([f"S{i}" for i in range(6)], top)
    s0 = [x for x in rows if x.symbol == "S0" and x.direction == "positive"]
    assert [x.rank for x in s0] == list(range(1, len(s0) + 1))
    assert all(a.correlation >= b.correlation for a, b in zip(s0, s0[1:]))
    assert all(0 <= x.p_value <= 1 and x.overlap == 100 for x in rows)


def test_bad_input_is_typed():
    with pytest.raises(C.CorrelationInputError):
        C.align_closes(["A"], [1, 2], [1.0], np.array([1, 2]))
    with pytest.raises(C.CorrelationInputError):
        C.block_ranges(5, 0)
