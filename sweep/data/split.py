"""Reproducible stratified train / validation / test assignment, by row hash.

Each row's place depends only on its content hash and the seed, never on file order or
partition layout: within each label, rows are ordered by a seeded mix of their hash and
cut at the declared fractions (so each stratum holds its fractions to within a row).
"""

from __future__ import annotations

import hashlib

import numpy as np

SPLITS = ("train", "validation", "test")
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(h: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of (hash + seed): a seeded, well-spread permutation key."""
    with np.errstate(over="ignore"):
        z = h.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def stratified(labels: np.ndarray, hashes: np.ndarray, fractions: tuple[float, float, float],
               seed: int) -> np.ndarray:
    """Return an int8 array: 0 train, 1 validation, 2 test for each row."""
    out = np.zeros(len(labels), dtype=np.int8)
    key = mix(hashes, seed)
    for value in np.unique(labels):
        idx = np.flatnonzero(labels == value)
        idx = idx[np.lexsort((hashes[idx], key[idx]))]
        n = len(idx)
        n_train = int(round(fractions[0] * n))
        n_val = int(round(fractions[1] * n))
        n_val = min(n_val, n - n_train)
        out[idx[n_train:n_train + n_val]] = 1
        out[idx[n_train + n_val:]] = 2
    return out


def fingerprint(hashes: np.ndarray) -> str:
    """Order-independent fingerprint of a set of rows (their content hashes)."""
    return hashlib.sha256(np.sort(hashes.astype(np.uint64)).tobytes()).hexdigest()[:16]
