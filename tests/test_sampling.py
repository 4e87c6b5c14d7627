"""Sampled search spaces (#29): each distribution's bounds and types, determinism by seed,
prefix stability (the first k of n draws are the same for any n >= k), Sobol' balance,
and grid spaces' config_ids unchanged. Pure: no Ray."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sweep.errors import ConfigError
from sweep.grid import expand, sampled_counts
from sweep.spec import SearchSpace, load_space
from sweep.spec.sampling import SIG_DIGITS, draw, round_sig, uniform, value
from sweep.spec.search import Distribution

REPO = Path(__file__).resolve().parent.parent
UNIT = st.floats(0.0, 1.0, exclude_max=True)
BOUND = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def dist(spec: dict) -> Distribution:
    return Distribution.model_validate(spec)


def _ordered(a: float, b: float) -> tuple[float, float]:
    lo, hi = sorted((a, b))
    return lo, hi


# --- one value at a quantile: bounds and types -----------------------------------------

@given(BOUND, BOUND, UNIT)
def test_uniform_within_bounds_and_rounded(a, b, u):
    lo, hi = _ordered(a, b)
    if lo == hi:
        return
    x = value(dist({"uniform": [lo, hi]}), u)
    assert isinstance(x, float) and lo <= x <= hi
    assert x == round_sig(x) or x in (lo, hi)  # rounded, or clipped onto a bound given in the spec
    assert math.isclose(x, min(max(lo + u * (hi - lo), lo), hi), rel_tol=10.0 ** (1 - SIG_DIGITS),
                        abs_tol=4 * sys.float_info.epsilon * max(abs(lo), abs(hi), 1e-300))  # lo + u (hi - lo) cancels near 0


@given(st.floats(1e-12, 1e6), st.floats(1e-12, 1e6), UNIT)
def test_loguniform_is_uniform_in_log_space(a, b, u):
    lo, hi = _ordered(a, b)
    if hi / lo < 1.0001:
        return
    x = value(dist({"loguniform": [lo, hi]}), u)
    assert isinstance(x, float) and lo <= x <= hi
    expected = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    assert math.isclose(x, min(max(expected, lo), hi), rel_tol=10.0 ** (1 - SIG_DIGITS))


@given(st.integers(-10**6, 10**6), st.integers(0, 10**6), UNIT, st.booleans())
def test_int_within_bounds(lo, width, u, log):
    hi = lo + width + 1
    if log:
        lo, hi = abs(lo) + 1, abs(lo) + 1 + width + 1
    x = value(dist({"int": [lo, hi], "log": log}), u)
    assert type(x) is int and lo <= x <= hi


@given(st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), min_size=1, max_size=8, unique_by=json.dumps),
       UNIT)
def test_choice_is_one_of_the_values(values, u):
    assert value(dist({"choice": values}), u) in values


def test_quantiles_are_monotone_and_reach_both_ends():
    d = dist({"int": [3, 7]})
    got = [value(d, i / 1000) for i in range(1000)]
    assert got == sorted(got) and set(got) == {3, 4, 5, 6, 7}
    lg = dist({"int": [1, 1000], "log": True})
    xs = [value(lg, i / 10000) for i in range(10000)]
    assert xs == sorted(xs) and xs[0] == 1 and xs[-1] == 1000
    # log-spaced: about as many draws in [1, 10) as in [100, 1000)
    assert abs(sum(x < 10 for x in xs) - sum(x >= 100 for x in xs)) < 400


def test_uniform_bits_are_in_unit_interval_and_keyed():
    us = [uniform(0, "a", j, 0, "C") for j in range(2000)]
    assert all(0.0 <= u < 1.0 for u in us)
    assert stats.kstest(us, "uniform").pvalue > 1e-3
    assert uniform(0, "a", 5, 0, "C") != uniform(0, "a", 5, 0, "D") != uniform(1, "a", 5, 0, "D")


# --- draws: distribution, determinism, prefix stability ---------------------------------

DISTS = {"C": dist({"loguniform": [1e-3, 1e2]}), "l1": dist({"uniform": [0.0, 1.0]}),
         "depth": dist({"int": [1, 64], "log": True}), "leaf": dist({"int": [1, 20]}),
         "kernel": dist({"choice": ["rbf", "poly", "linear"]})}


@pytest.mark.parametrize("sobol", [False, True])
def test_draws_follow_their_distributions(sobol):
    draws = draw("arch", DISTS, seed=0, count=512, sobol=sobol)
    logs = [(math.log10(d["C"]) + 3) / 5 for d in draws]
    assert stats.kstest(logs, "uniform").pvalue > 1e-3          # log-uniform: uniform in log space
    assert stats.kstest([d["l1"] for d in draws], "uniform").pvalue > 1e-3
    assert all(1 <= d["depth"] <= 64 and 1 <= d["leaf"] <= 20 for d in draws)
    assert {d["leaf"] for d in draws} == set(range(1, 21))
    assert {d["kernel"] for d in draws} == {"rbf", "poly", "linear"}
    assert len({json.dumps(d, sort_keys=True) for d in draws}) == 512


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.integers(0, 40), st.booleans())
def test_draws_are_prefix_stable(seed, k, extra, sobol):
    n = k + extra
    assert draw("arch", DISTS, seed, k, sobol) == draw("arch", DISTS, seed, n, sobol)[:k]


@pytest.mark.parametrize("sobol", [False, True])
def test_draws_are_deterministic_and_differ_by_seed_and_architecture(sobol):
    a = draw("arch", DISTS, 7, 20, sobol)
    assert a == draw("arch", DISTS, 7, 20, sobol)
    assert a != draw("arch", DISTS, 8, 20, sobol)
    assert a != draw("other", DISTS, 7, 20, sobol)


def test_a_parameter_added_leaves_the_others_draws():
    without = draw("arch", {k: v for k, v in DISTS.items() if k != "l1"}, 0, 30)
    with_l1 = draw("arch", DISTS, 0, 30)
    assert [{k: v for k, v in d.items() if k != "l1"} for d in with_l1] == without


def test_sobol_first_power_of_two_is_balanced():
    draws = draw("arch", {"x": dist({"uniform": [0.0, 1.0]})}, 3, 16, sobol=True)
    assert sorted(int(d["x"] * 16) for d in draws) == list(range(16))  # one point in each sixteenth
    pseudo = draw("arch", {"x": dist({"uniform": [0.0, 1.0]})}, 3, 16)
    assert sorted(int(d["x"] * 16) for d in pseudo) != list(range(16))  # (i.i.d. draws are not)


def test_repeated_draws_are_drawn_again_until_the_space_runs_out():
    small = {"a": dist({"choice": [1, 2, 3]}), "b": dist({"int": [0, 1]})}
    six = draw("arch", small, 0, 6)
    assert len({json.dumps(d, sort_keys=True) for d in six}) == 6  # every combination, none twice
    with pytest.raises(ConfigError, match=r"6 distinct configurations were drawn, and 100 more draws all "
                                          r"repeated one of them.*lower search.n"):
        draw("arch", small, 0, 7)


# --- spaces: expansion, ids, round-robin ------------------------------------------------

SPACE = {
    "name": "s", "sample_sizes": [0.5, 1.0], "seed": 0,
    "search": {"method": "random", "n": 7, "seed": 3},
    "architectures": [
        {"name": "lr", "estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 50},
         "distributions": {"C": {"loguniform": [1e-3, 100]}, "tol": {"uniform": [1e-5, 1e-3]}}},
        {"name": "tree", "estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"criterion": ["gini", "entropy"]},
         "distributions": {"max_depth": {"int": [2, 64], "log": True}, "splitter": {"choice": ["best", "random"]}}},
        {"name": "nb", "estimator": "sklearn.naive_bayes.GaussianNB", "grid": {"var_smoothing": [1e-9, 1e-8]}},
    ],
    "smoke": {"architectures": ["lr", "tree"], "sample_sizes": [0.5, 1.0], "max_configs_per_architecture": 2},
}


def space(**search) -> SearchSpace:
    s = json.loads(json.dumps(SPACE))
    s["search"].update(search)
    return SearchSpace.model_validate(s)


def test_random_space_expands_grid_architectures_and_n_draws():
    configs = expand(space())
    by_arch = {a: [c for c in configs if c.architecture == a] for a in ("lr", "tree", "nb")}
    assert sampled_counts(space()) == {"lr": 4, "tree": 3}
    assert [len(v) for v in by_arch.values()] == [4, 3, 2]        # n = 7 round-robin, the grid as ever
    assert {c.params["var_smoothing"] for c in by_arch["nb"]} == {1e-9, 1e-8}
    for c in by_arch["lr"]:
        assert c.params["max_iter"] == 50 and 1e-3 <= c.params["C"] <= 100 and c.sampled == ("C", "tol")
    for c in by_arch["tree"]:
        assert c.params["criterion"] in ("gini", "entropy") and c.sampled == ("max_depth",)
        assert c.searched == ("criterion", "max_depth", "splitter")
    assert len({c.config_id for c in configs}) == len(configs)
    two = expand(space(), repeats=2)   # repeats: each draw once per seed, one group
    assert len(two) == 2 * len(configs) and two[0].group_id == two[1].group_id and two[0].seed != two[1].seed
    assert two[0].params == two[1].params == configs[0].params


def test_config_id_is_the_content_hash_of_the_drawn_configuration():
    from sweep.grid import make_ids

    for c in expand(space()):
        assert (c.config_id, c.group_id) == make_ids(c.estimator, c.params, c.seed, c.scale, c.encode)


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 30), st.integers(0, 30), st.booleans())
def test_a_larger_n_keeps_every_configuration(k, extra, sobol):
    small = [c.config_id for c in expand(space(n=k, sobol=sobol))]
    large = [c.config_id for c in expand(space(n=k + extra, sobol=sobol))]
    assert set(small) <= set(large)
    for arch in ("lr", "tree"):   # and each architecture's draws keep their order
        s = [c.config_id for c in expand(space(n=k, sobol=sobol)) if c.architecture == arch]
        big = [c.config_id for c in expand(space(n=k + extra, sobol=sobol)) if c.architecture == arch]
        assert big[:len(s)] == s


def test_smoke_draws_are_the_full_runs_first_draws():
    sp = space(n=12)
    smoke = expand(sp, smoke=True)
    assert [c.architecture for c in smoke] == ["lr", "lr", "tree", "tree"]
    assert {c.config_id for c in smoke} <= {c.config_id for c in expand(sp)}


def test_search_seed_defaults_to_the_space_seed_and_changes_the_draws():
    s = json.loads(json.dumps(SPACE))
    s["search"].pop("seed")
    a = expand(SearchSpace.model_validate(s))
    s["seed"] = 3
    b = expand(SearchSpace.model_validate(s))
    assert a != b   # (the estimators' seeds moved too)
    assert [c.params for c in b] == [c.params for c in expand(space(seed=3))]
    assert [c.params for c in expand(space(seed=4))] != [c.params for c in expand(space(seed=3))]


def test_the_dump_reads_back_to_the_same_configurations():
    """RUN/spec.yaml holds the space's dump; `sweep resume` reads it back and draws again."""
    sp = space(sobol=True)
    text = yaml.safe_dump(sp.model_dump(mode="json"))
    back = SearchSpace.model_validate(yaml.safe_load(text))
    assert back == sp
    assert [c.config_id for c in expand(back)] == [c.config_id for c in expand(sp)]
    assert yaml.safe_load(text)["architectures"][1]["distributions"]["max_depth"] == {"int": [2, 64], "log": True}


