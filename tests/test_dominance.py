"""Dominance that respects noise (sweep.dominance) against brute force over intervals, the tie
groups against a brute-force graph, and the knee's stability under moves inside the intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep import dominance
from sweep.pareto import frontier_mask


@st.composite
def noisy_points(draw, max_n: int = 25):
    n = draw(st.integers(1, max_n))
    # coarse values so that exact ties on either axis happen often
    m = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    t = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    mc = draw(st.lists(st.sampled_from([0.0, 0.4, 1.0, 2.5]), min_size=n, max_size=n))
    tc = draw(st.lists(st.sampled_from([0.0, 0.3, 1.0, 3.0]), min_size=n, max_size=n))
    sign = draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=n * n, max_size=n * n))
    s = np.array(sign).reshape(n, n)
    s = np.triu(s, 1) - np.triu(s, 1).T  # paired(q, p) = -paired(p, q)
    return (np.array(m, float) / 10, np.array(t, float) / 4, np.array(mc) / 10, np.array(tc) / 4, s)


def _beyond_time(q, p, t, tc):
    return t[q] + tc[q] < t[p] - tc[p]


def _beyond_metric(q, p, m, mc, s):
    return (m[q] - mc[q] > m[p] + mc[p]) or (s is not None and s[q, p] > 0)


def _brute_members(m, t, mc, tc, s):
    n = len(m)
    keep = np.ones(n, dtype=bool)
    for p in range(n):
        for q in range(n):
            dominates = m[q] >= m[p] and t[q] <= t[p] and (m[q] > m[p] or t[q] < t[p])
            if dominates and (_beyond_time(q, p, t, tc) or _beyond_metric(q, p, m, mc, s)):
                keep[p] = False
    return keep


@settings(max_examples=150, deadline=None)
@given(pts=noisy_points(), use_paired=st.booleans())
def test_members_equal_brute_force_over_intervals(pts, use_paired):
    m, t, mc, tc, s = pts
    paired = (lambda q, p: int(s[q, p])) if use_paired else None
    keep, front = dominance.members(m, t, mc, tc, True, paired)
    assert (keep == _brute_members(m, t, mc, tc, s if use_paired else None)).all()
    assert (front == frontier_mask(m, t)).all() and (keep | ~front).all()  # the estimate frontier stays


@settings(max_examples=100, deadline=None)
@given(pts=noisy_points())
def test_without_noise_the_members_are_the_point_estimate_frontier(pts):
    m, t, _, _, _ = pts
    keep, front = dominance.members(m, t, np.zeros(len(m)), np.zeros(len(m)), True)
    assert (keep == front).all()


@settings(max_examples=100, deadline=None)
@given(pts=noisy_points(max_n=15))
def test_tie_groups_are_the_connected_sets_of_members_within_noise(pts):
    m, t, mc, tc, s = pts
    idx = np.arange(len(m))
    groups = dominance.tie_groups(idx, m, t, mc, tc, True, lambda q, p: int(s[q, p]))
    n = len(m)
    near = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(n):
            near[i, j] = i == j or not (_beyond_time(i, j, t, tc) or _beyond_time(j, i, t, tc)
                                        or m[i] - mc[i] > m[j] + mc[j] or m[j] - mc[j] > m[i] + mc[i]
                                        or s[i, j] != 0)
    reach = near.copy()
    for k in range(n):  # transitive closure (Floyd–Warshall)
        reach |= reach[:, [k]] & reach[[k], :]
    assert ((groups[:, None] == groups[None, :]) == reach).all()


@st.composite
def separated_frontier(draw):
    """Representatives as sweep.dominance makes them: apart on both axes beyond their intervals."""
    k = draw(st.integers(3, 9))
    gaps_t = draw(st.lists(st.floats(0.2, 1.5), min_size=k, max_size=k))
    gaps_m = draw(st.lists(st.floats(0.02, 0.2), min_size=k, max_size=k))
    lt = np.cumsum(gaps_t) - 3
    m = 0.5 + np.cumsum(gaps_m)
    frac_t = draw(st.lists(st.floats(0.0, 0.45), min_size=k, max_size=k))
    frac_m = draw(st.lists(st.floats(0.0, 0.45), min_size=k, max_size=k))
    t = 10 ** lt
    # half-widths under half the gap to each neighbour (in the units each axis is compared in)
    tc = np.array([f * min(t[i] - (t[i - 1] if i else 0), (t[i + 1] - t[i]) if i + 1 < k else t[i]) for i, f in enumerate(frac_t)])
    mc = np.array([f * min(gaps_m[i] if i else 1, gaps_m[i + 1] if i + 1 < k else 1) for i, f in enumerate(frac_m)])
    u = draw(st.lists(st.floats(-1, 1), min_size=2 * k, max_size=2 * k))
    return m, t, mc, tc, np.array(u[:k]), np.array(u[k:])


def _signed_knee(m, t) -> int:
    lt = np.log10(t)
    a, b = int(np.argmin(t)), int(np.argmax(m))
    x = (lt - lt[a]) / (lt[b] - lt[a])
    y = (m - m[a]) / (m[b] - m[a])
    return int(np.argmax((y - x) / math.sqrt(2)))


@settings(max_examples=150, deadline=None)
@given(f=separated_frontier())
def test_every_knee_noise_could_give_is_a_candidate(f):
    """Moved anywhere inside their intervals, the points' knee (the plain rule on the moved
    estimates) is always one of the candidates; and the chosen knee is the best of those."""
    m, t, mc, tc, um, ut = f
    cand = dominance.knee_candidates(m, t, mc, tc)
    moved = _signed_knee(m + um * mc, t + ut * tc)
    assert cand[moved]
    pts = pd.DataFrame({"val_accuracy": m, "train_time_s": t, "val_accuracy_ci": mc, "train_time_s_ci": tc,
                        "config_id": [f"c{i}" for i in range(len(m))], "rung": 100, "n_train": 100})
    front = dominance.robust_frontier(pts, "val_accuracy")
    knee = front[front["is_knee"]]
    assert len(knee) == 1 and knee["val_accuracy"].iloc[0] == m[cand].max()


def test_a_tied_pair_survives_a_rerun_that_orders_it_the_other_way():
    """Two points within noise of each other: whichever times faster, both are members, one
    group, and the same representative (the better metric, never the noisy time order)."""
    base = {"val_accuracy": [0.90, 0.95, 0.951], "val_accuracy_ci": [0.01, 0.01, 0.01],
            "config_id": ["a", "b", "c"], "rung": [100, 400, 400], "n_train": [100, 400, 400]}
    runs = []
    for times in ([0.010, 0.100, 0.104], [0.010, 0.104, 0.100]):
        pts = pd.DataFrame({**base, "train_time_s": times, "train_time_s_ci": [0.001, 0.01, 0.01]})
        runs.append(dominance.robust_frontier(pts, "val_accuracy"))
    for front in runs:
        assert set(front["config_id"]) == {"a", "b", "c"}
        assert set(front.loc[front["tied_with"] != "", "config_id"]) == {"b"}
        assert set(front["tied_with"]) == {"", "c@400"}
    assert [f.loc[f["is_knee"], "config_id"].iloc[0] for f in runs] == ["c", "c"]
