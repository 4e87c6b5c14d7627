"""Each point's 95% intervals on both axes, and the paired comparison of two points' validation
rows: what the noise-aware frontier (sweep.dominance) takes.

- Time: the pair's robust time times its relative uncertainty (sweep.timing: the timings'
  spread, or the trial process's noise for a fit timed once, over sqrt(timings)); a run from
  before the timing protocol has neither, and its times get no interval (0).
- Metric: the record's `val_<metric>_ci` (sweep.pair); for an accuracy without one (an older
  run), Wilson's interval on the validation split's rows.
- With repeats, a point is a mean over seeds (sweep.report.grouped_points): its time interval
  is the seeds' Student t half-width and their own intervals over sqrt(seeds), in quadrature;
  its metric interval adds the rows' noise, which all seeds share, to the seeds' spread.
- Rows: each record's `val_rows` (the ledger's), decoded; a mean over seeds compares the
  rows averaged over its seeds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import ledger, timing, uncertainty
from ..rundir import LEDGER


def add_time_ci(ok: pd.DataFrame, time_axis: str) -> pd.DataFrame:
    """`<time_axis>_ci` for single-seed points (0 where the run recorded no timings)."""
    out = ok.copy()
    t = out[time_axis].to_numpy(float)
    if "timings" not in out:
        out[f"{time_axis}_ci"] = 0.0
        return out
    spread = out["train_time_spread"].to_numpy(float) if "train_time_spread" in out else np.full(len(out), np.nan)
    n = out["timings"].to_numpy(float)
    noise = out["noise_cv"].to_numpy(float) if "noise_cv" in out else np.zeros(len(out))
    half = [timing.half_width(ti, s, int(k), nz if nz == nz else 0.0) if k == k else 0.0
            for ti, s, k, nz in zip(t, spread, n, noise)]
    out[f"{time_axis}_ci"] = half
    return out


def add_metric_ci(ok: pd.DataFrame, col: str, n_val: int | None) -> pd.DataFrame:
    """`<col>_ci` for single-seed points: the record's, else Wilson's for accuracy, else 0."""
    out = ok.copy()
    ci = out[f"{col}_ci"].to_numpy(float) if f"{col}_ci" in out else np.full(len(out), np.nan)
    if col == "val_accuracy" and n_val:
        wil = [uncertainty.half_width("accuracy", v, n=n_val) for v in out[col].to_numpy(float)]
        ci = np.where(np.isfinite(ci), ci, wil)
    out[f"{col}_ci"] = np.nan_to_num(ci, nan=0.0)
    return out


def group_cis(ok: pd.DataFrame, agg: pd.DataFrame, col: str, time_axis: str) -> pd.DataFrame:
    """Intervals of means over seeds (agg from sweep.pareto.aggregate, per group_id and rung)."""
    out = agg.copy()
    mci, tci = [], []
    groups = ok.groupby(["group_id", "rung"], sort=True)
    for (gid, rung) in zip(out["group_id"], out["rung"]):
        g = groups.get_group((gid, rung))
        mci.append(uncertainty.group_half_width(g[f"{col}_ci"].to_numpy(float), g[col].to_numpy(float)))
        k = len(g)
        from scipy import stats

        between = float(stats.t.ppf(0.975, k - 1) * g[time_axis].std(ddof=1) / math.sqrt(k)) if k > 1 else 0.0
        own = float(np.sqrt(np.nanmean(g[f"{time_axis}_ci"].to_numpy(float) ** 2) / k))
        tci.append(math.sqrt(between ** 2 + (own if own == own else 0.0) ** 2))
    out[f"{col}_ci"], out[f"{time_axis}_ci"] = mci, tci
    return out


def load_rows(run_dir: Path, metric: str, n_val: int | None) -> dict[tuple[str, int], np.ndarray]:
    """{(config_id, rung): that pair's validation rows} from the run's ledger (empty when the
    run kept none, or the validation split's size is unknown)."""
    if not n_val or not (Path(run_dir) / LEDGER).exists():
        return {}
    records, _ = ledger.read(Path(run_dir) / LEDGER)
    out = {}
    for key, rec in ledger.latest(records).items():
        if rec.get("status") == "ok" and rec.get("val_rows"):
            rows = uncertainty.decode(metric, rec["val_rows"], int(n_val))
            if rows is not None:
                out[(str(key[0]), int(key[1]))] = rows
    return out


def paired_test(points: pd.DataFrame, metric: str, rows: dict[tuple[str, int], np.ndarray]):
    """`paired(q, p)` over the positions of `points` (sweep.dominance): +1 / -1 / 0 from
    sweep.uncertainty.paired_better on their rows (averaged over a group's seeds); 0 when
    either has no rows. None when no point has rows, or the metric is not a row mean."""
    if not rows or metric not in uncertainty.ROW_METRICS:
        return None
    cache: dict[int, np.ndarray | None] = {}
    ids = points["config_id"].astype(str).to_numpy()
    rungs = points["rung"].astype(int).to_numpy()

    def of(i: int) -> np.ndarray | None:
        if i not in cache:
            got = [rows.get((cid, int(rungs[i]))) for cid in ids[i].split(";")]
            cache[i] = None if any(r is None for r in got) else np.mean(got, axis=0)
        return cache[i]

    def paired(q: int, p: int) -> int:
        a, b = of(q), of(p)
        return 0 if a is None or b is None else uncertainty.paired_better(metric, a, b)

    return paired


__all__ = ["add_time_ci", "add_metric_ci", "group_cis", "load_rows", "paired_test"]
