"""The Pareto-aware early-stopping rule and its simulator (pure: no Ray)."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.pareto import frontier_mask
from sweep.prune import Judge, Rule, halving, simulate


def grid(n_configs=12, ladder=(50, 100, 200, 400), seed=0, archs=("a", "b", "c")):
    """A synthetic exhaustive table: learning curves that rise and flatten, costs ~ n^slope."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_configs):
        arch = archs[c % len(archs)]
        top = rng.uniform(0.6, 0.98)
        speed = rng.uniform(50, 300)
        base_t = rng.uniform(1e-3, 1e-1)
        slope = {"a": 0.8, "b": 1.0, "c": 1.5}.get(arch, 1.0)
        for n in ladder:
            acc = top * (1 - math.exp(-n / speed)) + rng.normal(0, 0.005)
            rows.append({"config_id": f"c{c:03d}", "architecture": arch, "n_train": n,
                         "val_accuracy": acc, "train_time_s": base_t * (n / ladder[0]) ** slope})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("kwargs, message", [
    ({"policy": "halving"}, r"policy: input should be 'pareto' or 'none', but got 'halving'"),
    ({"margin": 2.0}, r"margin: input should be less than or equal to 1, but got 2.0"),
    ({"min_results": 0}, r"min_results: input should be greater than or equal to 1, but got 0"),
    ({"min_results": 2000}, r"min_results: input should be less than or equal to 1000, but got 2000"),
    ({"min_results": "3"}, r"min_results: input should be a valid integer, but got '3'"),
    ({"curves": "some"}, r"curves: input should be 'ends' or 'full', but got 'some'"),
    ({"model": "lcpfn"}, r"model: input should be 'power' or 'gains', but got 'lcpfn'"),
    ({"z": -1.0}, r"z: input should be greater than or equal to 0, but got -1.0"),
    ({"window": 1.0}, r"window: input should be greater than 1, but got 1.0"),
    ({"prior": -0.5}, r"prior: input should be greater than or equal to 0, but got -0.5"),
])
def test_rule_parameters_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Rule(**kwargs)


def test_policy_none_fits_every_pair_back_to_back():
    pts = grid()
    out = simulate(pts, cores=1, policy="none")
    assert out["fitted"].all()
    np.testing.assert_allclose(out["finished_at"].to_numpy(), np.cumsum(pts["train_time_s"].to_numpy()))


def test_simulate_checks_its_input():
    with pytest.raises(ValueError, match=r"points lacks column\(s\) \['val_accuracy'\]"):
        simulate(grid().drop(columns=["val_accuracy"]))
    with pytest.raises(ValueError, match=r"cores must be a whole number >= 1, but got 0"):
        simulate(grid(), cores=0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 30), seed=st.integers(0, 10_000), cores=st.integers(1, 4),
       rungs=st.integers(2, 6), maximise=st.booleans())
