"""A validation metric's noise: each point's 95% interval, and paired comparisons of two
points scored on the same validation rows.

Every point of a run is scored on one validation split, so two points differ on the same
rows: comparing them row by row (paired) sees a real difference that two overlapping
intervals would hide. Metrics that are means over rows keep each row's contribution
(`rows_of`), encoded compactly in the ledger (`encode`/`decode`): accuracy one bit per row
(correct or not), log_loss each row's loss, mae each row's absolute error, rmse and r2 each
row's squared error (both are ordered by their mean). Two such points differ beyond noise
when a paired test says so at the 5% level: McNemar's exact test on the rows where exactly
one of two accuracy points is right; otherwise a paired z-test on the rows' differences.
balanced_accuracy, f1_macro and roc_auc are not row means: their points differ beyond noise
when their 95% intervals (a bootstrap over rows) do not overlap.

Pure numpy (scipy for the binomial tail), no I/O.
"""

from __future__ import annotations

import base64
import math

import numpy as np

Z95 = 1.959963984540054
# metric -> whether its row contributions are larger-is-better (accuracy) or losses
ROW_METRICS = {"accuracy": True, "log_loss": False, "mae": False, "rmse": False, "r2": False}
MAX_ROWS_BYTES = 64 * 1024     # per record: larger validation splits keep no rows (intervals only)
BOOTSTRAP = 100                # resamples for the metrics that are not row means
_EPS = 1e-15


def rows_of(metric: str, y_true, y_pred, proba=None, classes=None) -> np.ndarray | None:
    """Each validation row's contribution to `metric` (None for a metric that is not a row mean,
    or when probabilities are missing for log_loss)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if metric == "accuracy":
        return (y_true == y_pred).astype(np.float64)
    if metric == "log_loss":
        if proba is None or classes is None:
            return None
        col = np.searchsorted(np.asarray(classes), y_true)
        col = np.clip(col, 0, proba.shape[1] - 1)
        p = np.asarray(proba, float)[np.arange(len(y_true)), col]
        p = np.where(np.asarray(classes)[col] == y_true, p, 0.0)
        return -np.log(np.clip(p, _EPS, 1.0))
    if metric in ("mae", "rmse", "r2"):
        e = y_pred.astype(float) - y_true.astype(float)
        return np.abs(e) if metric == "mae" else e * e
    return None


def encode(metric: str, rows: np.ndarray | None) -> str | None:
    """Rows as text for a ledger record: packed bits for accuracy, float32 otherwise (None when
    absent or over MAX_ROWS_BYTES)."""
    if rows is None:
        return None
    raw = np.packbits(rows > 0.5).tobytes() if metric == "accuracy" else np.asarray(rows, "<f4").tobytes()
    if len(raw) > MAX_ROWS_BYTES:
        return None
    return base64.b64encode(raw).decode("ascii")


def decode(metric: str, text: str | None, n: int) -> np.ndarray | None:
    """The inverse of `encode` for `n` validation rows (None when absent or damaged)."""
    if not text:
        return None
    try:
        raw = base64.b64decode(text)
    except (ValueError, TypeError):
        return None
    if metric == "accuracy":
        bits = np.unpackbits(np.frombuffer(raw, np.uint8))
        return bits[:n].astype(np.float64) if len(bits) >= n else None
    out = np.frombuffer(raw, "<f4").astype(np.float64)
    return out if len(out) == n else None


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a proportion `p` observed on `n` rows."""
    if n <= 0 or not (p == p):
        return math.nan, math.nan
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def half_width(metric: str, value: float, rows: np.ndarray | None = None, n: int | None = None,
               y_true=None, bootstrap: callable = None) -> float:
    """The 95% interval's half-width of `metric` = `value` on the validation rows:
    Wilson's for accuracy (from `rows` or `n`), a normal interval of the rows' mean for a row
    metric (through the square root for rmse, over the label's variance for r2), and for the
    other metrics `bootstrap()` (a callable returning resampled values), else NaN."""
    if not (value == value):
        return math.nan
    if metric == "accuracy":
        k = len(rows) if rows is not None else n
        if not k:
            return math.nan
        lo, hi = wilson(float(value), int(k))
        return (hi - lo) / 2
    if rows is not None and metric in ROW_METRICS and len(rows) > 1:
        se = float(np.std(rows, ddof=1)) / math.sqrt(len(rows))
        if metric == "rmse":
            mse = float(np.mean(rows))
            return Z95 * se / (2 * math.sqrt(mse)) if mse > 0 else 0.0
        if metric == "r2":
            var = float(np.var(np.asarray(y_true, float))) if y_true is not None else math.nan
            return Z95 * se / var if var > 0 else math.nan
        return Z95 * se
    if bootstrap is not None:
        vals = np.asarray(bootstrap(), float)
        vals = vals[np.isfinite(vals)]
        if len(vals) >= 10:
            lo, hi = np.quantile(vals, [0.025, 0.975])
            return float(hi - lo) / 2
    return math.nan


def resamples(n: int, b: int = BOOTSTRAP, seed: int = 0) -> np.ndarray:
    """`b` bootstrap resamples of range(n) (b x n indices), the same for every point of a run."""
    return np.random.default_rng(seed).integers(0, n, size=(b, n))


def paired_better(metric: str, rows_a: np.ndarray, rows_b: np.ndarray, alpha: float = 0.05) -> int:
    """+1 when point a is better than point b beyond noise on the same rows, -1 when b is
    better, 0 when the difference is within noise (McNemar's exact test for single-seed
    accuracy rows, else a paired z-test on the rows' differences; two-sided at `alpha`)."""
    a, b = np.asarray(rows_a, float), np.asarray(rows_b, float)
    if a.shape != b.shape or len(a) < 2:
        return 0
    sign = 1.0 if ROW_METRICS.get(metric, True) else -1.0
    d = sign * (a - b)
    binary = metric == "accuracy" and np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()
    if binary:
        wins, losses = int((d > 0).sum()), int((d < 0).sum())
        if wins + losses == 0:
            return 0
        from scipy.stats import binomtest

        p = binomtest(min(wins, losses), wins + losses, 0.5).pvalue
        return 0 if p >= alpha else (1 if wins > losses else -1)
    sd = float(np.std(d, ddof=1))
    mean = float(np.mean(d))
    if sd == 0:
        return 0 if mean == 0 else (1 if mean > 0 else -1)
    z = mean / (sd / math.sqrt(len(d)))
    from scipy.stats import norm

    return 0 if abs(z) < norm.ppf(1 - alpha / 2) else (1 if z > 0 else -1)


def group_half_width(halves: np.ndarray, values: np.ndarray) -> float:
    """A mean over seeds scored on the same rows: the seeds' Student t half-width combined with
    the rows' noise, which the seeds share (the mean of their half-widths), in quadrature."""
    from scipy import stats

    values = np.asarray(values, float)
    k = len(values)
    between = float(stats.t.ppf(0.975, k - 1) * np.std(values, ddof=1) / math.sqrt(k)) if k > 1 else 0.0
    halves = np.asarray(halves, float)
    rows = float(np.nanmean(halves)) if np.isfinite(halves).any() else 0.0
    return math.sqrt(between ** 2 + rows ** 2)


__all__ = ["rows_of", "encode", "decode", "wilson", "half_width", "resamples", "paired_better",
           "group_half_width", "ROW_METRICS", "Z95"]
