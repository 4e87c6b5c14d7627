"""`sweep plan` and `sweep run --time-budget` end to end: real pilot fits on the session's
local Ray (sweep.api in this process; the command line's own parsing and errors by
sweep.cli.main)."""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest
import yaml

import sweep
import sweep.api
from conftest import REPO, cli_main
from sweep import ledger
from sweep.errors import ConfigError

SPACE = REPO / "search_spaces" / "default.yaml"
KEYS = {"cores", "pairs", "predicted_wall_s", "predicted_wall_adaptive_s", "interval80_s", "pilot_s"}


def _quiet(lines: list | None = None) -> dict:
    return {"echo": (lambda *a, **k: lines.append(" ".join(map(str, a)))) if lines is not None else (lambda *a, **k: None),
            "progress_stream": open(os.devnull, "w")}


@pytest.mark.slow
def test_plan_then_runs_keep_its_pilot_fits(tmp_path, ray_session):
    """One plan, then two runs that keep its pilot fits: one with `--plan` (a copy of the
    pilots), one in the plan's own directory."""
    out = tmp_path / "plan"
    plan = sweep.api.plan(SPACE, out=out, smoke=True, budget_s=120, echo=lambda *a, **k: None)
    assert KEYS <= set(plan), KEYS - set(plan)
    assert plan["cores"] == 2 and plan["pairs"] == plan["configurations"] * len(plan["rungs"])
    lo, hi = plan["interval80_s"]
    assert 0 < lo <= plan["predicted_wall_s"] <= hi and plan["pilot_s"] > 0
    assert plan["predicted_wall_adaptive_s"] > plan["fixed_s"]  # (cheapest first may pack worse: not <=)
    assert plan["budget"]["budget_s"] == 120 and plan["budget"]["minimum_s"] > 0
    assert json.loads((out / "plan.json").read_text())["pairs"] == plan["pairs"]
    pilots, _ = ledger.read(out / "ledger.jsonl")
    assert len(pilots) == plan["pilot_fits"] > 0 and all(p["pilot"] for p in pilots)

    copy, said = tmp_path / "run", []
    res = sweep.run(SPACE, smoke=True, exhaustive=True, plan=out, out=copy, **_quiet(said))
    assert any(f"kept {len(pilots)} pilot fit(s)" in x for x in said), said
    t = res.trials
    assert (t["trial_id"] == "pilot").sum() == len(pilots) and not t.duplicated(["config_id", "rung"]).any()
    assert len(ledger.read(out / "ledger.jsonl")[0]) == len(pilots)   # the plan's own ledger untouched

    res = sweep.run(SPACE, smoke=True, exhaustive=True, out=out, **_quiet())
    records, _ = ledger.read(out / "ledger.jsonl")
    fitted = pd.Series([(x["config_id"], x["rung"]) for x in records if x["status"] == "ok"])
    assert not fitted.duplicated().any()  # no pilot pair fitted again
    assert len(res.trials) == plan["pairs"] and (res.trials["trial_id"] == "pilot").sum() == len(pilots)


def test_run_with_a_folder_that_is_not_a_plan_is_refused(tmp_path):
    rc, _, err = cli_main("run", str(SPACE), "--plan", str(tmp_path / "nothing"), "--out", str(tmp_path / "run"))
    assert rc == 2 and "not a `sweep plan` directory" in err and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_budget_below_the_cheapest_useful_sweep_is_refused_with_its_minimum(tmp_path, ray_session):
    out = tmp_path / "run"
    with pytest.raises(ConfigError) as exc:
        sweep.run(SPACE, smoke=True, time_budget_s=1, out=out, **_quiet())
    assert "is shorter than the cheapest useful sweep" in str(exc.value) and "give --time-budget" in str(exc.value)
    assert "\n" not in str(exc.value) and not out.exists()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "0m"])
def test_bad_budgets_are_one_line_and_exit_2_before_any_work(tmp_path, value):
    out = tmp_path / "run"
    for args in (("run", "--time-budget=" + value, "--out", str(out)), ("resume", str(tmp_path), "--time-budget=" + value),
                 ("plan", "--budget=" + value, "--out", str(out))):
        rc, _, err = cli_main(*args)
        lines = [x for x in err.splitlines() if x.strip()]
        assert rc == 2 and len(lines) == 1, err
        assert ("positive duration" in lines[0] or "cannot read" in lines[0]) and "Traceback" not in err
    assert not out.exists()


@pytest.mark.slow
def test_a_budget_skips_what_would_end_past_it_and_resume_fits_those(tmp_path, ray_session, digits_spec):
    """Three 2-second configurations x 3 rungs (18 s of fits) in a budget that leaves room
    for a few: the rest are recorded skipped_budget, listed, and `sweep resume` fits them."""
    space = {"name": "budget", "dataset": str(digits_spec), "sample_sizes": [0.25, 0.5, 1.0],
             "pruning": {"policy": "none"},
             "architectures": [{"name": "slow", "estimator": "sweep.testing.SlowClassifier",
                                "grid": {"delay": [2.0, 2.01, 2.02]}}]}
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    with pytest.raises(ConfigError) as exc:
        sweep.run(p, time_budget_s=1, out=tmp_path / "refused", **_quiet())
    need = int(re.search(r"needs at least (\d+) s", str(exc.value)).group(1))
    out = tmp_path / "run"
    sweep.run(p, time_budget_s=need + 3, out=out, **_quiet())
    m = json.loads((out / "manifest.json").read_text())
    skipped = pd.read_csv(out / "skipped.csv", dtype={"config_id": str})
    assert m["skipped_budget"] == len(skipped) > 0 and m["time_budget_s"] == need + 3
    t = pd.read_parquet(out / "trials.parquet")
    assert len(t) + len(skipped) == 9 and (t["status"] == "ok").all()
    assert "Not started within the time budget" in (out / "report.html").read_text()
    records, _ = ledger.read(out / "ledger.jsonl")
    assert {(x["config_id"], x["rung"]) for x in records if x["status"] == "skipped_budget"} == \
        set(zip(skipped["config_id"], skipped["rung"]))
    sweep.resume(out, **_quiet())
    t = pd.read_parquet(out / "trials.parquet")
    assert len(t) == 9 and not (out / "skipped.csv").exists()
    assert "skipped_budget" not in json.loads((out / "manifest.json").read_text())