def test_sampled_ids_are_the_same_in_separate_processes(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(SPACE))
    code = ("import json; from sweep.grid import expand; from sweep.spec import load_space; "
            f"print(json.dumps([c.config_id for c in expand(load_space({str(p)!r}))]))")
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert outs[0] == outs[1]
    assert json.loads(outs[0]) == [c.config_id for c in expand(load_space(p))]


@pytest.mark.parametrize("name", ["default", "reference", "penguins", "penguins_mass", "drift_demo"])
def test_grid_spaces_keep_their_config_ids(name):
    """The ids main gave the bundled grids before search: existed (tests/grid_config_ids.json)."""
    before = json.loads((REPO / "tests" / "grid_config_ids.json").read_text())[name]
    sp = load_space(REPO / "search_spaces" / f"{name}.yaml")
    assert sp.search.method == "grid"
    assert [c.config_id for c in expand(sp)] == before["all"]
    assert [c.config_id for c in expand(sp, repeats=2)] == before["rep2"]
    if sp.smoke:
        assert [c.config_id for c in expand(sp, smoke=True)] == before["smoke"]


def test_resume_reads_back_the_same_draws_from_the_run_directory(tmp_path):
    """What `sweep resume` does before Ray: RUN/spec.yaml as the run wrote it, read back through
    the spec loader, expands to the same configurations (nothing refitted, nothing lost)."""
    from sweep.provenance import write_specs
    from sweep.rundir import RunDir
    from sweep.runfiles import read_run_spec
    from sweep.spec import load_dataset
    from sweep.stages import Specs

    sp = space(sobol=True, n=9)
    ds_path = REPO / "datasets" / "digits.yaml"
    s = Specs(tmp_path / "s.yaml", sp, ds_path, load_dataset(ds_path), expand(sp))
    run = RunDir(tmp_path / "run")
    run.make()
    write_specs(s, run, {"status": "running"})
    _, _, back = read_run_spec(run)
    assert back.search == sp.search
    assert [c.config_id for c in expand(back)] == [c.config_id for c in s.configs]


