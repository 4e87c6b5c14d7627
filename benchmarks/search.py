#!/usr/bin/env python3
"""Search benchmark: at equal compute, the hypervolume each search method reaches in the
plane of (validation accuracy, log10 train_time_s). One process run, one local Ray.

    python benchmarks/search.py [--problems digits,penguins,breast_cancer] [--seeds 0,1,2]
                                [--cores N] [--smoke]

One search space per problem, three architectures (logistic regression, random forest,
RBF SVM), written by this script twice: with distributions (C loguniform; n_estimators int
log; max_depth int; max_features uniform) and as a grid of the same ranges (36
configurations). Sample sizes 1/8, 1/4, 1/2, 1 of the training split. Methods:
- grid: the grid, adaptive (sweep's default rule);
- random: `search: {method: random, n: N}` + adaptive;
- optuna: `search: {method: optuna, n: N, batch: 16}` + adaptive (TPE, sweep.asking);
- optuna_plain: Optuna's multi-objective TPE alone (`study.optimize`, n_jobs = cores,
  in this process's threads) fitting every configuration at the full training split;
- halving_random: scikit-learn's HalvingRandomSearchCV (its one metric, accuracy; resource
  n_samples from 1/8 of the training split, as sweep's smallest rung, factor 3; its own
  subsamples of the training and of the validation split, given as a PredefinedSplit),
  candidates drawn from the same distributions.
Every method builds the same estimators (sweep.models, the problem's preprocessing).

Equal compute: the budget B of a (problem, seed) is the grid run's fit seconds (the sum of
its train_time_s) times `--budget-factor` (default 1); every method's points count in the order they were fitted until its fit
seconds reach B (a method that ends before B keeps all of them: halving ends when it has
fitted its last candidates at full size). The reference front is the union of every method's
points; the hypervolume (sweep.pareto.hypervolume) is from that union's reference point (the
worst accuracy seen, 2 x the slowest fit), and `hv_ratio_<method>` is a method's over the
union's. Medians over seeds per problem, and over problems x seeds. The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

METHODS = ("grid", "random", "optuna", "optuna_plain", "halving_random")
SIZES = [0.125, 0.25, 0.5, 1.0]

DISTS = {
    "logreg": {"C": {"loguniform": [1.0e-3, 10.0]}},
    "random_forest": {"n_estimators": {"int": [10, 100], "log": True}, "max_depth": {"int": [2, 16]},
                      "max_features": {"uniform": [0.2, 1.0]}},
    "svm_rbf": {"C": {"loguniform": [0.1, 100.0]}},
}
GRIDS = {
    "logreg": {"C": [1.0e-3, 1.0e-2, 0.1, 1.0, 10.0]},
    "random_forest": {"n_estimators": [10, 30, 100], "max_depth": [4, 8, 16], "max_features": [0.3, 0.6, 1.0]},
    "svm_rbf": {"C": [0.1, 1.0, 10.0, 100.0]},
}
ARCHS = {
    "logreg": {"estimator": "sklearn.linear_model.LogisticRegression", "scale": True, "params": {"max_iter": 300}},
    "random_forest": {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"n_jobs": 1}},
    "svm_rbf": {"estimator": "sklearn.svm.SVC", "scale": True},
}


def breast_cancer_dataset(folder: Path) -> Path:
    """scikit-learn's bundled breast cancer data (no download) as one Parquet source."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    part = folder / "breast_cancer" / "part=0"
    part.mkdir(parents=True, exist_ok=True)
    cols = {f"f_{j}": X[:, j] for j in range(X.shape[1])}
    pq.write_table(pa.table({**cols, "label": y.astype(int)}), part / "part-0.parquet")
    spec = {"name": "breast_cancer", "task": "classification",
            "sources": [{"name": "lab", "path": str(folder / "breast_cancer"), "partitioning": "hive"}],
            "columns": [{"name": f"f_{{0..{X.shape[1] - 1}}}", "type": "float"},
                        {"name": "part", "type": "str", "role": "metadata"}],
            "label": {"column": "label", "type": "int", "values": [0, 1]},
            "split": {"method": "stratified", "train": 0.6, "validation": 0.2, "test": 0.2, "seed": 0}}
    path = folder / "breast_cancer.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def dataset_of(problem: str, tmp: Path) -> Path:
    if problem == "digits":
        return REPO / "datasets" / "digits.yaml"
    if problem == "penguins":
        return REPO / "datasets" / "penguins.yaml"
    if problem == "breast_cancer":
        return breast_cancer_dataset(tmp)
    raise SystemExit(f"--problems: unknown problem {problem!r}; choose from digits, penguins, breast_cancer")


