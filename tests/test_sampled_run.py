"""A sampled search space (search: random) on a real local Ray: SIGKILLed mid-run and
resumed, then extended to a larger n. The draws come from the run's spec.yaml again on
resume and are prefix-stable on --extend, so no pair is lost, none fitted twice, and the
extension fits only the new configurations."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sweep import ledger
from sweep.stages import specs
from test_resume import SIZES, _driver, _kill_group_and_wait, _no_driver_left, _start_until  # noqa: F401

pytestmark = pytest.mark.slow


def _space(tmp: Path, digits_spec: Path, n: int) -> Path:
    space = {"name": "sampled", "dataset": str(digits_spec), "sample_sizes": SIZES,
             "pruning": {"policy": "none"}, "search": {"method": "random", "n": n, "seed": 3},
             "architectures": [{"name": "slow", "estimator": "sweep.testing.SlowClassifier",
                                "distributions": {"delay": {"uniform": [0.2, 0.3]}}}]}
    p = tmp / f"space-{n}.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    return p


def _ok_counts(run_dir: Path) -> Counter:
    records, _ = ledger.read(run_dir / "ledger.jsonl")
    return Counter((r["config_id"], r["rung"]) for r in records if r["status"] == "ok")


def test_sampled_run_killed_resumed_and_extended_loses_nothing_and_refits_nothing(tmp_path, digits_spec, ray_session):
    """The kill and the resume by real drivers; the extend in this process (sweep.extend on
    the session's Ray: no signal or exit code is checked there)."""
    import sweep

    mark = f"drv-{os.getpid()}-sampled"
    run_dir = tmp_path / "run"
    six, eight = _space(tmp_path, digits_spec, 6), _space(tmp_path, digits_spec, 8)
    ids6 = {c.config_id for c in specs(six, None, echo=lambda *_: None).configs}
    ids8 = {c.config_id for c in specs(eight, None, echo=lambda *_: None).configs}
    assert len(ids6) == 6 and len(ids8) == 8 and ids6 < ids8          # the first 6 draws of 8 are the 6

    p = _start_until(six, run_dir, 3, mark, tmp_path / "a.log")
    assert p.poll() is None, (tmp_path / "a.log").read_text()[-3000:]   # killed mid-run, not after it
    _kill_group_and_wait(p, mark)
    r = _driver(["resume", str(run_dir)], mark, tmp_path / "b.log")
    assert r.wait(timeout=300) == 0, (tmp_path / "b.log").read_text()[-3000:]
    first = pd.read_parquet(run_dir / "trials.parquet")
    rungs = json.loads((run_dir / "manifest.json").read_text())["rungs"]
    assert set(zip(first["config_id"], first["rung"])) == {(c, n) for c in ids6 for n in rungs}
    assert set(_ok_counts(run_dir).values()) == {1}                      # none recorded twice
    assert first["param_delay"].between(0.2, 0.3).all()

    sweep.extend(run_dir, eight, echo=lambda *a, **k: None, progress_stream=open(os.devnull, "w"))
    both = pd.read_parquet(run_dir / "trials.parquet")
    assert set(zip(both["config_id"], both["rung"])) == {(c, n) for c in ids8 for n in rungs}
    assert set(_ok_counts(run_dir).values()) == {1}                      # the old pairs were not fitted again
    old = both[both["config_id"].isin(ids6)].set_index(["config_id", "rung"]).sort_index()
    pd.testing.assert_series_equal(old["param_delay"], first.set_index(["config_id", "rung"]).sort_index()["param_delay"])


def test_optuna_search_killed_in_its_second_batch_resumes_without_asking_again(tmp_path, digits_spec):
    """search: optuna, n 8 in batches of 4: SIGKILLed once the second batch (asked of the
    sampler, logged in search.jsonl) is being fitted, then resumed by a real driver. The
    resumed run fits the logged batch's remaining pairs (no new asks: n is reached), loses
    none and fits none twice."""
    mark = f"drv-{os.getpid()}-optuna"
    run_dir = tmp_path / "run"
    space = yaml.safe_load(_space(tmp_path, digits_spec, 8).read_text())
    space["search"] = {"method": "optuna", "n": 8, "batch": 4, "seed": 3}
    path = tmp_path / "optuna.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    first = {c.config_id for c in specs(path, None, echo=lambda *_: None).configs}
    assert len(first) == 4                                              # the first batch: random draws

    p = _start_until(path, run_dir, 14, mark, tmp_path / "a.log")       # 12 pairs in the first batch
    assert p.poll() is None, (tmp_path / "a.log").read_text()[-3000:]
    _kill_group_and_wait(p, mark)
    logged = [json.loads(x) for x in (run_dir / "search.jsonl").read_text().splitlines()]
    assert [r["batch"] for r in logged] == [1, 1, 1, 1] and not {r["config_id"] for r in logged} & first
    killed_at = _ok_counts(run_dir)
    assert 14 <= sum(killed_at.values()) < 24                           # killed inside the second batch

    r = _driver(["resume", str(run_dir)], mark, tmp_path / "b.log")
    assert r.wait(timeout=300) == 0, (tmp_path / "b.log").read_text()[-3000:]
    assert [json.loads(x) for x in (run_dir / "search.jsonl").read_text().splitlines()] == logged  # no new asks
    rungs = json.loads((run_dir / "manifest.json").read_text())["rungs"]
    trials = pd.read_parquet(run_dir / "trials.parquet")
    ids = first | {r["config_id"] for r in logged}
    assert set(zip(trials["config_id"], trials["rung"])) == {(c, n) for c in ids for n in rungs}
    assert set(_ok_counts(run_dir).values()) == {1}                      # none fitted twice
    assert trials["param_delay"].between(0.2, 0.3).all()
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["search"] == {"method": "optuna", "n": 8, "seed": 3, "sampler": "tpe", "batch": 4}
