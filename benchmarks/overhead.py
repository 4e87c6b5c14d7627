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
  `fixed_over_floor_s` = cold_fixed_s - ray_floor_s, what sweep adds of its own.
The figures are medians over `--rounds` (default 3), with every round's under `rounds`.
There is no warm path yet (issue #28, item 2): `warm_wall_s` and `warm_fixed_s` are null.

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


def one_round(space: Path, cores: int, smoke: bool, tmp: Path, k: int, env: dict) -> dict:
    floor, r = timed([sys.executable, "-c", FLOOR.format(n=cores)], env)
    if r.returncode != 0:
        raise SystemExit(f"the bare Ray start failed:\n{r.stderr[-3000:]}")
    out = tmp / f"run{k}"
    cmd = [sys.executable, "-m", "sweep", "run", str(space), "--exhaustive", "--num-cpus", str(cores),
           "--out", str(out)] + (["--smoke"] if smoke else [])
    wall, r = timed(cmd, env)
    if r.returncode not in (0, 4):
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-3000:]}")
    m = json.loads((out / "manifest.json").read_text())
    recs = [json.loads(x) for x in (out / "ledger.jsonl").read_text().splitlines() if x.strip()]
    starts = [r["finished_at_s"] - float(r.get("measure_s") or r.get("train_time_s") or 0.0)
              for r in recs if r.get("status") == "ok" and "finished_at_s" in r]
    first_fit = min(starts) - m["trials_started_at_s"] if starts and "trials_started_at_s" in m else None
    fixed = wall - m["trials_wall_s"]
    return {"ray_floor_s": round(floor, 3), "cold_wall_s": round(wall, 3), "cold_fixed_s": round(fixed, 3),
            "fixed_over_floor_s": round(fixed - floor, 3), "trials_wall_s": m["trials_wall_s"],
            "ray_start_s": m.get("ray_start_s"), "data_s": m.get("data_s"), "results_s": m.get("results_s"),
            "report_s": m.get("report_s"), "first_fit_s": None if first_fit is None else round(first_fit, 3),
            "pairs": len(recs)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default=str(REPO / "search_spaces" / "default.yaml"))
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    rounds_n = 1 if args.smoke else args.rounds
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="sweep-overhead-") as tmp:
        for k in range(rounds_n):
            row = one_round(Path(args.space), args.cores, args.smoke, Path(tmp), k, env)
            rows.append(row)
            print(f"round {k}: floor {row['ray_floor_s']:.2f} s; cold run {row['cold_wall_s']:.2f} s, trials "
                  f"{row['trials_wall_s']:.2f} s, fixed {row['cold_fixed_s']:.2f} s (over the floor "
                  f"{row['fixed_over_floor_s']:.2f} s): ray {row['ray_start_s']} data {row['data_s']} "
                  f"results {row['results_s']} report {row['report_s']}; first fit at {row['first_fit_s']} s",
                  flush=True)

    def med(key):
        vals = [r[key] for r in rows if r.get(key) is not None]
        return round(statistics.median(vals), 3) if vals else None

    keys = ["cold_wall_s", "cold_fixed_s", "ray_floor_s", "fixed_over_floor_s", "ray_start_s", "data_s",
            "results_s", "report_s", "first_fit_s", "trials_wall_s"]
    print(json.dumps({**{k: med(k) for k in keys}, "warm_wall_s": None, "warm_fixed_s": None,
                      "warm": "no warm path yet (#28 item 2)", "space": os.path.relpath(args.space, REPO),
                      "cores": args.cores, "rounds": rows, "smoke": args.smoke,
                      "date": datetime.now().strftime("%Y-%m-%d"), "machine": platform.node(),
                      "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
