"""Mixed types end to end: the bundled penguins (categorical features, missing values in
numeric and categorical columns) through `sweep data check`, `sweep run` with every
architecture of the default space plus LightGBM and XGBoost, the frontier, the report and
a real TensorBoard server; and the regression task with a minimised metric."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import yaml

import sweep
from conftest import REPO, cli_main
from sweep.spec import load_space
from test_e2e import RUN_FILES
from test_tensorboard import Board

pytestmark = pytest.mark.slow

DEFAULT_ARCHS = {a.name for a in load_space(REPO / "search_spaces" / "default.yaml").architectures}


def _copy(tmp, dataset: str, space: str):
    """The bundled spec with its sources under `tmp`, and its space pointing at it."""
    ds = yaml.safe_load((REPO / "datasets" / f"{dataset}.yaml").read_text())
    for s in ds["sources"]:
        s["path"] = str(tmp / "sources" / s["name"])
    ds_path = tmp / f"{dataset}.yaml"
    ds_path.write_text(yaml.safe_dump(ds, sort_keys=False))
    sp = yaml.safe_load((REPO / "search_spaces" / f"{space}.yaml").read_text())
    sp["dataset"] = str(ds_path)
    sp_path = tmp / f"{space}_space.yaml"
    sp_path.write_text(yaml.safe_dump(sp, sort_keys=False))
    return ds_path, sp_path


def _quiet() -> dict:
    return {"echo": lambda *a, **k: None, "progress_stream": open(os.devnull, "w")}


@pytest.fixture(scope="module")
def penguins(tmp_path_factory, ray_session):
    """`sweep data check` and `sweep run --exhaustive` on the penguins, in this process on the
    session's Ray: (dataset spec, space, run directory, the check's stdout)."""
    tmp = tmp_path_factory.mktemp("penguins")
    ds_path, sp_path = _copy(tmp, "penguins", "penguins")
    rc, check_out, check_err = cli_main("data", "check", str(ds_path), "--out", str(tmp / "check"))
    assert rc == 0, check_out + check_err
    assert "Traceback" not in check_err
    out = tmp / "run"
    sweep.run(sp_path, exhaustive=True, out=out, **_quiet())
    return ds_path, sp_path, out, check_out


def test_data_check_reports_imputed_values_per_split(penguins):
    ds_path, _, _, check = penguins
    report = json.loads((ds_path.parent / "check" / "data_report.json").read_text())
    assert report["categorical"] == {"island": ["Biscoe", "Dream", "Torgersen"], "sex": ["FEMALE", "MALE"],
                                     "clutch_completion": ["Yes", "No"]}
    imputed = report["imputed"]
    assert set(imputed) == {"train", "validation", "test"}
    assert sum(imputed[s]["sex"] for s in imputed) == 11           # the birds without a recorded sex
    assert sum(imputed[s]["body_mass_g"] for s in imputed) == 2     # the two without measurements
    assert report["totals"]["rows_read"] == 344 == report["totals"]["rows_kept"]
    assert "imputed in train" in check


def test_every_architecture_runs_on_mixed_types(penguins):
    out = penguins[2]
    for f in RUN_FILES:
        assert (out / f).exists(), f
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    trials = pd.read_parquet(out / "trials.parquet")
    archs = set(trials["architecture"])
    assert archs == DEFAULT_ARCHS | {"lightgbm", "xgboost"}
    assert (trials["status"] == "ok").all(), trials.loc[trials["status"] != "ok", "error"].tolist()
    assert trials.groupby("config_id").size().eq(4).all()           # every rung of every configuration
    assert trials["val_accuracy"].between(0, 1).all()
    front = pd.read_csv(out / "frontier.csv")
    assert len(front) and front["test_accuracy"].notna().all()
    html = (out / "report.html").read_text()
    assert "xgboost" in html and "lightgbm" in html


def test_a_validation_category_is_missing_from_the_smallest_rung(penguins, ray_session):
    """The space's smallest rung (seed 1) holds no clutch_completion "No", which the
    validation split has: those rows get the encoders' unknown treatment, and the run still
    scores them (every pair ok above)."""
    from sweep import data
    from sweep.models import nested_order
    from sweep.grid import ladder
    from sweep.spec import load_dataset

    ds_path, sp_path, out, _ = penguins
    ds, sp = load_dataset(ds_path), load_space(sp_path)
    prepared = data.prepare(ds)
    j = prepared.features.index("clutch_completion")
    first = ladder(sp.sample_sizes, len(prepared.y["train"]))[0]
    sub = prepared.X["train"][nested_order(prepared.y["train"], sp.seed)[:first], j]
    val = prepared.X["validation"][:, j]
    assert 1.0 in set(val) and 1.0 not in set(sub)
    # the data report of the run counts the same imputed values as the arrays hold
    report = json.loads((out / "data_report.json").read_text())
    for split, counts in report["imputed"].items():
        for col, n in counts.items():
            assert int(np.isnan(prepared.X[split][:, prepared.features.index(col)]).sum()) == n


def test_mixed_types_in_a_real_tensorboard(penguins):
    out = penguins[2]
    trials = pd.read_parquet(out / "trials.parquet")
    ids = set(trials["config_id"])
    board = Board(out / "tensorboard")
    try:
        assert board.wait_runs(ids | {"summary"}) == ids | {"summary"}
        for cid in trials.loc[trials["architecture"].isin(["lightgbm", "xgboost"]), "config_id"].unique():
            pts = board.scalars(cid, "val_accuracy")
            assert [p[1] for p in pts] == sorted(trials.loc[trials["config_id"] == cid, "n_train"])
        sessions = [s for g in board.sessions()["sessionGroups"] for s in g["sessions"]]
        assert sorted(s["name"] for s in sessions) == sorted(ids)
    finally:
        board.stop()


def test_regression_with_a_minimised_metric(tmp_path, ray_session):
    _, sp_path = _copy(tmp_path, "penguins_mass", "penguins_mass")
    out = tmp_path / "run"
    sweep.run(sp_path, out=out, **_quiet())
    trials = pd.read_parquet(out / "trials.parquet")
    assert {"lightgbm", "xgboost"} <= set(trials["architecture"]) and (trials["status"] == "ok").all()
    assert {"val_r2", "val_rmse", "val_mae"} <= set(trials.columns)
    report = json.loads((out / "data_report.json").read_text())
    assert sum(r["rows_quarantined_by_reason"].get("missing_label", 0) for r in report["sources"].values()) == 2
    rows = list(trials[["config_id", "rung", "val_rmse", "train_time_s"]].itertuples(index=False))
    brute = {(a[0], int(a[1])) for a in rows
             if not any(b[2] <= a[2] and b[3] <= a[3] and (b[2] < a[2] or b[3] < a[3]) for b in rows)}
    front = pd.read_csv(out / "frontier.csv", dtype={"config_id": str})
    estimate = front[front["on_estimate_frontier"].astype(bool)]
    assert set(zip(estimate["config_id"], estimate["rung"].astype(int))) == brute   # lower rmse is better
    # members off the point estimates' frontier are there only because noise cannot order them
    assert brute <= set(zip(front["config_id"], front["rung"].astype(int)))
