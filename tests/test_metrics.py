"""The fast metrics equal scikit-learn's on random labels and probabilities."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as m

from sweep.metrics import score


def reference(y, pred, proba, classes):
    out = {"accuracy": m.accuracy_score(y, pred), "balanced_accuracy": m.balanced_accuracy_score(y, pred),
           "f1_macro": m.f1_score(y, pred, average="macro", zero_division=0)}
    p = np.clip(proba, 1e-15, 1)
    p = p / p.sum(axis=1, keepdims=True)
    out["log_loss"] = m.log_loss(y, p, labels=classes)
    try:
        out["roc_auc"] = (m.roc_auc_score(y == classes[1], p[:, 1]) if len(classes) == 2
                          else m.roc_auc_score(y, p, multi_class="ovr", labels=classes))
    except ValueError:
        out["roc_auc"] = math.nan
    return out


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2, 60), k=st.integers(2, 5), seed=st.integers(0, 10_000), coarse=st.booleans())
def test_classification_metrics_match_sklearn(n, k, seed, coarse):
    import warnings
    rng = np.random.default_rng(seed)
    classes = np.arange(k)
    y = rng.integers(0, k, n)
    pred = rng.integers(0, k, n)
    proba = rng.random((n, k))
    if coarse:                                   # many tied scores
        proba = np.round(proba, 1) + 0.01
    got = score("classification", y, pred, proba, classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = reference(y, pred, proba, classes)
    for key, v in want.items():
        if math.isnan(v):
            assert math.isnan(got[key]), key
        else:
            assert abs(got[key] - v) < 1e-9, (key, got[key], v)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y, pred = rng.normal(size=100), rng.normal(size=100)
    got = score("regression", y, pred)
    assert abs(got["r2"] - m.r2_score(y, pred)) < 1e-12
    assert abs(got["rmse"] - np.sqrt(m.mean_squared_error(y, pred))) < 1e-12
    assert abs(got["mae"] - m.mean_absolute_error(y, pred)) < 1e-12


def test_string_labels():
    y = np.array(["a", "b", "c", "a"])
    got = score("classification", y, np.array(["a", "b", "b", "a"]), np.eye(3)[[0, 1, 1, 0]], np.array(["a", "b", "c"]))
    assert got["accuracy"] == 0.75 and abs(got["f1_macro"] - m.f1_score(y, ["a", "b", "b", "a"], average="macro",
                                                                       zero_division=0)) < 1e-12


def test_roc_auc_of_nan_probabilities_is_nan():
    import math

    from sweep.metrics import score

    y = np.array([0, 1, 0, 1, 2, 2])
    proba = np.full((6, 3), 1 / 3)
    proba[0, 0] = np.nan  # e.g. a model that diverged
    out = score("classification", y, np.array([0, 1, 0, 1, 2, 2]), proba, np.array([0, 1, 2]))
    assert math.isnan(out["roc_auc"]) and out["accuracy"] == 1.0
