"""Each benchmark's smoke mode: it runs end to end and checks its own correctness (identical
accuracies; the same rows kept). No timing is asserted."""

import json
import subprocess
import sys

import pytest

from conftest import REPO



def _run(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_engine_smoke():
    out = _run("engine.py", "--smoke", "--cores", "2")
    for key in ("serial_fit_s", "wall_joblib_s", "wall_sweep_s", "efficiency_joblib", "efficiency_sweep",
                "ratio_sweep_over_joblib", "ray_start_s", "data_s", "n_trials", "n_configs"):
        assert key in out, key
    assert out["n_configs"] == 2 and out["n_fits"] == 4
    assert 0 < out["ratio_if_no_start_up"] and out["first_round"]["wall_sweep_s"] > 0
    assert out["ray_bytecode_cached"] is True  # pip (the Makefile's install) compiles Ray's modules


@pytest.mark.slow
def test_ingest_smoke():
    out = _run("ingest.py", "--smoke", "--cores", "2")
    for key in ("rows", "wall_sweep_s", "wall_pyarrow_s", "ratio", "ray_start_s", "read_tasks",
                "peak_rss_sweep_mb", "peak_rss_pyarrow_mb"):
        assert key in out, key
    assert out["read_tasks"] >= out["file_partitions"] == 30
    assert out["rows_kept"] == 20_000 - 200 - 100


@pytest.mark.slow
def test_pruning_smoke():
    out = _run("pruning.py", "--smoke", "--cores", "2")
    for key in ("sim_hv_ratio_median", "sim_hv_ratio_worst", "sim_compute_ratio_median", "sim_dominated_by_halving",
                "live_ratio_adaptive_over_exhaustive", "live_ratio_adaptive_over_joblib", "live_hv_ratio"):
        assert key in out, key
    assert out["tables"] == 4 and len(out["per_table"]) == 4      # default, reference, 2 random grids
    assert 0 < out["sim_compute_ratio_median"] <= 1 and 0 < out["sim_hv_ratio_worst"] <= 1.0 + 1e-9
    assert out["live_fits_adaptive"] <= out["live_fits_exhaustive"]


@pytest.mark.slow
def test_stability_smoke():
    out = _run("stability.py", "--smoke")
    for key in ("frontier_jaccard", "knee_same", "time_rel_change_median", "time_rel_change_p90",
                "frontier_size_ratio", "extra_compute_ratio"):
        assert key in out, key
    r = out["runs"]["default_r1"]
    assert r["accuracy_identical"] is True and r["pairs"] > 0 and 0 <= out["frontier_jaccard"] <= 1
    assert out["frontier_size_ratio"] >= 1 and r["members"][0] >= 1


@pytest.mark.slow
def test_scale_smoke():
    out = _run("scale.py", "--smoke", "--cores", "2")
    row = out["sizes"][0]
    assert row["configs"] == 40 and row["pairs"] == 80 and row["all_ok"] is True
    for key in ("trial_wall_s", "fit_predict_s", "overhead_core_ms_per_pair", "joblib_wall_s",
                "ratio_trials_over_joblib", "post_trials_s", "report_mb", "process_start_s", "process_between_s"):
        assert key in row, key
    assert out["driver_peak_rss_mb"] > 0


def test_tensorboard_scale_smoke():
    out = _run("tensorboard_scale.py", "--smoke")
    row = out["sizes"][0]
    assert row["configs"] == row["runs_listed"] == row["session_groups_total"] == 20


@pytest.mark.slow
def test_plan_smoke():
    out = _run("plan.py", "--smoke")
    assert out["grids_measured"] == 1 and out["grids_failed"] == 0
    g = out["per_grid"][0]
    for key in ("predicted_wall_s", "predicted_wall_adaptive_s", "interval80_s", "pilot_s", "plan_s",
                "actual_wall_s", "error_exhaustive", "eta", "eta_with_plan", "breakdown", "budgets"):
        assert key in g, key
    assert g["pairs"] == g["fits_exhaustive"] and g["breakdown"]["pairs"] == g["pairs"]
    assert g["eta"]["progress_lines"] > 0 and len(g["budgets"]) == 1


@pytest.mark.slow
def test_overhead_smoke():
    out = _run("overhead.py", "--smoke", "--cores", "2")
    for key in ("cold_wall_s", "cold_fixed_s", "ray_floor_s", "fixed_over_floor_s", "ray_start_s", "data_s",
                "results_s", "report_s", "first_fit_s", "warm_wall_s", "warm_fixed_s"):
        assert key in out, key
    r = out["rounds"][0]
    assert 0 < r["trials_wall_s"] < r["cold_wall_s"] and r["ray_floor_s"] > 0 and r["pairs"] > 0
    assert 0 <= r["first_fit_s"] < r["trials_wall_s"]
    # `sweep up` found and used (the script checks each manifest's `runtime`), and the warm run
    # fits the same pairs to the same scores as the cold one
    assert 0 < r["warm_trials_wall_s"] < r["warm_wall_s"] and 0 <= r["warm_first_fit_s"] < r["warm_trials_wall_s"]
    assert r["same_results"] is True and out["same_results"] is True and out["up_s"] > 0


@pytest.mark.slow
def test_search_smoke():
    """Every method ran and scored within the union's hypervolume; the grid defined the budget
    and spent it; halving fitted more points than the budget counts."""
    out = _run("search.py", "--smoke", "--cores", "2")
    methods = ("grid", "random", "optuna", "optuna_plain", "halving_random")
    for m in methods:
        assert 0 <= out[f"hv_ratio_{m}"] <= 1, m
    (row,) = out["rows"]
    assert row["fit_s_grid"] == pytest.approx(row["budget_fit_s"]) and row["points_grid"] > 0
    assert all(row[f"points_{m}"] > 0 for m in methods)
    assert row["points_run_halving_random"] > row["points_halving_random"]
    assert set(out["per_problem"]) == {"digits"}
