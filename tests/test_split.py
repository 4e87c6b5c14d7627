"""Property tests of the split assignment (pure): disjoint, complete, order-free, fractions,
time order, groups intact."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.data import split

FRACTIONS = st.sampled_from([(0.6, 0.2, 0.2), (0.7, 0.15, 0.15), (0.5, 0.25, 0.25), (0.8, 0.1, 0.1)])


def rows(draw_labels, n):
    return np.arange(n, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(7)


@settings(max_examples=150, deadline=None)
@given(labels=st.lists(st.integers(0, 4), min_size=3, max_size=300), fractions=FRACTIONS,
       seed=st.integers(0, 1000), perm_seed=st.integers(0, 1000))
def test_stratified(labels, fractions, seed, perm_seed):
    y = np.array(labels)
    h = rows(None, len(y))
    a = split.stratified(y, h, fractions, seed)
    assert set(np.unique(a)) <= {0, 1, 2} and len(a) == len(y)        # each row in exactly one split
    # the same rows in another order (files shuffled / re-partitioned) keep their split
    p = np.random.default_rng(perm_seed).permutation(len(y))
    b = split.stratified(y[p], h[p], fractions, seed)
    assert (b == a[p]).all()
    # each stratum holds its fractions to within one row
    for v in np.unique(y):
        m = y == v
        n = m.sum()
        for k, f in enumerate(fractions[:2]):
            assert abs((a[m] == k).sum() - f * n) <= 1.0


@settings(max_examples=100, deadline=None)
@given(labels=st.lists(st.integers(0, 2), min_size=3, max_size=100), seed=st.integers(0, 100))
def test_identical_features_stay_together(labels, seed):
    y = np.array(labels)
    h = rows(None, len(y)) % np.uint64(7)            # many identical feature rows
    a = split.stratified(y, h, (0.6, 0.2, 0.2), seed)
    for v in np.unique(h):
        assert len(set(a[h == v])) == 1


@settings(max_examples=150, deadline=None)
@given(times=st.lists(st.integers(0, 30), min_size=3, max_size=300), fractions=FRACTIONS,
       perm_seed=st.integers(0, 1000))
def test_time_order(times, fractions, perm_seed):
    t = np.array(times)
    a = split.by_time(t, fractions)
    for lo, hi in ((0, 1), (1, 2), (0, 2)):
        if (a == lo).any() and (a == hi).any():
            assert t[a == lo].max() < t[a == hi].min()
    p = np.random.default_rng(perm_seed).permutation(len(t))
    assert (split.by_time(t[p], fractions) == a[p]).all()


@settings(max_examples=150, deadline=None)
@given(groups=st.lists(st.sampled_from(list("abcdefghijklmnop")), min_size=3, max_size=300),
       fractions=FRACTIONS, seed=st.integers(0, 100), perm_seed=st.integers(0, 1000))
def test_groups_never_cross(groups, fractions, seed, perm_seed):
    g = np.array(groups)
    a = split.by_group(g, fractions, seed)
    for v in np.unique(g):
        assert len(set(a[g == v])) == 1
    p = np.random.default_rng(perm_seed).permutation(len(g))
    assert (split.by_group(g[p], fractions, seed) == a[p]).all()


def test_regression_bins_stratify():
    y = np.linspace(0, 1, 1000)
    h = rows(None, 1000)
    a = split.stratified(y, h, (0.6, 0.2, 0.2), 0, regression_bins=10)
    bins = split.quantile_bins(y, 10)
    for b in np.unique(bins):
        assert abs((a[bins == b] == 0).mean() - 0.6) < 0.02
    assert pd.Series(a).value_counts().to_dict() == {0: 600, 1: 200, 2: 200}
