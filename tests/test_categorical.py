"""Categorical features and imputation: declared codes, encoders and imputers fit on the
training subsample only (leakage), native categorical support, boosted trees, and the
bad-input checks that run before any work."""

import math
import sys

import numpy as np
import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.data import feature_values
from sweep.errors import ConfigError
from sweep.models import build, check_encoding, check_estimator, default_encoding, fit, resolve
from sweep.spec import Column, load_dataset

LAYOUT = [{"name": "colour", "kind": "categorical", "n_categories": 3, "impute": "most_frequent"},
          {"name": "size", "kind": "numeric", "n_categories": 0, "impute": "median"}]


def sample():
    """A training subsample (codes 0 and 1 only, a missing colour and size) and the full split
    around it, whose extra rows hold colour 2 and shift both statistics."""
    X_sub = np.array([[0, 1.0], [0, 2.0], [1, np.nan], [np.nan, 4.0], [0, 100.0], [1, 3.0]])
    y_sub = np.array([0, 0, 1, 1, 0, 1])
    X_rest = np.array([[2, 50.0], [2, 60.0], [2, 70.0], [1, 80.0], [1, 90.0], [1, 95.0], [1, 99.0]])
    return X_sub, y_sub, np.vstack([X_sub, X_rest])


def test_declared_categories_become_fixed_codes():
    col = Column(name="sex", type="str", categories=["FEMALE", "MALE"])
    got = feature_values(pa.chunked_array([["MALE", None, "FEMALE", "MALE"]]), col)
    np.testing.assert_array_equal(got, [1, np.nan, 0, 1])
    flag = Column(name="flag", type="bool")
    np.testing.assert_array_equal(feature_values(pa.chunked_array([[True, False, None]]), flag), [1, 0, np.nan])
    num = Column(name="x", type="float")
    np.testing.assert_array_equal(feature_values(pa.chunked_array([[1.5, None]]), num), [1.5, np.nan])


@pytest.mark.parametrize("mode, unknown", [("onehot", [0.0, 0.0]), ("ordinal", [-1.0]), ("native", [np.nan])])
def test_a_category_absent_from_the_subsample_gets_the_unknown_treatment(mode, unknown):
    X_sub, y_sub, _ = sample()
    est = build("sklearn.ensemble.HistGradientBoostingClassifier" if mode == "native"
                else "sklearn.linear_model.LogisticRegression", {}, 0, False, layout=LAYOUT, encode=mode)
    fit(est, X_sub, y_sub)
    pre = est.named_steps["preprocess"]
    out = pre.transform(np.array([[2.0, 1.0]]))      # colour 2 never occurs in the subsample
    np.testing.assert_array_equal(out[0, :len(unknown)], unknown)
    est.predict(np.array([[2.0, 1.0]]))             # and the model still predicts


def test_imputers_take_the_subsample_statistic_not_the_split_one():
    X_sub, y_sub, X_split = sample()
    est = build("sklearn.tree.DecisionTreeClassifier", {}, 0, False, layout=LAYOUT)
    fit(est, X_sub, y_sub)
    pre = est.named_steps["preprocess"]
    imputers = {name: t.steps[0][1] for name, t, _ in pre.transformers_ if name != "remainder"}
    size_median = imputers["numeric_median"].statistics_[0]
    assert size_median == np.nanmedian(X_sub[:, 1]) == 3.0
    assert size_median != np.nanmedian(X_split[:, 1])
    colour_mode = imputers["categorical_most_frequent"].statistics_[0]
    assert colour_mode == 0.0                        # the subsample's most frequent colour
    values, counts = np.unique(X_split[~np.isnan(X_split[:, 0]), 0], return_counts=True)
    assert values[np.argmax(counts)] == 1.0 != colour_mode   # the split's is another


def test_missing_category_imputes_a_category_of_its_own():
    layout = [dict(LAYOUT[0], impute="missing_category"), LAYOUT[1]]
    X_sub, y_sub, _ = sample()
    est = build("sklearn.linear_model.LogisticRegression", {}, 0, True, layout=layout)
    fit(est, X_sub, y_sub)
    out = est.named_steps["preprocess"].transform(np.array([[np.nan, 3.0], [0.0, 3.0]]))
    assert out.shape[1] == 3 + 1                     # codes -1 (missing), 0, 1 one-hot + size
    assert out[0, 0] == 1.0 and out[1, 0] == 0.0


@pytest.mark.parametrize("path, expected", [
    ("sklearn.linear_model.LogisticRegression", "onehot"), ("sklearn.svm.SVC", "onehot"),
    ("sklearn.neighbors.KNeighborsClassifier", "onehot"), ("sklearn.neural_network.MLPClassifier", "onehot"),
    ("sklearn.tree.DecisionTreeClassifier", "ordinal"), ("sklearn.ensemble.RandomForestClassifier", "ordinal"),
    ("sklearn.ensemble.HistGradientBoostingClassifier", "native"), ("lightgbm.LGBMClassifier", "native"),
    ("xgboost.XGBRegressor", "native")])
