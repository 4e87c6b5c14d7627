"""Estimators by import path, parameter checks, and nested stratified subsamples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.errors import ConfigError
from sweep.models import build, check_estimator, check_params, nested_order, resolve


@pytest.mark.parametrize("path, expected", [
    ("sklearn.linear_model.LogisticRegresion",
     r"has no 'LogisticRegresion'; did you mean sklearn.linear_model.LogisticRegression\?"),
    ("sklearn.nonexistent.Foo", r"no module 'sklearn.nonexistent' is installed; check the import path"),
    ("sklearn.preprocessing.FunctionTransformer", r"is not a scikit-learn estimator with fit and predict"),
    ("sklearn.cluster.AgglomerativeClustering", r"is not a scikit-learn estimator with fit and predict"),
    ("sklearn.utils.Bunch", r"is not a scikit-learn estimator with fit and predict"),
    ("json.dumps", r"is not from scikit-learn, LightGBM, XGBoost or sweep.testing; .* add "
                   r"`allow: \{modules: \[json\]\}`"),
])
def test_estimator_path_errors(path, expected):
    with pytest.raises(ConfigError, match=expected):
        check_estimator(path)


def test_check_params_suggests():
    cls = resolve("sklearn.ensemble.RandomForestClassifier")
    check_params(cls, {"n_estimators": 5, "max_depth": None}, "x")
    with pytest.raises(ConfigError, match=r"takes no hyperparameter 'n_estimator'; did you mean 'n_estimators'\?"):
        check_params(cls, {"n_estimator": 5}, "sklearn.ensemble.RandomForestClassifier")


def test_impute_is_fit_on_the_training_sample_only():
    est = build("sklearn.linear_model.LogisticRegression", {}, 0, scale=True, impute=True)
    assert [name for name, _ in est.steps] == ["simpleimputer", "standardscaler", "logisticregression"]
    X = np.array([[1.0, np.nan], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]])
    est.fit(X, [0, 0, 1, 1])
    assert est.steps[0][1].statistics_[1] == 6.0     # the median of the training rows


def test_build_sets_seed_and_scaler():
    est = build("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 3}, 7, scale=True)
    assert est.steps[0][0] == "standardscaler"
    assert est.steps[1][1].random_state == 7
    knn = build("sklearn.neighbors.KNeighborsClassifier", {}, 7, scale=False)
    assert not hasattr(knn, "random_state")


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(1, 40), min_size=2, max_size=6), seed=st.integers(0, 2**31))
def test_nested_order_prefixes_are_nested_and_stratified(counts, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(y)
    order = nested_order(y, seed)
    assert sorted(order.tolist()) == list(range(len(y)))          # a permutation
    n = len(y)
    for k in sorted({max(1, n // 10), n // 4, n // 2, n}):
        prefix = y[order[:k]]
        for cls, c in enumerate(counts):
            expected = c * k / n
            assert abs((prefix == cls).sum() - expected) <= 1.0 + 1e-9   # within one row
    # nested: each smaller prefix is a subset of the next (prefixes of one order)
    a, b = set(order[: n // 4].tolist()), set(order[: n // 2].tolist())
    assert a <= b


def test_nested_order_is_seeded():
    y = np.repeat([0, 1, 2], 30)
    assert (nested_order(y, 1) == nested_order(y, 1)).all()
    assert (nested_order(y, 1) != nested_order(y, 2)).any()


def test_nested_order_regression_target_uses_deciles():
    y = np.random.default_rng(0).normal(size=5000)
    order = nested_order(y, 0)
    assert sorted(order.tolist()) == list(range(5000))
    first = y[order[:500]]
    assert abs(np.median(first) - np.median(y)) < 0.1
