"""Tiny estimators for tests and examples, named by import path in test search spaces.

    estimator: sweep.testing.SlowClassifier     # sleeps, then predicts the majority class
    estimator: sweep.testing.FailingClassifier  # always raises in fit
    estimator: sweep.testing.FlakyClassifier    # raises once per marker file, then works
"""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training label. `delay` seconds of sleep in fit."""

    def __init__(self, delay: float = 0.0, log_path: str | None = None):
        self.delay = delay
        self.log_path = log_path

    def fit(self, X, y):
        if self.log_path:  # evidence outside the ledger: every fit start, appended
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {len(y)} {self.delay}\n")
        if self.delay:
            time.sleep(self.delay)
        values, counts = np.unique(y, return_counts=True)
        self.classes_ = values
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


class SlowClassifier(MajorityClassifier):
    """A majority classifier that sleeps `delay` seconds (default 1) in every fit."""

    def __init__(self, delay: float = 1.0, log_path: str | None = None):
        super().__init__(delay=delay, log_path=log_path)


class FailingClassifier(ClassifierMixin, BaseEstimator):
    """Always raises in fit: for failure handling."""

    def __init__(self, message: str = "this estimator always fails"):
        self.message = message

    def fit(self, X, y):
        raise RuntimeError(self.message)

    def predict(self, X):  # pragma: no cover - never fitted
        raise RuntimeError(self.message)


class FlakyClassifier(MajorityClassifier):
    """Raises in its first fit for a given `marker_path` (creating the file), then works:
    for retries (`max_failures`)."""

    def __init__(self, marker_path: str = "", delay: float = 0.0):
        super().__init__(delay=delay)
        self.marker_path = marker_path

    def fit(self, X, y):
        if self.marker_path and not os.path.exists(self.marker_path):
            with open(self.marker_path, "w", encoding="utf-8") as fh:
                fh.write("failed once\n")
            raise RuntimeError("flaky: the first fit fails")
        return super().fit(X, y)


class SlowTreeClassifier(ClassifierMixin, BaseEstimator):
    """A decision tree of `max_depth` that sleeps `delay` seconds per 100 training rows in fit
    (its cost grows with the sample, its accuracy with depth and sample): for early stopping.
    With `log_path`, every fit start is appended there ("pid n max_depth delay")."""

    def __init__(self, max_depth: int | None = None, delay: float = 0.01, log_path: str | None = None):
        self.max_depth = max_depth
        self.delay = delay
        self.log_path = log_path

    def fit(self, X, y):
        from sklearn.tree import DecisionTreeClassifier

        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {len(y)} {self.max_depth} {self.delay}\n")
        time.sleep(self.delay * len(y) / 100)
        self.tree_ = DecisionTreeClassifier(max_depth=self.max_depth, random_state=0).fit(X, y)
        self.classes_ = self.tree_.classes_
        return self

    def predict(self, X):
        return self.tree_.predict(X)
