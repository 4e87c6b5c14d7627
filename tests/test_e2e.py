"""`sweep run --smoke` end to end against a real local Ray; the Python API; failures."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sweep
from conftest import REPO, cli_proc
from sweep.grid import expand, sizes_for
from sweep.spec import load_space


DESIGN_COLUMNS = ["config_id", "group_id", "trial_id", "architecture", "seed", "rung", "n_train",
                  "val_accuracy", "train_time_s", "train_cpu_s", "predict_time_s", "status", "node_id", "error"]
RUN_FILES = ["spec.yaml", "manifest.json", "data_report.json", "ledger.jsonl", "trials.parquet",
             "trials.csv", "frontier.csv", "report.html", "pareto.png", "learning_curves.png",
             "quarantine/rows.parquet", "test_scores.jsonl"]


def brute_frontier(df, metric="val_accuracy", time="train_time_s"):
    keep = set()
    rows = list(df[["config_id", "rung", metric, time]].itertuples(index=False))
    for a in rows:
        dominated = any(b[2] >= a[2] and b[3] <= a[3] and (b[2] > a[2] or b[3] < a[3]) for b in rows)
        if not dominated:
            keep.add((a[0], int(a[1])))
    return keep


@pytest.mark.slow
def test_smoke_run_writes_the_run_directory(smoke_run):
    out, proc = smoke_run
    for f in RUN_FILES:
        assert (out / f).exists(), f
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert "Pareto frontier" in proc.stdout and "report: " in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_trials_table_matches_the_grid(smoke_run):
    out, _ = smoke_run
    trials = pd.read_parquet(out / "trials.parquet")
    for c in DESIGN_COLUMNS:
        assert c in trials.columns, c
    assert any(c.startswith("param_") for c in trials.columns)
    sp = load_space(REPO / "search_spaces" / "default.yaml")
    configs = expand(sp, smoke=True)
    rungs = json.loads((out / "manifest.json").read_text())["rungs"]
    assert len(rungs) == len(sizes_for(sp, True)) >= 2
    expected = {(c.config_id, n) for c in configs for n in rungs}
    got = list(zip(trials["config_id"], trials["rung"]))
    assert len(got) == len(set(got))                       # one row per (config_id, rung)
    assert set(got) == expected                            # ids computed independently agree
    assert (trials["status"] == "ok").all()
    assert (trials["n_train"] == trials["rung"]).all()
    assert (trials["train_time_s"] > 0).all()
    assert trials["node_id"].str.len().min() > 0 and trials["trial_id"].str.len().min() > 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "trials.csv")[["config_id", "rung"]].astype({"config_id": str}),
                                  trials[["config_id", "rung"]], check_dtype=False)


@pytest.mark.slow
def test_frontier_is_the_non_dominated_set(smoke_run):
    out, _ = smoke_run
    trials = pd.read_parquet(out / "trials.parquet")
    front = pd.read_csv(out / "frontier.csv", dtype={"config_id": str})
    estimate = front[front["on_estimate_frontier"].astype(bool)]
    assert set(zip(estimate["config_id"], estimate["rung"])) == brute_frontier(trials)
    # members off the point estimates' frontier are there only because noise cannot order them
    assert brute_frontier(trials) <= set(zip(front["config_id"], front["rung"]))
    assert front["is_knee"].sum() == 1
    assert front["test_accuracy"].notna().all()
    scored = [json.loads(line) for line in (out / "test_scores.jsonl").read_text().splitlines()]
    keys = [(r["config_id"], r["rung"]) for r in scored]
    assert len(keys) == len(set(keys))                      # once each
    assert set(keys) == set(zip(front["config_id"], front["rung"]))   # frontier members only


@pytest.mark.slow
def test_tensorboard_has_a_scalar_series_per_configuration(smoke_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = smoke_run
    trials = pd.read_parquet(out / "trials.parquet")
    for cid, g in trials.groupby("config_id"):
        acc = EventAccumulator(str(out / "tensorboard" / cid))
        acc.Reload()
        events = acc.Scalars("val_accuracy")
        assert [e.step for e in events] == sorted(g["n_train"].tolist())
        np.testing.assert_allclose([e.value for e in events], g.sort_values("n_train")["val_accuracy"],
                                   rtol=1e-6)
    assert (out / "tensorboard" / "summary").is_dir()


@pytest.mark.slow
def test_api_run_and_load(tmp_path, ray_session, space_file):
    space = {"name": "api", "sample_sizes": [0.3, 1.0], "pruning": {"policy": "none"}, "architectures": [
        {"name": "lr", "estimator": "sklearn.linear_model.LogisticRegression", "scale": True,
         "params": {"max_iter": 200}, "grid": {"C": [0.1, 1.0]}},
        {"name": "broken", "estimator": "sweep.testing.FailingClassifier"}]}
    res = sweep.run(space_file(space), out=tmp_path / "run", progress_stream=open("/dev/null", "w"),
                    echo=lambda *a: None)
    assert res.exit_code == 4                              # finished, but a configuration failed
    failed = res.failed
    assert set(failed["architecture"]) == {"broken"}
    assert "RuntimeError: this estimator always fails" in failed["error"].iloc[0]
    ok = res.trials[res.trials["status"] == "ok"]
    assert len(ok) == 4                                     # the others completed
    loaded = sweep.load(res.run_dir)
    pd.testing.assert_frame_equal(loaded.trials, res.trials, check_dtype=False)
    assert list(loaded.frontier["config_id"]) == list(res.frontier["config_id"])
    assert "broken" in (res.run_dir / "report.html").read_text()


@pytest.mark.slow
def test_same_config_ids_in_separate_runs(smoke_run, tmp_path, ray_session, digits_spec):
    out, _ = smoke_run
    res = sweep.run(smoke=True, exhaustive=True, dataset=digits_spec, out=tmp_path / "again",
                    progress_stream=open("/dev/null", "w"),
                    echo=lambda *a: None)
    first = pd.read_parquet(out / "trials.parquet")
    assert set(res.trials["config_id"]) == set(first["config_id"])
    # the same data and seeds give the same validation metrics (times differ)
    merged = first.merge(res.trials, on=["config_id", "rung"])
    assert len(merged) == len(first)
    np.testing.assert_allclose(merged["val_accuracy_x"], merged["val_accuracy_y"])


def test_load_refuses_an_incomplete_run(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "running"}))
    with pytest.raises(sweep.ConfigError, match="the run is 'running', not complete"):
        sweep.load(tmp_path)
    with pytest.raises(sweep.ConfigError, match="no manifest.json"):
        sweep.load(tmp_path / "nothing")


@pytest.mark.slow
def test_report_rebuild(smoke_run):
    out, _ = smoke_run
    before = (out / "frontier.csv").read_text()
    proc = cli_proc("report", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "frontier.csv").read_text() == before
    assert Path(out / "report.html").stat().st_size > 10_000


NEW_COLUMNS = ["train_time_spread", "timings", "measure_s", "noise_cv", "val_accuracy_ci"]
NEW_RECORD_KEYS = NEW_COLUMNS + ["train_time_median_s", "train_time_s_ci", "val_rows"]


@pytest.mark.slow
def test_a_run_from_before_the_timing_protocol_loads_and_rebuilds(smoke_run, tmp_path):
    """A run directory written before the timing protocol (no timings, spreads, intervals or
    validation rows in its ledger and tables, no `timing` in its manifest) loads, and its
    report rebuilds: times without an interval, accuracies with Wilson's."""
    import shutil

    out, _ = smoke_run
    old = tmp_path / "old"
    shutil.copytree(out, old)
    lines = [json.loads(x) for x in (old / "ledger.jsonl").read_text().splitlines()]
    (old / "ledger.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k not in NEW_RECORD_KEYS})
                                              + "\n" for r in lines))
    for name in ("trials.parquet", "trials.csv"):
        t = pd.read_parquet(old / "trials.parquet").drop(columns=NEW_COLUMNS, errors="ignore")
        t.to_parquet(old / name) if name.endswith("parquet") else t.to_csv(old / name, index=False)
    m = json.loads((old / "manifest.json").read_text())
    m.pop("timing", None)
    (old / "manifest.json").write_text(json.dumps(m))
    front = pd.read_csv(old / "frontier.csv")
    front[[c for c in front.columns if not c.endswith("_ci") and c not in
           ("tied_with", "tie_group", "on_estimate_frontier")]].to_csv(old / "frontier.csv", index=False)
    assert "timings" not in sweep.load(old).trials
    res = sweep.api.rebuild_report(old)
    f = res.frontier
    assert (f["train_time_s_ci"] == 0).all() and (f["val_accuracy_ci"] > 0).all()
    assert f["on_estimate_frontier"].all()   # no time interval: only exact ties can keep a dominated point
    assert brute_frontier(res.trials) <= set(zip(f["config_id"], f["rung"].astype(int)))
    assert (old / "report.html").stat().st_size > 10_000


