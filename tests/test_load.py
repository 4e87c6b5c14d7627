"""sweep.load: a finished run read back from its directory (no Ray), built here by hand with
the files and columns of docs/design.md; a run directory that cannot be loaded is one
ConfigError line naming the path and the fix."""

import json

import pandas as pd
import pytest

import sweep
from sweep.errors import EXIT_BAD_INPUT, ConfigError

# config ids are hex hashes; all-digit ones with leading zeros must stay strings
IDS = ["0012345678901234", "00abcdef01234567", "7777777777777777"]
GROUPS = ["0099999999999999", "00abcdef00000000", "1111111111111111"]


def trials_table() -> pd.DataFrame:
    rows = []
    for cid, gid, arch, est, param, status in (
            (IDS[0], GROUPS[0], "tree", "sklearn.tree.DecisionTreeClassifier", {"param_max_depth": 3.0}, "ok"),
            (IDS[1], GROUPS[1], "tree", "sklearn.tree.DecisionTreeClassifier", {"param_max_depth": 6.0}, "ok"),
            (IDS[2], GROUPS[2], "broken", "sweep.testing.FailingClassifier", {"param_max_depth": None}, "failed")):
        for i, n in enumerate((100, 400)):
            ok = status == "ok"
            rows.append({"config_id": cid, "group_id": gid, "trial_id": f"t_{cid[-4:]}", "architecture": arch,
                         "estimator": est, **param, "seed": 0, "rung": n, "n_train": n,
                         "val_accuracy": (0.6 + 0.1 * i + (0.05 if cid == IDS[1] else 0)) if ok else None,
                         "val_f1_macro": (0.55 + 0.1 * i) if ok else None,
                         "train_time_s": 0.01 * (i + 1) if ok else None, "train_cpu_s": 0.01 * (i + 1) if ok else None,
                         "predict_time_s": 0.001 if ok else None, "status": status, "node_id": "node-a",
                         "error": "" if ok else "RuntimeError: always fails", "finished_at_s": 1.7e9 + len(rows)})
    return pd.DataFrame(rows)


FRONTIER = pd.DataFrame({
    "config_id": [IDS[0], IDS[1]], "group_id": [GROUPS[0], GROUPS[1]], "architecture": ["tree", "tree"],
    "rung": [100, 400], "n_train": [100, 400], "val_accuracy": [0.6, 0.75], "train_time_s": [0.01, 0.02],
    "is_knee": [False, True], "test_accuracy": [0.58, 0.74]})

MANIFEST = {"status": "complete", "metric": "accuracy", "time_axis": "train_time_s", "rungs": [100, 400],
            "versions": {"sweep": "0.1.0"}, "seeds": [0], "test_split_scored": 2,
            "started_at": "2026-01-01T00:00:00+00:00", "ended_at": "2026-01-01T00:01:00+00:00"}

DATA_REPORT = {"sources": {"lab_a": {"rows_read": 10, "rows_kept": 8, "rows_quarantined": {"bad_label": 1},
                                     "rows_duplicate": 1}},
               "splits": {"train": {"rows": 5, "label_counts": {"0": 3, "1": 2}, "fingerprint": "f1"},
                          "validation": {"rows": 2, "label_counts": {"0": 1, "1": 1}, "fingerprint": "f2"},
                          "test": {"rows": 1, "label_counts": {"1": 1}, "fingerprint": "f3"}}}


def make_run(run_dir, trials=None, frontier=None, manifest=None):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "manifest.json").write_text(json.dumps(MANIFEST if manifest is None else manifest, indent=2))
    (trials_table() if trials is None else trials).to_parquet(run_dir / "trials.parquet", index=False)
    (FRONTIER if frontier is None else frontier).to_csv(run_dir / "frontier.csv", index=False)
    (run_dir / "data_report.json").write_text(json.dumps(DATA_REPORT))
    return run_dir


