"""Validation metrics with their direction (DESIGN.md): pure functions, no I/O."""

from __future__ import annotations

import math

import numpy as np

MAXIMISE = {"accuracy": True, "balanced_accuracy": True, "f1_macro": True,
            "r2": True, "rmse": False, "mae": False}
CLASSIFICATION = ("accuracy", "balanced_accuracy", "f1_macro")
REGRESSION = ("r2", "rmse", "mae")


def names(task: str) -> tuple[str, ...]:
    return CLASSIFICATION if task == "classification" else REGRESSION


def score(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as m

    if task == "classification":
        return {
            "accuracy": float(m.accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(m.balanced_accuracy_score(y_true, y_pred)),
            "f1_macro": float(m.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        }
    return {
        "r2": float(m.r2_score(y_true, y_pred)),
        "rmse": float(math.sqrt(m.mean_squared_error(y_true, y_pred))),
        "mae": float(m.mean_absolute_error(y_true, y_pred)),
    }
