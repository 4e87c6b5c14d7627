"""Validation metrics with their direction (docs/design.md): pure functions, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAXIMISE = {"accuracy": True, "balanced_accuracy": True, "f1_macro": True, "roc_auc": True,
            "log_loss": False, "r2": True, "rmse": False, "mae": False}
# The best value each metric can take: early stopping predicts gains as shares of the gap to it.
IDEAL = {"accuracy": 1.0, "balanced_accuracy": 1.0, "f1_macro": 1.0, "roc_auc": 1.0, "log_loss": 0.0,
         "r2": 1.0, "rmse": 0.0, "mae": 0.0}
# roc_auc and log_loss need class probabilities: NaN (null) for estimators without them.
CLASSIFICATION = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
REGRESSION = ("r2", "rmse", "mae")


@dataclass(frozen=True)
class Objective:
    """What a sweep optimises: validation `metric` (its direction from MAXIMISE) against
    `time_axis` (train_time_s or train_cpu_s). One object where the frontier, the report,
    the progress line and early stopping need all three."""

    metric: str
    time_axis: str = "train_time_s"

    def __post_init__(self):
        if self.metric not in MAXIMISE:
            raise ValueError(f"metric is one of {', '.join(MAXIMISE)}, not {self.metric!r}")

    @property
    def maximise(self) -> bool:
        return MAXIMISE[self.metric]

    @property
    def column(self) -> str:
        """The trials table's column of the metric (validation split)."""
        return f"val_{self.metric}"

    @classmethod
    def of(cls, source) -> "Objective":
        """From a SearchSpace, or from a run's manifest (a dict with metric and time_axis)."""
        if isinstance(source, dict):
            return cls(source["metric"], source["time_axis"])
        return cls(source.metric, source.time_axis)


def names(task: str) -> tuple[str, ...]:
    return CLASSIFICATION if task == "classification" else REGRESSION


def score(task: str, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None,
          classes: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of the task. `proba` (n x len(classes)) enables roc_auc and log_loss.

    Computed with numpy from one confusion matrix and one ranking per class (each rung
    scores on the trial's side, between fits, so this stays in the low milliseconds); the
    values equal scikit-learn's accuracy_score, balanced_accuracy_score,
    f1_score(average="macro", zero_division=0), roc_auc_score(multi_class="ovr") and
    log_loss (tests/test_metrics.py checks them against scikit-learn).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if task != "classification":
        err = y_pred.astype(float) - y_true.astype(float)
        ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
        return {"r2": 1 - float((err ** 2).sum()) / ss_tot if ss_tot > 0 else math.nan,
                "rmse": float(np.sqrt((err ** 2).mean())), "mae": float(np.abs(err).mean())}
    labels, inv = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    k = len(labels)
    t, p = inv[: len(y_true)], inv[len(y_true):]
    cm = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    true_n, pred_n = cm.sum(axis=1), cm.sum(axis=0)
    present = true_n > 0
    denom = 2 * tp + (pred_n - tp) + (true_n - tp)
    out = {
        "accuracy": float(tp.sum() / len(y_true)),
        "balanced_accuracy": float((tp[present] / true_n[present]).mean()),
        "f1_macro": float(np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0).mean()),
        "roc_auc": math.nan,
        "log_loss": math.nan,
    }
    if proba is not None and classes is not None and set(np.unique(y_true)) <= set(classes):
        pr = np.clip(np.asarray(proba, dtype=float), 1e-15, 1)
        pr = pr / pr.sum(axis=1, keepdims=True)
        col = np.searchsorted(classes, y_true) if np.all(classes[:-1] <= classes[1:]) else \
            np.array([list(classes).index(v) for v in y_true])
        out["log_loss"] = float(-np.log(pr[np.arange(len(y_true)), col]).mean())
        out["roc_auc"] = _roc_auc_ovr(col, pr)
    return out


def _roc_auc_ovr(col: np.ndarray, proba: np.ndarray) -> float:
    """Macro one-vs-rest ROC AUC (the binary AUC of the positive class with two classes):
    the share of (positive, negative) row pairs the scores order correctly, a tie counting
    half (the Mann-Whitney statistic, which equals the ROC curve's area); NaN when a class
    has no positive or no negative row."""
    k = proba.shape[1]
    columns = [1] if k == 2 else range(k)
    aucs = []
    for c in columns:
        pos = col == c
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            return math.nan
        if not np.isfinite(proba[:, c]).all():
            return math.nan  # e.g. a diverged model's NaN probabilities: no ordering to score
        neg = np.sort(proba[~pos, c])
        s = proba[pos, c]
        below = np.searchsorted(neg, s, side="left")
        ties = np.searchsorted(neg, s, side="right") - below
        aucs.append((below.sum() + 0.5 * ties.sum()) / (n_pos * n_neg))
    return float(np.mean(aucs))
