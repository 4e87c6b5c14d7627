"""Adaptive sweeps live: the Referee records every rung and stops configurations early; the
ledger's order is the Judge's arrival order, so replaying it (sweep.prune.replay, the
simulator's rule) gives the live decisions; SIGKILLed drivers resume to the same decisions."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sweep
from conftest import cli_main, run_cli
from sweep.prune import Rule, replay
from test_resume import _driver, _kill_group_and_wait, _ledger_pairs, _marked, _no_driver_left  # noqa: F401

SIZES = [0.1, 0.25, 0.5, 1.0]


def _space(tmp: Path, digits_spec: Path, pruning: dict | None = None, log: Path | None = None,
           delay: float = 0.0, trees_only: bool = False) -> Path:
    """Trees of several depths (accuracy rises with depth and sample), and logistic regressions."""
    depths = [1, 2, 3, 4, 5, 6, 8, 10, 12, None] if trees_only else [1, 2, 3, 4, 6, 8, 12, None]
    archs = [
        {"name": "tree", "estimator": "sweep.testing.SlowTreeClassifier",
         "params": {"delay": delay, **({"log_path": str(log)} if log else {})},
         "grid": {"max_depth": depths}},
    ] + ([] if trees_only else [
        {"name": "logreg", "estimator": "sklearn.linear_model.LogisticRegression", "scale": True,
         "params": {"max_iter": 200}, "grid": {"C": [0.001, 0.01, 1.0]}}])
    space = {"name": "adaptive", "dataset": str(digits_spec), "sample_sizes": SIZES, "architectures": archs,
             "allow": {"path_params": ["log_path"]}}
    if pruning is not None:
        space["pruning"] = pruning
    p = tmp / "space.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    return p


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines() if line.strip()]


def _check_decisions_replay(run_dir: Path, rule: Rule) -> pd.DataFrame:
    """The live run's stops and continuations are the Judge's when fed the ledger's order."""
    recs = _records(run_dir)
    m = json.loads((run_dir / "manifest.json").read_text())
    rungs = m["rungs"]
    ok = [r for r in recs if r["status"] == "ok"]
    cids = sorted({r["config_id"] for r in recs})
    archs = {r["config_id"]: r["architecture"] for r in recs}
    decisions = replay(ok, {c: rungs for c in cids}, archs, True, rule, "accuracy", "train_time_s")
    fitted = {(r["config_id"], int(r["rung"])) for r in ok}
    stops = {r["config_id"]: r for r in recs if r["status"] == "stopped"}
    assert len(stops) == len({r["config_id"] for r in recs if r["status"] == "stopped"})   # one stop each
    for (cid, n), d in decisions.items():
        later = [k for k in rungs if k > n]
        if not later:
            continue
        if d.go_on:
            assert (cid, later[0]) in fitted, (cid, n, "the Judge went on, the run did not")
            assert cid not in stops or stops[cid]["stopped_after"] > n
        else:
            assert (cid, later[0]) not in fitted, (cid, n, "the Judge stopped it, the run fitted on")
            assert stops[cid]["stopped_after"] == n and stops[cid]["reason"] == d.reason
    return pd.DataFrame(ok)


@pytest.mark.slow
def test_policy_none_reproduces_the_exhaustive_trials(tmp_path, ray_session, digits_spec):
    a = sweep.run(_space(tmp_path, digits_spec, {"policy": "none"}), out=tmp_path / "none",
                  echo=lambda *x: None, progress_stream=open(os.devnull, "w"))
    b = sweep.run(_space(tmp_path, digits_spec, {"policy": "pareto"}), out=tmp_path / "ex", exhaustive=True,
                  echo=lambda *x: None, progress_stream=open(os.devnull, "w"))
    timed = ("trial_id", "train_time_s", "train_cpu_s", "predict_time_s", "train_time_spread", "timings",
             "measure_s", "noise_cv")   # measurements of time move between runs; everything else may not
    cols = [c for c in a.trials.columns if c not in timed]
    key = ["config_id", "rung"]
    pd.testing.assert_frame_equal(a.trials[cols].sort_values(key, ignore_index=True),
                                  b.trials[cols].sort_values(key, ignore_index=True))
    assert len(a.trials) == 11 * len(SIZES) and not (tmp_path / "none" / "stopped.csv").exists()
    assert b.manifest["pruning"] == "none"