def test_a_sobol_run_resumes_only_with_the_scipy_that_drew_it(tmp_path):
    import scipy

    from sweep.spec.sampling import check_same_sobol

    check_same_sobol(True, {"scipy": scipy.__version__}, "RUN")
    check_same_sobol(True, {}, "RUN")                    # a run from before scipy was recorded
    check_same_sobol(False, {"scipy": "0.1"}, "RUN")     # random draws do not depend on scipy
    with pytest.raises(ConfigError, match=rf"RUN: this run drew its configurations from scipy 0.1's Sobol' "
                                          rf"sequence, and scipy is now {re.escape(scipy.__version__)}, which may "
                                          r"draw others; install scipy==0.1 to resume it"):
        check_same_sobol(True, {"scipy": "0.1"}, "RUN")


def test_resume_checks_the_scipy_of_a_sobol_run_before_any_work(tmp_path):
    from sweep.provenance import write_specs
    from sweep.rundir import RunDir
    from sweep.spec import load_dataset
    from sweep.stages import Specs, specs_of_run

    sp = space(sobol=True)
    ds_path = REPO / "datasets" / "digits.yaml"
    run = RunDir(tmp_path / "run")
    run.make()
    write_specs(Specs(tmp_path / "s.yaml", sp, ds_path, load_dataset(ds_path), expand(sp)), run, {"status": "x"})
    with pytest.raises(ConfigError, match=r"install scipy==0.1 to resume it"):
        specs_of_run(run, {"versions": {"scipy": "0.1"}})
