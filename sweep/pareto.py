"""Frontier maths: pure numpy/pandas, no plotting (drawing lives in sweep.report).

A point is (metric, time). It is dominated when another point is at least as good on
both axes and strictly better on one; the frontier is the set of points no other point
dominates (identical points do not dominate each other). Metrics keep their direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import growth


def frontier_mask(metric, time, maximise: bool = True) -> np.ndarray:
    """Boolean mask of non-dominated points (NaN on either axis: never on the frontier)."""
    m = np.asarray(metric, dtype=float)
    t = np.asarray(time, dtype=float)
    if not maximise:
        m = -m
    ok = np.isfinite(m) & np.isfinite(t)
    out = np.zeros(len(m), dtype=bool)
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return out
    idx = idx[np.lexsort((-m[idx], t[idx]))]  # time ascending, metric descending
    best_before = -np.inf  # best metric among points with strictly smaller time
    start = 0
    while start < len(idx):
        stop = start
        while stop < len(idx) and t[idx[stop]] == t[idx[start]]:
            stop += 1
        group = idx[start:stop]
        top = m[group].max()
        keep = (m[group] == top) & (m[group] > best_before)
        out[group[keep]] = True
        best_before = max(best_before, top)
        start = stop
    return out


KNEE_TIE = 1e-12  # knee distances (on [0, 1] axes) closer than this are float noise, not an order


def knee_index(metric, time, maximise: bool = True) -> int | None:
    """Position (in the given frontier arrays) of the knee.

    Over the frontier points, scale the metric to [0, 1] (1 = best) and log10(time) to
    [0, 1]; the knee is the point farthest from the straight line joining the fastest
    and the best point. With fewer than three points it is the best-metric point.
    """
    m = np.asarray(metric, dtype=float)
    t = np.asarray(time, dtype=float)
    if len(m) == 0:
        return None
    if not maximise:
        m = -m
    if len(m) < 3:
        return int(np.lexsort((t, -m))[0])
    lt = np.log10(np.maximum(t, 1e-12))
    span_m = m.max() - m.min()
    span_t = lt.max() - lt.min()
    x = (lt - lt.min()) / span_t if span_t > 0 else np.zeros_like(lt)
    y = (m - m.min()) / span_m if span_m > 0 else np.zeros_like(m)
    a = int(np.lexsort((-m, t))[0])        # fastest end
    b = int(np.lexsort((t, -m))[0])        # best end
    dx, dy = x[b] - x[a], y[b] - y[a]
    norm = np.hypot(dx, dy)
    if norm == 0:
        return b
    dist = np.abs(dy * (x - x[a]) - dx * (y - y[a])) / norm
    return int(np.argmax(dist >= dist.max() - KNEE_TIE))  # distances this close are a tie: the first wins


def frontier(points: pd.DataFrame, metric: str, time: str = "train_time_s",
             maximise: bool = True) -> pd.DataFrame:
    """The frontier rows of `points` (time ascending) with an `is_knee` column."""
    if points.empty:
        return points.assign(is_knee=pd.Series(dtype=bool))
    mask = frontier_mask(points[metric].to_numpy(), points[time].to_numpy(), maximise)
    front = points[mask].sort_values([time, metric], ascending=[True, not maximise]).copy()
    k = knee_index(front[metric].to_numpy(), front[time].to_numpy(), maximise)
    front["is_knee"] = False
    if k is not None:
        front.iloc[k, front.columns.get_loc("is_knee")] = True
    return front


def best_within(points: pd.DataFrame, seconds: float, metric: str, time: str = "train_time_s",
                maximise: bool = True) -> pd.Series | None:
    """The best point whose time is <= `seconds` (ties: the faster), or None."""
    fits = points[np.isfinite(points[metric]) & (points[time] <= seconds)]
    if fits.empty:
        return None
    ordered = fits.sort_values([metric, time], ascending=[not maximise, True])
    return ordered.iloc[0]


def aggregate(points: pd.DataFrame, metric: str, time: str = "train_time_s",
              keys: tuple[str, ...] = ("group_id", "rung")) -> pd.DataFrame:
    """Mean and 95% confidence half-width (Student t) of both axes per (group_id, rung).

    With one seed per group the half-widths are 0 (nothing to estimate them from) and
    `n_seeds` says so.
    """
    from scipy import stats

    g = points.groupby(list(keys), sort=True)
    out = g.agg(**{metric: (metric, "mean"), time: (time, "mean"),
                   f"{metric}_sd": (metric, "std"), f"{time}_sd": (time, "std"),
                   "n_seeds": (metric, "size")}).reset_index()
    n = out["n_seeds"].to_numpy()
    tq = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), 0.0)
    for col in (metric, time):
        sd = out.pop(f"{col}_sd").fillna(0.0).to_numpy()
        out[f"{col}_ci"] = tq * sd / np.sqrt(np.maximum(n, 1))
    return out


def not_separable(front: pd.DataFrame, points: pd.DataFrame, metric: str, time: str = "train_time_s",
                  maximise: bool = True) -> np.ndarray:
    """For each row of `points`: True when no frontier point beats it on both axes by more
    than the two 95% intervals (the point's and the frontier point's half-widths added)."""
    sign = 1.0 if maximise else -1.0
    fm, ft = sign * front[metric].to_numpy(float), front[time].to_numpy(float)
    fmc, ftc = front[f"{metric}_ci"].to_numpy(float), front[f"{time}_ci"].to_numpy(float)
    pm, pt = sign * points[metric].to_numpy(float), points[time].to_numpy(float)
    pmc, ptc = points[f"{metric}_ci"].to_numpy(float), points[f"{time}_ci"].to_numpy(float)
    better_m = (fm[None, :] - pm[:, None]) > (fmc[None, :] + pmc[:, None])
    better_t = (pt[:, None] - ft[None, :]) > (ftc[None, :] + ptc[:, None])
    return ~(better_m & better_t).any(axis=1)


def hypervolume(metric, time, ref_metric: float, ref_time: float, maximise: bool = True,
                log_time: bool = True) -> float:
    """Area dominated by the points and bounded by the reference point, in the plane of
    (metric, log10 time) by default: the union of the rectangles between each point and
    (ref_metric, ref_time). Points no better than the reference on both axes add nothing."""
    m = np.asarray(metric, float)
    t = np.asarray(time, float)
    if not maximise:
        m, ref_metric = -m, -ref_metric
    if log_time:
        t, ref_time = np.log10(np.maximum(t, 1e-12)), np.log10(max(ref_time, 1e-12))
    ok = np.isfinite(m) & np.isfinite(t) & (m > ref_metric) & (t < ref_time)
    if not ok.any():
        return 0.0
    m, t = m[ok], t[ok]
    order = np.argsort(t, kind="stable")
    area, best = 0.0, ref_metric
    ts = np.append(t[order], ref_time)
    ms = m[order]
    for i in range(len(ms)):  # sweep time ascending; the best metric so far spans to the next time
        best = max(best, ms[i])
        area += (ts[i + 1] - ts[i]) * (best - ref_metric)
    return float(area)


def hypervolume_curve(points: pd.DataFrame, metric: str, time: str, ref_metric: float,
                      ref_time: float, maximise: bool = True, order_by: str = "finished_at_s") -> pd.DataFrame:
    """Hypervolume of the points found so far against cumulative compute (sum of train_time_s).

    Incremental: the non-dominated points so far are kept, a new point that one of them
    dominates leaves the hypervolume as it was, and only a point that joins them is a
    recomputation over them (not over every point so far), so the curve costs about
    n x (frontier size), not n^2."""
    pts = points.sort_values(order_by, kind="stable") if order_by in points else points
    compute = pts["train_time_s"].cumsum().to_numpy()
    m = pts[metric].to_numpy(float) * (1.0 if maximise else -1.0)
    t = pts[time].to_numpy(float)
    ref_m = ref_metric if maximise else -ref_metric
    hv = np.zeros(len(pts))
    front_m, front_t = np.empty(0), np.empty(0)
    current = 0.0
    for i in range(len(pts)):
        mi, ti = m[i], t[i]
        if np.isfinite(mi) and np.isfinite(ti) and mi > ref_m and ti < ref_time and \
                not ((front_m >= mi) & (front_t <= ti)).any():
            keep = ~((front_m <= mi) & (front_t >= ti))
            front_m, front_t = np.append(front_m[keep], mi), np.append(front_t[keep], ti)
            current = hypervolume(front_m, front_t, ref_m, ref_time, True)
        hv[i] = current
    return pd.DataFrame({"compute_s": compute, "hypervolume": hv})


def learning_curves(points: pd.DataFrame, metric: str, time: str = "train_time_s",
                    maximise: bool = True) -> pd.DataFrame:
    """Per architecture, its best group (best mean metric at its largest n_train) across rungs:
    n_train, mean metric and time, and their 95% half-widths (0 with one seed)."""
    agg = aggregate(points, metric, time)
    arch = points.groupby(["group_id", "rung"])[["architecture", "n_train"]].first().reset_index()
    agg = agg.merge(arch, on=["group_id", "rung"])
    rows = []
    for name, g in agg.groupby("architecture", sort=True):
        top = g[g["n_train"] == g["n_train"].max()].sort_values(metric, ascending=not maximise)
        rows.append(g[g["group_id"] == top.iloc[0]["group_id"]].sort_values("n_train"))
    if not rows:
        return agg.iloc[0:0]
    return pd.concat(rows, ignore_index=True)


def cost_slopes(points: pd.DataFrame, time: str = "train_time_s") -> pd.DataFrame:
    """Per architecture, how its fits' seconds grow with n_train (sweep.growth: the median of
    its configurations' log-log slopes from their smallest to their largest size): ~1 means
    linear cost in the sample size, ~2 quadratic; NaN for an architecture whose
    configurations were each seen at one size. `points`: its positive times."""
    g = points[(points[time] > 0) & (points["n_train"] > 0)]
    slopes = growth.by_architecture(zip(g["architecture"], g["config_id"], g["n_train"].astype(float), g[time]))
    rows = [{"architecture": a, "slope": float(slopes.get(a, float("nan"))), "points": int(k)}
            for a, k in g.groupby("architecture", sort=True).size().items()]
    return pd.DataFrame(rows, columns=["architecture", "slope", "points"])