@pytest.mark.slow
def test_adaptive_run_stops_early_as_the_rule_says(tmp_path, ray_session, digits_spec):
    res = sweep.run(_space(tmp_path, digits_spec, {"policy": "pareto"}), out=tmp_path / "run",
                    echo=lambda *x: None, progress_stream=open(os.devnull, "w"))
    stops = pd.read_csv(res.run_dir / "stopped.csv", dtype={"config_id": str})
    assert len(stops) >= 1 and len(res.trials) < 11 * len(SIZES)
    assert set(res.trials["status"]) == {"ok"}                    # trials.parquet: fitted pairs only
    assert stops["reason"].str.startswith("predicted at n_train=").all()
    _check_decisions_replay(res.run_dir, Rule())
    html = (res.run_dir / "report.html").read_text()
    assert "Stopped early" in html and "compute saved" in html
    rebuilt = run_cli("report", str(res.run_dir))                  # no Ray: the report from the files
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"{len(stops)} configuration(s) stopped early (adaptive; stopped.csv)" in rebuilt.stdout
    assert res.manifest["stopped"]["configurations"] == len(stops)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    for cid in stops["config_id"][:2]:
        acc = EventAccumulator(str(res.run_dir / "tensorboard" / cid))
        acc.Reload()
        assert [e.value for e in acc.Scalars("outcome/stopped")] == [1.0]


@pytest.mark.slow
def test_complete_curves_reach_the_top_rung_for_every_architecture(tmp_path, ray_session, digits_spec):
    res = sweep.run(_space(tmp_path, digits_spec, {"policy": "pareto", "curves": "full"}), out=tmp_path / "run",
                    echo=lambda *x: None, progress_stream=open(os.devnull, "w"))
    top = res.trials["n_train"].max()
    assert set(res.trials.loc[res.trials["n_train"] == top, "architecture"]) == {"tree", "logreg"}
    _check_decisions_replay(res.run_dir, Rule(curves="full"))


def test_bad_pruning_block_is_refused_before_ray(tmp_path, digits_spec):
    sp = _space(tmp_path, digits_spec, {"policy": "halving"})
    proc = run_cli("run", str(sp), "--out", str(tmp_path / "run"), env={"RAY_TMPDIR": str(tmp_path / "rt")})
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "key 'pruning.policy' has invalid value 'halving': Input should be 'pareto' or 'none'" in lines[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "rt").exists()


def _fit_log(log: Path) -> list[tuple[int, int, str]]:
    if not log.exists():
        return []
    return [(int(a), int(b), c) for a, b, c, _ in (ln.split() for ln in log.read_text().splitlines())]


def _ok_tree_pairs(run_dir: Path) -> set:
    """(n_train, max_depth as logged) of every ok tree record in the ledger."""
    if not (run_dir / "ledger.jsonl").exists():
        return set()
    out = set()
    for line in (run_dir / "ledger.jsonl").read_text().splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("status") == "ok" and r.get("architecture") == "tree":
            out.add((int(r["n_train"]), str(r["params"]["max_depth"])))
    return out


KILLS = int(os.environ.get("SWEEP_KILL_ROUNDS", "2"))   # two in CI; SWEEP_KILL_ROUNDS=20 for more


