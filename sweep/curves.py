"""Learning-curve bounds for sweep.prune: how fast a configuration's error could still fall.

A configuration's error to the metric's ideal value (1 - accuracy, or rmse) is modelled as a
power law in the sample size n, err(n) ~ a * n ** -c (LCDB's paper finds power laws fit most
learning curves well, and curves flatten: the local exponent c falls as n grows). From the
configuration's own results in a window of sample sizes up to the current one, `exponent_bound`
fits log err against log n by least squares and returns an upper bound on c: the fitted
slope plus `z` standard errors (and the noise a small validation set adds), never below
`floor`. `share_bound` turns it into the largest share of the gap to the ideal value the
configuration may close between two sample sizes.

Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math

import numpy as np

TINY = 1e-3  # errors are floored here before the logarithm (a perfect score is not infinitely good)


def exponent_bound(ns, errs, window: float = 8.0, z: float = 2.0, floor: float = 0.0,
                   min_points: int = 3) -> float | None:
    """An upper bound on the power-law exponent of the error's fall at the largest n in `ns`:
    least squares of log(err) on log(n) over the points with n >= max(n) / window; the slope's
    negative plus z standard errors (with fewer than 3 points in the window the standard error
    is not known: None, as with fewer than `min_points` points). NaN errors are left out."""
    n = np.asarray(ns, float)
    e = np.asarray(errs, float)
    ok = np.isfinite(n) & np.isfinite(e) & (n > 0)
    n, e = n[ok], e[ok]
    if len(n) == 0:
        return None
    keep = n >= n.max() / window
    n, e = n[keep], e[keep]
    if len(n) < max(3, min_points):
        return None
    x = np.log(n)
    y = np.log(np.maximum(e, TINY))
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    if sxx <= 0:
        return None
    slope = float(((x - xm) * (y - y.mean())).sum() / sxx)
    resid = y - (y.mean() + slope * (x - xm))
    se = math.sqrt(float((resid ** 2).sum()) / (len(n) - 2) / sxx)
    return max(floor, -slope + z * se)


def share_bound(n_from: float, n_to: float, exponent: float) -> float:
    """The share of the gap to the ideal value closed from n_from to n_to when the error
    falls as n ** -exponent: 1 - (n_from / n_to) ** exponent (0 when n_to <= n_from)."""
    if n_to <= n_from or exponent <= 0:
        return 0.0
    return 1.0 - (n_from / n_to) ** exponent


__all__ = ["exponent_bound", "share_bound", "TINY"]
