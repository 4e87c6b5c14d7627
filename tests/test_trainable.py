"""The rung loop inside a trial (sweep.trainable.run_rungs) with a local sink: no Ray, no
Tune. Real fits on digits; the ledger and TensorBoard files are real."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from sweep import ledger, metrics
from sweep.grid import Configuration, make_ids
from sweep.models import nested_order
from sweep.runner import configuration_dict
from sweep.trainable import Reporter, run_rungs, scalar_tags

TREE = "sklearn.tree.DecisionTreeClassifier"


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def cfg_of(estimator: str, params: dict, seed: int = 0, time_limit_s: float | None = None) -> dict:
    cid, gid = make_ids(estimator, params, seed, False)
    return configuration_dict(Configuration(cid, gid, "arch", estimator, params, tuple(params), seed, False,
                                            1.0, 0.0, time_limit_s=time_limit_s))


def test_each_rung_is_fit_on_the_nested_prefix_recorded_then_reported(tmp_path, data):
    cfg = cfg_of(TREE, {"max_depth": 5}, seed=3)
    reported = []
    out = run_rungs(cfg, data, [100, 400], "classification", str(tmp_path / "ledger.jsonl"),
                    str(tmp_path / "tb"), Reporter(reported.append, "val_accuracy", every_s=0),
                    trial_id="t1", node_id="n1")
    records, torn = ledger.read(tmp_path / "ledger.jsonl")
    assert torn == 0 and [r["rung"] for r in records] == [100, 400] == [r["n_train"] for r in records]
    assert [r["config_id"] for r in records] == [cfg["config_id"]] * 2
    assert all(r["status"] == "ok" and r["trial_id"] == "t1" and r["node_id"] == "n1" for r in records)
    # the ledger holds exactly what the loop returned (JSON round trip), and Tune got each rung
    assert json.loads(json.dumps(out)) == records
    # one report per rung at every_s=0, then the configuration's end; the best is the best rung's
    assert [r["rungs"] for r in reported] == [1, 1, 0] and reported[-1]["configs_done"] == 1
    best = max(records, key=lambda r: r["val_accuracy"])
    assert max(r["best"] for r in reported if "best" in r) == best["val_accuracy"]
    order = nested_order(data["y_train"], 3)
    for rec in records:  # a brute-force fit of the same estimator on the same first n rows
        idx = order[:rec["rung"]]
        est = DecisionTreeClassifier(max_depth=5, random_state=3).fit(data["X_train"][idx], data["y_train"][idx])
        want = metrics.score("classification", data["y_val"], est.predict(data["X_val"]),
                             est.predict_proba(data["X_val"]), est.classes_)
        assert rec["val_accuracy"] == pytest.approx(want["accuracy"])
        assert rec["val_log_loss"] == pytest.approx(want["log_loss"])
        assert rec["train_time_s"] > 0 and rec["train_cpu_s"] >= 0 and rec["predict_time_s"] > 0
    assert set(order[:100]) <= set(order[:400])  # nested: each sample holds the previous one
    # TensorBoard: one run for the configuration, every scalar tag at both steps
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tb" / cfg["config_id"]))
    acc.Reload()
    for tag in scalar_tags("classification"):
        assert [e.step for e in acc.Scalars(tag)] == [100, 400], tag


def test_a_failing_fit_is_recorded_and_its_larger_rungs_are_not_tried(tmp_path, data):
    cfg = cfg_of("sweep.testing.FailingClassifier", {"message": "no good"})
    cfg["max_failures"] = 1
    reported = []
    out = run_rungs(cfg, data, [50, 100, 200], "classification", str(tmp_path / "ledger.jsonl"), None,
                    Reporter(reported.append, "val_accuracy", every_s=0))
    records, _ = ledger.read(tmp_path / "ledger.jsonl")
    assert len(out) == len(records) == 1 and records[0]["rung"] == 50
    assert records[0]["status"] == "failed" and records[0]["attempts"] == 2
    assert records[0]["error"].startswith("RuntimeError: no good (") and "testing.py:" in records[0]["error"]
    assert reported[0] == {"rungs": 1, "failed": 1, "stopped": 0, "configs_done": 0, "fits": [], "ended": []}
    assert reported[1] == {"rungs": 0, "failed": 0, "stopped": 0, "configs_done": 1, "fits": [],
                           "ended": [cfg["config_id"]]}


def test_a_time_limit_records_timed_out_then_ends_the_process(tmp_path):
    """The limit fires during a fit that cannot be interrupted: a timed_out record for the
    running rung becomes durable and the process exits 75 (Tune restarts the trial)."""
    code = f"""
import numpy as np
from sweep.grid import Configuration, make_ids
from sweep.runner import configuration_dict
from sweep.trainable import run_rungs
cid, gid = make_ids("sweep.testing.SlowClassifier", {{"delay": 5.0}}, 0, False)
cfg = configuration_dict(Configuration(cid, gid, "slow", "sweep.testing.SlowClassifier", {{"delay": 5.0}},
                                       ("delay",), 0, False, 1.0, 0.0, time_limit_s=0.5))
