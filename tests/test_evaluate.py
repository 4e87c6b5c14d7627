"""The locked test evaluation (sweep.report.evaluate): only frontier points touch the test
split, once each, recorded in RUN/test_scores.jsonl; the scores equal a fit by hand of the same
estimator on the same nested subsample, scored with sweep.metrics. Real fits on digits, no Ray."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from sweep import metrics
from sweep.models import nested_order
from sweep.report.evaluate import TEST_LOG, attach_scores, score_frontier, slices_of, times_scored
from sweep.runner import configuration_dict
from sweep.grid import Configuration, make_ids

TREE = "sklearn.tree.DecisionTreeClassifier"
LOGREG = "sklearn.linear_model.LogisticRegression"


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    return X_train, y_train, X_test, y_test


def config(arch, estimator, params, seed, scale=False):
    cid, gid = make_ids(estimator, params, seed, scale)
    return Configuration(cid, gid, arch, estimator, params, tuple(params), seed, scale, 1.0, 0.0)


@pytest.fixture(scope="module")
def space():
    """Configurations of a space: two tree seeds (one group), a logistic regression, and a tree
    that is not on the frontier."""
    cfgs = [config("tree", TREE, {"max_depth": 6}, 0), config("tree", TREE, {"max_depth": 6}, 1),
            config("logreg", LOGREG, {"C": 0.5, "max_iter": 300}, 0, scale=True),
            config("tree", TREE, {"max_depth": 2}, 0)]
    return cfgs, {c.config_id: configuration_dict(c) for c in cfgs}


def by_hand(cfg: Configuration, rung, data, mask=None) -> dict:
    """The same estimator built with sklearn directly, fit on the same first `rung` rows of
    the nested order, scored with sweep.metrics on the test split (or the rows under `mask`)."""
    X_train, y_train, X_test, y_test = data
    if cfg.estimator == TREE:
        est = DecisionTreeClassifier(**cfg.params, random_state=cfg.seed)
    else:
        est = make_pipeline(StandardScaler(), LogisticRegression(**cfg.params, random_state=cfg.seed))
    idx = nested_order(y_train, cfg.seed)[:rung]
    assert len(idx) == rung
    est.fit(X_train[idx], y_train[idx])
    m = np.ones(len(y_test), dtype=bool) if mask is None else mask
    pred, proba = est.predict(X_test[m]), est.predict_proba(X_test[m])
    return {f"test_{k}": v for k, v in metrics.score("classification", y_test[m], pred, proba, est.classes_).items()}


def frontier(rows):
    """A frontier as sweep.report.frontier_of gives it: one row per point, ids ';'-joined over seeds."""
    return pd.DataFrame([{"config_id": cid, "architecture": arch, "rung": rung, "n_train": rung,
                          "val_accuracy": acc, "train_time_s": t, "is_knee": knee}
                         for cid, arch, rung, acc, t, knee in rows])


def log_keys(run_dir):
    return [(r["config_id"], r["rung"]) for r in map(json.loads, (run_dir / TEST_LOG).read_text().splitlines())]


def test_scores_equal_a_fit_by_hand_on_the_same_subsample(tmp_path, data, space):
    cfgs, dicts = space
    t0, t1, lr, _ = cfgs
    front = frontier([(lr.config_id, "logreg", 150, 0.85, 0.01, False),
                      (t0.config_id, "tree", 400, 0.80, 0.002, True)])
    out = score_frontier(front, dicts, *data, "classification", tmp_path)
    assert list(out.columns[: len(front.columns)]) == list(front.columns)
    assert sorted(c for c in out.columns if c.startswith("test_")) == sorted(f"test_{m}" for m in metrics.CLASSIFICATION)
    for i, (cfg, rung) in enumerate(((lr, 150), (t0, 400))):
        expected = by_hand(cfg, rung, data)
        for col, v in expected.items():
            assert out.loc[i, col] == pytest.approx(v, rel=1e-12, abs=1e-12), (cfg.architecture, col)
    # a cross-check of one value against scikit-learn itself
    X_train, y_train, X_test, y_test = data
    tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(*(a[nested_order(y_train, 0)[:400]]
                                                                   for a in (X_train, y_train)))
    assert out.loc[1, "test_accuracy"] == pytest.approx(accuracy_score(y_test, tree.predict(X_test)))
    recs = [json.loads(line) for line in (tmp_path / TEST_LOG).read_text().splitlines()]
    assert [(r["config_id"], r["rung"], r["n_test"]) for r in recs] == [
        (lr.config_id, 150, len(y_test)), (t0.config_id, 400, len(y_test))]
    assert recs[1]["test_accuracy"] == out.loc[1, "test_accuracy"]


def test_only_frontier_points_are_scored_once_each(tmp_path, data, space):
    cfgs, dicts = space
    t0, t1, lr, shallow = cfgs
    front = frontier([(t0.config_id, "tree", 100, 0.6, 0.001, False),
                      (t0.config_id, "tree", 400, 0.8, 0.002, True)])
    first = score_frontier(front, dicts, *data, "classification", tmp_path)
    assert log_keys(tmp_path) == [(t0.config_id, 100), (t0.config_id, 400)]   # not shallow's, not lr's
    assert times_scored(tmp_path) == 2
    log_before = (tmp_path / TEST_LOG).read_bytes()
    # scoring again opens nothing: a different "test split" changes no score and adds no record
    X_train, y_train, X_test, y_test = data
    again = score_frontier(front, dicts, X_train, y_train, np.zeros_like(X_test), np.zeros_like(y_test),
                           "classification", tmp_path)
    pd.testing.assert_frame_equal(again, first)
    assert (tmp_path / TEST_LOG).read_bytes() == log_before
    # an extended run: only the new frontier point is scored
    grown = frontier([(t0.config_id, "tree", 400, 0.8, 0.002, True),
                      (lr.config_id, "logreg", 300, 0.9, 0.02, False)])
    out = score_frontier(grown, dicts, *data, "classification", tmp_path)
    assert log_keys(tmp_path) == [(t0.config_id, 100), (t0.config_id, 400), (lr.config_id, 300)]
    assert times_scored(tmp_path) == 3
    assert out.loc[0, "test_accuracy"] == first.loc[1, "test_accuracy"]
    assert out.loc[1, "test_accuracy"] == pytest.approx(by_hand(lr, 300, data)["test_accuracy"])


def test_a_point_over_seeds_gets_the_mean_of_its_seeds(tmp_path, data, space):
    cfgs, dicts = space
    t0, t1 = cfgs[:2]
    front = frontier([(f"{t0.config_id};{t1.config_id}", "tree", 300, 0.8, 0.002, True)])
    out = score_frontier(front, dicts, *data, "classification", tmp_path)
    assert sorted(log_keys(tmp_path)) == sorted([(t0.config_id, 300), (t1.config_id, 300)])
    assert times_scored(tmp_path) == 2
    a, b = by_hand(t0, 300, data), by_hand(t1, 300, data)
    assert a["test_accuracy"] != b["test_accuracy"]          # the seeds differ, so the mean is a real mean
    for col in ("test_accuracy", "test_f1_macro", "test_log_loss"):
        assert out.loc[0, col] == pytest.approx((a[col] + b[col]) / 2, rel=1e-12)


def test_a_configuration_no_longer_in_the_space_is_left_unscored(tmp_path, data, space):
    cfgs, dicts = space
    t0 = cfgs[0]
    front = frontier([("0000gone00000000", "tree", 100, 0.9, 0.001, False),
                      (t0.config_id, "tree", 100, 0.6, 0.001, True)])
    out = score_frontier(front, dicts, *data, "classification", tmp_path)
    assert np.isnan(out.loc[0, "test_accuracy"])
    assert out.loc[1, "test_accuracy"] == pytest.approx(by_hand(t0, 100, data)["test_accuracy"])
    assert log_keys(tmp_path) == [(t0.config_id, 100)]


def test_attach_scores_reads_the_log_back_without_scoring(tmp_path, data, space):
    cfgs, dicts = space
    t0, _, lr, _ = cfgs
    front = frontier([(t0.config_id, "tree", 200, 0.7, 0.001, True)])
    # no log yet: nothing attached, nothing written (the test split stays closed)
    plain = attach_scores(front, tmp_path)
    assert list(plain.columns) == list(front.columns)
    assert not (tmp_path / TEST_LOG).exists()
    scored = score_frontier(front, dicts, *data, "classification", tmp_path)
    # a rebuilt report: the same scores from the log; a point never scored stays empty
    wider = frontier([(t0.config_id, "tree", 200, 0.7, 0.001, True),
                      (lr.config_id, "logreg", 200, 0.9, 0.02, False)])
    back = attach_scores(wider, tmp_path)
    for col in (c for c in scored.columns if c.startswith("test_")):
        assert back.loc[0, col] == scored.loc[0, col]
    assert back.loc[1, [c for c in back.columns if c.startswith("test_")]].isna().all()
    assert times_scored(tmp_path) == 1

    def must_not_score(key):
        raise AssertionError(f"{key} was scored again")
    assert attach_scores(front, tmp_path, must_not_score).loc[0, "test_accuracy"] == scored.loc[0, "test_accuracy"]


def test_times_scored_counts_distinct_points(tmp_path):
    assert times_scored(tmp_path) == 0
    lines = [{"config_id": "a", "rung": 10}, {"config_id": "a", "rung": 20}, {"config_id": "a", "rung": 10},
             {"config_id": "b", "rung": 10}]
    (tmp_path / TEST_LOG).write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"config_id": "c", "ru')
    assert times_scored(tmp_path) == 3                       # the torn last line is not a scoring


def test_slices_score_the_same_predictions_per_time_window(tmp_path, data, space):
    cfgs, dicts = space
    t0, _, lr, _ = cfgs
    y_test = data[3]
    test_windows = np.arange(len(y_test)) % 3
    windows = [{"start": "2024-01", "end": "2024-01", "rows": 0}, {"start": "2024-02", "end": "2024-03", "rows": 0},
               {"start": "2024-04", "end": "2024-04", "rows": 0}]
    front = frontier([(t0.config_id, "tree", 400, 0.8, 0.002, True)])
    out = score_frontier(front, dicts, *data, "classification", tmp_path, test_windows, windows)
    sl = slices_of(tmp_path, front)
    assert list(sl) == [(t0.config_id, 400)]
    got = sl[(t0.config_id, 400)]
    assert [(s["window"], s["label"], s["n"]) for s in got] == [
        (i, label, int((test_windows == i).sum())) for i, label in enumerate(["2024-01", "2024-02..2024-03", "2024-04"])]
    for s in got:
        expected = by_hand(t0, 400, data, mask=test_windows == s["window"])
        assert s["test_accuracy"] == pytest.approx(expected["test_accuracy"], rel=1e-12)
        assert s["test_f1_macro"] == pytest.approx(expected["test_f1_macro"], rel=1e-12)
    n = np.array([s["n"] for s in got])
    assert np.average([s["test_accuracy"] for s in got], weights=n) == pytest.approx(out.loc[0, "test_accuracy"])
    # a point scored without windows has no slices
    other = frontier([(lr.config_id, "logreg", 100, 0.8, 0.01, False)])
    score_frontier(other, dicts, *data, "classification", tmp_path)
    both = pd.concat([front, other], ignore_index=True)
    assert list(slices_of(tmp_path, both)) == [(t0.config_id, 400)]


def test_a_metric_without_probabilities_stays_a_column_when_read_back(tmp_path, data):
    """LinearSVC has no predict_proba: its roc_auc and log_loss are logged as null. A report
    rebuilt from the log (attach_scores without `score`) keeps those columns, as the run had."""
    svc = config("svc", "sklearn.svm.LinearSVC", {"C": 0.1, "max_iter": 2000}, 0, scale=True)
    from sweep.runner import configuration_dict as cd

    front = frontier([(svc.config_id, "svc", 200, 0.9, 0.01, True)])
    scored = score_frontier(front, {svc.config_id: cd(svc)}, *data, "classification", tmp_path)
    assert scored["test_log_loss"].isna().all() and scored["test_accuracy"].notna().all()
    rebuilt = attach_scores(front, tmp_path)
    assert list(rebuilt.columns) == list(scored.columns)
    assert rebuilt["test_accuracy"].tolist() == scored["test_accuracy"].tolist()
