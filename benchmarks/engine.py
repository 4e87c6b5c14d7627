#!/usr/bin/env python3
"""Engine benchmark: sweep against a joblib loop on the reference grid (one process run).

    python benchmarks/engine.py [--cores N] [--repeats R] [--rounds K] [--smoke]

Definitions (the performance issue's, so no figure is bought by moving work around):
- serial_fit_s: every fit of the grid, one after another, single-threaded, in this process
  before the timed runs, on exactly the arrays sweep's data stage produced: the numerator.
- joblib: joblib.Parallel(n_jobs=N) over the same fits on the same arrays; wall from the
  Parallel call to its last result.
- sweep: `sweep.run(...)` (the public entry point) on the same Ray (started once, N CPUs);
  wall from the start of its trial phase to the last (config_id, rung) in its ledger.
- efficiency_X = serial_fit_s / N / wall_X; ratio_sweep_over_joblib = wall_sweep / wall_joblib.
Both runs must give identical validation accuracies for each fit (checked). The runs
alternate K times; the last line is one JSON object with the medians. `sweep_*_s` split
sweep's trial phase into process-seconds (start-up, fits, gaps between fits, waiting at
the end); their sum is (trial processes) x wall. Two figures help read the ratio:
`ratio_if_no_start_up`, sweep's trial phase as if its processes had started in no time
((fits + gaps + end) / processes, everything else unchanged) over joblib's wall, a bound
no change to sweep's start-up can beat; and `first_round`, the first round alone, where
joblib's worker pool is started inside its timed call as sweep's processes are in every
round (later rounds reuse joblib's pool).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runs from a checkout (the device machine imports it this way)

SPACE = REPO / "search_spaces" / "reference.yaml"


def fit_one(cfg: dict, n: int, data: dict) -> tuple[str, int, float, float]:
    """One fit exactly as a sweep trial does it: (config_id, n, val_accuracy, fit seconds)."""
    from threadpoolctl import threadpool_limits

    from sweep import metrics, models

    idx = models.nested_order(data["y_train"], cfg["seed"])[:n]
    est = models.build(cfg["estimator"], cfg["params"], cfg["seed"], cfg["scale"])
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(data["X_train"][idx], data["y_train"][idx])
        fit_s = time.perf_counter() - t0
        pred = est.predict(data["X_val"])
    return cfg["config_id"], n, metrics.score("classification", data["y_val"], pred)["accuracy"], fit_s


WHERE = ("sweep_start_s", "sweep_fit_s", "sweep_between_s", "sweep_end_s")


def _where_time_went(ledger: list[dict], started: float, wall: float) -> dict:
    """sweep's trial phase in process-seconds, summed over the trial processes (pids in the
    ledger): `start` from the phase's start to each process's first fit, `fit` its fits with
    their scoring, `between` the gaps between its consecutive fits (scoring, the ledger and
    TensorBoard writes, Tune's hand-over to the next trial), `end` from its last fit to the
    phase's end (waiting for the longest process). Also `sweep_first_fit_s`, the earliest
    first fit."""
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for r in ledger:
        begin = r["finished_at_s"] - r["train_time_s"] - r["predict_time_s"] - started
        by_pid.setdefault(r["pid"], []).append((begin, r["finished_at_s"] - started))
    out = dict.fromkeys(WHERE, 0.0) | {"n_processes": len(by_pid)}
    for spans in by_pid.values():
        spans.sort()
        out["sweep_start_s"] += spans[0][0]
        out["sweep_fit_s"] += sum(b - a for a, b in spans)
        out["sweep_between_s"] += sum(spans[i + 1][0] - spans[i][1] for i in range(len(spans) - 1))
        out["sweep_end_s"] += wall - spans[-1][1]
    # seconds from the trial phase's start to the first fit's start (actor start-up)
    out["sweep_first_fit_s"] = min(spans[0][0] for spans in by_pid.values())
    return out


def bytecode_cached() -> bool:
    """Whether Ray Tune's modules have compiled bytecode beside them. A normal `pip install`
    writes it; an install with `--no-compile` in an environment with PYTHONDONTWRITEBYTECODE
    set (the lent machine's kit, ../shared/device/) has none, and then every trial process
    compiles Ray's sources as it starts: measured on the 16-core machine, `import ray.tune`
    alone took 2.3 s against 1.4 s, and sweep's start-up 99-112 against 65-69 process-seconds."""
    import importlib.util

    import ray.tune

    return Path(importlib.util.cache_from_source(ray.tune.__file__)).exists()


def _sweep_once(out: Path, args, expected: dict) -> dict:
    """One `sweep.run` of the grid, its accuracies checked against the serial run."""
    import sweep

    res = sweep.run(SPACE, out=out, smoke=args.smoke, repeats=args.repeats, exhaustive=True,
                    echo=lambda *a: None, progress_stream=open(os.devnull, "w"))
    ledger = [json.loads(line) for line in (res.run_dir / "ledger.jsonl").read_text().splitlines()]
    started = res.manifest["trials_started_at_s"]
    wall = max(r["finished_at_s"] for r in ledger) - started
    got = {(r["config_id"], r["rung"]): r["val_accuracy"] for r in ledger}
    assert got == expected, "sweep's validation accuracies differ from the serial run"
    return {"wall_sweep_s": wall, "fit_s_sweep": sum(r["train_time_s"] for r in ledger),
            "n_trials": int(res.trials["trial_id"].nunique()),
            **_where_time_went(ledger, started, wall)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="the space's smoke grid, one round (correctness only)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds = 1

    import logging

    import ray
    from joblib import Parallel, delayed

    from sweep import data as data_stage
    from sweep.spec import resolve_specs
    from sweep.runner import configuration_dict
    from sweep.grid import expand, ladder, sizes_for

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    t0 = time.perf_counter()
    ray.init(num_cpus=args.cores, include_dashboard=False, logging_level=logging.WARNING)
    ray_start_s = time.perf_counter() - t0
    compiled = bytecode_cached()
    if not compiled:
        print("warning: Ray's modules have no compiled bytecode, so every trial process compiles "
              "them as it starts and sweep's start-up is overstated; compile them first "
              f"(python -m compileall -q {Path(ray.__file__).parent.parent})", file=sys.stderr)

    space_path, sp, ds_path, ds = resolve_specs(SPACE, None)
    data_stage.ensure_bundled(ds)
    t0 = time.perf_counter()
    prepared = data_stage.prepare(ds)
    data_s = time.perf_counter() - t0
    arrays = {"X_train": prepared.X["train"], "y_train": prepared.y["train"],
              "X_val": prepared.X["validation"], "y_val": prepared.y["validation"]}
    configs = expand(sp, smoke=args.smoke, repeats=args.repeats)
    rungs = ladder(sizes_for(sp, args.smoke), len(arrays["y_train"]))
    jobs = [(configuration_dict(c), n) for c in configs for n in rungs]

    serial = [fit_one(cfg, n, arrays) for cfg, n in jobs]
    serial_fit_s = sum(r[3] for r in serial)
    expected = {(r[0], r[1]): r[2] for r in serial}
    print(f"serial: {len(jobs)} fits, {serial_fit_s:.2f} s of fits (data stage {data_s:.2f} s, "
          f"Ray start {ray_start_s:.2f} s)", flush=True)

    rows = []
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        for k in range(args.rounds):
            t0 = time.perf_counter()
            got = Parallel(n_jobs=args.cores)(delayed(fit_one)(cfg, n, arrays) for cfg, n in jobs)
            wall_joblib = time.perf_counter() - t0
            busy_joblib = sum(r[3] for r in got)
            assert {(r[0], r[1]): r[2] for r in got} == expected, "joblib accuracies differ from the serial run"

            r = _sweep_once(Path(tmp) / f"run{k}", args, expected)
            unstarted = (r["sweep_fit_s"] + r["sweep_between_s"] + r["sweep_end_s"]) / r["n_processes"]
            rows.append({"round": k, "wall_joblib_s": wall_joblib, "fit_s_joblib": busy_joblib, **r,
                         "ratio_if_no_start_up": unstarted / wall_joblib})
            print(f"round {k}: joblib {wall_joblib:6.2f} s (fits {busy_joblib:6.2f} s)   sweep {r['wall_sweep_s']:6.2f} s "
                  f"(fits {r['fit_s_sweep']:6.2f} s, first fit at {r['sweep_first_fit_s']:4.2f} s, {r['n_trials']} "
                  "trials; process-seconds: " + ", ".join(f"{key[6:-2]} {r[key]:.1f}" for key in WHERE)
                  + f"; ratio {r['wall_sweep_s'] / wall_joblib:.2f}, with no start-up {rows[-1]['ratio_if_no_start_up']:.2f})",
                  flush=True)
    ray.shutdown()

    med = {key: statistics.median(r[key] for r in rows)
           for key in rows[0] if key not in ("round", "n_trials", "n_processes")}
    out = {
        "cores": args.cores, "repeats": args.repeats, "rounds": args.rounds, "smoke": args.smoke,
        "n_configs": len(configs), "n_fits": len(jobs), "n_trials": rows[-1]["n_trials"],
        "serial_fit_s": round(serial_fit_s, 3),
        "wall_joblib_s": round(med["wall_joblib_s"], 3), "wall_sweep_s": round(med["wall_sweep_s"], 3),
        "efficiency_joblib": round(serial_fit_s / args.cores / med["wall_joblib_s"], 3),
        "efficiency_sweep": round(serial_fit_s / args.cores / med["wall_sweep_s"], 3),
        "ratio_sweep_over_joblib": round(med["wall_sweep_s"] / med["wall_joblib_s"], 3),
        "ray_start_s": round(ray_start_s, 3), "data_s": round(data_s, 3), "ray_bytecode_cached": compiled,
        # where the time goes: the parallel runs' own sums of fit seconds (contention between
        # concurrent fits shows as a sum above serial_fit_s) and sweep's trial start-up
        "fit_s_joblib": round(med["fit_s_joblib"], 3), "fit_s_sweep": round(med["fit_s_sweep"], 3),
        "sweep_first_fit_s": round(med["sweep_first_fit_s"], 3),
        **{key: round(med[key], 3) for key in WHERE},
        "ratio_if_no_start_up": round(med["ratio_if_no_start_up"], 3),
        "first_round": {"wall_joblib_s": round(rows[0]["wall_joblib_s"], 3),
                        "wall_sweep_s": round(rows[0]["wall_sweep_s"], 3),
                        "ratio_sweep_over_joblib": round(rows[0]["wall_sweep_s"] / rows[0]["wall_joblib_s"], 3)},
    }
    print(f"{'':>18} {'wall s':>8} {'efficiency':>10}")
    print(f"{'serial (1 core)':>18} {serial_fit_s:8.2f}")
    print(f"{'joblib':>18} {out['wall_joblib_s']:8.2f} {out['efficiency_joblib']:10.2f}")
    print(f"{'sweep':>18} {out['wall_sweep_s']:8.2f} {out['efficiency_sweep']:10.2f}")
    print(f"ratio {out['ratio_sweep_over_joblib']:.2f}; with no trial start-up it would be "
          f"{out['ratio_if_no_start_up']:.2f}; first round (joblib's pool cold too) "
          f"{out['first_round']['ratio_sweep_over_joblib']:.2f}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
