"""The Tune function: one configuration, its rungs ascending on nested subsamples.

For each rung: take the first n rows of one seeded, stratified order of the training
split (so each rung's sample contains the previous one), fit (timed: wall and CPU of
`fit` alone, BLAS/OpenMP threads pinned to the trial's CPU share), score on validation,
append the record to the ledger (durable before anything else), write TensorBoard
scalars, then `tune.report`. Rungs already in the ledger are skipped.
"""

from __future__ import annotations

import os
import time
import traceback
import warnings
from typing import Any

import numpy as np

from . import ledger, metrics, models


def scalar_tags(task: str) -> list[str]:
    """The per-rung scalars written to TensorBoard (step = n_train)."""
    return [f"val_{m}" for m in metrics.names(task)] + ["train_time_s", "train_cpu_s", "predict_time_s"]


def run_rungs(cfg: dict, data: dict, rungs: list[int], task: str, ledger_path: str,
              events_dir: str | None, report=None, trial_id: str = "", node_id: str = "",
              sink=None) -> list[dict]:
    """Run the given rungs of one configuration; returns the records written.

    `sink` (sweep.recorder) takes the ledger records and TensorBoard scalars; by default
    this process writes them to `ledger_path` and `events_dir` itself."""
    from threadpoolctl import threadpool_limits

    from .recorder import LocalSink

    sink = sink or LocalSink(ledger_path, events_dir)
    order = models.nested_order(data["y_train"], cfg["seed"])
    threads = max(1, int(cfg.get("cpu", 1)))
    hp = {"config_id": cfg["config_id"], "architecture": cfg["architecture"],
          "estimator": cfg["estimator"], "seed": cfg["seed"], "scale": cfg["scale"], **cfg["params"]}
    sink.open(cfg["config_id"], hp, scalar_tags(task))
    out: list[dict] = []
    try:
        for n in rungs:
            rec = _fit_one(cfg, data, order[:n], task, threads, threadpool_limits)
            rec.update(trial_id=trial_id, node_id=node_id, rung=int(n))
            sink.append(rec)  # durable before anything else
            out.append(rec)
            if rec["status"] == "ok":
                sink.rung(n, {k: rec[k] for k in scalar_tags(task)})
            if report is not None:
                report({k: v for k, v in rec.items() if isinstance(v, (int, float, str)) and k != "params"})
            if rec["status"] != "ok":
                break  # larger samples of a configuration that failed are not tried
    finally:
        sink.close(ok=all(r["status"] == "ok" for r in out))
    return out


def _fit_one(cfg: dict, data: dict, idx: np.ndarray, task: str, threads: int, limits) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "config_id": cfg["config_id"], "group_id": cfg["group_id"], "architecture": cfg["architecture"],
        "params": cfg["params"], "seed": cfg["seed"], "n_train": int(len(idx)),
        "status": "ok", "error": "",
    }
    X, y = data["X_train"][idx], data["y_train"][idx]
    try:
        est = models.build(cfg["estimator"], cfg["params"], cfg["seed"], cfg["scale"], cfg.get("impute", False))
        with limits(limits=threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c0, t0 = time.process_time(), time.perf_counter()
            est.fit(X, y)
            t1, c1 = time.perf_counter(), time.process_time()
            pred = est.predict(data["X_val"])
            t2 = time.perf_counter()
            proba, classes = models.probabilities(est, data["X_val"]) if task == "classification" else (None, None)
        rec.update(train_time_s=t1 - t0, train_cpu_s=c1 - c0, predict_time_s=t2 - t1)
        rec.update({f"val_{k}": v for k, v in metrics.score(task, data["y_val"], pred, proba, classes).items()})
    except Exception as exc:  # the estimator failed: record it, never crash the sweep
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else ""
        rec.update(status="failed", error=f"{type(exc).__name__}: {exc} ({where})"[:2000])
    rec["finished_at_s"] = time.time()
    rec["pid"] = os.getpid()
    return rec


def tune_trainable(tune_config: dict, *, data: dict, plan: dict, task: str, ledger_path: str,
                   events_dir: str | None, recorder=None, driver_node: str = "") -> None:
    """Entry point given to Tune (via tune.with_parameters: data by reference). A trial runs
    one configuration, or a pack of cheap ones one after another, each with its own
    config_id, ledger records and TensorBoard run. On a node other than the driver's, the
    records go through the Recorder actor (sweep.recorder)."""
    import ray
    from ray import tune

    trial_id = tune.get_context().get_trial_id() or ""
    node_id = ray.get_runtime_context().get_node_id()
    from .recorder import sink_for

    for item in plan[tune_config["trial"]]:
        run_rungs(item["config"], data, item["rungs"], task, ledger_path, events_dir,
                  report=tune.report, trial_id=trial_id, node_id=node_id,
                  sink=sink_for(node_id, driver_node, recorder, ledger_path, events_dir))
