"""Dominance that respects noise: which points are the frontier, which of them are tied, and
a knee that noise does not move. Pure numpy/pandas (sweep.pareto's point-estimate maths
underneath), no I/O.

Each point carries 95% half-widths on both axes (`<metric>_ci`, `<time>_ci`; 0 when
unknown). Q is better than P *beyond noise* on time when their time intervals do not
overlap (Q's upper end below P's lower end); on the metric when a paired test on the same
validation rows says so (`paired(q, p)`, sweep.uncertainty), else when the metric intervals
do not overlap.

- **Members.** P leaves the frontier when a point Q dominates it (at least as good on both
  axes, better on one, by the point estimates) and Q is better beyond noise on at least one
  axis. So every point of the point-estimate frontier stays, and a point whose every
  dominator is within noise on both axes stays too: the two cannot be told apart by this
  run, and a rerun may order them the other way.
- **Tie groups.** Members that are within noise of each other on both axes are tied; a tie
  group is a connected set of them. Its representative is its best member by the metric,
  then the smaller sample size, then the config_id (never the noisy time order); the others
  name it in `tied_with`.
- **The knee**, over the representatives: as in sweep.pareto (metric and log10 time scaled
  to [0, 1] between the fastest and the best representative; the distance above the line
  joining them), but with every point moved anywhere inside its intervals. The candidates
  are the representatives that could be farthest under some such move (bounds from the
  intervals' corners); the knee is the candidate with the best metric (then the faster, then
  the config_id). With fewer than three representatives, the best one.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd

from .pareto import frontier_mask

MAX_PAIRED = 50  # paired tests per point (its dominators with the largest metric gaps first)


def members(m, t, m_ci, t_ci, maximise: bool = True, paired: Callable[[int, int], int] | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """(is a member, is on the point-estimate frontier) for each point (see the module docstring).
    `paired(q, p)` is +1 when point q's metric is better than p's beyond noise on the same rows."""
    m, t = _oriented(m, maximise), np.asarray(t, float)
    mc, tc = np.nan_to_num(np.asarray(m_ci, float)), np.nan_to_num(np.asarray(t_ci, float))
    ok = np.isfinite(m) & np.isfinite(t)
    front = frontier_mask(m, t, True)
    keep = front.copy()
    n = len(m)
    if not ok.any():
        return keep, front
    # beyond noise on time, from some point at least as good on the metric: one sort
    lo, hi = t - tc, t + tc
    idx = np.flatnonzero(ok)[np.argsort(-m[ok], kind="stable")]
    run_min = np.minimum.accumulate(hi[idx])
    ms = -m[idx]
    ends = np.searchsorted(ms, ms, side="right") - 1
    by_time = np.zeros(n, dtype=bool)
    by_time[idx] = run_min[ends] < lo[idx]
    for p in np.flatnonzero(ok & ~front & ~by_time):
        dom = np.flatnonzero(ok & (m >= m[p]) & (t <= t[p]) & ((m > m[p]) | (t < t[p])))
        if ((m[dom] - mc[dom]) > (m[p] + mc[p])).any():
            continue  # beyond noise on the metric, by the intervals
        if paired is not None:
            order = dom[np.argsort(-(m[dom] - m[p]), kind="stable")][:MAX_PAIRED]
            if any(paired(int(q), int(p)) > 0 for q in order):
                continue
        keep[p] = True
    return keep, front


def tie_groups(idx: np.ndarray, m, t, m_ci, t_ci, maximise: bool = True,
               paired: Callable[[int, int], int] | None = None) -> np.ndarray:
    """A group number for each member in `idx`: connected sets of members within noise of each
    other on both axes."""
    m, t = _oriented(m, maximise), np.asarray(t, float)
    mc, tc = np.nan_to_num(np.asarray(m_ci, float)), np.nan_to_num(np.asarray(t_ci, float))
    parent = list(range(len(idx)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            i, j = idx[a], idx[b]
            if (t[i] + tc[i] < t[j] - tc[j]) or (t[j] + tc[j] < t[i] - tc[i]):
                continue  # apart on time
            if (m[i] - mc[i] > m[j] + mc[j]) or (m[j] - mc[j] > m[i] + mc[i]):
                continue  # apart on the metric, by the intervals
            if paired is not None and paired(int(i), int(j)) != 0:
                continue  # apart on the metric, paired
            parent[find(a)] = find(b)
    roots = [find(a) for a in range(len(idx))]
    first: dict[int, int] = {}
    return np.array([first.setdefault(r, len(first)) for r in roots], dtype=int)


def knee_candidates(m, t, m_ci, t_ci, maximise: bool = True) -> np.ndarray:
    """The representatives (a frontier: time ascending, metric ascending) that could be the
    knee with every point anywhere inside its intervals (see the module docstring)."""
    m, t = _oriented(m, maximise), np.asarray(t, float)
    mc, tc = np.nan_to_num(np.asarray(m_ci, float)), np.nan_to_num(np.asarray(t_ci, float))
    k = len(m)
    if k < 3:
        return np.ones(k, dtype=bool)
    lt = np.log10(np.maximum(t, 1e-12))
    lt_lo = np.log10(np.maximum(t - tc, 1e-12))
    lt_hi = np.log10(np.maximum(t + tc, 1e-12))
    a, b = int(np.lexsort((-m, t))[0]), int(np.lexsort((t, -m))[0])   # fastest, best
    y_lo, y_hi = _ratio_bounds(m - mc, m + mc, a, b)
    x_lo, x_hi = _ratio_bounds(lt_lo, lt_hi, a, b)
    d_lo, d_hi = (y_lo - x_hi) / math.sqrt(2), (y_hi - x_lo) / math.sqrt(2)
    d_lo[[a, b]] = d_hi[[a, b]] = 0.0
    return d_hi >= np.max(d_lo)


def _ratio_bounds(v_lo: np.ndarray, v_hi: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of (v_i - v_a) / (v_b - v_a) with each v in [v_lo, v_hi]: a linear-fractional
    function takes its extremes at the box's corners (unbounded when the denominator may be 0)."""
    corners = []
    for vi in (v_lo, v_hi):
        for va in (v_lo[a], v_hi[a]):
            for vb in (v_lo[b], v_hi[b]):
                den = vb - va
                corners.append((vi - va) / den if den > 0 else np.full(len(v_lo), np.nan))
    c = np.vstack(corners)
    if np.isnan(c).any() or (v_hi[b] - v_lo[a]) <= 0 or (v_lo[b] - v_hi[a]) <= 0:
        return np.full(len(v_lo), -np.inf), np.full(len(v_lo), np.inf)
    return c.min(axis=0), c.max(axis=0)