def test_simulated_schedule_is_a_valid_schedule(n, seed, cores, rungs, maximise):
    ladder = tuple(int(25 * 2 ** k) for k in range(rungs))
    pts = grid(n, ladder, seed)
    if not maximise:
        pts["val_accuracy"] = 1 - pts["val_accuracy"]
    out = simulate(pts, cores=cores, maximise=maximise)
    for cid, g in out.groupby("config_id"):
        g = g.sort_values("n_train")
        f = g["fitted"].to_list()
        assert f[0] and f == sorted(f, reverse=True)         # a prefix of the ladder, first rung always
        assert g["finished_at"][g["fitted"]].is_monotonic_increasing
    assert out.loc[~out["fitted"], "finished_at"].isna().all()
    # never more than `cores` fits at once
    fit = out[out["fitted"]]
    starts, ends = fit["finished_at"] - fit["train_time_s"], fit["finished_at"]
    for s in starts:
        assert ((starts <= s + 1e-12) & (ends > s + 1e-12)).sum() <= cores


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 25), seed=st.integers(0, 10_000), cores=st.integers(1, 3))
def test_the_simulator_calls_the_rule_in_arrival_order(n, seed, cores):
    """Replaying the Judge by hand on the simulated arrival order gives the simulator's choices:
    a configuration went on exactly when the Judge said so."""
    pts = grid(n, (40, 80, 160, 320), seed)
    out = simulate(pts, cores=cores)
    ladders = {c: sorted(g["n_train"]) for c, g in pts.groupby("config_id")}
    judge = Judge(ladders, dict(zip(pts["config_id"], pts["architecture"])), ideal=1.0)  # as simulate(metric="accuracy")
    arrived = out[out["fitted"]].sort_values(["finished_at"], kind="stable")
    fitted = set(zip(out.loc[out["fitted"], "config_id"], out.loc[out["fitted"], "n_train"]))
    for r in arrived.itertuples():
        d = judge.observe(r.config_id, r.n_train, r.val_accuracy, r.train_time_s)
        later = [k for k in ladders[r.config_id] if k > r.n_train]
        if later:
            assert d.go_on == ((r.config_id, later[0]) in fitted), (r.config_id, r.n_train, d.reason)


def test_a_stop_names_the_predicted_point_and_what_dominates_it():
    ladders = {"fast": [10, 20], "slow": [10, 20], "late": [10, 20]}
    judge = Judge(ladders, {"fast": "x", "slow": "x", "late": "x"}, rule=Rule(margin=0.0), metric_name="val_accuracy")
    assert judge.observe("fast", 10, 0.90, 0.01).go_on        # no gain seen yet: goes on
    assert not judge.observe("fast", 20, 0.95, 0.02).go_on    # top rung
    d = judge.observe("slow", 10, 0.50, 0.05)                 # best case 0.55 in 0.1 s (time ~ n): dominated
    assert not d.go_on
    assert d.reason.startswith("predicted at n_train=20: val_accuracy at best 0.55 in at least 0.1 s, "
                               "dominated by fast n=20: (0.95, 0.02 s)")
    assert judge.observe("late", 10, 0.93, 0.001).go_on       # 0.98 in 0.001 s would be new


def test_minimised_metrics_are_judged_the_other_way():
    ladders = {"a": [10, 20], "b": [10, 20]}
    judge = Judge(ladders, {"a": "x", "b": "x"}, maximise=False, rule=Rule(margin=0.0), metric_name="val_rmse")
    judge.observe("a", 10, 5.0, 0.01)
    judge.observe("a", 20, 3.0, 0.02)                         # gain: rmse falls by 2
    d = judge.observe("b", 10, 9.0, 0.03)                     # at best 7.0 in 0.03 s: dominated by a
    assert not d.go_on and "val_rmse at best 7" in d.reason
    assert judge.observe("b", 10, 4.0, 0.001).go_on


def test_complete_curves_keep_every_architecture_to_the_top_rung():
    pts = grid(30, (20, 40, 80, 160, 320), 3, archs=("a", "b", "c", "d", "e"))
    pts.loc[pts["architecture"] == "e", "val_accuracy"] -= 0.5          # a hopeless architecture
    pts.loc[pts["architecture"] == "e", "train_time_s"] *= 50
    top = pts["n_train"].max()
    ends = simulate(pts, cores=2)
    full = simulate(pts, cores=2, curves="full")
    reached = set(full.loc[full["fitted"] & (full["n_train"] == top), "architecture"])
    assert reached == set(pts["architecture"])
    assert "e" not in set(ends.loc[ends["fitted"] & (ends["n_train"] == top), "architecture"])


def test_pruning_saves_compute_and_keeps_the_frontier_on_a_synthetic_grid():
    pts = grid(60, (25, 50, 100, 200, 400), 1)
    out = simulate(pts, cores=2)
    compute = out.loc[out["fitted"], "train_time_s"].sum() / out["train_time_s"].sum()
    assert compute < 0.8
    full = frontier_mask(pts["val_accuracy"], pts["train_time_s"])
    kept = out["fitted"].to_numpy()
    assert kept[full].mean() >= 0.8      # most exhaustive-frontier points are still found


