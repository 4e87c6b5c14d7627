"""sweep.curves: the power-law bound on a configuration's learning curve (pure)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import linregress

from sweep.curves import TINY, exponent_bound, share_bound


def test_an_exact_power_law_gives_its_exponent():
    ns = [16, 32, 64, 128, 256]
    errs = [0.5 * (n / 16) ** -0.4 for n in ns]
    assert exponent_bound(ns, errs, window=100, z=2.0) == pytest.approx(0.4)
    # the window keeps the last three (n >= 256 / 4); a flat tail is an exponent of 0
    assert exponent_bound(ns[:3] + [128, 256], [0.5, 0.4, 0.3, 0.3, 0.3], window=4.0) == pytest.approx(0.0)


def test_too_few_results_give_no_bound():
    assert exponent_bound([], []) is None
    assert exponent_bound([16, 32], [0.5, 0.4]) is None
    assert exponent_bound([16, 32, 64], [0.5, 0.4, 0.3], window=3.0) is None      # 16 is outside the window
    assert exponent_bound([16, 32, 64], [0.5, float("nan"), 0.3], window=8.0) is None
    assert exponent_bound([16, 32, 64], [0.5, 0.4, 0.3], min_points=4) is None
    assert exponent_bound([16, 32, 64], [0.5, 0.4, 0.3]) is not None


@settings(max_examples=200, deadline=None)
@given(points=st.lists(st.tuples(st.integers(2, 100_000), st.floats(0.0, 1.0)), min_size=3, max_size=12,
                       unique_by=lambda p: p[0]),
       window=st.floats(1.5, 64.0), z=st.floats(0.0, 4.0), floor=st.floats(0.0, 0.5))
def test_the_bound_is_the_least_squares_slope_plus_z_standard_errors(points, window, z, floor):
    """Against scipy's linregress on the same window of (log n, log err)."""
    ns, errs = zip(*points)
    got = exponent_bound(ns, errs, window=window, z=z, floor=floor)
    top = max(ns)
    kept = [(n, e) for n, e in points if n >= top / window]
    if len(kept) < 3:
        assert got is None
        return
    x = np.log([n for n, _ in kept])
    y = np.log(np.maximum([e for _, e in kept], TINY))
    fit = linregress(x, y)
    want = max(floor, -fit.slope + z * fit.stderr)
    assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(a=st.floats(1, 1e6), r=st.floats(1.0, 1e4), c=st.floats(0.0, 3.0), err=st.floats(0.001, 1.0))
def test_the_share_is_what_a_power_law_closes(a, r, c, err):
    """err * (1 - share) is the power law's error at n_to, and the share is in [0, 1)."""
    s = share_bound(a, a * r, c)
    assert 0.0 <= s < 1.0 or (s == pytest.approx(1.0) and c * math.log(r) > 30)
    assert err * (1 - s) == pytest.approx(err * (a / (a * r)) ** c if r > 1 and c > 0 else err, rel=1e-9, abs=1e-12)
    assert share_bound(a * r, a, c) == 0.0 or r == 1.0