rng = np.random.default_rng(0)
data = {{"X_train": rng.normal(size=(60, 3)), "y_train": np.arange(60) % 2,
         "X_val": rng.normal(size=(20, 3)), "y_val": np.arange(20) % 2}}
run_rungs(cfg, data, [20, 40], "classification", {str(tmp_path / "ledger.jsonl")!r}, None)
print("not reached")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 75 and "not reached" not in r.stdout, r.stderr[-2000:]
    records, _ = ledger.read(tmp_path / "ledger.jsonl")
    assert [(x["rung"], x["status"]) for x in records] == [(20, "timed_out")]
    assert records[0]["error"].startswith("time limit of 0.5 s per configuration passed (after ")


def test_pair_record_states_the_allowed_statuses():
    rec = ledger.pair_record({"config_id": "c", "group_id": "g", "architecture": "a", "params": {"k": 1},
                              "seed": 0}, 64, "ok", val_accuracy=0.5)
    assert rec["rung"] == rec["n_train"] == 64 and rec["val_accuracy"] == 0.5 and rec["error"] == ""
    assert rec["finished_at_s"] > 0
    with pytest.raises(ValueError, match=r"status is one of ok, failed, timed_out, stopped, skipped_budget, not 'done'"):
        ledger.pair_record({"config_id": "c"}, 1, "done")


def test_the_reporter_batches_counts_and_keeps_the_best():
    sent = []
    rep = Reporter(sent.append, "val_rmse", maximise=False, every_s=3600)
    rep.rung({"config_id": "a", "architecture": "x", "n_train": 10, "status": "ok", "val_rmse": 2.0,
              "train_time_s": 0.5, "predict_time_s": 0.25})
    rep.rung({"config_id": "b", "architecture": "y", "n_train": 20, "status": "ok", "val_rmse": 1.5}, stopped=True)
    rep.rung({"config_id": "c", "architecture": "z", "n_train": 20, "status": "failed"})
    rep.config_done("b")
    assert sent == []  # nothing before every_s
    rep.flush()
    assert sent == [{"rungs": 3, "failed": 1, "stopped": 1, "configs_done": 1, "best": 1.5, "best_cfg": "y b n=20",
                     "fits": [["a", 10, 0.75], ["b", 20, 0.0]], "ended": ["b"]}]
    rep.flush()
    assert len(sent) == 1  # an empty batch is not sent


def test_the_appender_writes_at_once_and_fsyncs_in_groups(tmp_path):
    path = tmp_path / "ledger.jsonl"
    a = ledger.Appender(path, sync_every_s=0.05)
    a.append({"config_id": "c", "rung": 1, "status": "ok"})
    assert ledger.read(path)[0] == [{"config_id": "c", "rung": 1, "status": "ok"}]  # written, not yet synced
    assert a.dirty and a.timer is not None
    a.timer.join(2)
    assert not a.dirty and a.timer is None  # the group was fsynced within sync_every_s
    a.append({"config_id": "c", "rung": 2, "status": "ok"})
    a.close()
    assert [r["rung"] for r in ledger.read(path)[0]] == [1, 2] and a.fd is None
    bad = ledger.Appender(tmp_path / "missing" / "ledger.jsonl")
    with pytest.raises(ledger.LedgerError, match=r"missing/ledger.jsonl: cannot append a record"):
        bad.append({"config_id": "c", "rung": 1})


def test_a_budget_past_its_deadline_starts_no_rung_and_records_each_as_skipped(tmp_path, data):
    import time

    from sweep.budget import TrialBudget

    cfg = cfg_of(TREE, {"max_depth": 3}) | {"cost_s": {100: 0.01, 400: 0.04}}
    path = tmp_path / "ledger.jsonl"
    out = run_rungs(cfg, data, [100, 400], "classification", str(path), None, budget=TrialBudget(time.time() - 1))
    assert out == []
    recs, _ = ledger.read(path)
    assert [(r["rung"], r["status"]) for r in recs] == [(100, "skipped_budget"), (400, "skipped_budget")]
    assert ledger.latest(recs) == {} and set(ledger.budget_skipped(recs)) == {(cfg["config_id"], 100), (cfg["config_id"], 400)}
    # a rung that fits before the deadline runs; once it is fitted, it is no longer skipped
    out = run_rungs(cfg, data, [100], "classification", str(path), None, budget=TrialBudget(time.time() + 60))
    recs, _ = ledger.read(path)
    assert [r["status"] for r in out] == ["ok"] and set(ledger.budget_skipped(recs)) == {(cfg["config_id"], 400)}


def test_a_budget_scales_predictions_by_what_the_trial_has_seen():
    import time

    from sweep.budget import TrialBudget

    b = TrialBudget(time.time() + 10)
    cfg = {"cost_s": {1: 1.0, 2: 6.0}}
    assert b.allows(cfg, 2)
    b.spent(cfg, {"n_train": 1, "status": "ok", "train_time_s": 2.0, "predict_time_s": 0.0})  # twice as slow
    assert not b.allows(cfg, 2)  # 6 s predicted, x2 seen: past the deadline