def robust_frontier(points: pd.DataFrame, metric: str, time: str = "train_time_s", maximise: bool = True,
                    paired: Callable[[int, int], int] | None = None) -> pd.DataFrame:
    """The frontier's members (time ascending) with `is_knee`, `tie_group` and `tied_with`
    ("config_id@rung" of the group's representative; empty for representatives), and
    `on_estimate_frontier`. `paired(q, p)` takes positions in `points`."""
    cols = [f"{metric}_ci", f"{time}_ci"]
    pts = points.reset_index(drop=True).copy()
    for c in cols:
        if c not in pts:
            pts[c] = 0.0
    m, t = pts[metric].to_numpy(float), pts[time].to_numpy(float)
    mc, tc = pts[cols[0]].to_numpy(float), pts[cols[1]].to_numpy(float)
    keep, est = members(m, t, mc, tc, maximise, paired)
    idx = np.flatnonzero(keep)
    out = pts.iloc[idx].copy()
    out["on_estimate_frontier"] = est[idx]
    out["tie_group"] = tie_groups(idx, m, t, mc, tc, maximise, paired) if len(idx) else []
    sign = 1.0 if maximise else -1.0
    n_train = out["n_train"].to_numpy(float) if "n_train" in out else np.zeros(len(out))
    ids = out["config_id"].astype(str).to_numpy() if "config_id" in out else np.arange(len(out)).astype(str)
    rungs = out["rung"].to_numpy() if "rung" in out else n_train
    rep_of: dict[int, int] = {}
    for g in np.unique(out["tie_group"].to_numpy()):
        pos = np.flatnonzero(out["tie_group"].to_numpy() == g)
        best = min(pos, key=lambda i: (-sign * m[idx[i]], n_train[i], ids[i]))
        rep_of[int(g)] = int(best)
    out["tied_with"] = [("" if rep_of[int(g)] == i else f"{ids[rep_of[int(g)]]}@{int(rungs[rep_of[int(g)]])}")
                        for i, g in enumerate(out["tie_group"].to_numpy())]
    reps = sorted(rep_of.values(), key=lambda i: (t[idx[i]], sign * m[idx[i]]))
    out["is_knee"] = False
    if reps:
        r = np.array([idx[i] for i in reps])
        cand = knee_candidates(m[r], t[r], mc[r], tc[r], maximise)
        pick = min(np.flatnonzero(cand), key=lambda j: (-sign * m[r[j]], t[r[j]], ids[reps[j]]))
        out.iloc[reps[pick], out.columns.get_loc("is_knee")] = True
    return out.sort_values([time, metric], ascending=[True, not maximise], kind="stable")


def _oriented(m, maximise: bool) -> np.ndarray:
    m = np.asarray(m, float)
    return m if maximise else -m


__all__ = ["members", "tie_groups", "knee_candidates", "robust_frontier", "MAX_PAIRED"]
