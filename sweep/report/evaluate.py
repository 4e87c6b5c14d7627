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


def score_frontier(front: pd.DataFrame, configs: dict[str, dict], X_train: np.ndarray,
                   y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, task: str,
                   run_dir: Path, test_windows: np.ndarray | None = None,
                   windows: list[dict] | None = None) -> pd.DataFrame:
    """Add test_<metric> columns to `front`, scoring each frontier point (each seed of it)
    that the log has not seen yet, once; points already scored keep their recorded scores.

    With `test_windows` (the time window of each test row) and `windows` (their bounds,
    from sweep.drift), the same predictions are also scored per time slice, recorded
    under "slices" in the log."""
    def score(key: tuple) -> dict | None:
        if key[0] not in configs:  # a configuration no longer in the space: leave it unscored
            return None
        return _score_one(configs[key[0]], key, X_train, y_train, X_test, y_test, task,
                          test_windows, windows)
    return attach_scores(front, run_dir, score)


def attach_scores(front: pd.DataFrame, run_dir: Path, score=None) -> pd.DataFrame:
    """test_<metric> columns from RUN/test_scores.jsonl: a point over several seeds gets their
    mean. With `score`, a (config_id, rung) not in the log is scored now and logged; without
    it (rebuilding a report) it is left empty and the test split is not opened."""
    log = run_dir / TEST_LOG
    seen = {(r["config_id"], int(r["rung"])): r for r in _read(log)}
    rows = []
    for ids, rung in zip(front["config_id"].astype(str), front["rung"]):
        scores = []
        for cid in ids.split(";"):
            key = (cid, int(rung))
            rec = seen.get(key)
            if rec is None and score is not None:
                rec = score(key)
                if rec is not None:
                    ledger.append(log, rec)
                    seen[key] = rec
            scores.append({k: v for k, v in (rec or {}).items() if k.startswith("test_")})
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
