"""The cost model, the wall forecast and the live ETA (sweep.cost, sweep.forecast), durations
and the pilots' choice: pure functions, checked against known power laws and brute force."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from sweep.cost import CostModel, prior_cost
from sweep.durations import parse_duration
from sweep.errors import ConfigError
from sweep.forecast import Eta, minimum_wall_s, predict
from sweep.grid import Configuration, make_ids
from sweep.pilots import choose

FOREST = "sklearn.ensemble.RandomForestClassifier"
TREE = "sklearn.tree.DecisionTreeClassifier"


def _cfgs(estimator: str, arch: str, grid: dict) -> list[Configuration]:
    out = []
    keys = list(grid)
    for combo in itertools.product(*grid.values()):
        params = dict(zip(keys, combo))
        cid, gid = make_ids(estimator, params, 0)
        out.append(Configuration(cid, gid, arch, estimator, params, tuple(keys), 0, False, 1.0, 0.0))
    return out


def _truth(c: Configuration, n: int) -> float:
    """A known cost law: forests grow with n_estimators and n ** 0.8; depth None costs 1.5x."""
    if c.architecture == "forest":
        return 2e-5 * c.params["n_estimators"] * n ** 0.8 * (1.5 if c.params["max_depth"] is None else 1.0)
    return 1e-5 * n


def _rec(c: Configuration, n: int, factor: float = 1.0) -> dict:
    return {"config_id": c.config_id, "n_train": n, "status": "ok", "train_time_s": _truth(c, n) * factor,
            "predict_time_s": 0.0}


def test_the_model_learns_a_power_law_in_n_and_in_a_cost_driving_parameter():
    forests = _cfgs(FOREST, "forest", {"n_estimators": [10, 30, 100], "max_depth": [None, 8]})
    observed = [_rec(c, 100) for c in forests] + [_rec(forests[0], 250), _rec(forests[-1], 250)]
    model = CostModel.fit(forests, observed)
    for c in forests:
        assert model.predict_fit(c.config_id, 1000) == pytest.approx(_truth(c, 1000), rel=0.25), c.params


def test_an_architecture_never_observed_is_predicted_from_the_prior_scaled_by_the_rest():
    forests = _cfgs(FOREST, "forest", {"n_estimators": [10, 100], "max_depth": [None]})
    trees = _cfgs(TREE, "tree", {"max_depth": [3, 6]})
    observed = [{**_rec(c, 100), "train_time_s": 3 * prior_cost(c, 100)} for c in forests]
    model = CostModel.fit(forests + trees, observed)
    assert "tree" not in model.models                       # never observed
    assert model.predict_fit(trees[0].config_id, 100) == pytest.approx(3 * prior_cost(trees[0], 100))
    assert model.sigma(trees[0].config_id) >= model.sigma(forests[0].config_id)


def test_failed_and_unknown_records_are_not_learned_from():
    forests = _cfgs(FOREST, "forest", {"n_estimators": [10], "max_depth": [None]})
    bad = [{"config_id": forests[0].config_id, "n_train": 100, "status": "failed"},
           {"config_id": "nope", "n_train": 100, "status": "ok", "train_time_s": 9.0, "predict_time_s": 0.0}]
    assert CostModel.fit(forests, bad).models == {}


def test_pilots_cover_every_searched_value_of_every_architecture():
    configs = (_cfgs(FOREST, "forest", {"n_estimators": [10, 30, 100], "max_depth": [None, 4, 8, 16]})
               + _cfgs(TREE, "tree", {"max_depth": [3, 6], "min_samples_leaf": [1, 2, 4]}))
    picked = choose(configs)
    for arch in ("forest", "tree"):
        mine = [c for c in picked if c.architecture == arch]
        everything = {(p, json.dumps(c.params[p])) for c in configs if c.architecture == arch for p in c.searched}
        covered = {(p, json.dumps(c.params[p])) for c in mine for p in c.searched}
        assert covered == everything
        assert len(mine) <= max(len({v for (p, v) in everything if p == q}) for q in mine[0].searched) + 1


def _forecast(cores: int, observed_factor: float = 1.0):
    forests = _cfgs(FOREST, "forest", {"n_estimators": [10, 30, 100], "max_depth": [None, 8]})
    rungs = [100, 300, 1000]
    observed = [_rec(c, n, observed_factor) | {"val_accuracy": 0.8 + 0.05 * k} for c in forests
                for k, n in enumerate(rungs[:2])]
    model = CostModel.fit(forests, observed)
    order = [c.config_id for c in forests]
    return forests, rungs, model, predict(model, forests, rungs, cores, order_exhaustive=order,
                                          order_adaptive=order[::-1], n_trials=len(forests), fixed_s=5.0,
                                          observed=observed, metric="accuracy", maximise=True,
                                          rule={"policy": "pareto", "margin": 0.02}, draws=30)


def test_the_forecast_adds_up_and_more_cores_are_faster():
    forests, rungs, model, one = _forecast(1)
    _, _, _, four = _forecast(4)
    assert one["pairs"] == len(forests) * len(rungs) and one["cores"] == 1
    work = sum(_truth(c, n) for c in forests for n in rungs)
    assert one["core_s"] == pytest.approx(work, rel=0.3)
    assert one["predicted_wall_s"] >= 5.0 + one["core_s"]  # one core does all the work, after the fixed part
    assert four["trial_phase_s"] < one["trial_phase_s"]
    lo, hi = one["interval80_s"]
    assert lo <= one["predicted_wall_s"] <= hi
    assert one["predicted_wall_adaptive_s"] <= one["predicted_wall_s"] + 1e-9
    assert sum(one["core_s_by_architecture"].values()) == pytest.approx(one["core_s"])
    assert len(one["most_expensive"]) == len(forests)
    assert minimum_wall_s(model, forests, rungs, 1, 5.0) < one["predicted_wall_s"]


def test_the_eta_appears_once_fits_arrive_and_is_refined_by_them():
    forests = _cfgs(FOREST, "forest", {"n_estimators": [10, 30, 100], "max_depth": [None, 8]})
    rungs = [100, 300, 1000]
    eta = Eta(forests, rungs)
    assert eta.remaining_s(0.0, cores=2) is None  # nothing seen: no estimate
    pairs = [(c, n) for c in forests for n in rungs]
    now, shown = 0.0, []
    for i, (c, n) in enumerate(pairs):
        secs = _truth(c, n) * 1000  # seconds large enough to dwarf the post-trial phase
        now += secs / 2  # two cores, always busy
        eta.observe(now, [[c.config_id, n, secs]], [c.config_id] if n == rungs[-1] else [])
        left = eta.remaining_s(now, cores=2)
        if left is not None:
            shown.append((i, left))
    assert shown, "an ETA once fits arrive"
    assert len({round(v, 6) for _, v in shown}) > 3  # refined as fits arrive
    assert shown[-1][1] == pytest.approx(eta.overheads.post_fixed_s + eta.overheads.exit_s)  # nothing left


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200),
                                          ("1h30m", 5400), ("1.5h", 5400), (" 2m ", 120)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "-5", "0s", "abc", "5x", "", "h", "1e3", "inf"])
def test_bad_durations_name_the_flag_and_the_fix(text):
    with pytest.raises(ConfigError, match=r"--time-budget.*(positive duration|cannot read)"):
        parse_duration(text)
    assert math.isfinite(parse_duration("1"))


def test_the_vectorised_table_is_predict_pair_by_pair():
    forests = _cfgs(FOREST, "forest", {"n_estimators": [10, 30, 100], "max_depth": [None, 8]})
    trees = _cfgs(TREE, "tree", {"max_depth": [3, 6]})
    observed = [_rec(c, 100) for c in forests] + [_rec(forests[0], 250)]
    model = CostModel.fit(forests + trees, observed)
    rungs = [100, 250, 1000]
    table = model.table(forests + trees, rungs)
    for i, c in enumerate(forests + trees):
        for k, n in enumerate(rungs):
            assert table[i, k] == pytest.approx(model.predict(c.config_id, n))


def test_the_prior_slope_is_what_two_sizes_showed():
    """A cost flat in n (a fit's fixed costs on tiny samples) seen on one configuration at two
    sizes is carried to the architecture's others, and to an architecture seen at one size."""
    forests = _cfgs(FOREST, "forest", {"n_estimators": [10, 30], "max_depth": [None]})
    trees = _cfgs(TREE, "tree", {"max_depth": [3, 6]})
    flat = lambda c, n: {"config_id": c.config_id, "n_train": n, "status": "ok", "train_time_s": 0.01,
                         "predict_time_s": 0.0}
    model = CostModel.fit(forests + trees, [flat(forests[0], 16), flat(forests[0], 64), flat(forests[1], 16),
                                            flat(trees[0], 16)])
    for c in (forests[1], trees[1]):
        assert model.predict_fit(c.config_id, 256) == pytest.approx(0.01, rel=0.35)  # not 16x: flat



def test_predictions_are_the_wall_of_the_timing_protocol():
    """A pair's predicted cost is what measuring it takes: a short fit is timed several times
    (sweep.timing), so its wall is the protocol's timings times the fit, a long one is the fit."""
    from sweep import timing

    for s in (0.001, 0.004, 0.03, 0.099, 0.1, 2.0):
        k = 0
        timings: list[float] = []
        while timing.more_timings(timings):
            timings.append(s)
            k += 1
        assert timing.expected_wall(s) == pytest.approx(k * s), s