def test_halving_keeps_the_top_third_per_rung():
    pts = grid(27, (10, 20, 40, 80))
    out = halving(pts)
    assert out.groupby("n_train")["fitted"].sum().to_list() == [27, 9, 3, 1]
    at20 = out[(out["n_train"] == 10)].nlargest(9, "val_accuracy")["config_id"]
    assert set(out.loc[out["fitted"] & (out["n_train"] == 20), "config_id"]) == set(at20)


def _records(pts):
    return [{"config_id": r.config_id, "architecture": r.architecture, "rung": int(r.n_train),
             "n_train": int(r.n_train), "val_accuracy": r.val_accuracy, "train_time_s": r.train_time_s,
             "status": "ok", "params": {}, "seed": 0, "group_id": r.config_id} for r in pts.itertuples()]


def test_the_referee_appends_judges_and_replays_the_same_decisions(tmp_path):
    """The live Referee (without Ray: its actor body) writes each record, then a stop record
    where the Judge stops; a new Referee that replays that ledger writes nothing more and
    takes the same state, and replay() of the ledger gives the same decisions."""
    from sweep import ledger
    from sweep.prune import replay
    from sweep.referee import Referee

    pts = grid(15, (40, 80, 160, 320), 5)
    out = simulate(pts, cores=2)
    arrived = out[out["fitted"]].sort_values("finished_at", kind="stable")
    ladders = {c: sorted(g["n_train"]) for c, g in pts.groupby("config_id")}
    archs = dict(zip(pts["config_id"], pts["architecture"]))
    path = tmp_path / "ledger.jsonl"
    ref = Referee(ladders, archs, True, {}, "accuracy", "train_time_s", str(path), [])
    said = {}
    for rec in _records(arrived):
        said[(rec["config_id"], rec["rung"])] = ref.report(rec)["go_on"]
    recs, _ = ledger.read(path)
    stops = [r for r in recs if r["status"] == "stopped"]
    assert stops and all(r["reason"].startswith("predicted at n_train=") for r in stops)
    assert {r["config_id"] for r in stops} == {c for (c, n), go in said.items() if not go and n < ladders[c][-1]}
    again = Referee(ladders, archs, True, {}, "accuracy", "train_time_s", str(path), recs)
    assert ledger.read(path)[0] == recs                                  # nothing new to write
    assert again.judge.points == ref.judge.points
    decisions = replay([r for r in recs if r["status"] == "ok"], ladders, archs)
    assert {k: d.go_on for k, d in decisions.items()} == said


def test_a_replay_writes_the_stop_a_killed_driver_did_not(tmp_path):
    from sweep import ledger
    from sweep.referee import Referee

    pts = grid(15, (40, 80, 160, 320), 5)
    arrived = simulate(pts, cores=1).query("fitted").sort_values("finished_at", kind="stable")
    ladders = {c: sorted(g["n_train"]) for c, g in pts.groupby("config_id")}
    archs = dict(zip(pts["config_id"], pts["architecture"]))
    full = tmp_path / "full.jsonl"
    ref = Referee(ladders, archs, True, {}, "accuracy", "train_time_s", str(full), [])
    for rec in _records(arrived):
        ref.report(rec)
    recs, _ = ledger.read(full)
    first_stop = next(i for i, r in enumerate(recs) if r["status"] == "stopped")
    cut = tmp_path / "cut.jsonl"
    for r in recs[:first_stop]:                                          # killed between the two appends
        ledger.append(cut, r)
    Referee(ladders, archs, True, {}, "accuracy", "train_time_s", str(cut), ledger.read(cut)[0])
    healed = ledger.read(cut)[0]
    assert len(healed) == first_stop + 1
    assert {k: v for k, v in healed[-1].items() if k != "finished_at_s"} == \
           {k: v for k, v in recs[first_stop].items() if k != "finished_at_s"}