def test_load_reads_every_file_of_a_complete_run(tmp_path):
    run_dir = make_run(tmp_path / "run")
    res = sweep.load(run_dir)
    assert isinstance(res, sweep.SweepResult)
    assert res.run_dir == run_dir
    pd.testing.assert_frame_equal(res.trials, trials_table())
    pd.testing.assert_frame_equal(res.frontier, FRONTIER)       # ids stay strings, is_knee stays bool
    assert res.frontier["config_id"].tolist() == [IDS[0], IDS[1]]
    assert res.frontier["group_id"].tolist() == [GROUPS[0], GROUPS[1]]
    assert res.manifest == MANIFEST
    assert res.data_report == DATA_REPORT


def test_loaded_result_says_what_failed_and_which_point_is_the_knee(tmp_path):
    res = sweep.load(make_run(tmp_path / "run"))
    assert res.failed["config_id"].tolist() == [IDS[2], IDS[2]]
    assert res.failed["rung"].tolist() == [100, 400]
    assert res.exit_code == 4                                   # finished, some configurations failed
    assert res.knee["config_id"] == IDS[1]
    assert int(res.knee["n_train"]) == 400


def test_loaded_result_of_a_clean_run(tmp_path):
    ok = trials_table().query("status == 'ok'").reset_index(drop=True)
    no_knee = FRONTIER.assign(is_knee=False)
    res = sweep.load(make_run(tmp_path / "run", trials=ok, frontier=no_knee))
    assert res.failed.empty
    assert res.exit_code == 0
    assert res.knee is None
    assert len(res.trials) == 4


def test_load_accepts_a_string_path(tmp_path):
    run_dir = make_run(tmp_path / "run")
    res = sweep.load(str(run_dir))
    assert res.run_dir == run_dir
    assert len(res.trials) == 6


def one_line_error(run_dir) -> str:
    with pytest.raises(ConfigError) as info:
        sweep.load(run_dir)
    assert info.value.exit_code == EXIT_BAD_INPUT
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("exists", [True, False])
def test_load_without_a_manifest(tmp_path, exists):
    run_dir = tmp_path / "not-a-run"
    if exists:
        make_run(run_dir)
        (run_dir / "manifest.json").unlink()
    msg = one_line_error(run_dir)
    assert msg == (f"{run_dir}: no manifest.json, so not a sweep run directory; give the folder "
                   "that `sweep run` printed")


@pytest.mark.parametrize("text", ['{"status": "compl', "", "not json at all"])
def test_load_of_a_damaged_manifest(tmp_path, text):
    run_dir = make_run(tmp_path / "run")
    (run_dir / "manifest.json").write_text(text)
    msg = one_line_error(run_dir)
    assert msg == (f"{run_dir / 'manifest.json'}: not valid JSON (damaged); restore it from a copy, "
                   "or run the sweep again")


@pytest.mark.parametrize("text, holds", [("[\"complete\"]", "list"), ("\"complete\"", "str"), ("null", "NoneType")])
def test_load_of_a_manifest_that_is_not_an_object(tmp_path, text, holds):
    run_dir = make_run(tmp_path / "run")
    (run_dir / "manifest.json").write_text(text)
    msg = one_line_error(run_dir)
    assert msg == (f"{run_dir / 'manifest.json'}: holds {holds}, not a JSON object (damaged); restore it "
                   "from a copy, or run the sweep again")


@pytest.mark.parametrize("manifest, status", [
    ({**MANIFEST, "status": "failed"}, "'failed'"),
    ({**MANIFEST, "status": "interrupted"}, "'interrupted'"),
    ({k: v for k, v in MANIFEST.items() if k != "status"}, "None"),
    ({**MANIFEST, "status": "Complete"}, "'Complete'"),
])
def test_load_of_a_run_that_did_not_complete(tmp_path, manifest, status):
    run_dir = make_run(tmp_path / "run", manifest=manifest)
    msg = one_line_error(run_dir)
    assert msg == (f"{run_dir}: the run is {status}, not complete, so it has no final results to load; "
                   f"finish it with `sweep resume {run_dir}` (or wait, if its driver is still running)")


@pytest.mark.parametrize("name", ["trials.parquet", "frontier.csv", "data_report.json"])
def test_load_of_a_complete_run_missing_a_table(tmp_path, name):
    run_dir = make_run(tmp_path / "run")
    (run_dir / name).unlink()
    msg = one_line_error(run_dir)
    assert msg.startswith(f"{run_dir}: the run is complete but {name} is missing; restore ")
