"""The locked test set: frontier members only, each refit on its rung's subsample and
scored once on the test split; every scoring is recorded in RUN/test_scores.jsonl."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .. import drift, ledger, metrics, models
from ..rundir import TEST_SCORES

TEST_LOG = TEST_SCORES
# Refits go to Ray tasks only when that saves more than a task's fresh worker costs before its
# first fit (starting, importing scikit-learn and the estimator: benchmarks/README.md, "The
# results stage"): when the points' fit seconds S, spread over the cluster's C CPUs, save
# S * (1 - 1/C) >= REMOTE_STARTUP_S.
REMOTE_STARTUP_S = 2.0


def score_frontier(front: pd.DataFrame, configs: dict[str, dict], X_train: np.ndarray,
                   y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, task: str,
                   run_dir: Path, test_windows: np.ndarray | None = None,
                   windows: list[dict] | None = None, parallel: bool = False) -> pd.DataFrame:
    """Add test_<metric> columns to `front`, scoring each frontier point (each seed of it)
    that the log has not seen yet, once; points already scored keep their recorded scores.

    With `test_windows` (the time window of each test row) and `windows` (their bounds,
    from sweep.drift), the same predictions are also scored per time slice, recorded
    under "slices" in the log. With `parallel` (Ray is up), the refits run as Ray tasks, one
    CPU each, the arrays put in the object store once, when their measured fit seconds
    (`train_time_s`) make that worth a worker's start (REMOTE_STARTUP_S); the log gets the same
    records in the same order either way."""
    fit_s = {(cid, int(rung)): float(t) for ids, rung, t in
             zip(front["config_id"].astype(str), front["rung"], front.get("train_time_s", pd.Series(0.0, index=front.index)))
             for cid in ids.split(";")}

    def score_many(keys: list[tuple]) -> list[dict | None]:
        known = [k for k in keys if k[0] in configs]  # a configuration no longer in the space: unscored
        args = (task, test_windows, windows)
        if parallel and len(known) > 1 and _worth_tasks(sum(fit_s.get(k, 0.0) for k in known)):
            recs = dict(zip(known, _score_remote([(configs[k[0]], k) for k in known],
                                                 (X_train, y_train, X_test, y_test), args)))
        else:
            recs = {k: _score_one(configs[k[0]], k, X_train, y_train, X_test, y_test, *args) for k in known}
        return [recs.get(k) for k in keys]
    return attach_scores(front, run_dir, score_many)


def _worth_tasks(serial_s: float) -> bool:
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else 1.0
    return cpus > 1 and serial_s * (1 - 1 / cpus) >= REMOTE_STARTUP_S


def _score_remote(jobs: list[tuple[dict, tuple]], arrays: tuple, args: tuple) -> list[dict]:
    """`_score_one` for each (configuration, key) as a Ray task; results in `jobs`' order."""
    import ray

    refs = [ray.put(a) for a in arrays]
    task = ray.remote(num_cpus=1, max_retries=1)(_score_task)
    return ray.get([task.remote(cfg, key, *refs, *args) for cfg, key in jobs])


def _score_task(cfg: dict, key: tuple, X_train, y_train, X_test, y_test, task: str, test_windows, windows) -> dict:
    return _score_one(cfg, key, X_train, y_train, X_test, y_test, task, test_windows, windows)


def attach_scores(front: pd.DataFrame, run_dir: Path, score_many=None) -> pd.DataFrame:
    """test_<metric> columns from RUN/test_scores.jsonl: a point over several seeds gets their
    mean. With `score_many` (keys → records, None for a key it cannot score), the (config_id,
    rung) points not in the log are scored now, together, and logged in the frontier's order;
    without it (rebuilding a report) they are left empty and the test split is not opened."""
    log = run_dir / TEST_LOG
    seen = {(r["config_id"], int(r["rung"])): r for r in _read(log)}
    points = [[(cid, int(rung)) for cid in ids.split(";")]
              for ids, rung in zip(front["config_id"].astype(str), front["rung"])]
    if score_many is not None:
        todo = list(dict.fromkeys(k for keys in points for k in keys if k not in seen))
        for key, rec in zip(todo, score_many(todo) if todo else []):
            if rec is not None:
                ledger.append(log, rec)
                seen[key] = rec
    rows = []
    for keys in points:
        scores = [{k: v for k, v in (seen.get(key) or {}).items() if k.startswith("test_")} for key in keys]
        # a metric the log holds as null (no probabilities: roc_auc, log_loss) stays a column
        rows.append(pd.DataFrame(scores).apply(pd.to_numeric, errors="coerce").mean().to_dict())
    tests = pd.DataFrame(rows, index=front.index)
    return pd.concat([front, tests[sorted(tests.columns)]], axis=1)


def _score_one(cfg: dict, key: tuple, X_train, y_train, X_test, y_test, task: str,
               test_windows: np.ndarray | None = None, windows: list[dict] | None = None) -> dict:
    idx = models.nested_order(y_train, cfg["seed"])[: key[1]]
    est = models.build_for(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models.fit(est, X_train[idx], y_train[idx])
        pred = est.predict(X_test)
        proba, classes = models.probabilities(est, X_test) if task == "classification" else (None, None)
    scores = metrics.score(task, y_test, pred, proba, classes)
    rec = {"config_id": key[0], "rung": key[1], "n_test": int(len(y_test)),
           "scored_at_s": time.time(), **{f"test_{k}": v for k, v in scores.items()}}
    if test_windows is not None and windows:
        def on(m: np.ndarray) -> dict:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = metrics.score(task, y_test[m], pred[m], None if proba is None else proba[m], classes)
            return {f"test_{k}": (None if v != v else v) for k, v in s.items()}
        rec["slices"] = drift.slice_scores(on, test_windows, windows)
    return rec


def slices_of(run_dir: Path, front: pd.DataFrame) -> dict[tuple, list[dict]]:
    """{(config_id, rung): per-slice test scores} for the frontier points the log scored by slice."""
    seen = {(r["config_id"], int(r["rung"])): r.get("slices") for r in _read(run_dir / TEST_LOG)}
    out = {}
    for ids, rung in zip(front["config_id"].astype(str), front["rung"]):
        for cid in ids.split(";"):
            if seen.get((cid, int(rung))):
                out[(cid, int(rung))] = seen[(cid, int(rung))]
    return out


def times_scored(run_dir: Path) -> int:
    """How many (config_id, rung) points have ever seen the test split in this run."""
    return len({(r["config_id"], int(r["rung"])) for r in _read(run_dir / TEST_LOG)})


def _read(path: Path) -> list[dict]:
    recs, _ = ledger.read(path)
    return recs