@settings(max_examples=300, deadline=None)
@given(pts=st.lists(st.tuples(st.sampled_from([0.1, 0.5, 0.5, 0.7, 0.9, 1.0]),
                              st.sampled_from([0.001, 0.01, 0.01, 0.1, 1.0])), min_size=1, max_size=30),
       query=st.tuples(st.sampled_from([0.05, 0.1, 0.5, 0.6, 0.9, 1.0, 1.1]),
                       st.sampled_from([0.0005, 0.001, 0.01, 0.05, 0.1, 1.0, 2.0])))
def test_domination_checks_match_brute_force(pts, query):
    """The Judge's incremental frontier answers 'is (m, t) dominated, and by which points'
    exactly as a scan over every fitted point does."""
    ladders = {f"c{i}": [1] for i in range(len(pts))}
    judge = Judge(ladders, {c: "x" for c in ladders})
    for i, (m, t) in enumerate(pts):
        judge.observe(f"c{i}", 1, m, t)
    m, t = query
    brute = {(f"c{i}", 1) for i, (pm, pt) in enumerate(pts) if pm >= m and pt <= t and (pm > m or pt < t)}
    got = judge._dominating(m, t)
    assert (got is None) == (not brute)
    if got:
        assert {k for k, _ in got} <= brute
        front = frontier_mask([p[0] for p in pts], [p[1] for p in pts])
        # every frontier point that dominates the query is named (equal points once)
        assert {v for _, v in got} == {pts[i] for i in range(len(pts)) if front[i] and (f"c{i}", 1) in brute}


def test_adaptive_is_the_default_and_the_default_space_says_so():
    from conftest import REPO
    from sweep.spec import SearchSpace, load_space

    assert load_space(REPO / "search_spaces" / "default.yaml").pruning.policy == "pareto"
    bare = SearchSpace.model_validate({"name": "x", "sample_sizes": [0.5, 1.0], "architectures": [
        {"name": "lr", "estimator": "sklearn.linear_model.LogisticRegression"}]})
    assert bare.pruning.policy == "pareto" and bare.pruning.margin == 0.02 and bare.pruning.curves == "ends"


def test_gains_are_shares_of_the_gap_to_the_ideal():
    """With an ideal value (accuracy: 1), a gain seen from 0.5 to 0.75 (half the gap closed)
    predicts 0.9 -> 0.95 for another configuration, not 0.9 -> 1.15."""
    ladders = {"a": [10, 20], "b": [10, 20], "fast": [10, 20]}
    archs = {c: "x" for c in ladders}
    judge = Judge(ladders, archs, rule=Rule(margin=0.0, model="gains"), metric_name="val_accuracy", ideal=1.0)
    judge.observe("a", 10, 0.5, 0.01)
    judge.observe("a", 20, 0.75, 0.01)                       # half the gap closed; time flat
    judge.observe("fast", 10, 0.96, 0.001)
    judge.observe("fast", 20, 0.97, 0.001)
    d = judge.observe("b", 10, 0.9, 0.01)                    # at best 0.95 in 0.01 s: dominated by fast
    assert not d.go_on and "val_accuracy at best 0.95 in at least 0.01 s" in d.reason
    assert judge.observe("b", 10, 0.95, 0.01).go_on           # at best 0.975: beats fast's 0.97


def test_the_spec_and_the_rule_have_the_same_parameters_and_defaults():
    import dataclasses

    from sweep.spec.space import Pruning

    spec = Pruning().model_dump()
    rule = {f.name: f.default for f in dataclasses.fields(Rule)}
    assert spec == rule
    assert Rule(**spec) == Rule()