@pytest.mark.slow
def test_report_budget_query_matches_a_scan(smoke_run):
    out, _ = smoke_run
    trials = pd.read_parquet(out / "trials.parquet")
    budget = float(trials["train_time_s"].median())
    fits = trials[trials["train_time_s"] <= budget].sort_values(["val_accuracy", "train_time_s"],
                                                                ascending=[False, True])
    want = fits.iloc[0]
    proc = cli_proc("report", str(out), "--budget", repr(budget))
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith(f"best within {budget:g} s") and want["config_id"] in line, line
    assert f"n_train={int(want['n_train'])}" in line
    low = cli_proc("report", str(out), "--budget", "1e-9")
    assert low.returncode == 2 and "is below the fastest point" in low.stderr and "Traceback" not in low.stderr


@pytest.fixture(scope="module")
def repeats_run(tmp_path_factory, digits_spec, ray_session):
    """`sweep run --smoke --repeats 2 --exhaustive` in this process on the session's Ray, once
    for the two tests that read it."""
    out = tmp_path_factory.mktemp("repeats") / "run"
    proc = cli_proc("run", "--smoke", "--repeats", "2", "--exhaustive", "--dataset", str(digits_spec),
                    "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc


@pytest.mark.slow
def test_repeats_give_intervals_knee_and_budget(repeats_run):
    res = sweep.load(repeats_run[0])
    front = res.frontier
    assert (front["n_seeds"] == 2).all()
    assert "val_accuracy_ci" in front and "train_time_s_ci" in front
    assert front["is_knee"].sum() == 1 and front["test_accuracy"].notna().all()
    # every seed of every frontier point scored once, and nothing else
    scored = [json.loads(line) for line in (res.run_dir / "test_scores.jsonl").read_text().splitlines()]
    keys = [(r["config_id"], r["rung"]) for r in scored]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(c, r) for cs, r in zip(front["config_id"], front["rung"]) for c in cs.split(";")}
    # the budget query equals a brute-force scan over the means per (group_id, rung)
    trials = pd.read_parquet(res.run_dir / "trials.parquet")
    means = trials.groupby(["group_id", "rung"])[["val_accuracy", "train_time_s"]].mean().reset_index()
    budget = float(means["train_time_s"].quantile(0.5))
    fits = means[means["train_time_s"] <= budget].sort_values(["val_accuracy", "train_time_s"],
                                                              ascending=[False, True])
    want = fits.iloc[0]
    ids = sorted(trials[(trials["group_id"] == want["group_id"]) & (trials["rung"] == want["rung"])]["config_id"])
    proc = cli_proc("report", str(res.run_dir), "--budget", repr(budget))
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert ", ".join(ids) in line and f"n_train={int(want['rung'])}" in line and " ± " in line, line
    assert "*" in proc.stdout                      # the knee is marked in the printed frontier


