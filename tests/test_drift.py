"""Drift: statistics against direct computations and scipy, corrections, windows, and the
must-show behaviour on generated time-partitioned data read through the real data stage
(known shifts flagged in every seed, few flags on a no-drift control, K = the true number
of windows since the change, falling per-slice test scores and a recommendation)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import yaml
from hypothesis import given, settings, strategies as st
from scipy.stats import chi2 as chi2_dist
from scipy.stats import ks_2samp

import sweep
from sweep import checks, drift
from sweep.data import synthetic
from sweep.drift import stats, windows
from sweep.errors import ConfigError, DataError
from sweep.spec.dataset import Drift

from conftest import cli_proc
from test_report_browser import chromium


# ---- statistics -------------------------------------------------------------------------

def _psi_direct(ref, cur, bins=10):
    """PSI written out: decile edges of the reference, shares per bin (floored), the sum."""
    ref, cur = np.asarray(ref, float), np.asarray(cur, float)
    qs = sorted(set(np.quantile(ref, [i / bins for i in range(1, bins)])))
    def share(x, lo, hi):
        return sum(1 for v in x if (lo is None or v >= lo) and (hi is None or v < hi)) / len(x)
    bounds = [None] + qs + [None]
    total = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        p = max(share(ref, lo, hi), 1e-4)
        q = max(share(cur, lo, hi), 1e-4)
        total += (q - p) * math.log(q / p)
    return total


@pytest.mark.parametrize("seed", range(5))
def test_psi_equals_a_direct_computation(seed):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=300)
    cur = rng.normal(loc=0.3 * seed, scale=1 + 0.1 * seed, size=250)
    assert stats.psi_numeric(ref, cur, 10) == pytest.approx(_psi_direct(ref, cur), rel=1e-12, abs=1e-12)


def test_psi_with_ties_and_an_empty_bin():
    ref = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 9.0])
    cur = np.array([0, 0, 1, 1, 1, 1, 5, 5.0])
    assert stats.psi_numeric(ref, cur, 10) == pytest.approx(_psi_direct(ref, cur), abs=1e-12)
    assert stats.psi_numeric(ref, ref, 10) == 0.0


def test_categorical_psi_and_chi2_equal_direct_computations():
    ref = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    cur = np.array(["a"] * 20 + ["b"] * 30 + ["c"] * 40 + ["d"] * 10)
    p = {"a": .5, "b": .3, "c": .2, "d": 1e-4}
    q = {"a": 0.2, "b": 0.3, "c": 0.4, "d": 0.1}
    assert stats.psi_categorical(ref, cur) == pytest.approx(sum((q[k] - p[k]) * math.log(q[k] / p[k]) for k in p))
    obs = np.array([[50, 30, 20, 0], [20, 30, 40, 10]], float)
    exp = obs.sum(1, keepdims=True) * obs.sum(0, keepdims=True) / obs.sum()
    x2 = float(((obs - exp) ** 2 / exp).sum())
    stat, pv = stats.chi2(ref, cur)
    assert stat == pytest.approx(x2)
    assert pv == pytest.approx(chi2_dist.sf(x2, 3))
    assert stats.chi2(np.array([1, 1]), np.array([1, 1, 1])) == (0.0, 1.0)


def test_corrections_against_hand_computations():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted: 0.005, 0.01, 0.03, 0.04 (m = 4)
    # Holm, ascending: .005·4 = .02, .01·3 = .03, .03·2 = .06, .04·1 = .04 → running max .06
    holm = stats.adjust(p, "holm")
    assert holm[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(holm[4])
    assert stats.adjust(p, "bonferroni")[:4] == pytest.approx([0.04, 0.16, 0.12, 0.02])
    # BH: ranked .005·4/1=.02, .01·4/2=.02, .03·4/3=.04, .04·4/4=.04
    assert stats.adjust(np.array([0.005, 0.01, 0.03, 0.04]), "benjamini-hochberg") == pytest.approx([.02, .02, .04, .04])
    with pytest.raises(ValueError, match="correction must be one of"):
        stats.adjust(p, "sidak")


@settings(max_examples=150, deadline=None)
@given(times=st.lists(st.integers(0, 40), min_size=1, max_size=400),
       k=st.one_of(st.none(), st.integers(2, 12)))
def test_windows_are_contiguous_ordered_and_whole(times, k):
    t = np.array(times)
    w, info, per_value = windows.assign(t, k)
    assert len(w) == len(t) and sum(i["rows"] for i in info) == len(t)
    assert sorted(set(w.tolist())) == list(range(len(info)))          # every window non-empty
    order = np.argsort(t, kind="stable")
    assert (np.diff(w[order]) >= 0).all()                             # later times, later windows
    for v in np.unique(t):                                            # one time value, one window
        assert len(set(w[t == v].tolist())) == 1
    n_values = len(np.unique(t))
    if per_value:
        assert len(info) == n_values
    else:
        assert len(info) <= (k or windows.AUTO_WINDOWS)


def test_categorical_feature_and_regression_label_take_their_own_tests():
    rng = np.random.default_rng(0)
    times = np.repeat(np.arange(4), 500)
    colour = np.where(times < 3, rng.choice([0, 1, 2], 2000, p=[.6, .3, .1]), rng.choice([0, 1, 2], 2000, p=[.2, .3, .5]))
    target = rng.normal(size=2000) + (times >= 2) * 1.5
    noise = rng.normal(size=2000)
    res, w = drift.analyse({"colour": colour, "noise": noise, "target": target},
                           {"colour": "categorical", "noise": "numeric", "target": "numeric"},
                           times, Drift(), label="target", time_column="t")
    by = {c["column"]: c for c in res["columns"]}
    assert by["colour"]["test"] == "chi2" and by["colour"]["flagged_windows"] == [3]
    assert by["target"]["test"] == "ks" and by["target"]["role"] == "label" and by["target"]["flagged_windows"] == [2]
    assert res["flagged_features"] == ["colour"] and res["label_flagged"]
    assert res["change_point"] == 3 and res["retrain_windows"] == 1        # the latest flagged boundary
    assert res["n_tests"] == 3 * 4                                         # 3 consecutive + oldest-newest
    chi = stats.chi2(colour[w == 2], colour[w == 3])
    row = next(r for r in res["comparisons"] if r["column"] == "colour" and r["ref"] == 2 and r["cur"] == 3)
    assert (row["statistic"], row["p"]) == pytest.approx(chi)
    text = drift.recommendation(res)
    assert "feature colour drifted" in text and "the label distribution drifted" in text
    assert "retrain on the most recent 1 partitions (t >= 3;" in text


def test_gradual_drift_names_its_largest_step():
    rng = np.random.default_rng(1)
    times = np.repeat(np.arange(10), 300)
    x = rng.normal(size=len(times)) + times * 0.07                         # small steps, large in total
    res, _ = drift.analyse({"x": x}, {"x": "numeric"}, times)
    assert res["flagged_features"] == ["x"] and res["gradual"]
    assert not any(r["flagged"] for r in res["comparisons"] if r["comparison"] == "consecutive")
    assert 1 <= res["change_point"] <= 9
    assert "drift is gradual" in drift.recommendation(res)


# ---- the analysis on generated data, through the real data stage ------------------------

def _write(tmp_path, name, **kw) -> str:
    data = tmp_path / name / "events"
    synthetic.write_drift(data, **kw)
    spec = tmp_path / name / "spec.yaml"
    spec.write_text(yaml.safe_dump(synthetic.spec_dict(str(data), kw.get("n_features", 20), name)))
    return str(spec)


def _injected(seed: int) -> dict:
    rng = np.random.default_rng(1000 + seed)
    return {"seed": seed, "shifted": tuple(sorted(rng.choice(20, size=int(rng.integers(1, 4)), replace=False).tolist())),
            "change_at": int(rng.integers(3, 9)), "partitions": 10, "rows": 400, "shift": 1.0}


@pytest.mark.slow
def test_injected_drift_flagged_exactly_and_k_is_the_true_number(tmp_path, ray_session):
    for seed in range(10):
        kw = _injected(seed)
        res = checks.data_drift(_write(tmp_path, f"shift{seed}", **kw), out=tmp_path / f"out{seed}", echo=lambda *a: None)
        want = sorted(f"f{j}" for j in kw["shifted"])
        assert sorted(res["flagged_features"]) == want, (seed, kw)
        assert res["retrain_windows"] == kw["partitions"] - kw["change_at"], (seed, kw)
        assert res["change_point"] == kw["change_at"] and not res["gradual"]
        assert json.loads((tmp_path / f"out{seed}" / "drift.json").read_text())["flagged_features"] == res["flagged_features"]


@pytest.mark.slow
def test_no_drift_control_flags_few(tmp_path, ray_session):
    flagged = []
    for seed in range(10):
        res = checks.data_drift(_write(tmp_path, f"ctl{seed}", seed=seed, shift=0.0), echo=lambda *a: None)
        flagged.append(len(res["flagged_features"]))
        assert drift.recommendation(res) is None or res["flagged_features"]
    print("control: features flagged per seed", flagged)
    assert np.mean(flagged) <= 0.5


@pytest.mark.slow
def test_ks_and_psi_of_the_analysis_equal_scipy_and_direct_on_the_same_windows(tmp_path, ray_session):
    kw = _injected(3)
    res = checks.data_drift(_write(tmp_path, "same", **kw), echo=lambda *a: None)
    tables = synthetic.drift_tables(**{k: v for k, v in kw.items()})
    parts = list(tables.values())
    for r in res["comparisons"]:
        if r["column"] not in ("f0", f"f{kw['shifted'][0]}"):
            continue
        ref = parts[r["ref"]].column(r["column"]).to_numpy()
        cur = parts[r["cur"]].column(r["column"]).to_numpy()
        direct = ks_2samp(ref, cur)
        assert r["statistic"] == pytest.approx(direct.statistic, rel=1e-12)
        assert r["p"] == pytest.approx(direct.pvalue, rel=1e-9)
        assert r["psi"] == pytest.approx(_psi_direct(ref, cur), abs=1e-12)


@pytest.mark.slow
def test_windows_option_and_errors(tmp_path, ray_session):
    spec = _write(tmp_path, "opt", **_injected(0))
    res = checks.data_drift(spec, windows=5, echo=lambda *a: None)
    assert len(res["windows"]) == 5 and not res["one_window_per_time_value"]
    assert [w["rows"] for w in res["windows"]] == [800] * 5
    with pytest.raises(ConfigError, match="--windows must be between 2 and 100, but got 1"):
        checks.data_drift(spec, windows=1)
    nodate = yaml.safe_load(open(spec))
    del nodate["time"]
    nodate["split"] = {"method": "stratified"}
    p = tmp_path / "notime.yaml"
    p.write_text(yaml.safe_dump(nodate))
    with pytest.raises(ConfigError, match="has no time column; add 'time: COLUMN'"):
        checks.data_drift(str(p))
    one = tmp_path / "one"
    synthetic.write_drift(one / "events", partitions=2, change_at=1)
    import shutil
    shutil.rmtree(one / "events" / f"day={synthetic.day(1)}")
    (one / "s.yaml").write_text(yaml.safe_dump({**synthetic.spec_dict(str(one / "events")),
                                                "split": {"method": "stratified"}}))
    with pytest.raises(DataError, match="holds 1 distinct window"):
        checks.data_drift(str(one / "s.yaml"))


@pytest.mark.slow
def test_cli_data_drift(tmp_path, ray_session):
    from conftest import cli_main

    spec = _write(tmp_path, "cli", **_injected(1))
    rc, out, err = cli_main("data", "drift", spec, "--out", str(tmp_path / "o"))
    assert rc == 0, err
    assert "recommendation: " in out and "retrain on the most recent" in out
    rc, out, err = cli_main("data", "drift", spec, "--windows", "1")
    assert rc == 2 and err.strip().splitlines() == ["sweep: error: --windows must be between 2 and 100, but got 1"]


# ---- time-aware evaluation in a run -----------------------------------------------------

def _space(tmp_path, spec: str, name: str) -> str:
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump({
        "name": name, "dataset": spec, "metric": "accuracy", "sample_sizes": [0.5, 1.0],
        "pruning": {"policy": "none"},
        "architectures": [{"name": "logreg", "estimator": "sklearn.linear_model.LogisticRegression",
                           "scale": True, "params": {"max_iter": 300}, "grid": {"C": [0.1, 1.0]}}]}))
    return str(p)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, ray_session):
    out = {}
    for name, shift in (("drifted", 1.0), ("control", 0.0)):
        d = tmp_path_factory.mktemp(name)
        spec = _write(d, name, seed=0, shifted=(3, 7), change_at=8, shift=shift)
        lines: list[str] = []
        res = sweep.run(_space(d, spec, name), out=d / "run", progress_stream=open(os.devnull, "w"),
                        echo=lines.append)
        out[name] = (res, lines)
    return out


def _slices(run_dir):
    recs = [json.loads(line) for line in (run_dir / "test_scores.jsonl").read_text().splitlines()]
    return {(r["config_id"], r["rung"]): r["slices"] for r in recs}


@pytest.mark.slow
def test_time_split_drifted_scores_fall_and_the_recommendation_appears(runs):
    res, lines = runs["drifted"]
    slices = _slices(res.run_dir)
    assert slices and len(slices) == len(res.frontier)
    for rows in slices.values():
        assert [s["label"] for s in rows] == ["2026-01-08", "2026-01-09", "2026-01-10"]
        assert sum(s["n"] for s in rows) == 1200                      # the whole test split
        assert rows[0]["test_accuracy"] - rows[-1]["test_accuracy"] > 0.2, rows
    # the slices cut the one scoring of the test split: their weighted mean is its accuracy
    rec = json.loads((res.run_dir / "test_scores.jsonl").read_text().splitlines()[0])
    w = sum(s["n"] * s["test_accuracy"] for s in rec["slices"]) / sum(s["n"] for s in rec["slices"])
    assert w == pytest.approx(rec["test_accuracy"])
    html = (res.run_dir / "report.html").read_text()
    assert "<h2>Drift</h2>" in html and "Recommendation:</b> test accuracy falls from" in html
    assert "features f7, f3 drifted" in html or "features f3, f7 drifted" in html
    assert "retrain on the most recent 2 partitions" in html
    assert any(line.startswith("  f3: drifted") for line in lines)
    d = json.loads((res.run_dir / "drift.json").read_text())
    assert sorted(d["flagged_features"]) == ["f3", "f7"] and d["retrain_windows"] == 2


@pytest.mark.slow
def test_control_run_has_no_recommendation(runs):
    res, _ = runs["control"]
    html = (res.run_dir / "report.html").read_text()
    assert "<h2>Drift</h2>" in html and "No drift over the thresholds" in html
    assert "Recommendation:" not in html
    for rows in _slices(res.run_dir).values():
        assert abs(rows[0]["test_accuracy"] - rows[-1]["test_accuracy"]) < 0.1


@pytest.mark.slow
def test_cli_report_prints_the_recommendation(runs):
    res, _ = runs["drifted"]
    r = cli_proc("report", str(res.run_dir))
    assert r.returncode == 0, r.stderr
    assert "\ndrift: test accuracy falls from" in r.stdout


@pytest.mark.slow
def test_drift_in_a_real_tensorboard(runs):
    from test_tensorboard import Board

    res, _ = runs["drifted"]
    board = Board(res.run_dir / "tensorboard")
    try:
        board.wait_runs({"summary"})
        psi = board.scalars("summary", "drift_psi/f3")
        d = json.loads((res.run_dir / "drift.json").read_text())
        want = [(r["cur"], r["psi"]) for r in d["comparisons"] if r["column"] == "f3" and r["comparison"] == "consecutive"]
        assert [(int(step), pytest.approx(v, rel=1e-6)) for _, step, v in psi] == want
        texts = board.get("/data/plugin/text/tags")
        assert "drift/text_summary" in texts.get("summary", [])
        body = board.get("/data/plugin/text/text?run=summary&tag=drift/text_summary")
        assert "retrain on the most recent 2 partitions" in json.dumps(body)
    finally:
        board.stop()


@pytest.mark.slow
def test_drift_figures_draw_in_chromium(runs, tmp_path):
    res, _ = runs["drifted"]
    dom = chromium((res.run_dir / "report.html").resolve().as_uri(), "--dump-dom", profile=tmp_path / "p")
    for div in ("drift_heatmap", "drift_slices"):
        start = dom.index(f'id="{div}"')
        assert "main-svg" in dom[start:start + 3000], div
    assert 'data-errors="0"' in dom