def space_file(tmp: Path, dataset: Path, method: str, seed: int, n: int, smoke: bool) -> Path:
    archs = []
    for name, base in ARCHS.items():
        a = {"name": name, **base}
        if method == "grid":
            a["grid"] = {k: v[:2] for k, v in GRIDS[name].items()} if smoke else GRIDS[name]
        else:
            a["distributions"] = DISTS[name]
        archs.append(a)
    space = {"name": f"bench-{method}", "dataset": str(dataset), "metric": "accuracy",
             "sample_sizes": [0.25, 1.0] if smoke else SIZES, "seed": seed, "architectures": archs}
    if method == "random":
        space["search"] = {"method": "random", "n": n, "seed": seed}
    elif method == "optuna":
        space["search"] = {"method": "optuna", "n": n, "batch": 4 if smoke else 16, "seed": seed}
    path = tmp / f"{dataset.stem}-{method}-{seed}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def sweep_points(space: Path, out: Path) -> list[tuple[float, float, float]]:
    """(val_accuracy, train_time_s, finished_at_s) of every fitted pair of a sweep run."""
    import sweep
    from sweep import ledger

    sweep.run(space, out=out, echo=lambda *a, **k: None, progress_stream=open(os.devnull, "w"))
    recs, _ = ledger.read(out / "ledger.jsonl")
    return sorted(((r["val_accuracy"], r["train_time_s"], r["finished_at_s"]) for r in recs
                   if r.get("status") == "ok"), key=lambda p: p[2])


class Problem:
    """The problem's prepared splits and sweep's estimator for a drawn configuration."""

    def __init__(self, space: Path):
        from sweep import data, stages

        self.specs = stages.specs(space, None, echo=lambda *a: None)
        self.prepared = data.prepare(self.specs.dataset)
        self.archs = {a.name: a for a in self.specs.space.architectures}

    def estimator(self, arch: str, drawn: dict, seed: int):
        from sweep import grid, models

        cfg = grid.sampled_configurations(self.archs[arch], drawn, self.specs.space, [seed])[0]
        return models.build_for(self.specs.configuration_dict(cfg))


def optuna_plain(problem: Problem, budget_s: float, seed: int, cores: int) -> list[tuple[float, float, float]]:
    """Optuna's multi-objective TPE at full sample size until its fit seconds reach the budget."""
    import optuna

    from sweep import metrics, models

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = problem.prepared.X, problem.prepared.y
    points, lock = [], threading.Lock()

    def objective(trial):
        arch = trial.suggest_categorical("architecture", list(DISTS))
        drawn = {}
        for k, d in DISTS[arch].items():
            (kind, bounds), = [(kk, v) for kk, v in d.items() if kk != "log"]
            if kind == "int":
                drawn[k] = trial.suggest_int(f"{arch}.{k}", *bounds, log=bool(d.get("log")))
            else:
                drawn[k] = float(f"{trial.suggest_float(f'{arch}.{k}', *bounds, log=kind == 'loguniform'):.6g}")
        est = problem.estimator(arch, drawn, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            models.fit(est, X["train"], y["train"])
            fit_s = time.perf_counter() - t0
            acc = metrics.score("classification", y["validation"], est.predict(X["validation"]), None, None)["accuracy"]
        with lock:
            points.append((acc, fit_s, time.time()))
            if sum(p[1] for p in points) >= budget_s:
                trial.study.stop()
        return acc, math.log10(max(fit_s, 1e-6))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=10_000, n_jobs=cores)
    return points


