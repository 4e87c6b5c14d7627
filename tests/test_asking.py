"""A model-based search's asks (sweep.asking), without Ray: what a batch asks depends only on
the seed, the batch's number and the results it is told; asks are new configurations inside
the distributions; the search log gives the same configurations back; and the sampler moves
towards what the results favour."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from sweep import asking
from sweep.grid import expand
from sweep.metrics import Objective
from sweep.spec import load_space

SPACE = {
    "name": "t", "sample_sizes": [0.5, 1.0], "seed": 0,
    "search": {"method": "optuna", "n": 12, "batch": 4, "seed": 5},
    "architectures": [
        {"name": "lr", "estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 50},
         "distributions": {"C": {"loguniform": [1.0e-3, 100.0]}}},
        {"name": "tree", "estimator": "sklearn.tree.DecisionTreeClassifier",
         "distributions": {"max_depth": {"int": [2, 30]}, "criterion": {"choice": ["gini", "entropy"]}}},
        {"name": "grid_tree", "estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"max_depth": [3]}},
    ],
}
OBJ = Objective("accuracy")


@pytest.fixture
def space(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(SPACE))
    return load_space(p)


def _results(configs, score) -> list[dict]:
    """Ledger records at the top rung (100) for each configuration: accuracy from `score`."""
    return [{"config_id": c.config_id, "rung": 100, "n_train": 100, "status": "ok",
             "val_accuracy": score(c), "train_time_s": 0.01} for c in configs]


def test_the_first_batch_is_random_draws_and_the_grid(space):
    configs = expand(space)
    assert sorted(c.architecture for c in configs) == ["grid_tree", "lr", "lr", "tree", "tree"]  # batch 4: 2 + 2
    assert space.search.batch_size == 4


def test_a_batch_is_new_in_range_and_a_function_of_seed_batch_and_results(space):
    first = [c for c in expand(space) if c.architecture != "grid_tree"]
    recs = _results(first, lambda c: 0.5)
    a = asking.ask(space, first, recs, OBJ, 1, 4, [0])
    assert asking.ask(space, first, recs, OBJ, 1, 4, [0]) == a            # the same inputs, the same asks
    assert len(a) == 4 and len({c.config_id for c in a + first}) == 8    # none repeats an earlier one
    for c in a:
        if c.architecture == "lr":
            assert 1e-3 <= c.params["C"] <= 100 and c.params["C"] == float(f"{c.params['C']:.6g}")
        else:
            assert 2 <= c.params["max_depth"] <= 30 and c.params["criterion"] in ("gini", "entropy")
    assert asking.ask(space, first, recs, OBJ, 2, 4, [0]) != a           # another batch number, other asks
    told_more = recs[:-1] + _results(first[-1:], lambda c: 0.9)
    assert asking.ask(space, first, told_more, OBJ, 1, 4, [0]) != a      # other results, other asks
    two_seeds = asking.ask(space, first, recs, OBJ, 1, 4, [0, 1])
    assert len(two_seeds) == 8 and [c.params for c in two_seeds[::2]] == [c.params for c in a]


def test_the_log_gives_the_asked_configurations_back(space, tmp_path):
    first = [c for c in expand(space) if c.architecture != "grid_tree"]
    a = asking.ask(space, first, _results(first, lambda c: 0.5), OBJ, 1, 4, [0, 1])
    asking.log_batch(tmp_path, 1, a)
    assert len((tmp_path / "search.jsonl").read_text().splitlines()) == 4     # one line per configuration
    assert [c for _, c in asking.asked(space, tmp_path, [0, 1])] == a
    assert {b for b, _ in asking.asked(space, tmp_path, [0, 1])} == {1}


def test_failed_and_unfitted_configurations_are_told_as_such(space):
    first = [c for c in expand(space) if c.architecture != "grid_tree"]
    recs = _results(first[:2], lambda c: 0.7) + [{"config_id": first[2].config_id, "rung": 50, "n_train": 50,
                                                  "status": "failed", "error": "x"}]
    study = asking.study_of(space, first, recs, OBJ, 1, 4)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "RUNNING"]
    assert study.trials[0].values == [0.7, pytest.approx(math.log10(0.01))]


def test_the_sampler_moves_towards_what_the_results_favour(space):
    """Twelve logistic regressions told that accuracy rises with log C (and time does not
    change): TPE's next asks for lr sit above the median C of what it was told."""
    told = []
    for k in range(12):
        c = 10 ** (-3 + 5 * (k + 0.5) / 12)
        told += [x for x in asking.sampled_configurations(space.architectures[0], {"C": round(c, 6)}, space, [0])]
    recs = _results(told, lambda c: 0.5 + 0.05 * math.log10(c.params["C"]))
    asks = [c for c in asking.ask(space, told, recs, OBJ, 3, 8, [0]) if c.architecture == "lr"]
    assert asks, "TPE asked no logistic regression"
    median_told = sorted(c.params["C"] for c in told)[6]
    assert sum(c.params["C"] > median_told for c in asks) >= 0.75 * len(asks)
