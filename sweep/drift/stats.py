"""Two-sample drift statistics and multiple-testing corrections (pure numpy/scipy).

- PSI (population stability index): Σ (q - p) · ln(q / p) over bins, p the reference
  window's share per bin and q the current window's. Numeric: the bins are quantile bins
  of the reference window (`bins` of them, edges deduplicated); categorical: one bin per
  category seen in either window. A share of 0 counts as PSI_FLOOR so the sum stays finite.
- KS: scipy.stats.ks_2samp (two-sided, method "auto") for numeric columns.
- Chi-square: scipy.stats.chi2_contingency on the 2 x categories count table, without
  Yates' correction, for categorical columns (and classification labels).
"""

from __future__ import annotations

import numpy as np

PSI_FLOOR = 1e-4
CORRECTIONS = ("holm", "bonferroni", "benjamini-hochberg")


def quantile_edges(ref: np.ndarray, bins: int) -> np.ndarray:
    """Interior edges of `bins` quantile bins of `ref` (fewer when values repeat)."""
    ref = np.asarray(ref, dtype=float)
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def psi_numeric(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    edges = quantile_edges(ref, bins)
    k = len(edges) + 1
    p = np.bincount(np.searchsorted(edges, np.asarray(ref, float), side="right"), minlength=k) / len(ref)
    q = np.bincount(np.searchsorted(edges, np.asarray(cur, float), side="right"), minlength=k) / len(cur)
    return _psi(p, q)


def psi_categorical(ref: np.ndarray, cur: np.ndarray) -> float:
    cats, inv = np.unique(np.concatenate([np.asarray(ref), np.asarray(cur)]), return_inverse=True)
    p = np.bincount(inv[: len(ref)], minlength=len(cats)) / len(ref)
    q = np.bincount(inv[len(ref):], minlength=len(cats)) / len(cur)
    return _psi(p, q)


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p = np.maximum(p, PSI_FLOOR)
    q = np.maximum(q, PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the two-sided two-sample Kolmogorov–Smirnov test."""
    from scipy.stats import ks_2samp

    r = ks_2samp(np.asarray(ref, float), np.asarray(cur, float))
    return float(r.statistic), float(r.pvalue)


def chi2(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the chi-square test of homogeneity of two category samples."""
    from scipy.stats import chi2_contingency

    cats, inv = np.unique(np.concatenate([np.asarray(ref), np.asarray(cur)]), return_inverse=True)
    if len(cats) < 2:
        return 0.0, 1.0
    table = np.vstack([np.bincount(inv[: len(ref)], minlength=len(cats)),
                       np.bincount(inv[len(ref):], minlength=len(cats))])
    r = chi2_contingency(table, correction=False)
    return float(r.statistic), float(r.pvalue)


def adjust(pvalues: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values (compare each with alpha). NaN entries are left out of the family.

    holm: Holm–Bonferroni step-down (family-wise error); bonferroni: p · m;
    benjamini-hochberg: step-up false-discovery rate.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, but got {method!r}")
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    v = p[ok]
    if method == "bonferroni":
        adj = np.minimum(v * m, 1.0)
    elif method == "holm":
        order = np.argsort(v, kind="stable")
        steps = np.maximum.accumulate(v[order] * (m - np.arange(m)))
        adj = np.empty(m)
        adj[order] = np.minimum(steps, 1.0)
    else:
        order = np.argsort(v, kind="stable")
        ranked = v[order] * m / np.arange(1, m + 1)
        steps = np.minimum.accumulate(ranked[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(steps, 1.0)
    out[ok] = adj
    return out
