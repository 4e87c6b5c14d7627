#!/usr/bin/env python3
"""Adaptive-sweep benchmark: the Pareto-aware rule against the exhaustive grid and against
scikit-learn's halving rule, simulated on recorded tables and live (one process run).

    python benchmarks/pruning.py [--cores N] [--rounds K] [--smoke]

Simulated (sweep.prune.simulate on `--cores` workers, the trials in the live runner's
order): on the exhaustive trials of the default grid, the reference grid with 4 seeds and
20 random grids (random subsets of >= 20 configurations of the pool grid POOL below, each
with a random ladder of 4 to 6 of its 6 rungs):
- hv_ratio: the pruned points' hypervolume over the exhaustive table's (sweep.pareto.
  hypervolume on the same recorded numbers; reference point from the exhaustive table: the
  worst validation metric, twice the slowest fit);
- compute_ratio: sum of train_time_s fitted over the exhaustive sum;
- halving: HalvingGridSearchCV's rule (top ceil(n/3) by validation accuracy per rung, same
  ladder) on the same table; `sim_dominated_by_halving` counts the tables where halving's
  (hv_ratio, compute_ratio) dominates the rule's.
Live (same Ray, K rounds, medians): the default grid exhaustive (`--exhaustive`), then
adaptive (`pruning: pareto`), and a joblib loop over the exhaustive fits with its worker pool
started inside the timed call: trial-phase walls, and the adaptive frontier's hypervolume
over the exhaustive one's (reference from the exhaustive run). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

DEFAULT = REPO / "search_spaces" / "default.yaml"
REFERENCE = REPO / "search_spaces" / "reference.yaml"
POOL = {  # the random grids' pool: 8 architectures, 70 configurations, 6 rungs
    "name": "pool", "metric": "accuracy", "sample_sizes": [0.05, 0.1, 0.2, 0.35, 0.6, 1.0],
    "architectures": [
        {"name": "logreg", "estimator": "sklearn.linear_model.LogisticRegression", "scale": True,
         "params": {"max_iter": 300}, "grid": {"C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]}},
        {"name": "decision_tree", "estimator": "sklearn.tree.DecisionTreeClassifier",
         "grid": {"max_depth": [3, 6, 12, None], "min_samples_leaf": [1, 5]}},
        {"name": "random_forest", "estimator": "sklearn.ensemble.RandomForestClassifier",
         "params": {"n_jobs": 1}, "grid": {"n_estimators": [10, 30, 100], "max_depth": [6, None],
                                           "max_features": ["sqrt", 0.5]}},
        {"name": "extra_trees", "estimator": "sklearn.ensemble.ExtraTreesClassifier",
         "params": {"n_jobs": 1}, "grid": {"n_estimators": [10, 30, 100], "max_depth": [8, None]}},
        {"name": "hist_gb", "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
         "grid": {"learning_rate": [0.05, 0.2], "max_iter": [30, 100], "max_leaf_nodes": [15, 31]}},
        {"name": "mlp", "estimator": "sklearn.neural_network.MLPClassifier", "scale": True,
         "params": {"max_iter": 200}, "grid": {"hidden_layer_sizes": [[16], [64], [64, 32]], "alpha": [1e-4, 1e-2]}},
        {"name": "svm_rbf", "estimator": "sklearn.svm.SVC", "scale": True,
         "grid": {"C": [0.1, 1.0, 10.0], "gamma": ["scale", 0.01]}},
        {"name": "knn", "estimator": "sklearn.neighbors.KNeighborsClassifier", "scale": True,
         "grid": {"n_neighbors": [1, 5, 15], "weights": ["uniform", "distance"]}},
    ],
}
N_RANDOM = 20


def hv(points, col: str, maximise: bool, ref_m: float, ref_t: float) -> float:
    from sweep.pareto import hypervolume
    return hypervolume(points[col], points["train_time_s"], ref_m, ref_t, maximise)


def ref_point(table, col: str, maximise: bool) -> tuple[float, float]:
    return (float(table[col].min() if maximise else table[col].max()), 2 * float(table["train_time_s"].max()))


def judge_table(name: str, table, order: list[str], cores: int, col_metric: str = "accuracy") -> dict:
    """The rule and halving simulated on one exhaustive table."""
    from sweep.prune import halving, simulate

    col = f"val_{col_metric}"
    ref = ref_point(table, col, True)
    full = hv(table, col, True, *ref)
    total = table["train_time_s"].sum()
    out = {"table": name, "configs": int(table["config_id"].nunique()), "rungs": int(table["n_train"].nunique())}
    for label, got in (("rule", simulate(table, cores=cores, order=order)), ("halving", halving(table))):
        fit = got[got["fitted"]]
        out[f"{label}_hv_ratio"] = hv(fit, col, True, *ref) / full if full > 0 else 1.0
        out[f"{label}_compute_ratio"] = float(fit["train_time_s"].sum() / total)
    r, h = (out["rule_hv_ratio"], out["rule_compute_ratio"]), (out["halving_hv_ratio"], out["halving_compute_ratio"])
    out["dominated_by_halving"] = bool(h[0] >= r[0] and h[1] <= r[1] and (h[0] > r[0] or h[1] < r[1]))
    return out


def live_order(configs, rungs, cores: int) -> list[str]:
    """The live adaptive runner's order of configurations (sweep.packing.trial_order)."""
    from sweep.packing import trial_order
    return trial_order(configs, rungs, cores, adaptive=True)


