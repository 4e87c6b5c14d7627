"""Defects found by reading the code (issue: a codebase the next engineer can change), each
with the test that failed before its fix. No Ray."""

import json

import numpy as np
import pytest

from sweep.errors import ConfigError


def test_job_server_scheme_error_names_the_scheme():
    from sweep.cluster import dashboard_url
    with pytest.raises(ConfigError, match=r"not ftp://$"):
        dashboard_url("ftp://127.0.0.1:8265")


def test_trials_table_keeps_finish_times_and_the_hypervolume_curve_follows_them():
    from sweep.pareto import hypervolume_curve
    from sweep.collect import trials_frame

    rows = [{"config_id": c, "group_id": c, "trial_id": "t", "architecture": "a", "estimator": "e",
             "params": {}, "seed": 0, "rung": 10, "n_train": 10, "val_accuracy": acc,
             "train_time_s": t, "train_cpu_s": t, "predict_time_s": 0.0, "status": "ok", "node_id": "n",
             "error": "", "finished_at_s": fin}
            for c, acc, t, fin in (("a", 0.9, 1.0, 30.0), ("b", 0.5, 2.0, 10.0), ("c", 0.7, 3.0, 20.0))]
    df = trials_frame(rows)                                  # sorted by config_id, as the table is
    assert "finished_at_s" in df.columns
    curve = hypervolume_curve(df, "val_accuracy", "train_time_s", 0.0, 10.0)
    np.testing.assert_allclose(curve["compute_s"], [2.0, 5.0, 6.0])  # b, then c, then a: finish order


def test_load_of_a_damaged_manifest_is_bad_input(tmp_path):
    import sweep
    (tmp_path / "manifest.json").write_text('{"status": "compl')
    with pytest.raises(ConfigError, match=r"manifest.json: not valid JSON \(damaged\); restore it"):
        sweep.load(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"manifest.json: holds list, not a JSON object \(damaged\)"):
        sweep.load(tmp_path)


def test_a_failed_copy_on_the_failure_path_is_said(tmp_path):
    from sweep.api import _record_failure
    from sweep.rundir import RunDir
    said = []
    _record_failure(RunDir(tmp_path), {"status": "failed"}, "file:///proc/no-such-dir/runs", said.append)
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "failed"
    assert len(said) == 1 and said[0].startswith("warning: the run directory was not copied to "
                                                 "file:///proc/no-such-dir/runs (")
    said.clear()
    _record_failure(RunDir(tmp_path / "missing" / "dir"), {"status": "failed"}, None, said.append)
    assert len(said) == 1 and said[0].startswith("warning: could not write ")


def test_a_failed_job_has_its_own_exit_code():
    from sweep.cli import job_exit_code
    from sweep.errors import EXIT_INTERNAL, EXIT_JOB_FAILED
    assert job_exit_code("SUCCEEDED") == 0
    assert job_exit_code("FAILED") == job_exit_code("STOPPED") == EXIT_JOB_FAILED == 5 != EXIT_INTERNAL


def test_every_run_file_is_named_once():
    """A run directory's file names are spelled in one module each (sweep.rundir; drift.json
    in sweep.drift): a quoted name anywhere else in the package fails here."""
    from pathlib import Path

    import sweep
    from sweep import rundir
    root = Path(sweep.__file__).parent
    names = {v: "rundir.py" for k, v in vars(rundir).items() if k.isupper() and isinstance(v, str) and "." in v}
    names["drift.json"] = "drift/__init__.py"
    assert {"manifest.json", "ledger.jsonl", "frontier.csv", "report.html", "pareto.png"} <= set(names)
    for name, home in names.items():
        hits = [p.relative_to(root).as_posix() for p in root.rglob("*.py") if f'"{name}"' in p.read_text()]
        assert hits == [home], (name, hits)
