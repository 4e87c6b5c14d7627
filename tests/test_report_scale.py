"""The report at 20,000 points (10,000 configurations x 2 rungs, made up, no Ray): at most
10 MB, every point still one marker of the Pareto figure, the hypervolume figure as steps.
The time Chromium takes to open it is measured by benchmarks/scale.py, not asserted here."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from sweep import report
from sweep.metrics import Objective
from sweep.report.interactive import COMPACT_ABOVE
from sweep.collect import trials_frame

N_CONFIGS, RUNGS = 10_000, (530, 1060)


def _trials(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(N_CONFIGS):
        base = 0.5 + 0.45 * rng.random()
        arch = ("tree", "forest", "logreg")[i % 3]
        for k, n in enumerate(RUNGS):
            rows.append({"config_id": f"{i:016x}", "group_id": f"{i:015x}g", "trial_id": f"t{i % 32}",
                         "architecture": arch, "estimator": f"est.{arch}", "seed": 0, "rung": n, "n_train": n,
                         "params": {"max_depth": 1 + i % 20, "min_samples_leaf": 1 + (i // 20) % 50,
                                    "ccp_alpha": (i // 1000) * 0.0002},
                         "val_accuracy": min(1.0, base + 0.02 * k + 0.01 * rng.random()),
                         "train_time_s": 0.001 * (1 + k) * (1 + rng.random()), "train_cpu_s": 0.001,
                         "predict_time_s": 0.0002, "status": "ok", "node_id": "n", "error": "",
                         "finished_at_s": 1e9 + i + 0.5 * k})
    return trials_frame(rows)


def test_a_report_of_20000_points_stays_under_10_mb_and_keeps_every_point(tmp_path):
    trials = _trials()
    assert len(trials) == 20_000 > COMPACT_ABOVE
    objective = Objective("accuracy")
    front = report.frontier_of(trials, objective)
    stops = [{"config_id": f"{i:016x}", "architecture": "tree", "stopped_after": 530, "reason": "x" * 80}
             for i in range(1000)]
    pd.DataFrame(stops).to_csv(tmp_path / "stopped.csv", index=False)
    path = report.write_report(tmp_path, trials, front, objective, {"splits": {}, "warnings": []},
                               {"run_name": "scale"}, ["summary"])
    size = path.stat().st_size
    assert size <= 10_000_000, f"report.html is {size / 1e6:.1f} MB"
    html = path.read_text()
    fig = json.loads(re.search(r'var fig=(\{.*?\});window.SWEEP_FIGURES=window.SWEEP_FIGURES\|\|\{\};'
                               r'window.SWEEP_FIGURES\["pareto"\]', html).group(1).replace("<\\/", "</"))
    keys = [tuple(c) for t in fig["data"] if "markers" in t["mode"] for c in t["customdata"]]
    assert sorted(keys) == sorted(zip(trials["config_id"], trials["rung"].astype(int)))  # one marker each
    detailed = [t for t in fig["data"] if t["type"] == "scatter" and "markers" in t["mode"]]
    assert sum(len(t["x"]) for t in detailed) == len(front)  # only the frontier's points carry detail
    assert sum(s == "star" for t in detailed for s in t["marker"]["symbol"]) == 1
    hv = json.loads(re.search(r'var fig=(\{.*?\});window.SWEEP_FIGURES=window.SWEEP_FIGURES\|\|\{\};'
                              r'window.SWEEP_FIGURES\["hypervolume"\]', html).group(1))
    assert 2 <= len(hv["data"][0]["x"]) < 1000  # steps where it rose, not one point per fit
    assert "… and 800 more: see stopped.csv" in html
