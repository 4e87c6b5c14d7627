#!/usr/bin/env python3
"""Stability benchmark: does the frontier survive a rerun? The same sweep run twice, each by a
fresh driver (`python -m sweep run SPACE --exhaustive --out DIR`, one after the other, never
two at once) on this machine; then, from the two run directories:

- frontier_jaccard: |A ∩ B| / |A ∪ B| over frontier.csv's members (tied members included),
  each keyed by (config_id, rung), or (group_id, rung) with repeats;
- knee_same: the two knees are the same member;
- time_rel_change_median / _p90: over every (config_id, rung) fitted in both runs,
  |t1 - t2| / min(t1, t2) of train_time_s (the protocol's fastest timing);
  `median_rel_change_*` the same for the timings' median (train_time_median_s, the
  ledger's), the alternative estimate;
- between_run_sigma: the robust standard deviation of log(t2 / t1) over sqrt(2), the
  between-run relative noise of one run's train_time_s;
- timing_noise: one timing's between-run relative noise, tails included: the 95th
  percentile over pairs of |log(t2 / t1)| sqrt(n / 2) (n the two runs' harmonic mean of
  timings) over 1.96 (what sweep.timing.TIMING_NOISE is set from); `timing_noise_robust`
  the same from the MAD;
- frontier_size_ratio: members over the point-estimate frontier's size on the same points
  (frontier.csv's on_estimate_frontier), the mean of the two runs;
- extra_compute_ratio: the seconds the protocol spent (every pair's measure_s) over one
  timing per fit (train_time_s + predict_time_s), less one; the mean of the two runs;
- accuracy_identical: every pair's validation metric equal in the two runs.

    python benchmarks/stability.py [--grids default,reference] [--repeats 1,3] [--keep] [--smoke]

By default the four combinations of the default and reference grids with and without
`--repeats 3`. `--smoke`: the default grid's smoke grid, once without repeats (correctness
only). The last line is one JSON object: the default grid's figures at the top level (the
issue's keys), every combination under `runs`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SPACES = {"default": REPO / "search_spaces" / "default.yaml", "reference": REPO / "search_spaces" / "reference.yaml"}


def run_once(space: Path, out: Path, repeats: int, smoke: bool, extra: list[str] = ()) -> float:
    cmd = [sys.executable, "-m", "sweep", "run", str(space), "--exhaustive", "--out", str(out), *extra]
    if repeats > 1:
        cmd += ["--repeats", str(repeats)]
    if smoke:
        cmd.append("--smoke")
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600)
    if r.returncode not in (0, 4):
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0


def _members(run: Path, repeats: int) -> pd.DataFrame:
    f = pd.read_csv(run / "frontier.csv", dtype={"config_id": str, "group_id": str})
    key = f["group_id"] if repeats > 1 else f["config_id"]
    return f.assign(key=[f"{k}@{int(r)}" for k, r in zip(key, f["rung"])])


def _ledger_median(run: Path) -> dict:
    out = {}
    for line in (run / "ledger.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("status") == "ok" and rec.get("train_time_median_s") is not None:
            out[(rec["config_id"], int(rec["rung"]))] = float(rec["train_time_median_s"])
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) / np.minimum(a, b)


def compare(a: Path, b: Path, repeats: int, metric: str = "val_accuracy") -> dict:
    fa, fb = _members(a, repeats), _members(b, repeats)
    sa, sb = set(fa["key"]), set(fb["key"])
    ka, kb = fa.loc[fa["is_knee"], "key"].tolist(), fb.loc[fb["is_knee"], "key"].tolist()
    ta, tb = pd.read_parquet(a / "trials.parquet"), pd.read_parquet(b / "trials.parquet")
    both = ta.merge(tb, on=["config_id", "rung"], suffixes=("_a", "_b"))
    both = both[(both["status_a"] == "ok") & (both["status_b"] == "ok")]
    rel = _rel(both["train_time_s_a"].to_numpy(float), both["train_time_s_b"].to_numpy(float))
    lr = np.log(both["train_time_s_b"].to_numpy(float) / both["train_time_s_a"].to_numpy(float))
    sigma = 1.4826 * float(np.median(np.abs(lr - np.median(lr)))) / np.sqrt(2)
    n_h = 2 / (1 / both["timings_a"].to_numpy(float) + 1 / both["timings_b"].to_numpy(float))
    z = lr * np.sqrt(n_h / 2)
    ma, mb = _ledger_median(a), _ledger_median(b)
    keys = sorted(set(ma) & set(mb))
    rel_min = _rel(np.array([ma[k] for k in keys]), np.array([mb[k] for k in keys])) if keys else np.array([np.nan])

    def extra(t: pd.DataFrame) -> float:
        ok = t[t["status"] == "ok"]
        single = (ok["train_time_s"] + ok["predict_time_s"]).sum()
        return float(ok["measure_s"].sum() / single - 1) if "measure_s" in ok and single > 0 else float("nan")

    def size_ratio(f: pd.DataFrame) -> float:
        return len(f) / max(int(f["on_estimate_frontier"].sum()), 1)

    return {
        "frontier_jaccard": round(len(sa & sb) / len(sa | sb), 4) if sa | sb else 1.0,
        "members": [len(sa), len(sb)], "shared": len(sa & sb),
        "knee_same": bool(ka and kb and ka[0] == kb[0]), "knees": [ka[:1], kb[:1]],
        "time_rel_change_median": round(float(np.median(rel)), 4),
        "time_rel_change_p90": round(float(np.quantile(rel, 0.9)), 4),
        "median_rel_change_median": round(float(np.nanmedian(rel_min)), 4),
        "median_rel_change_p90": round(float(np.nanquantile(rel_min, 0.9)), 4),
        "between_run_sigma": round(sigma, 4),
        "timing_noise": round(float(np.quantile(np.abs(z), 0.95)) / 1.959964, 4),
        "timing_noise_robust": round(1.4826 * float(np.median(np.abs(z - np.median(z)))), 4),
        "frontier_size_ratio": round((size_ratio(fa) + size_ratio(fb)) / 2, 3),
        "extra_compute_ratio": round((extra(ta) + extra(tb)) / 2, 4),
        "accuracy_identical": bool(np.allclose(both[f"{metric}_a"], both[f"{metric}_b"], equal_nan=True)),
        "pairs": int(len(both)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", default="default,reference")
    ap.add_argument("--repeats", default="1,3")
    ap.add_argument("--keep", action="store_true", help="keep the run directories (printed)")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--run-args", default="", help="more arguments for each `sweep run` (e.g. '--max-concurrent 1')")
    args = ap.parse_args()
    grids = ["default"] if args.smoke else args.grids.split(",")
    reps = [1] if args.smoke else [int(r) for r in args.repeats.split(",")]
    root = Path(tempfile.mkdtemp(prefix="sweep-stability-"))
    results = {}
    try:
        for g in grids:
            for k in reps:
                name = f"{g}_r{k}"
                walls = [run_once(SPACES[g], root / f"{name}_{i}", k, args.smoke, args.run_args.split()) for i in (1, 2)]
                res = compare(root / f"{name}_1", root / f"{name}_2", k)
                res["walls_s"] = [round(w, 1) for w in walls]
                results[name] = res
                print(f"{name}: jaccard {res['frontier_jaccard']} ({res['shared']} of {res['members']} members), "
                      f"knee same {res['knee_same']}, time change median {res['time_rel_change_median']:.3f} "
                      f"p90 {res['time_rel_change_p90']:.3f} (timings' median: {res['median_rel_change_median']:.3f} / "
                      f"{res['median_rel_change_p90']:.3f}), between-run sigma {res['between_run_sigma']:.3f}, one timing's noise {res['timing_noise']:.3f}, size ratio {res['frontier_size_ratio']}, extra compute "
                      f"{res['extra_compute_ratio']:.3f}, accuracies identical {res['accuracy_identical']}", flush=True)
    finally:
        if args.keep:
            print(f"run directories: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    top = results.get("default_r1") or next(iter(results.values()))
    keys = ("frontier_jaccard", "knee_same", "time_rel_change_median", "time_rel_change_p90",
            "frontier_size_ratio", "extra_compute_ratio")
    print(json.dumps({**{k: top[k] for k in keys}, "runs": results, "smoke": args.smoke, "run_args": args.run_args,
                      "date": datetime.now().isoformat(timespec="minutes"), "machine": platform.node(),
                      "cores": __import__("os").cpu_count()}))


if __name__ == "__main__":
    main()