class Drawn:
    """A scipy-style distribution over whole configurations (HalvingRandomSearchCV's
    `param_distributions` value): `rvs` draws an architecture, then its values."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def rvs(self, random_state=None):
        arch = list(DISTS)[self.rng.integers(len(DISTS))]
        drawn = {}
        for k, d in DISTS[arch].items():
            (kind, (lo, hi)), = [(kk, v) for kk, v in d.items() if kk != "log"]
            u = self.rng.random()
            if kind == "int":
                drawn[k] = int(math.floor(math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo))))
                               if d.get("log") else math.floor(lo + u * (hi - lo + 1)))
                drawn[k] = min(max(drawn[k], lo), hi)
            elif kind == "loguniform":
                drawn[k] = float(f"{math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))):.6g}")
            else:
                drawn[k] = float(f"{lo + u * (hi - lo):.6g}")
        return json.dumps([arch, drawn])


def halving_random(problem: Problem, seed: int, cores: int) -> list[tuple[float, float, float]]:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, PredefinedSplit

    from sweep import models

    class Candidate(ClassifierMixin, BaseEstimator):
        def __init__(self, config: str = "[\"logreg\", {\"C\": 1.0}]"):
            self.config = config

        def fit(self, X, y):
            arch, drawn = json.loads(self.config)
            self.est_ = problem.estimator(arch, drawn, seed)
            models.fit(self.est_, X, y)
            self.classes_ = getattr(self.est_, "classes_", np.unique(y))
            return self

        def predict(self, X):
            return self.est_.predict(X)

    X, y = problem.prepared.X, problem.prepared.y
    XX = np.vstack([X["train"], X["validation"]])
    yy = np.concatenate([y["train"], y["validation"]])
    fold = np.r_[np.full(len(y["train"]), -1), np.zeros(len(y["validation"]), int)]
    # min_resources as sweep's smallest rung: scikit-learn's "exhaust" picked so few rows on the
    # breast cancer data that its subsample of the validation fold was empty (and it raised)
    search = HalvingRandomSearchCV(Candidate(), {"config": Drawn(seed)}, resource="n_samples", factor=3,
                                   min_resources=max(len(y["train"]) // 8, 20),
                                   cv=PredefinedSplit(fold), scoring="accuracy", refit=False,
                                   random_state=seed, n_jobs=cores, error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(XX, yy)
    r = search.cv_results_
    return [(float(r["mean_test_score"][i]), float(r["mean_fit_time"][i]), float(i))
            for i in range(len(r["params"])) if np.isfinite(r["mean_test_score"][i])]


def within(points, budget_s: float):
    """The points in fitted order until their fit seconds reach `budget_s` (that one included)."""
    out, spent = [], 0.0
    for p in sorted(points, key=lambda p: p[2]):
        if spent >= budget_s:
            break
        out.append(p)
        spent += p[1]
    return out, spent


def one(problem_name: str, dataset: Path, seed: int, cores: int, n: int, smoke: bool, tmp: Path,
        factor: float = 1.0) -> dict:
    from sweep.pareto import hypervolume

    spaces = {m: space_file(tmp, dataset, m, seed, n, smoke) for m in ("grid", "random", "optuna")}
    raw, walls = {}, {}
    for m in ("grid", "random", "optuna"):
        t0 = time.perf_counter()
        raw[m] = sweep_points(spaces[m], tmp / f"{problem_name}-{m}-{seed}")
        walls[m] = round(time.perf_counter() - t0, 2)
    budget = factor * sum(p[1] for p in raw["grid"])
    problem = Problem(spaces["random"])
    t0 = time.perf_counter()
    raw["optuna_plain"] = optuna_plain(problem, budget, seed, cores)
    walls["optuna_plain"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    raw["halving_random"] = halving_random(problem, seed, cores)
    walls["halving_random"] = round(time.perf_counter() - t0, 2)
    kept = {m: within(raw[m], budget) for m in METHODS}
    union = [p for m in METHODS for p in kept[m][0]]
    ref_m = min(p[0] for p in union)
    ref_t = 2 * max(p[1] for p in union)

    def hv(points):
        return hypervolume([p[0] for p in points], [p[1] for p in points], ref_m, ref_t) if points else 0.0
    total = hv(union)
    row = {"problem": problem_name, "seed": seed, "budget_fit_s": round(budget, 3), "hv_union": total}
    for m in METHODS:
        pts, spent = kept[m]
        row[f"hv_ratio_{m}"] = round(hv(pts) / total, 4) if total > 0 else None
        row[f"fit_s_{m}"] = round(spent, 3)
        row[f"points_{m}"] = len(pts)
        row[f"points_run_{m}"] = len(raw[m])
        row[f"fit_s_run_{m}"] = round(sum(p[1] for p in raw[m]), 3)
        row[f"wall_s_{m}"] = walls[m]
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", default="digits,penguins,breast_cancer")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--n", type=int, default=160, help="configurations for random and optuna: enough that "
                    "their fit seconds pass the budget (`fit_s_<method>` below the budget says it was not)")
    ap.add_argument("--budget-factor", type=float, default=1.0, help="the budget: this times the grid's fit seconds")
    ap.add_argument("--smoke", action="store_true", help="digits, one seed, a small grid (checks that it runs)")
    args = ap.parse_args(argv)
    problems = ["digits"] if args.smoke else args.problems.split(",")
    seeds = [0] if args.smoke else [int(s) for s in args.seeds.split(",")]
    n = 8 if args.smoke else args.n
    import logging

    import ray

    ray.init(num_cpus=args.cores, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="sweep-search-", dir=REPO / "runs" if (REPO / "runs").is_dir()
                                         else None) as tmp:
            for prob in problems:
                dataset = dataset_of(prob, Path(tmp))
                for seed in seeds:
                    row = one(prob, dataset, seed, args.cores, n, args.smoke, Path(tmp), args.budget_factor)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        ray.shutdown()

    def med(vals):
        vals = [v for v in vals if v is not None]
        return round(statistics.median(vals), 4) if vals else None
    per_problem = {p: {m: med([r[f"hv_ratio_{m}"] for r in rows if r["problem"] == p]) for m in METHODS}
                   for p in problems}
    for p, ms in per_problem.items():
        print(f"{p}: " + ", ".join(f"{m} {v}" for m, v in ms.items()), flush=True)
    out = {f"hv_ratio_{m}": med([r[f"hv_ratio_{m}"] for r in rows]) for m in METHODS}
    out.update(per_problem=per_problem, rows=rows, cores=args.cores, n=n, smoke=args.smoke,
               budget_factor=args.budget_factor,
               date=datetime.now().strftime("%Y-%m-%d"), machine=platform.node(), cpus=os.cpu_count())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
