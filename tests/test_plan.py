"""`sweep plan` and `sweep run --time-budget` end to end: a real local Ray, real pilot fits."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import run_cli
from sweep import ledger

pytestmark = pytest.mark.slow
SPACE = "search_spaces/default.yaml"
KEYS = {"cores", "pairs", "predicted_wall_s", "predicted_wall_adaptive_s", "interval80_s", "pilot_s"}


def test_plan_json_then_runs_keep_its_pilot_fits(tmp_path):
    """One plan, then two runs that keep its pilot fits: one with `--plan` (a copy of the
    pilots), one in the plan's own directory."""
    out = tmp_path / "plan"
    r = run_cli("plan", SPACE, "--smoke", "--json", "--num-cpus", "2", "--budget", "2m", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    plan = json.loads(r.stdout.strip().splitlines()[-1])
    assert KEYS <= set(plan), KEYS - set(plan)
    assert plan["cores"] == 2 and plan["pairs"] == plan["configurations"] * len(plan["rungs"])
    lo, hi = plan["interval80_s"]
    assert 0 < lo <= plan["predicted_wall_s"] <= hi and plan["pilot_s"] > 0
    assert plan["predicted_wall_adaptive_s"] > plan["fixed_s"]  # (cheapest first may pack worse: not <=)
    assert plan["budget"]["budget_s"] == 120 and plan["budget"]["minimum_s"] > 0
    assert json.loads((out / "plan.json").read_text())["pairs"] == plan["pairs"]
    pilots, _ = ledger.read(out / "ledger.jsonl")
    assert len(pilots) == plan["pilot_fits"] > 0 and all(p["pilot"] for p in pilots)

    copy = tmp_path / "run"
    r = run_cli("run", SPACE, "--smoke", "--exhaustive", "--num-cpus", "2", "--plan", str(out), "--out", str(copy))
    assert r.returncode == 0 and f"kept {len(pilots)} pilot fit(s)" in r.stdout, r.stderr[-3000:]
    t = pd.read_parquet(copy / "trials.parquet")
    assert (t["trial_id"] == "pilot").sum() == len(pilots) and not t.duplicated(["config_id", "rung"]).any()
    assert len(ledger.read(out / "ledger.jsonl")[0]) == len(pilots)   # the plan's own ledger untouched

    r = run_cli("run", SPACE, "--smoke", "--exhaustive", "--num-cpus", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    records, _ = ledger.read(out / "ledger.jsonl")
    fitted = pd.Series([(x["config_id"], x["rung"]) for x in records if x["status"] == "ok"])
    assert not fitted.duplicated().any()  # no pilot pair fitted again
    t = pd.read_parquet(out / "trials.parquet")
    assert len(t) == plan["pairs"] and (t["trial_id"] == "pilot").sum() == len(pilots)


def test_run_with_a_folder_that_is_not_a_plan_is_refused():
    r = run_cli("run", SPACE, "--plan", "/nonexistent/nothing")
    assert r.returncode == 2 and "not a `sweep plan` directory" in r.stderr


def test_a_budget_below_the_cheapest_useful_sweep_is_refused_with_its_minimum(tmp_path):
    out = tmp_path / "run"
    r = run_cli("run", SPACE, "--smoke", "--num-cpus", "2", "--time-budget", "1s", "--out", str(out))
    lines = [x for x in r.stderr.splitlines() if x.startswith("sweep: error")]
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
    assert "is shorter than the cheapest useful sweep" in lines[0] and "give --time-budget" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "0m"])
def test_bad_budgets_are_one_line_and_exit_2_before_any_work(tmp_path, value):
    out = tmp_path / "run"
    for args in (("run", "--time-budget=" + value), ("resume", str(tmp_path), "--time-budget=" + value),
                 ("plan", "--budget=" + value)):
        r = run_cli(*args, "--out", str(out)) if args[0] != "resume" else run_cli(*args)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert ("positive duration" in lines[0] or "cannot read" in lines[0]) and "Traceback" not in r.stderr
    assert not out.exists()


def test_a_budget_skips_what_would_end_past_it_and_resume_fits_those(tmp_path, digits_spec):
    """Three 2-second configurations x 3 rungs (18 s of fits) in a budget that leaves room
    for a few: the rest are recorded skipped_budget, listed, and `sweep resume` fits them."""
    import re

    import yaml

    space = {"name": "budget", "dataset": str(digits_spec), "sample_sizes": [0.25, 0.5, 1.0],
             "pruning": {"policy": "none"},
             "architectures": [{"name": "slow", "estimator": "sweep.testing.SlowClassifier",
                                "grid": {"delay": [2.0, 2.01, 2.02]}}]}
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    r = run_cli("run", str(p), "--num-cpus", "2", "--time-budget", "1", "--out", str(tmp_path / "refused"))
    need = int(re.search(r"needs at least (\d+) s", r.stderr).group(1))
    out = tmp_path / "run"
    r = run_cli("run", str(p), "--num-cpus", "2", "--time-budget", str(need + 3), "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / "manifest.json").read_text())
    skipped = pd.read_csv(out / "skipped.csv", dtype={"config_id": str})
    assert m["skipped_budget"] == len(skipped) > 0 and m["time_budget_s"] == need + 3
    t = pd.read_parquet(out / "trials.parquet")
    assert len(t) + len(skipped) == 9 and (t["status"] == "ok").all()
    assert "Not started within the time budget" in (out / "report.html").read_text()
    records, _ = ledger.read(out / "ledger.jsonl")
    assert {(x["config_id"], x["rung"]) for x in records if x["status"] == "skipped_budget"} == \
        set(zip(skipped["config_id"], skipped["rung"]))
    r = run_cli("resume", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    t = pd.read_parquet(out / "trials.parquet")
    assert len(t) == 9 and not (out / "skipped.csv").exists()
    assert "skipped_budget" not in json.loads((out / "manifest.json").read_text())
