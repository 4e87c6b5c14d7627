"""Generated time-partitioned data with a known drift, for the drift demo and its tests.

Each partition `day=2026-01-DD` holds `rows` rows of `n_features` independent standard
normal features f0, f1, ... and a binary label y = [x · w + noise > 0] with w = 1 on the
first `informative` features and on the shifted ones. From partition `change_at` on
(0-based), every feature in `shifted` moves by `shift` standard deviations and its weight
changes sign: the inputs drift and the relation between inputs and label changes, so a
model fitted before the change loses accuracy after it. With `shift=0` nothing changes
(the no-drift control). Deterministic in `seed`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from .bundled import write_partitions

DEMO = {"seed": 0, "partitions": 10, "rows": 400, "n_features": 20, "shifted": (3, 7), "change_at": 8,
        "shift": 1.0}


def day(i: int) -> str:
    return f"2026-01-{i + 1:02d}"


def drift_tables(seed: int = 0, partitions: int = 10, rows: int = 400, n_features: int = 20,
                 shifted: tuple[int, ...] = (3, 7), change_at: int = 8, shift: float = 1.0,
                 informative: int = 5) -> dict[str, pa.Table]:
    """{"day=...": table} for each partition, oldest first."""
    if not 0 < change_at < partitions:
        raise ValueError(f"change_at must be between 1 and partitions - 1 ({partitions - 1}), but got {change_at}")
    rng = np.random.default_rng(seed)
    w = np.zeros(n_features)
    w[:informative] = 1.0
    w[list(shifted)] = 1.0
    out = {}
    for p in range(partitions):
        X = rng.standard_normal((rows, n_features))
        wp = w.copy()
        if p >= change_at and shift:
            X[:, list(shifted)] += shift
            wp[list(shifted)] = -1.0
        score = (X - (shift * np.isin(np.arange(n_features), shifted) if p >= change_at else 0)) @ wp
        y = (score + 0.5 * rng.standard_normal(rows) > 0).astype(np.int64)
        cols = {f"f{j}": X[:, j] for j in range(n_features)}
        cols["y"] = y
        out[f"day={day(p)}"] = pa.table(cols)
    return out


def write_drift(folder: str | Path, **kw) -> bool:
    """Write `drift_tables(**kw)` as hive-partitioned Parquet under `folder` unless it exists
    (written to a temporary sibling, then renamed: a folder that exists is complete)."""
    dest = Path(folder)
    if dest.exists():
        return False
    write_partitions(dest, drift_tables(**kw))
    return True


def spec_dict(path: str, n_features: int = 20, name: str = "drift_demo") -> dict:
    """A dataset spec (as a dict) for data written by write_drift: time split on `day`."""
    return {
        "name": name, "task": "classification",
        "sources": [{"name": "events", "path": str(path), "partitioning": "hive"}],
        "columns": [{"name": f"f{{0..{n_features - 1}}}", "type": "float"},
                    {"name": "day", "type": "str", "role": "metadata"}],
        "label": {"column": "y", "type": "int", "values": [0, 1]},
        "time": "day",
        "split": {"method": "time", "train": 0.5, "validation": 0.2, "test": 0.3},
    }
