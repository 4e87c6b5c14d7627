"""The timing protocol (sweep.timing) as pure functions, on a simulated clock: a fit is repeated
only below the floor, within its budget, and summarised by its fastest timing, with the median
and spread of the timings (the warm-up left out)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep import timing

durations = st.floats(min_value=1e-4, max_value=0.5, allow_nan=False)


def _run(first: float, later: list[float], protocol=timing.Protocol()) -> list[float]:
    """The timings the protocol takes when the clock gives `first`, then `later` (cycled)."""
    out: list[float] = []
    while timing.more_timings(out, protocol):
        out.append(first if not out else later[(len(out) - 1) % len(later)])
    return out


@settings(max_examples=300, deadline=None)
@given(first=durations, later=st.lists(durations, min_size=1, max_size=30),
       floor=st.floats(0.001, 0.3), target=st.floats(0.0, 0.5), max_t=st.integers(1, 40))
def test_repeats_only_below_the_floor_and_never_past_the_budget(first, later, floor, target, max_t):
    p = timing.Protocol(floor_s=floor, target_s=target, max_timings=max_t)
    ts = _run(first, later, p)
    assert 1 <= len(ts) <= max_t
    if first >= floor:
        assert ts == [first]  # a long fit is timed once
    for k in range(2, len(ts) + 1):  # each further timing was started within the budget
        before = ts[:k - 1]
        assert sum(before) + max(before) <= target
    # so the whole series is the budget plus at most how much the last timing outran the longest before it
    if len(ts) >= 2:
        assert sum(ts) <= target + max(0.0, ts[-1] - max(ts[:-1])) + 1e-12


@settings(max_examples=300, deadline=None)
@given(ts=st.lists(durations, min_size=1, max_size=30))
def test_the_summary_is_the_fastest_timing_and_the_median_without_the_warm_up(ts):
    t = timing.summarise(ts)
    kept = ts[1:] if len(ts) > timing.WARMUP_AFTER else ts
    assert t.n == len(kept)
    assert t.seconds == min(ts)
    assert t.median == pytest.approx(float(np.median(kept)))
    assert t.total_s == pytest.approx(sum(ts))
    if len(kept) >= 3 and t.seconds > 0:
        mad = float(np.median(np.abs(np.asarray(kept) - np.median(kept))))
        assert t.spread == pytest.approx(1.4826 * mad / float(np.median(kept)))
    else:
        assert t.spread != t.spread


@settings(max_examples=200, deadline=None)
@given(fits=st.lists(durations, min_size=1, max_size=30), extra=st.floats(0, 0.05))
def test_the_budget_counts_each_calls_wall_not_only_the_fit(fits, extra):
    p = timing.Protocol()
    ts, walls = [], []
    while timing.more_timings(ts, p, walls):
        f = fits[len(ts) % len(fits)]
        ts.append(f)
        walls.append(f + extra)   # the predictions the call times after the fit
    for k in range(2, len(ts) + 1):
        assert sum(walls[:k - 1]) + max(walls[:k - 1]) <= p.target_s


def test_measure_runs_the_protocol_on_real_calls():
    calls = []

    def once():
        calls.append(1)
        return (0.001, 0.001, 0.0005)

    runs, spent = timing.measure(once)
    assert len(runs) == len(calls) == len(_run(0.001, [0.001])) > 1
    assert runs[0] == (0.001, 0.001, 0.0005) and spent >= 0


def test_protocol_checks_its_parameters():
    with pytest.raises(ValueError, match="max_timings must be a whole number >= 1, but got 0"):
        timing.Protocol(max_timings=0)
    with pytest.raises(ValueError, match="floor_s and target_s must be >= 0"):
        timing.Protocol(floor_s=-1.0)


def test_relative_uncertainty_uses_the_machines_noise_for_a_single_timing():
    assert timing.relative_uncertainty(float("nan"), 1, 0.05, 0.0) == pytest.approx(0.05)
    assert timing.relative_uncertainty(0.2, 4, 0.05, 0.0) == pytest.approx(0.1)
    assert timing.relative_uncertainty(0.01, 4, 0.05, 0.0) == pytest.approx(0.025)  # never below the noise


@given(spread=st.one_of(st.just(float("nan")), st.floats(0, 2)), n=st.integers(1, 40), noise=st.floats(0, 1),
       repro=st.floats(0, 0.5))
def test_one_timings_between_run_noise_is_a_floor_under_every_pairs_uncertainty(spread, n, noise, repro):
    u = timing.relative_uncertainty(spread, n, noise, repro)
    assert u >= repro / n ** 0.5 and u >= noise / n ** 0.5 and (spread != spread or u >= spread / n ** 0.5)
    assert timing.half_width(2.0, spread, n, noise, repro) == pytest.approx(1.959963984540054 * 2.0 * u)


def test_calibrate_reports_the_noise():
    c = timing.calibrate(repeats=5)
    assert c["noise_timings"] == 5 and c["noise_median_s"] > 0 and c["noise_cv"] >= 0


def test_moment_noise_is_the_spread_across_pairs_once_there_are_enough():
    assert timing.moment_noise([0.002] * 4, 0.03) == 0.03          # too few moments: the consecutive spread
    refs = [0.002, 0.0022, 0.0018, 0.0021, 0.0019, 0.003]
    med = float(np.median(refs))
    want = 1.4826 * float(np.median(np.abs(np.asarray(refs) - med))) / med
    assert timing.moment_noise(refs, 0.03) == pytest.approx(want)
    assert timing.moment_noise([0.002] * 6, 0.03) == 0.0            # a steady machine: no moment-to-moment noise
