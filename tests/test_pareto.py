"""Frontier, knee and budget query against brute force (hypothesis), ties and duplicates included."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.pareto import best_within, frontier, frontier_mask, knee_index


def brute_mask(m, t, maximise):
    m = np.asarray(m, float) if maximise else -np.asarray(m, float)
    t = np.asarray(t, float)
    out = []
    for i in range(len(m)):
        if not (np.isfinite(m[i]) and np.isfinite(t[i])):
            out.append(False)
            continue
        dominated = any(np.isfinite(m[j]) and np.isfinite(t[j]) and m[j] >= m[i] and t[j] <= t[i]
                        and (m[j] > m[i] or t[j] < t[i]) for j in range(len(m)) if j != i)
        out.append(not dominated)
    return np.array(out, dtype=bool)


# Small value sets so that ties and exact duplicates are common.
values = st.lists(st.tuples(st.sampled_from([0.1, 0.5, 0.5, 0.7, 0.9, 0.9, 1.0, float("nan")]),
                            st.sampled_from([0.001, 0.01, 0.01, 0.1, 1.0, 3.0])), min_size=0, max_size=40)


@settings(max_examples=300, deadline=None)
@given(points=values, maximise=st.booleans())
def test_frontier_matches_brute_force(points, maximise):
    m = [p[0] for p in points]
    t = [p[1] for p in points]
    assert (frontier_mask(m, t, maximise) == brute_mask(m, t, maximise)).all()


@settings(max_examples=200, deadline=None)
@given(points=st.lists(st.tuples(st.floats(0, 1), st.floats(1e-4, 100)), min_size=1, max_size=30))
def test_frontier_matches_brute_force_continuous(points):
    m = [p[0] for p in points]
    t = [p[1] for p in points]
    assert (frontier_mask(m, t, True) == brute_mask(m, t, True)).all()


def brute_knee(m, t):
    m, lt = np.asarray(m, float), np.log10(np.asarray(t, float))
    if len(m) < 3:
        return max(range(len(m)), key=lambda i: (m[i], -t[i]))
    x = (lt - lt.min()) / (lt.max() - lt.min()) if lt.max() > lt.min() else np.zeros_like(lt)
    y = (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else np.zeros_like(m)
    a = min(range(len(m)), key=lambda i: (t[i], -m[i]))
    b = max(range(len(m)), key=lambda i: (m[i], -t[i]))
    d = []
    for i in range(len(m)):
        # distance from point i to the line through a and b, by the cross product
        num = abs((x[b] - x[a]) * (y[a] - y[i]) - (x[a] - x[i]) * (y[b] - y[a]))
        den = np.hypot(x[b] - x[a], y[b] - y[a])
        d.append(num / den if den else 0.0)
    return next(i for i in range(len(m)) if d[i] >= max(d) - 1e-12)  # ties within 1e-12: the first


@settings(max_examples=200, deadline=None)
@given(points=st.lists(st.tuples(st.floats(0, 1), st.floats(1e-3, 100)), min_size=1, max_size=25))
def test_knee_matches_brute_force(points):
    m = np.array([p[0] for p in points])
    t = np.array([p[1] for p in points])
    mask = frontier_mask(m, t, True)
    fm, ft = m[mask], t[mask]
    k = knee_index(fm, ft, True)
    assert k == brute_knee(fm, ft)


def test_knee_on_a_known_curve():
    t = np.array([0.01, 0.1, 1.0, 10.0])
    m = np.array([0.5, 0.9, 0.92, 0.93])
    assert knee_index(m, t) == 1


@settings(max_examples=200, deadline=None)
@given(points=st.lists(st.tuples(st.floats(0, 1), st.floats(1e-3, 10)), min_size=1, max_size=30),
       budget=st.floats(1e-3, 10))
def test_best_within_matches_scan(points, budget):
    df = pd.DataFrame(points, columns=["val_accuracy", "train_time_s"])
    got = best_within(df, budget, "val_accuracy")
    ok = [p for p in points if p[1] <= budget]
    if not ok:
        assert got is None
    else:
        best = max(p[0] for p in ok)
        assert got["val_accuracy"] == best
        assert got["train_time_s"] == min(p[1] for p in ok if p[0] == best)


def test_frontier_frame_minimising_metric():
    df = pd.DataFrame({"val_rmse": [1.0, 0.5, 0.7, 0.4], "train_time_s": [0.1, 1.0, 0.5, 2.0],
                       "config_id": list("abcd")})
    f = frontier(df, "val_rmse", maximise=False)
    assert list(f["config_id"]) == ["a", "c", "b", "d"]
    assert f["is_knee"].sum() == 1


def brute_hypervolume(m, t, ref_m, ref_t):
    """Union area of rectangles [ref_m, m_i] x [t_i, ref_t] by coordinate compression."""
    rects = [(mi, ti) for mi, ti in zip(m, t) if mi > ref_m and ti < ref_t]
    if not rects:
        return 0.0
    xs = sorted({ti for _, ti in rects} | {ref_t})
    ys = sorted({mi for mi, _ in rects} | {ref_m})
    area = 0.0
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            cx, cy = (xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2
            if any(ti <= cx and mi >= cy for mi, ti in rects):
                area += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j])
    return area


@settings(max_examples=200, deadline=None)
@given(points=st.lists(st.tuples(st.sampled_from([0.2, 0.5, 0.5, 0.8, 0.9, 1.0]),
                                 st.sampled_from([0.001, 0.01, 0.1, 0.1, 1.0, 5.0])), min_size=0, max_size=25),
       maximise=st.booleans())
def test_hypervolume_matches_brute_force(points, maximise):
    from sweep.pareto import hypervolume
    m = np.array([p[0] for p in points])
    t = np.array([p[1] for p in points])
    ref_m, ref_t = (0.0, 10.0) if maximise else (1.5, 10.0)
    got = hypervolume(m, t, ref_m, ref_t, maximise)
    mm, rm = (m, ref_m) if maximise else (-m, -ref_m)
    want = brute_hypervolume(mm, np.log10(t), rm, np.log10(ref_t))
    assert abs(got - want) < 1e-9
    # only the frontier matters
    mask = frontier_mask(m, t, maximise)
    assert abs(hypervolume(m[mask], t[mask], ref_m, ref_t, maximise) - got) < 1e-9


def test_aggregate_and_not_separable():
    from sweep.pareto import aggregate, not_separable
    df = pd.DataFrame({"group_id": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "rung": [1] * 9,
                       "m": [0.90, 0.91, 0.92, 0.895, 0.905, 0.915, 0.50, 0.51, 0.52],
                       "t": [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 2.0, 2.1, 1.9]})
    agg = aggregate(df, "m", "t")
    a = agg.set_index("group_id")
    assert abs(a.loc["a", "m"] - 0.91) < 1e-12
    from scipy import stats
    assert abs(a.loc["a", "m_ci"] - stats.t.ppf(0.975, 2) * 0.01 / np.sqrt(3)) < 1e-12
    front = agg[frontier_mask(agg["m"], agg["t"])]
    ns = not_separable(front, agg, "m", "t")
    assert ns[list(agg["group_id"]).index("b")]          # within the intervals of a
    assert not ns[list(agg["group_id"]).index("c")]      # clearly worse and slower


def test_cost_slopes_recover_a_power_law():
    from sweep.pareto import cost_slopes
    n = np.array([100, 200, 400, 800] * 2)
    df = pd.DataFrame({"architecture": ["lin"] * 4 + ["quad"] * 4, "config_id": ["l"] * 4 + ["q"] * 4,
                       "n_train": n, "train_time_s": np.r_[1e-4 * n[:4], 1e-7 * n[4:] ** 2]})
    s = cost_slopes(df).set_index("architecture")["slope"]
    assert abs(s["lin"] - 1) < 1e-9 and abs(s["quad"] - 2) < 1e-9


def test_learning_curves_pick_the_best_group_per_architecture():
    from sweep.pareto import learning_curves
    rows = []
    for gid, acc in (("g1", 0.8), ("g2", 0.9)):
        for seed in (0, 1):
            for n in (10, 20):
                rows.append({"group_id": gid, "rung": n, "n_train": n, "architecture": "a", "seed": seed,
                             "val_accuracy": acc + n / 1000 + seed / 100, "train_time_s": n / 100})
    lc = learning_curves(pd.DataFrame(rows), "val_accuracy")
    assert list(lc["group_id"]) == ["g2", "g2"] and list(lc["n_train"]) == [10, 20]
    assert (lc["val_accuracy_ci"] > 0).all() and (lc["n_seeds"] == 2).all()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.001, 10), st.floats(0, 5)), min_size=1, max_size=40),
       st.booleans())
def test_the_incremental_hypervolume_curve_equals_recomputing_every_prefix(rows, maximise):
    from sweep.pareto import hypervolume, hypervolume_curve

    df = pd.DataFrame(rows, columns=["val_accuracy", "train_time_s", "finished_at_s"])
    ref_m = df["val_accuracy"].min() if maximise else df["val_accuracy"].max()
    ref_t = df["train_time_s"].max() * 2
    got = hypervolume_curve(df, "val_accuracy", "train_time_s", ref_m, ref_t, maximise)
    order = df.sort_values("finished_at_s", kind="stable")
    want = [hypervolume(order["val_accuracy"].iloc[: i + 1], order["train_time_s"].iloc[: i + 1], ref_m, ref_t,
                        maximise) for i in range(len(order))]
    np.testing.assert_allclose(got["hypervolume"], want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["compute_s"], order["train_time_s"].cumsum())


def test_growth_is_the_median_of_each_configurations_end_to_end_slope():
    """sweep.growth against a direct computation: per configuration, log(t_last / t_first) over
    log(n_last / n_first); per architecture, the median of those."""
    from sweep import growth
    rng = np.random.default_rng(3)
    pts = []
    for c in range(7):
        b, scale = rng.uniform(0.5, 2.5), rng.uniform(1e-4, 1e-2)
        for n in sorted(rng.choice([50, 100, 200, 400, 800], size=int(rng.integers(1, 5)), replace=False)):
            pts.append(("a" if c < 4 else "b", f"c{c}", float(n), scale * n ** b * rng.uniform(0.9, 1.1)))
    want_cfg = {}
    for cid in {p[1] for p in pts}:
        own = sorted((n, t) for _, c, n, t in pts if c == cid)
        if len(own) >= 2:
            want_cfg[cid] = np.log(own[-1][1] / own[0][1]) / np.log(own[-1][0] / own[0][0])
    got = growth.by_configuration((c, n, t) for _, c, n, t in pts)
    assert got.keys() == want_cfg.keys() and all(abs(got[k] - want_cfg[k]) < 1e-12 for k in got)
    arch_of = {c: a for a, c, _, _ in pts}
    want_arch = {a: float(np.median([v for c, v in want_cfg.items() if arch_of[c] == a]))
                 for a in {arch_of[c] for c in want_cfg}}
    got_arch = growth.by_architecture(pts)
    assert got_arch.keys() == want_arch.keys() and all(abs(got_arch[a] - want_arch[a]) < 1e-12 for a in got_arch)
    assert growth.exponent(10, 1.0, 10, 2.0) is None and growth.exponent(10, 0.0, 20, 1.0) is None
