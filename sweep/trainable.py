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
              sink=None, referee=None) -> list[dict]:
    """Run the given rungs of one configuration; returns the records written.

    `sink` (sweep.recorder) takes the ledger records and TensorBoard scalars; by default
    this process writes them to `ledger_path` and `events_dir` itself. With a `referee`
    (sweep.referee), each rung's record goes to it instead: it appends the record and says
    whether the configuration goes on (early stopping)."""
    from threadpoolctl import threadpool_limits

    from .recorder import LocalSink

    sink = sink or LocalSink(ledger_path, events_dir)
    order = models.nested_order(data["y_train"], cfg["seed"])
    threads = max(1, int(cfg.get("cpu", 1)))
    hp = {"config_id": cfg["config_id"], "architecture": cfg["architecture"],
          "estimator": cfg["estimator"], "seed": cfg["seed"], "scale": cfg["scale"], **cfg["params"]}
    sink.open(cfg["config_id"], hp, scalar_tags(task))
    out: list[dict] = []
    guard = _TimeLimit(cfg, sink, report, trial_id, node_id)
    stopped = False
    try:
        for n in rungs:
            guard.rung = int(n)
            rec = _fit_with_retries(cfg, data, order[:n], task, threads, threadpool_limits)
            rec.update(trial_id=trial_id, node_id=node_id)
            with guard.lock:
                if guard.fired:
                    break
                if referee is not None:
                    import ray
                    decision = ray.get(referee.report.remote(rec))  # durable, then judged
                    stopped = rec["status"] == "ok" and not decision["go_on"] and decision["next_rung"] is not None
                else:
                    sink.append(rec)  # durable before anything else
            out.append(rec)
            if rec["status"] == "ok":
                sink.rung(n, {k: rec[k] for k in scalar_tags(task)})
            if report is not None:
                report(_reportable(rec) | ({"stopped": 1} if stopped else {}))
            if rec["status"] != "ok" or stopped:
                break  # larger samples of a configuration that failed or was stopped are not tried
    finally:
        guard.cancel()
        sink.close(ok=bool(out) and all(r["status"] == "ok" for r in out), stopped=stopped)
    return out


def _reportable(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if isinstance(v, (int, float, str)) and k != "params"}


class _TimeLimit:
    """A configuration's time limit (all its rungs). Python cannot stop a running fit, so when
    the limit passes, a `timed_out` record for the running rung is made durable and this
    trial's process ends; Tune restarts the trial, which skips every recorded pair."""

    def __init__(self, cfg: dict, sink, report, trial_id: str, node_id: str):
        import threading

        self.cfg, self.sink, self.trial_id, self.node_id = cfg, sink, trial_id, node_id
        self.lock = threading.Lock()
        self.fired = False
        self.rung = 0
        self.t0 = time.perf_counter()
        limit = cfg.get("time_limit_s")
        self.timer = threading.Timer(limit, self._fire) if limit else None
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()

    def _fire(self) -> None:
        with self.lock:
            self.fired = True
            cfg = self.cfg
            rec = ledger.pair_record(
                cfg, self.rung, "timed_out",
                error=f"time limit of {cfg['time_limit_s']:g} s per configuration passed "
                      f"(after {time.perf_counter() - self.t0:.1f} s)",
                trial_id=self.trial_id, node_id=self.node_id, pid=os.getpid())
            try:
                self.sink.append(rec)
                self.sink.close(ok=False)
            finally:
                os._exit(75)  # the fit cannot be interrupted: end the process (Tune restarts the trial)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _fit_with_retries(cfg: dict, data: dict, idx: np.ndarray, task: str, threads: int, limits) -> dict:
    """A fit that raises is tried again, up to the space's max_failures times."""
    tries = 1 + max(0, int(cfg.get("max_failures", 1)))
    for attempt in range(1, tries + 1):
        rec = _fit_one(cfg, data, idx, task, threads, limits)
        rec["attempts"] = attempt
        if rec["status"] == "ok":
            break
    return rec


def _fit_one(cfg: dict, data: dict, idx: np.ndarray, task: str, threads: int, limits) -> dict[str, Any]:
    rec: dict[str, Any] = ledger.pair_record(cfg, len(idx), "ok")
    X, y = data["X_train"][idx], data["y_train"][idx]
    try:
        est = models.build_for(cfg, threads)
        with limits(limits=threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c0, t0 = time.process_time(), time.perf_counter()
            models.fit(est, X, y)
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
                   events_dir: str | None, recorder=None, driver_node: str = "", referee=None) -> None:
    """Entry point given to Tune (via tune.with_parameters: data by reference). A trial runs
    one configuration, or a pack of cheap ones one after another, each with its own
    config_id, ledger records and TensorBoard run. On a node other than the driver's, the
    records go through the Recorder actor (sweep.recorder)."""
    os.environ.setdefault("PL_DISABLE_FORK", "1")  # what Tune's runtime_env set (sweep.runner)
    import ray
    from ray import tune

    trial_id = tune.get_context().get_trial_id() or ""
    node_id = ray.get_runtime_context().get_node_id()
    from .recorder import sink_for

    for item in plan[tune_config["trial"]]:
        cfg = item["config"]
        sink = sink_for(node_id, driver_node, recorder, ledger_path, events_dir)
        recorded = sink.recorded(cfg["config_id"])  # a restarted trial skips what is recorded
        if any(status != "ok" for status in recorded.values()):
            continue  # failed or timed out before: final
        todo = [n for n in item["rungs"] if n not in recorded]
        if todo:
            run_rungs(cfg, data, todo, task, ledger_path, events_dir, report=tune.report,
                      trial_id=trial_id, node_id=node_id, sink=sink, referee=referee)
