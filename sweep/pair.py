"""One (configuration, rung) measured: fit on the rung's sample and predict on validation under
the timing protocol (sweep.timing), score every metric, and give the frontier's metric its
interval and its rows for paired comparisons (sweep.uncertainty).

The record's `train_time_s`, `train_cpu_s` and `predict_time_s` are the fastest of the
protocol's timings (a fit of FLOOR_S or more: its one timing); `train_time_spread` is the
timings' robust relative spread (NaN with fewer than three), `timings` how many were
summarised, `train_time_median_s` their median (kept in the ledger: benchmarks/stability.py
compares it with the fastest), `measure_s` the wall the whole measurement took (what the
budget, the plan and the ETA pay for); `noise_cv` the trial process's measured noise (sweep.timing.moment_noise: one
timing's noise from moment to moment), the floor under a pair's spread; `train_time_s_ci` the time's 95% half-width
(sweep.timing.half_width). With `metric` in the configuration dict: `val_<metric>_ci`
(the 95% half-width) and `val_rows` (each validation row's contribution, encoded).
"""

from __future__ import annotations

import os
import time
import traceback
import warnings
from typing import Any

import numpy as np

from . import ledger, metrics, models, timing, uncertainty

_NOISE: dict | None = None   # this process's calibration (sweep.timing.calibrate), measured once
_REFERENCES: list[float] = []  # the fixed workload timed once before each pair this process measured


def process_noise() -> dict:
    """The trial process's noise: the fixed workload timed in a row at its first pair (~30 ms),
    then once more before each pair; `noise_cv` is one timing's noise from moment to moment
    (sweep.timing.moment_noise)."""
    global _NOISE
    if _NOISE is None:
        _NOISE = timing.calibrate()
    _REFERENCES.append(timing.reference_fit())
    return {**_NOISE, "noise_cv": round(timing.moment_noise(_REFERENCES[-200:], _NOISE["noise_cv"]), 4)}


def fit_one(cfg: dict, data: dict, idx: np.ndarray, task: str, threads: int,
            protocol: timing.Protocol = timing.Protocol()) -> dict[str, Any]:
    """Fit, time, predict and score the configuration on rows `idx` of the training split."""
    rec: dict[str, Any] = ledger.pair_record(cfg, len(idx), "ok")
    X, y = data["X_train"][idx], data["y_train"][idx]
    try:
        noise = process_noise()
        last: dict = {}

        def once() -> tuple[float, float, float]:
            est = models.build_for(cfg, threads)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c0, t0 = time.process_time(), time.perf_counter()
                models.fit(est, X, y)
                t1, c1 = time.perf_counter(), time.process_time()
                pred = est.predict(data["X_val"])
                proba, classes = models.probabilities(est, data["X_val"]) if task == "classification" else (None, None)
                t2 = time.perf_counter()  # predict_time_s: the validation predictions the metrics need
            last.update(pred=pred, proba=proba, classes=classes)
            return t1 - t0, c1 - c0, t2 - t1

        runs, spent = timing.measure(once, protocol)
        fit_t = timing.summarise([r[0] for r in runs])
        rec.update(train_time_s=fit_t.seconds, train_cpu_s=timing.summarise([r[1] for r in runs]).seconds,
                   predict_time_s=timing.summarise([r[2] for r in runs]).seconds,
                   train_time_spread=fit_t.spread, timings=fit_t.n, measure_s=spent,
                   train_time_median_s=fit_t.median, noise_cv=noise["noise_cv"],
                   train_time_s_ci=timing.half_width(fit_t.seconds, fit_t.spread, fit_t.n, noise["noise_cv"]))
        scores = metrics.score(task, data["y_val"], last["pred"], last["proba"], last["classes"])
        rec.update({f"val_{k}": v for k, v in scores.items()})
        if cfg.get("metric"):
            rec.update(_uncertainty(cfg["metric"], task, data["y_val"], last, scores))
    except Exception as exc:  # the estimator failed: record it, never crash the sweep
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else ""
        rec.update(status="failed", error=f"{type(exc).__name__}: {exc} ({where})"[:2000])
    rec["finished_at_s"] = time.time()
    rec["pid"] = os.getpid()
    return rec


def _uncertainty(metric: str, task: str, y_val, last: dict, scores: dict) -> dict:
    """`val_<metric>_ci` and `val_rows` of the frontier's metric."""
    rows = uncertainty.rows_of(metric, y_val, last["pred"], last["proba"], last["classes"])
    value = scores.get(metric, float("nan"))

    def boot():
        idx = uncertainty.resamples(len(y_val))
        yv = np.asarray(y_val)
        proba = last["proba"]
        return [metrics.score(task, yv[i], np.asarray(last["pred"])[i],
                              None if proba is None else np.asarray(proba)[i], last["classes"]).get(metric)
                for i in idx]

    half = uncertainty.half_width(metric, value, rows, len(y_val), y_val,
                                  bootstrap=None if metric in uncertainty.ROW_METRICS else boot)
    return {f"val_{metric}_ci": half, "val_rows": uncertainty.encode(metric, rows)}


__all__ = ["fit_one", "process_noise"]
