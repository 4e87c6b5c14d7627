#!/usr/bin/env python3
"""Fixed-cost benchmark: what a run pays around its fits, measured from outside the run.

Each round, one after the other on this machine (never two at once):
- `ray_floor_s`: a fresh interpreter that imports Ray, starts a bare local Ray
  (`ray.init(num_cpus=N, include_dashboard=False)`) and shuts it down: the floor of any cold
  run that starts its own Ray;
- a cold run: `python -m sweep run SPACE --exhaustive --num-cpus N --out DIR` in a fresh
  interpreter; `cold_wall_s` its wall (process start to exit), `cold_fixed_s` that wall less
  the trial phase's (the manifest's `trials_wall_s`), and the manifest's parts: `ray_start_s`,
  `data_s`, `results_s`, `report_s`; `first_fit_s` from the trial phase's start to the first
  fit's start (the ledger's earliest `finished_at_s - measure_s`);
  `fixed_over_floor_s` = cold_fixed_s - ray_floor_s, what sweep adds of its own;
- a warm run: the same command on the warm runtime that `sweep up --num-cpus N` started once
  before the first round (`up_s`, its own wall): `warm_wall_s`, `warm_fixed_s`, and the same
  parts with a `warm_` prefix. The cold run passes `--cold`. Both runs use one temporary HOME
  (its own Ray token and runtime record), and `sweep down` ends the benchmark.
The figures are medians over `--rounds` (default 3), with every round's under `rounds`;
`same_results` says whether each round's cold and warm ledgers hold the same pairs, statuses
and scores (times aside).

    python benchmarks/overhead.py [--space search_spaces/default.yaml] [--cores 2] [--rounds 3] [--smoke]

`--smoke`: the smoke grid, one round (checks that it runs). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FLOOR = ("import time, logging; t0 = time.perf_counter(); import ray; "
         "ray.init(num_cpus={n}, include_dashboard=False, logging_level=logging.WARNING); ray.shutdown()")


def timed(cmd: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600, env=env)
    return time.perf_counter() - t0, r


SCORES = ("config_id", "rung", "status", "n_train", "val_accuracy", "val_balanced_accuracy", "val_log_loss")


def one_run(space: Path, cores: int, smoke: bool, out: Path, env: dict, warm: bool) -> dict:
    """One `sweep run` in a fresh interpreter, cold (`--cold --num-cpus N`) or on the warm runtime."""
    cmd = [sys.executable, "-m", "sweep", "run", str(space), "--exhaustive", "--num-cpus", str(cores),
           "--out", str(out)] + (["--smoke"] if smoke else []) + ([] if warm else ["--cold"])
    wall, r = timed(cmd, env)
    if r.returncode not in (0, 4):
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-3000:]}")
    m = json.loads((out / "manifest.json").read_text())
    if m.get("runtime") != ("warm" if warm else "local"):
        raise SystemExit(f"{out}: the run's manifest says runtime {m.get('runtime')!r}, not the path measured")
    recs = [json.loads(x) for x in (out / "ledger.jsonl").read_text().splitlines() if x.strip()]
    starts = [r["finished_at_s"] - float(r.get("measure_s") or r.get("train_time_s") or 0.0)
              for r in recs if r.get("status") == "ok" and "finished_at_s" in r]
    first_fit = min(starts) - m["trials_started_at_s"] if starts and "trials_started_at_s" in m else None
    return {"wall_s": round(wall, 3), "fixed_s": round(wall - m["trials_wall_s"], 3),
            "trials_wall_s": m["trials_wall_s"], "ray_start_s": m.get("ray_start_s"), "data_s": m.get("data_s"),
            "results_s": m.get("results_s"), "report_s": m.get("report_s"),
            "first_fit_s": None if first_fit is None else round(first_fit, 3), "pairs": len(recs),
            "scores": sorted(tuple(str(r.get(k)) for k in SCORES) for r in recs)}


def one_round(space: Path, cores: int, smoke: bool, tmp: Path, k: int, env: dict) -> dict:
    floor, r = timed([sys.executable, "-c", FLOOR.format(n=cores)], env)
    if r.returncode != 0:
        raise SystemExit(f"the bare Ray start failed:\n{r.stderr[-3000:]}")
    cold = one_run(space, cores, smoke, tmp / f"cold{k}", env, warm=False)
    warm = one_run(space, cores, smoke, tmp / f"warm{k}", env, warm=True)
    row = {"ray_floor_s": round(floor, 3), "cold_wall_s": cold["wall_s"], "cold_fixed_s": cold["fixed_s"],
           "fixed_over_floor_s": round(cold["fixed_s"] - floor, 3), "pairs": cold["pairs"],
           "same_results": cold["scores"] == warm["scores"]}
    for key in ("trials_wall_s", "ray_start_s", "data_s", "results_s", "report_s", "first_fit_s"):
        row[key], row["warm_" + key] = cold[key], warm[key]
    row["warm_wall_s"], row["warm_fixed_s"] = warm["wall_s"], warm["fixed_s"]
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default=str(REPO / "search_spaces" / "default.yaml"))
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    rounds_n = 1 if args.smoke else args.rounds
    rows = []
    with tempfile.TemporaryDirectory(prefix="sweep-overhead-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HOME": str(home)}
        env.pop("RAY_ADDRESS", None)
        up_s, r = timed([sys.executable, "-m", "sweep", "up", "--num-cpus", str(args.cores)], env)
        if r.returncode != 0:
            raise SystemExit(f"sweep up failed:\n{r.stderr[-3000:]}")
        try:
            for k in range(rounds_n):
                row = one_round(Path(args.space), args.cores, args.smoke, Path(tmp), k, env)
                rows.append(row)
                print(f"round {k}: floor {row['ray_floor_s']:.2f} s; cold run {row['cold_wall_s']:.2f} s, "
                      f"trials {row['trials_wall_s']:.2f} s, fixed {row['cold_fixed_s']:.2f} s (over the floor "
                      f"{row['fixed_over_floor_s']:.2f} s): ray {row['ray_start_s']} data {row['data_s']} "
                      f"results {row['results_s']} report {row['report_s']}; first fit at {row['first_fit_s']} s; "
                      f"warm run {row['warm_wall_s']:.2f} s, trials {row['warm_trials_wall_s']:.2f} s, fixed "
                      f"{row['warm_fixed_s']:.2f} s: ray {row['warm_ray_start_s']} data {row['warm_data_s']} "
                      f"results {row['warm_results_s']} report {row['warm_report_s']}; first fit at "
                      f"{row['warm_first_fit_s']} s; same results: {row['same_results']}", flush=True)
        finally:
            subprocess.run([sys.executable, "-m", "sweep", "down"], cwd=REPO, env=env, capture_output=True,
                           timeout=120)

    def med(key):
        vals = [r[key] for r in rows if r.get(key) is not None]
        return round(statistics.median(vals), 3) if vals else None

    parts = ["ray_start_s", "data_s", "results_s", "report_s", "first_fit_s", "trials_wall_s"]
    keys = ["cold_wall_s", "cold_fixed_s", "ray_floor_s", "fixed_over_floor_s", "warm_wall_s", "warm_fixed_s",
            *parts, *("warm_" + k for k in parts)]
    print(json.dumps({**{k: med(k) for k in keys}, "up_s": round(up_s, 3),
                      "same_results": all(r["same_results"] for r in rows),
                      "space": os.path.relpath(args.space, REPO),
                      "cores": args.cores, "rounds": rows, "smoke": args.smoke,
                      "date": datetime.now().strftime("%Y-%m-%d"), "machine": platform.node(),
                      "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