def test_default_encodings(path, expected):
    assert default_encoding(path) == expected


def test_native_categorical_support_is_handed_to_each_estimator():
    X_sub, y_sub, _ = sample()
    hgb = build("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 5}, 0, False, layout=LAYOUT)
    assert hgb.named_steps["model"].categorical_features == [0]
    lgb = build("lightgbm.LGBMClassifier", {"n_estimators": 5, "min_child_samples": 1}, 0, False,
                layout=LAYOUT, threads=2)
    assert lgb._sweep_fit_params == {"model__categorical_feature": [0]}
    assert lgb.named_steps["model"].get_params()["n_jobs"] == 2     # pinned to the trial's share
    fit(lgb, X_sub, y_sub)
    xgb = build("xgboost.XGBClassifier", {"n_estimators": 3}, 0, False, layout=LAYOUT)
    inner = xgb.named_steps["model"].estimator
    assert inner.get_params()["feature_types"] == ["c", "q"] and inner.get_params()["enable_categorical"]
    assert inner.get_params()["n_jobs"] == 1 and inner.get_params()["random_state"] == 0


def test_lightgbm_splits_on_the_category_natively():
    rng = np.random.default_rng(0)
    X = np.c_[rng.integers(0, 4, 400).astype(float), rng.normal(size=400)]
    y = np.isin(X[:, 0], [1, 3]).astype(int)        # not separable by one threshold on the codes
    layout = [{"name": "c", "kind": "categorical", "n_categories": 4, "impute": None},
              {"name": "x", "kind": "numeric", "n_categories": 0, "impute": None}]
    for encode, split in (("native", "=="), ("ordinal", "<=")):
        est = build("lightgbm.LGBMClassifier", {"n_estimators": 1, "num_leaves": 2}, 0, False,
                    layout=layout, encode=encode)
        fit(est, X, y)
        root = est.named_steps["model"].booster_.dump_model()["tree_info"][0]["tree_structure"]
        assert root["decision_type"] == split        # native: a split on categories, not a threshold


def test_xgboost_takes_string_labels():
    X = np.random.default_rng(0).normal(size=(60, 2))
    y = np.where(X[:, 0] > 0, "Gentoo", "Adelie")
    est = build("xgboost.XGBClassifier", {"n_estimators": 5}, 0, False)
    fit(est, X, y)
    assert set(est.predict(X)) <= {"Gentoo", "Adelie"} and list(est.classes_) == ["Adelie", "Gentoo"]
    assert est.predict_proba(X).shape == (60, 2)


def test_numeric_only_data_keeps_the_plain_pipeline():
    layout = [{"name": "a", "kind": "numeric", "n_categories": 0, "impute": "median"}]
    est = build("sklearn.linear_model.LogisticRegression", {}, 0, True, layout=layout)
    assert [n for n, _ in est.steps] == ["simpleimputer", "standardscaler", "logisticregression"]


def test_a_missing_boost_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)   # as if it were not installed
    with pytest.raises(ConfigError, match=r"needs the package 'lightgbm', which is not installed; "
                                          r"install this project's \[boost\] extra: pip install -e '\.\[boost\]'"):
        check_estimator("lightgbm.LGBMClassifier", (), "space.yaml: architectures[0] (lgbm)")


def test_native_encoding_is_refused_where_the_estimator_has_none():
    with pytest.raises(ConfigError, match=r"encode: native, but sklearn.linear_model.LogisticRegression has no "
                                          r"native categorical support .*; use onehot or ordinal"):
        check_encoding("sklearn.linear_model.LogisticRegression", "native", "x")
    check_encoding("sklearn.ensemble.HistGradientBoostingRegressor", "native")


@pytest.mark.parametrize("column, message", [
    ({"name": "sex", "type": "str"}, r"a str feature is categorical and needs its categories"),
    ({"name": "ok", "type": "str", "categories": [True, False]},
     r"categories of a str column must be str values, but True is a bool; quote it"),
    ({"name": "n", "type": "int", "categories": [1, 1]}, r"categories must be distinct"),
    ({"name": "x", "type": "float", "categories": [1.0]}, r"categories apply to str, int or bool columns"),
    ({"name": "x", "type": "float", "missing": "impute", "impute": "most_frequent"},
     r"impute: most_frequent does not apply to a numeric column; choose one of median, mean"),
    ({"name": "c", "type": "str", "categories": ["a"], "missing": "impute", "impute": "median"},
     r"impute: median does not apply to a categorical column; choose one of most_frequent, missing_category"),
    ({"name": "c", "type": "str", "categories": ["a"], "impute": "most_frequent"}, r"needs missing: impute"),
])
def test_bad_categorical_columns_are_refused_with_the_fix(tmp_path, column, message):
    spec = {"name": "d", "sources": [{"name": "s", "path": "x"}], "columns": [column],
            "label": {"column": "y", "values": [0, 1]}}
    p = tmp_path / "d.yaml"
    p.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=message):
        load_dataset(p)