@pytest.mark.slow
def test_sweep_with_repeats_and_budget_one_second(repeats_run):
    """The reporter's acceptance check, `--repeats 2` then `--budget 1`, on the smoke grid (the
    default grid's 336 fits checked nothing more)."""
    out, proc = repeats_run
    table = proc.stdout.split("Pareto frontier", 1)[1]
    assert "\n*" in table and " ± " in table                # the knee is printed; points carry intervals
    front = pd.read_csv(out / "frontier.csv", dtype={"config_id": str})
    assert (front["n_seeds"] == 2).all() and front["val_accuracy_ci"].notna().all()
    trials = pd.read_parquet(out / "trials.parquet")
    means = trials.groupby(["group_id", "rung"])[["val_accuracy", "train_time_s"]].mean().reset_index()
    within = means[means["train_time_s"] <= 1.0]
    best = within[within["val_accuracy"] == within["val_accuracy"].max()].sort_values("train_time_s").iloc[0]
    ids = sorted(trials[(trials["group_id"] == best["group_id"]) & (trials["rung"] == best["rung"])]["config_id"])
    rep = cli_proc("report", str(out), "--budget", "1")
    assert rep.returncode == 0, rep.stderr
    line = rep.stdout.strip().splitlines()[-1]
    assert line.startswith("best within 1 s") and ", ".join(ids) in line, line