def test_power_model_stops_a_flat_curve_and_spares_a_steep_one():
    """With model: power a configuration is judged by its own curve: three results within 1%
    of each other (a flat curve) far below a fitted point stop; a curve whose error falls
    fast goes on, though the gains seen elsewhere are small and model: gains stops it. Before
    3 results the prior exponent (0.5) bounds the curve."""
    ladders = {c: [10, 20, 40, 80, 160] for c in ("best", "flat", "steep")}
    archs = {c: c for c in ladders}

    def judge(**rule):
        j = Judge(ladders, archs, rule=Rule(**{"model": "power", **rule}), metric_name="val_accuracy", ideal=1.0)
        for n, m in zip(ladders["best"], (0.80, 0.82, 0.84, 0.85, 0.85)):
            j.observe("best", n, m, 0.001)
        return j

    j = judge()
    assert j.observe("flat", 10, 0.60, 0.01).go_on     # prior: 0.6 + 0.4 * (1 - 16 ** -0.5 + 0.02) > 0.85
    assert j.observe("flat", 20, 0.61, 0.02).go_on
    d = j.observe("flat", 40, 0.60, 0.04)
    assert not d.go_on and "dominated by best" in d.reason
    assert not judge(prior=0.0).observe("flat", 10, 0.60, 0.01).go_on   # no prior: the gains seen only
    for model, goes_on in (("power", True), ("gains", False)):
        j = judge(model=model)
        first = [j.observe("steep", n, m, t).go_on for n, m, t in ((10, 0.50, 0.01), (20, 0.70, 0.02))]
        assert all(first) or model == "gains"                         # (gains stops it at once)
        assert j.observe("steep", 40, 0.80, 0.04).go_on == goes_on      # error 0.5, 0.3, 0.2


def test_power_model_predicts_time_by_the_configurations_own_cost_exponent():
    """The power model scales time by the configuration's own exponent between its last two
    rungs (here 2: time x4 per doubling), not by its architecture's smallest (here 0)."""
    ladders = {"a": [10, 20, 40, 80], "fast": [10], "b": [10, 20, 40, 80]}
    archs = {"a": "x", "fast": "x", "b": "x"}
    judge = Judge(ladders, archs, rule=Rule(margin=0.0, z=0.0, model="power"), metric_name="val_accuracy", ideal=1.0)
    for n in (10, 20, 40, 80):
        judge.observe("a", n, 0.5, 1.0)                           # architecture x: time flat
    judge.observe("fast", 10, 0.99, 0.5)
    for n, t in ((10, 0.01), (20, 0.04)):
        judge.observe("b", n, 0.9, t)
    d = judge.observe("b", 40, 0.9, 0.16)                         # flat curve: at best 0.9 at 80
    assert not d.go_on and "in at least 0.64 s" in d.reason


def test_a_run_written_before_the_power_model_resumes_with_the_rule_it_ran_with(tmp_path):
    """RUN/spec.yaml holds the whole pruning block; one without `model` was written by the
    rule before #26 (now model: gains), so a resume replays that rule; a new one keeps its own."""
    import yaml

    from conftest import REPO
    from sweep.rundir import RunDir
    from sweep.runfiles import read_run_spec
    from sweep.spec import load_space

    space = load_space(REPO / "search_spaces" / "default.yaml").model_dump(mode="json")
    dataset = yaml.safe_load((REPO / "datasets" / "digits.yaml").read_text())
    for block, want in (({"policy": "pareto", "margin": 0.02, "min_results": 1, "curves": "ends"}, "gains"),
                        ({**space["pruning"], "model": "power"}, "power")):
        (tmp_path / "spec.yaml").write_text(yaml.safe_dump(
            {"dataset": dataset, "search_space": {**space, "pruning": block}, "smoke": False, "repeats": 1,
             "exhaustive": False}, sort_keys=False))
        _, _, sp = read_run_spec(RunDir(tmp_path))
        assert sp.pruning.model == want and sp.pruning.margin == 0.02
