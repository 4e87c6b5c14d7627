#!/usr/bin/env python3
"""Scale benchmark: sweep's bookkeeping per (configuration, rung) at 1,000 and 10,000
configurations of cheap fits, against a joblib loop over the same fits (one process run).

    python benchmarks/scale.py [--configs 1000 10000] [--cores N] [--smoke] [--chromium]

Each size is a grid of decision trees (max_depth x min_samples_leaf x ccp_alpha) x 2 sample
sizes on the bundled digits, run by `sweep.run(..., exhaustive=True)` on one local Ray of N
CPUs started once. Definitions (the scale issue's):
- trial_wall_s: the trial phase's wall (manifest trials_wall_s);
- fit_predict_s: the sum over pairs of train_time_s + predict_time_s (trials.parquet);
- overhead_core_ms_per_pair = (trial_wall_s x cores - fit_predict_s) / pairs x 1000;
- joblib_wall_s: joblib.Parallel(n_jobs=N) over the same fits on the same arrays, its pool
  started inside the timed call; ratio_trials_over_joblib = trial_wall_s / joblib_wall_s;
- post_trials_s: the results and report stages (manifest results_s + report_s), and its
  share of the trial phase;
- driver_peak_rss_mb: this process's peak resident memory (the driver runs in it);
- process_*_s: the trial phase in process-seconds (benchmarks/engine.py's split: start-up to
  each process's first fit, fits, gaps between fits, waiting at the end);
- report_mb: report.html's size; with --chromium, report_open_s: headless Chromium's wall
  to load the report and draw its figures (--dump-dom after the load event).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATASET = REPO / "datasets" / "digits.yaml"
ESTIMATOR = "sklearn.tree.DecisionTreeClassifier"


def grid_for(n: int) -> dict:
    """One architecture, a tree grid of exactly `n` configurations: max_depth x
    min_samples_leaf (x ccp_alpha from 1,000 up)."""
    if n < 1000:
        if n % 10:
            raise SystemExit(f"--configs {n}: below 1,000, give a multiple of 10")
        grid = {"max_depth": list(range(1, n // 10 + 1)), "min_samples_leaf": list(range(1, 11))}
    else:
        if n % 1000 or n > 20000:
            raise SystemExit(f"--configs {n}: from 1,000 up, give a multiple of 1,000 (at most 20,000)")
        grid = {"max_depth": list(range(1, 21)), "min_samples_leaf": list(range(1, 51)),
                "ccp_alpha": [round(0.0002 * k, 4) for k in range(n // 1000)]}
    return {"name": f"scale{n}", "dataset": str(DATASET), "sample_sizes": [0.5, 1.0], "metric": "accuracy",
            "pruning": {"policy": "none"},
            "architectures": [{"name": "tree", "estimator": ESTIMATOR, "grid": grid}]}


def joblib_loop(configs, rungs, data, cores: int) -> float:
    """The same fits in a joblib loop (pool start included); returns its wall seconds."""
    from joblib import Parallel, delayed

    def fit(cfg, n):
        from sweep import metrics, models

        idx = models.nested_order(data["y_train"], cfg["seed"])[:n] if n not in _ORDER else _ORDER[n]
        est = models.build(cfg["estimator"], cfg["params"], cfg["seed"], cfg["scale"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(data["X_train"][idx], data["y_train"][idx])
            pred = est.predict(data["X_val"])
        return metrics.score("classification", data["y_val"], pred)["accuracy"]

    from sweep import models

    order = models.nested_order(data["y_train"], 0)
    _ORDER.update({n: order[:n] for n in rungs})  # every configuration has seed 0: one order
    t0 = time.perf_counter()
    Parallel(n_jobs=cores, batch_size="auto")(delayed(fit)(c, n) for c in configs for n in rungs)
    return time.perf_counter() - t0


_ORDER: dict = {}


def chromium_open_s(report: Path) -> float | None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        t0 = time.perf_counter()
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        f"--user-data-dir={profile}", "--dump-dom", report.resolve().as_uri()],
                       capture_output=True, text=True, timeout=300)
        return time.perf_counter() - t0


def one_size(n: int, cores: int, tmp: Path, with_chromium: bool) -> dict:
    import pandas as pd

    import sweep
    from sweep import data as data_stage
    from sweep.grid import expand, ladder, sizes_for
    from sweep.runner import configuration_dict
    from sweep.spec import resolve_specs

    space = tmp / f"scale{n}.yaml"
    space.write_text(yaml.safe_dump(grid_for(n), sort_keys=False))
    t0 = time.perf_counter()
    res = sweep.run(space, out=tmp / f"run{n}", exhaustive=True, echo=lambda *a: None,
                    progress_stream=open(os.devnull, "w"))
    run_wall = time.perf_counter() - t0
    m, t = res.manifest, res.trials
    pairs = len(t)
    fit_predict = float((t["train_time_s"] + t["predict_time_s"]).sum())
    wall = float(m["trials_wall_s"])
    post = float(m.get("results_s", 0.0)) + float(m.get("report_s", 0.0))
    _, sp, _, ds = resolve_specs(space, None)
    prepared = data_stage.prepare(ds)
    data = {"X_train": prepared.X["train"], "y_train": prepared.y["train"], "X_val": prepared.X["validation"],
            "y_val": prepared.y["validation"]}
    rungs = ladder(sizes_for(sp, False), len(prepared.y["train"]))
    configs = [configuration_dict(c) for c in expand(sp)]
    joblib_wall = joblib_loop(configs, rungs, data, cores)
    from engine import _where_time_went  # the engine benchmark's split of a trial phase

    led = [json.loads(x) for x in (res.run_dir / "ledger.jsonl").read_text().splitlines()]
    split = {k.replace("sweep_", "process_"): (round(v, 2) if isinstance(v, float) else v)
             for k, v in _where_time_went(led, m["trials_started_at_s"], wall).items()}
    report = res.run_dir / "report.html"
    out = {"configs": n, "pairs": pairs, "trials": int(t["trial_id"].nunique()), "run_wall_s": round(run_wall, 2),
           "trial_wall_s": round(wall, 2), "fit_predict_s": round(fit_predict, 2),
           "overhead_core_ms_per_pair": round((wall * cores - fit_predict) / pairs * 1000, 2),
           "joblib_wall_s": round(joblib_wall, 2), "ratio_trials_over_joblib": round(wall / joblib_wall, 3),
           "post_trials_s": round(post, 2), "post_over_trials": round(post / wall, 3),
           "results_s": m.get("results_s"), "report_s": m.get("report_s"),
           "report_mb": round(report.stat().st_size / 1e6, 2),
           "all_ok": bool((t["status"] == "ok").all()) and pairs == n * len(rungs), **split}
    if with_chromium:
        out["report_open_s"] = round(chromium_open_s(report) or float("nan"), 2)
    del pd
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--smoke", action="store_true", help="one grid of 40 configurations (correctness only)")
    ap.add_argument("--chromium", action="store_true", help="also time headless Chromium opening each report")
    args = ap.parse_args(argv)
    if args.smoke:
        args.configs = [40]

    import logging

    import ray

    ray.init(num_cpus=args.cores, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    rows = []
    try:
        # under runs/, where `sweep run` writes by default (file creation under /tmp was
        # several times slower on the development machine, and TensorBoard writes a file
        # per configuration)
        (REPO / "runs").mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="scale-", dir=REPO / "runs") as tmp:
            for n in args.configs:
                row = one_size(n, args.cores, Path(tmp), args.chromium)
                rows.append(row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    finally:
        ray.shutdown()
    result = {"benchmark": "scale", "cores": args.cores, "sizes": rows,
              "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if len(rows) >= 2:
        result["overhead_growth"] = round(rows[-1]["overhead_core_ms_per_pair"] /
                                          max(rows[0]["overhead_core_ms_per_pair"], 1e-9), 3)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
