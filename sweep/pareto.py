"""Frontier maths: pure numpy/pandas, no plotting (drawing lives in sweep.report).

A point is (metric, time). It is dominated when another point is at least as good on
both axes and strictly better on one; the frontier is the set of points no other point
dominates (identical points do not dominate each other). Metrics keep their direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
    return int(np.argmax(dist))


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
