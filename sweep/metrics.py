"""Validation metrics with their direction (DESIGN.md): pure functions, no I/O."""

from __future__ import annotations

import math

import numpy as np

MAXIMISE = {"accuracy": True, "balanced_accuracy": True, "f1_macro": True, "roc_auc": True,
            "log_loss": False, "r2": True, "rmse": False, "mae": False}
# roc_auc and log_loss need class probabilities: NaN (null) for estimators without them.
CLASSIFICATION = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
REGRESSION = ("r2", "rmse", "mae")


def names(task: str) -> tuple[str, ...]:
    return CLASSIFICATION if task == "classification" else REGRESSION


def score(task: str, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None,
          classes: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of the task. `proba` (n × len(classes)) enables roc_auc and log_loss."""
    from sklearn import metrics as m

    if task == "classification":
        out = {
            "accuracy": float(m.accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(m.balanced_accuracy_score(y_true, y_pred)),
            "f1_macro": float(m.f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "roc_auc": math.nan,
            "log_loss": math.nan,
        }
        if proba is not None and classes is not None and set(np.unique(y_true)) <= set(classes):
            p = np.clip(proba, 1e-15, 1)
            p = p / p.sum(axis=1, keepdims=True)
            out["log_loss"] = float(m.log_loss(y_true, p, labels=classes))
            try:
                if len(classes) == 2:
                    out["roc_auc"] = float(m.roc_auc_score(y_true == classes[1], p[:, 1]))
                else:
                    out["roc_auc"] = float(m.roc_auc_score(y_true, p, multi_class="ovr", labels=classes))
            except ValueError:  # a class absent from y_true: AUC undefined
                pass
        return out
    return {
        "r2": float(m.r2_score(y_true, y_pred)),
        "rmse": float(math.sqrt(m.mean_squared_error(y_true, y_pred))),
        "mae": float(m.mean_absolute_error(y_true, y_pred)),
    }
