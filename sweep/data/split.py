"""Reproducible train / validation / test assignment (pure numpy).

A row's place depends only on content hashes, labels, times or groups and the seed — never
on file order or partition layout. Stratified splits work on *units*: rows with identical
features (`_fhash`) form one unit and land in the same split. Time and group splits put
the time order and group integrity first; with the default de-duplication (exact
duplicates dropped, conflicting ones quarantined) no feature row is left twice anyway.

- stratified: within each label (or each quantile bin of a regression target), units are
  ordered by a seeded mix of their hash and cut at the fractions (each stratum holds its
  fractions to within one unit);
- time: units ordered by time; cuts fall between distinct times, so every train time <
  every validation time < every test time;
- group: groups ordered by a seeded mix of their hash and cut at the fractions of rows;
  a group never crosses splits.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(h: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of (hash + seed): a seeded, well-spread permutation key."""
    with np.errstate(over="ignore"):
        z = np.asarray(h).astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _cuts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    n_train = int(round(fractions[0] * n))
    n_val = min(int(round(fractions[1] * n)), n - n_train)
    return n_train, n_train + n_val


def _units(fhash: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit hashes, first row of each unit, unit index of each row)."""
    uniq, first, inverse = np.unique(np.asarray(fhash, dtype=np.uint64), return_index=True, return_inverse=True)
    return uniq, first, inverse


def stratified(labels: np.ndarray, fhash: np.ndarray, fractions: tuple[float, float, float],
               seed: int, regression_bins: int | None = None) -> np.ndarray:
    """Return an int8 array: 0 train, 1 validation, 2 test for each row."""
    labels = np.asarray(labels)
    uniq, first, inverse = _units(fhash)
    strata = labels[first]
    if regression_bins:
        strata = quantile_bins(strata.astype(float), regression_bins)
    unit_split = np.zeros(len(uniq), dtype=np.int8)
    key = mix(uniq, seed)
    for value in pd.unique(strata):
        idx = np.flatnonzero(strata == value)
        idx = idx[np.lexsort((uniq[idx], key[idx]))]
        a, b = _cuts(len(idx), fractions)
        unit_split[idx[a:b]] = 1
        unit_split[idx[b:]] = 2
    return unit_split[inverse]


def quantile_bins(y: np.ndarray, bins: int) -> np.ndarray:
    """Bin a continuous target into (at most) `bins` quantile bins, for stratification."""
    if len(y) == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.unique(np.quantile(y, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, y, side="right")


def by_time(times: np.ndarray, fractions: tuple[float, float, float]) -> np.ndarray:
    """Past → future: cuts between distinct times, near the row fractions."""
    times = np.asarray(times)
    uniq_t, t_inv = np.unique(times, return_inverse=True)
    counts = np.bincount(t_inv, minlength=len(uniq_t))
    cum = np.cumsum(counts)
    n = len(times)
    a, b = _cuts(n, fractions)
    # the last distinct time whose cumulative count stays closest to each cut
    ia = int(np.argmin(np.abs(cum - a)))
    ib = int(np.argmin(np.abs(cum - b)))
    ib = max(ib, ia)
    t_split = np.full(len(uniq_t), 2, dtype=np.int8)
    t_split[: ia + 1] = 0
    t_split[ia + 1: ib + 1] = 1
    return t_split[t_inv]


def by_group(groups: np.ndarray, fractions: tuple[float, float, float],
             seed: int) -> np.ndarray:
    groups = np.asarray(groups).astype(str)
    g_uniq, g_inv = np.unique(groups, return_inverse=True)
    g_hash = pd.util.hash_array(g_uniq.astype(object)).astype(np.uint64)
    order = np.lexsort((g_uniq, mix(g_hash, seed)))
    counts = np.bincount(g_inv, minlength=len(g_uniq))[order]
    cum = np.cumsum(counts)
    a, b = _cuts(len(groups), fractions)
    g_split = np.full(len(g_uniq), 2, dtype=np.int8)
    # a group goes to train while the rows before it are fewer than the train cut, etc.
    before = cum - counts
    g_split[order[before < a]] = 0
    g_split[order[(before >= a) & (before < b)]] = 1
    return g_split[g_inv]


def fingerprint(hashes: np.ndarray) -> str:
    """Order-independent fingerprint of a set of rows (their content hashes)."""
    return hashlib.sha256(np.sort(np.asarray(hashes).astype(np.uint64)).tobytes()).hexdigest()[:16]