def test_feature_layout_lists_kinds_and_strategies():
    ds = load_dataset_from({"columns": [
        {"name": "sex", "type": "str", "categories": ["F", "M"], "missing": "impute"},
        {"name": "flag", "type": "bool"},
        {"name": "x_{0..1}", "type": "float", "missing": "impute", "impute": "mean"},
        {"name": "id", "type": "str", "role": "metadata"}]})
    assert ds.feature_layout() == [
        {"name": "sex", "kind": "categorical", "n_categories": 2, "impute": "most_frequent"},
        {"name": "flag", "kind": "categorical", "n_categories": 2, "impute": None},
        {"name": "x_0", "kind": "numeric", "n_categories": 0, "impute": "mean"},
        {"name": "x_1", "kind": "numeric", "n_categories": 0, "impute": "mean"}]


def load_dataset_from(extra: dict):
    from sweep.spec import DatasetSpec
    return DatasetSpec.model_validate({"name": "d", "sources": [{"name": "s", "path": "x"}],
                                       "label": {"column": "y", "values": [0, 1]}, **extra})


@settings(max_examples=100, deadline=None)
@given(n=st.integers(2, 80), seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3))
def test_regression_metrics_match_sklearn_property(n, seed, scale):
    from sklearn import metrics as m

    from sweep.metrics import score
    rng = np.random.default_rng(seed)
    y, pred = rng.normal(size=n) * scale, rng.normal(size=n) * scale
    got = score("regression", y, pred)
    assert math.isclose(got["rmse"], math.sqrt(m.mean_squared_error(y, pred)), rel_tol=1e-9)
    assert math.isclose(got["mae"], m.mean_absolute_error(y, pred), rel_tol=1e-9)
    assert math.isclose(got["r2"], m.r2_score(y, pred), rel_tol=1e-9, abs_tol=1e-12)


# --- bad input through the real CLI: one line, exit 2, before Ray starts, no run directory ---

def _cli(args, tmp_path, block_lightgbm=False):
    import os
    import subprocess

    from conftest import REPO
    ray_tmp = tmp_path / "ray_tmp"
    code = ("import sys; sys.modules['lightgbm'] = None; " if block_lightgbm else "import sys; ") + \
           "from sweep.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "RAY_TMPDIR": str(ray_tmp)})
    return proc, ray_tmp


LR = {"name": "lr", "estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 50}}
BAD = {
    "metric the task lacks": ({"metric": "rmse"}, LR, None,
                              r"metric 'rmse' is not a classification metric; a classification dataset records "
                              r"accuracy, balanced_accuracy, f1_macro, roc_auc, log_loss: set metric to one of them"),
    "encode the estimator cannot take": ({}, {**LR, "encode": "native"}, None,
                                         r"architectures\[0\] \(lr\): encode: native, but "
                                         r"sklearn.linear_model.LogisticRegression has no native categorical"),
    "boosted tree without its package": ({}, {"name": "lgbm", "estimator": "lightgbm.LGBMClassifier"}, None,
                                         r"architectures\[0\] \(lgbm\): estimator 'lightgbm.LGBMClassifier' needs "
                                         r"the package 'lightgbm'.*\[boost\] extra"),
    "categorical feature without categories": ({}, LR, {"name": "colour", "type": "str"},
                                               r"ds\.yaml:\d+:\d+: key 'columns\[0\]'.*a str feature is categorical and needs its categories"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_before_any_work(case, tmp_path, digits_spec):
    import re

    space_edits, arch, extra_column, expected = BAD[case]
    ds = yaml.safe_load(digits_spec.read_text())
    if extra_column:
        ds["columns"].insert(0, extra_column)
    ds_path = tmp_path / "ds.yaml"
    ds_path.write_text(yaml.safe_dump(ds, sort_keys=False))
    space = {"name": "t", "dataset": str(ds_path), "sample_sizes": [0.5, 1.0], "architectures": [arch],
             **space_edits}
    sp = tmp_path / "space.yaml"
    sp.write_text(yaml.safe_dump(space, sort_keys=False))
    out = tmp_path / "run"
    proc, ray_tmp = _cli(["run", str(sp), "--out", str(out)], tmp_path,
                         block_lightgbm=case == "boosted tree without its package")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(expected, lines[0]), lines[0]
    assert not out.exists()                          # no run directory, complete or not
    assert not ray_tmp.exists()                      # Ray never started