def exhaustive_table(space, out: Path, repeats: int | None = None, smoke: bool = False):
    import sweep

    res = sweep.run(space, out=out, exhaustive=True, repeats=repeats, smoke=smoke,
                    echo=lambda *a: None, progress_stream=open(os.devnull, "w"))
    return res


def _configs(space_path, repeats=None, smoke=False):
    from sweep.grid import expand
    from sweep.spec import load_space
    return expand(load_space(space_path), smoke=smoke, repeats=repeats)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="smoke grids, one round, 2 random grids (checks only)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds = 1

    import logging

    import numpy as np
    import ray
    import yaml
    from joblib import Parallel, delayed
    from joblib.externals.loky import get_reusable_executor

    import sweep
    from engine import fit_one
    from sweep import data as data_stage
    from sweep.spec import resolve_specs
    from sweep.runner import configuration_dict
    from sweep.grid import ladder, sizes_for

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=args.cores, include_dashboard=False, logging_level=logging.WARNING)
    tables = []
    with tempfile.TemporaryDirectory(prefix="sweep-prune-bench-") as tmp:
        tmp = Path(tmp)
        # --- exhaustive tables --------------------------------------------------------------
        t0 = time.perf_counter()
        default = exhaustive_table(DEFAULT, tmp / "default", smoke=args.smoke)
        rungs = default.manifest["rungs"]
        tables.append(("default", default.trials, live_order(_configs(DEFAULT, smoke=args.smoke), rungs, args.cores)))
        ref = exhaustive_table(REFERENCE, tmp / "reference", repeats=1 if args.smoke else 4, smoke=args.smoke)
        tables.append(("reference_4_seeds", ref.trials,
                       live_order(_configs(REFERENCE, 1 if args.smoke else 4, args.smoke), ref.manifest["rungs"], args.cores)))
        pool_space = dict(POOL, dataset=str(REPO / "datasets" / "digits.yaml"))
        if args.smoke:
            pool_space["architectures"] = [dict(a, grid={k: v[:2] for k, v in a.get("grid", {}).items()})
                                           for a in POOL["architectures"][:4]]
        (tmp / "pool.yaml").write_text(yaml.safe_dump(pool_space, sort_keys=False))
        pool = exhaustive_table(tmp / "pool.yaml", tmp / "pool")
        pool_rungs = pool.manifest["rungs"]
        pool_order = live_order(_configs(tmp / "pool.yaml"), pool_rungs, args.cores)
        rng = np.random.default_rng(20261201)
        ids = sorted(pool.trials["config_id"].unique())
        for k in range(2 if args.smoke else N_RANDOM):
            size = int(rng.integers(min(20, len(ids)), len(ids) + 1))
            chosen = set(rng.choice(ids, size=size, replace=False))
            n_rungs = int(rng.integers(4, 7))
            kept_rungs = sorted(rng.choice(pool_rungs, size=n_rungs, replace=False))
            t = pool.trials[pool.trials["config_id"].isin(chosen) & pool.trials["n_train"].isin(kept_rungs)]
            tables.append((f"random_{k}", t.reset_index(drop=True), [c for c in pool_order if c in chosen]))
        tables_s = time.perf_counter() - t0
        print(f"exhaustive tables: {len(tables)} ({tables_s:.0f} s to record)", flush=True)

        sim = [judge_table(name, t, order, args.cores) for name, t, order in tables]
        for r in sim:
            print(f"  {r['table']:<18} {r['configs']:3d} configs x {r['rungs']} rungs: rule hv {r['rule_hv_ratio']:.4f} "
                  f"at compute {r['rule_compute_ratio']:.3f}; halving hv {r['halving_hv_ratio']:.4f} at "
                  f"{r['halving_compute_ratio']:.3f}{'  (halving dominates)' if r['dominated_by_halving'] else ''}",
                  flush=True)

        # --- live ------------------------------------------------------------------------------
        space_path, sp, ds_path, ds = resolve_specs(DEFAULT, None)
        prepared = data_stage.prepare(ds)
        arrays = {"X_train": prepared.X["train"], "y_train": prepared.y["train"],
                  "X_val": prepared.X["validation"], "y_val": prepared.y["validation"]}
        configs = _configs(DEFAULT, smoke=args.smoke)
        lrungs = ladder(sizes_for(sp, args.smoke), len(arrays["y_train"]))
        jobs = [(configuration_dict(c), n) for c in configs for n in lrungs]
        adaptive_space = yaml.safe_load(DEFAULT.read_text())
        adaptive_space["dataset"] = str(REPO / "datasets" / "digits.yaml")
        adaptive_space["pruning"] = {"policy": "pareto"}
        (tmp / "adaptive.yaml").write_text(yaml.safe_dump(adaptive_space, sort_keys=False))
        rows = []
        for k in range(args.rounds):
            ex = sweep.run(DEFAULT, out=tmp / f"ex{k}", exhaustive=True, smoke=args.smoke,
                           echo=lambda *a: None, progress_stream=open(os.devnull, "w"))
            ad = sweep.run(tmp / "adaptive.yaml", out=tmp / f"ad{k}", smoke=args.smoke,
                           echo=lambda *a: None, progress_stream=open(os.devnull, "w"))
            get_reusable_executor().shutdown(wait=True)   # the pool starts inside the timed call
            t0 = time.perf_counter()
            Parallel(n_jobs=args.cores)(delayed(fit_one)(cfg, n, arrays) for cfg, n in jobs)
            wall_joblib = time.perf_counter() - t0
            col = f"val_{sp.metric}"
            ref_m, ref_t = ref_point(ex.trials, col, True)
            ratio = hv(ad.trials, col, True, ref_m, ref_t) / hv(ex.trials, col, True, ref_m, ref_t)
            row = {"wall_exhaustive_s": ex.manifest["trials_wall_s"], "wall_adaptive_s": ad.manifest["trials_wall_s"],
                   "wall_joblib_s": wall_joblib, "hv_ratio": ratio,
                   "fits_adaptive": int(len(ad.trials)), "fits_exhaustive": int(len(ex.trials))}
            rows.append(row)
            print(f"round {k}: exhaustive {row['wall_exhaustive_s']:.2f} s ({row['fits_exhaustive']} fits), adaptive "
                  f"{row['wall_adaptive_s']:.2f} s ({row['fits_adaptive']} fits), joblib {wall_joblib:.2f} s; "
                  f"adaptive/exhaustive {row['wall_adaptive_s'] / row['wall_exhaustive_s']:.2f}, "
                  f"adaptive/joblib {row['wall_adaptive_s'] / wall_joblib:.2f}, hv ratio {ratio:.4f}", flush=True)
    ray.shutdown()

    def med(key):
        return statistics.median(r[key] for r in rows)

    hv_r = [r["rule_hv_ratio"] for r in sim]
    comp = [r["rule_compute_ratio"] for r in sim]
    out = {
        "cores": args.cores, "rounds": args.rounds, "smoke": args.smoke, "tables": len(sim),
        "sim_hv_ratio_median": round(statistics.median(hv_r), 4), "sim_hv_ratio_worst": round(min(hv_r), 4),
        "sim_compute_ratio_median": round(statistics.median(comp), 4),
        "sim_compute_ratio_worst": round(max(comp), 4),
        "sim_dominated_by_halving": int(sum(r["dominated_by_halving"] for r in sim)),
        "halving_hv_ratio_median": round(statistics.median(r["halving_hv_ratio"] for r in sim), 4),
        "halving_compute_ratio_median": round(statistics.median(r["halving_compute_ratio"] for r in sim), 4),
        "live_wall_exhaustive_s": round(med("wall_exhaustive_s"), 3),
        "live_wall_adaptive_s": round(med("wall_adaptive_s"), 3),
        "live_wall_joblib_s": round(med("wall_joblib_s"), 3),
        "live_ratio_adaptive_over_exhaustive": round(statistics.median(
            r["wall_adaptive_s"] / r["wall_exhaustive_s"] for r in rows), 3),
        "live_ratio_adaptive_over_joblib": round(statistics.median(
            r["wall_adaptive_s"] / r["wall_joblib_s"] for r in rows), 3),
        "live_hv_ratio": round(med("hv_ratio"), 4),
        "live_fits_adaptive": int(med("fits_adaptive")), "live_fits_exhaustive": int(med("fits_exhaustive")),
        "per_table": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in sim],
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
