"""A random search's configurations are ordinary configurations downstream (#29): the
pilots cover each drawn range by thirds (not one pilot per draw), the cost model learns from
drawn values and predicts them, the forecast counts them, and the trials table, stopped.csv
and TensorBoard's HParams take drawn floats and ints as numbers. Pure: no Ray."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sweep.collect import trials_frame
from sweep.cost import CostModel
from sweep.events import hparam_value
from sweep.forecast import predict
from sweep.packing import trial_order
from sweep.grid import expand
from sweep.pilots import choose
from sweep.spec import SearchSpace, load_space

REPO = Path(__file__).resolve().parent.parent
SPACE = {
    "name": "s", "sample_sizes": [0.5, 1.0],
    "search": {"method": "random", "n": 60, "seed": 0},
    "architectures": [
        {"name": "forest", "estimator": "sklearn.ensemble.RandomForestClassifier",
         "distributions": {"n_estimators": {"int": [10, 200], "log": True},
                           "max_features": {"uniform": [0.1, 1.0]},
                           "criterion": {"choice": ["gini", "entropy"]}}},
        {"name": "sgd", "estimator": "sklearn.linear_model.SGDClassifier",
         "distributions": {"l1_ratio": {"uniform": [-1.0, 1.0]}, "alpha": {"loguniform": [1e-6, 1e-2]}}},
        {"name": "tree", "estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"max_depth": [3, 6]}},
    ],
}


@pytest.fixture(scope="module")
def configs():
    return expand(SearchSpace.model_validate(SPACE))


def _truth(c, n: int) -> float:
    if c.architecture == "forest":
        return 2e-5 * c.params["n_estimators"] * n ** 0.8
    if c.architecture == "sgd":
        return 1e-5 * n * (2.0 + c.params["l1_ratio"])  # a drawn number that crosses zero, entering as itself
    return 1e-5 * n


def test_pilots_cover_each_drawn_range_by_thirds_not_per_draw(configs):
    picked = choose(configs)
    by_arch = {a: [c for c in picked if c.architecture == a] for a in ("forest", "sgd", "tree")}
    assert len(by_arch["forest"]) <= 3 and len(by_arch["sgd"]) <= 3 and len(by_arch["tree"]) == 2
    for arch, param in (("forest", "n_estimators"), ("forest", "max_features"), ("sgd", "l1_ratio"),
                        ("sgd", "alpha")):
        drawn = sorted(c.params[param] for c in configs if c.architecture == arch)
        cuts = (drawn[len(drawn) // 3], drawn[2 * len(drawn) // 3])
        thirds = {sum(c.params[param] >= cut for cut in cuts) for c in by_arch[arch]}
        assert thirds == {0, 1, 2}, (arch, param)
    assert {c.params["criterion"] for c in by_arch["forest"]} == {"gini", "entropy"}


def test_grid_pilots_are_unchanged():
    """On a grid every value is shown, as before (the default space's 20 pilots)."""
    configs = expand(load_space(REPO / "search_spaces" / "default.yaml"))
    picked = choose(configs)
    shown = {(c.architecture, p, json.dumps(c.params[p])) for c in picked for p in c.searched}
    assert shown == {(c.architecture, p, json.dumps(c.params[p])) for c in configs for p in c.searched}
    assert len(picked) == 20


def test_the_cost_model_learns_drawn_values(configs):
    observed = [{"config_id": c.config_id, "n_train": n, "status": "ok", "train_time_s": _truth(c, n),
                 "predict_time_s": 0.0} for c in configs[::2] for n in (100, 400)]
    model = CostModel.fit(configs, observed)
    sgd = model.models["sgd"]
    assert sgd.linear == ["l1_ratio"] and not any(p == "l1_ratio" for p, _ in sgd.levels)
    assert "alpha" in sgd.numeric and "n_estimators" in model.models["forest"].numeric
    errors = [abs(math.log(model.predict_fit(c.config_id, 1000) / _truth(c, 1000))) for c in configs[1::2]]
    assert np.median(errors) < math.log(1.3)   # configurations it never saw, predicted within 30%
    table = model.table(configs, [250, 1000])
    assert table.shape == (len(configs), 2) and np.isfinite(table).all()
    rungs = [250, 1000]
    order = trial_order(configs, rungs, 2, adaptive=False)
    assert sorted(order) == sorted(c.config_id for c in configs)
    plan = predict(model, configs, rungs, 2, order_exhaustive=order, order_adaptive=order, n_trials=len(configs),
                   fixed_s=1.0, observed=observed, metric="accuracy", maximise=True, rule=None, draws=10)
    assert plan["configurations"] == len(configs) == 62 and plan["pairs"] == 2 * 62   # `sweep plan` counts them
    assert plan["core_s"] == pytest.approx(model.table(configs, rungs).sum(), rel=0.05)


def test_tables_and_hparams_take_drawn_values_as_numbers(configs):
    rows = [{"config_id": c.config_id, "group_id": c.group_id, "architecture": c.architecture, "seed": c.seed,
             "rung": 100, "n_train": 100, "status": "ok", "params": c.params} for c in configs]
    df = trials_frame(rows)
    for col in ("param_n_estimators", "param_max_features", "param_l1_ratio", "param_alpha", "param_max_depth"):
        assert df[col].dtype == "float64", col
    assert str(df["param_criterion"].dtype) == "string"
    forest = df[df["architecture"] == "forest"]
    assert (forest["param_n_estimators"] == forest["param_n_estimators"].round()).all()
    assert json.loads(df["params_json"].iloc[0]) == configs[0].params
    for c in configs:
        for k, v in c.params.items():
            h = hparam_value(v)
            assert isinstance(h, (float, str)) and (h == v if isinstance(v, (int, float)) else True)


def test_tensorboard_hparams_hold_drawn_values_as_numbers(configs, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from sweep.recorder import LocalSink

    tb = tmp_path / "tensorboard"
    c = next(c for c in configs if c.architecture == "forest")
    sink = LocalSink(str(tmp_path / "ledger.jsonl"), str(tb))
    sink.open(c.config_id, {"architecture": c.architecture, **c.params}, ["val_accuracy"])
    sink.rung(100, {"val_accuracy": 0.8})
    sink.close(ok=True)
    acc = EventAccumulator(str(tb / c.config_id))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hp = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    for name in ("n_estimators", "max_features"):   # numbers (TensorBoard gives them an interval domain)
        assert hp[name].WhichOneof("kind") == "number_value" and hp[name].number_value == c.params[name]
    assert hp["criterion"].string_value == c.params["criterion"]


@pytest.mark.parametrize("search, shown", [
    ({"method": "random", "n": 8, "seed": 0, "sobol": True}, "3 configurations (random search: n 8, seed 0, Sobol'), "),
    ({"method": "random", "n": 8, "seed": 5, "sobol": False}, "3 configurations (random search: n 8, seed 5), "),
    ({"method": "grid"}, "3 configurations, "),
    (None, "3 configurations, "),
])
def test_the_report_says_how_configurations_were_drawn(search, shown):
    import pandas as pd

    from sweep.metrics import Objective
    from sweep.report.summary import summary_lines

    trials = pd.DataFrame({"config_id": ["a", "b", "c"], "status": ["ok"] * 3})
    front = pd.DataFrame({"config_id": ["a"], "is_knee": [False]})
    manifest = {"metric": "accuracy", "time_axis": "train_time_s", **({"search": search} if search else {})}
    assert summary_lines(trials, front, None, Objective.of(manifest), manifest)[0].startswith(shown)