@pytest.mark.slow
def test_sigkilled_adaptive_run_resumes_to_the_same_decisions(tmp_path, digits_spec, ray_session):
    """KILLS SIGKILLs of an adaptive run's drivers at random points, each followed by `sweep resume`:
    no stopped pair is ever fitted, no driver's trials fit a pair the ledger held at its start,
    and the final ledger's decisions are those of the Judge fed the same records in the same
    order (so its frontier is the uninterrupted run's on those records)."""
    rng = random.Random(20261201)
    log = tmp_path / "fits.log"
    space = _space(tmp_path, digits_spec, {"policy": "pareto"}, log=log, delay=0.25, trees_only=True)
    run_dir = tmp_path / "run"
    kills, attempt, drivers = 0, 0, []
    while kills < KILLS and attempt < 3 * KILLS:
        attempt += 1
        before = _ledger_pairs(run_dir)
        drivers.append({"done": _ok_tree_pairs(run_dir), "start": len(_fit_log(log))})
        mark = f"drv-{os.getpid()}-a{attempt}"
        p = _driver(["run", str(space), "--out", str(run_dir)] if attempt == 1 else ["resume", str(run_dir)],
                    mark, tmp_path / f"driver{attempt}.log")
        target = len(before) + rng.randint(1, 2)
        end = time.time() + 180
        while time.time() < end and p.poll() is None and len(_ledger_pairs(run_dir)) < target:
            time.sleep(0.05)
        if p.poll() is None:
            time.sleep(rng.random() * 0.4)
        _kill_group_and_wait(p, mark)
        drivers[-1]["pid"] = p.pid
        if p.returncode == 0:
            break
        kills += len(_ledger_pairs(run_dir)) > len(before)
    if json.loads((run_dir / "manifest.json").read_text())["status"] != "complete":
        drivers.append({"done": _ok_tree_pairs(run_dir), "start": len(_fit_log(log))})
        rc, out, err = cli_main("resume", str(run_dir))   # in this process, on the session's Ray
        assert rc == 0, (out + err)[-3000:]
        drivers[-1]["pid"] = os.getpid()
    assert kills == KILLS, f"only {kills} kills landed mid-run in {attempt} attempts"
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"
    _check_decisions_replay(run_dir, Rule())
    recs = _records(run_dir)
    ok_keys = [(r["config_id"], r["rung"]) for r in recs if r["status"] == "ok"]
    assert len(ok_keys) == len(set(ok_keys))                          # no pair recorded twice
    starts = _fit_log(log)
    pids = {d["pid"] for d in drivers}                               # a driver's own fits: test scoring
    stopped = {(int(r["rung"]), str(r["params"]["max_depth"])) for r in recs
               if r["status"] == "stopped" and r["architecture"] == "tree"}
    assert stopped, "no tree configuration was stopped: the test would check nothing"
    trial_fits = {(n, d) for pid, n, d in starts if pid not in pids}
    assert not (stopped & trial_fits), f"stopped pairs fitted: {stopped & trial_fits}"
    for i, d in enumerate(drivers):
        end = drivers[i + 1]["start"] if i + 1 < len(drivers) else len(starts)
        again = [(n, dp) for pid, n, dp in starts[d["start"]:end] if pid != d["pid"] and (n, dp) in d["done"]]
        assert not again, f"driver {i} fitted pairs its ledger held at its start: {again}"


@pytest.mark.slow
def test_extend_judges_new_configurations_against_all_records(tmp_path, ray_session, digits_spec):
    """An adaptive run extended with another architecture: the Referee replays the run's
    records first, so the new configurations are judged against every result, and the whole
    ledger still replays to its own decisions."""
    first = sweep.run(_space(tmp_path, digits_spec, {"policy": "pareto"}), out=tmp_path / "run",
                      echo=lambda *x: None, progress_stream=open(os.devnull, "w"))
    before = _records(first.run_dir)
    space = yaml.safe_load((tmp_path / "space.yaml").read_text())
    space["architectures"].append({"name": "forest", "estimator": "sklearn.ensemble.RandomForestClassifier",
                                   "params": {"n_jobs": 1}, "grid": {"n_estimators": [5, 10, 40]}})
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space, sort_keys=False))
    res = sweep.extend(tmp_path / "run", tmp_path / "space.yaml",
                       echo=lambda *x: None, progress_stream=open(os.devnull, "w"))
    after = _records(res.run_dir)
    assert after[:len(before)] == before                              # the old records, untouched
    assert {r["architecture"] for r in after[len(before):]} == {"forest"}
    _check_decisions_replay(res.run_dir, Rule())
