"""A sampled space's checks (#29): every bad distribution or search block is refused
before any work with one line naming the file, line:column, key, the value and the fix —
by the loader, and through the real CLI with exit 2 before Ray starts (a refused run
leaves no run directory; the conftest fixture fails a test whose child starts Ray)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import cli_proc
from sweep.errors import ConfigError
from sweep.spec import load_space
from sweep.spec.search import Distribution

GOOD = """\
name: t
sample_sizes: [0.5, 1.0]
search: {method: random, n: 4, seed: 1}
architectures:
  - name: lr
    estimator: sklearn.linear_model.LogisticRegression
    params: {max_iter: 50}
    distributions:
      C: {loguniform: [1.0e-3, 100]}
"""
AT = r"s\.yaml:9:7: key 'architectures\[0\]\.distributions\.C' has invalid value "


def test_good_space_loads():
    p_dist = load_space_text(GOOD).architectures[0].distributions["C"]
    assert (p_dist.kind, p_dist.values, p_dist.log) == ("loguniform", (1e-3, 100.0), False)


def load_space_text(text: str, tmp=None):
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp())
    p = d / "s.yaml"
    p.write_text(text)
    return load_space(p)


@pytest.mark.parametrize("dist, expected", [
    ("{uniform: [1, 0.5]}", AT + r"\{'uniform': \[1, 0.5\]\}: uniform's lo 1 is above its hi 0.5; write \[lo, hi\] "
                            r"with lo < hi \(here \[0.5, 1\]\)"),
    ("{int: [9, 2]}", AT + r".*int's lo 9 is above its hi 2"),
    ("{uniform: [1, 1]}", AT + r".*lo and hi are both 1, so nothing is searched; make lo < hi, or set the value "
                          r"under params"),
    ("{loguniform: [0, 1]}", AT + r".*loguniform needs lo > 0 \(it is uniform in log space\), but lo is 0; give a "
                             r"positive lo"),
    ("{loguniform: [-1, 1]}", AT + r".*loguniform needs lo > 0.*but lo is -1"),
    ("{int: [0, 10], log: true}", AT + r".*int with log: true needs lo > 0.*or use log: false"),
    ("{choice: []}", AT + r"\{'choice': \[\]\}: choice is an empty list, so there is nothing to draw; give at least "
                     r"one value"),
    ("{choice: [1, 1]}", AT + r".*choice lists 1 twice; list each value once"),
    ("{choice: 3}", AT + r".*choice takes a list of values, but got 3"),
    ("{int: [1.5, 3]}", AT + r".*int's bounds must be whole numbers, but got 1.5; give whole numbers"),
    ("{int: [1.0, 3]}", AT + r".*int's bounds must be whole numbers, but got 1.0; write 1"),
    ("{int: [true, 3]}", AT + r".*int's bounds must be whole numbers, but got True"),
    ("{uniform: [a, 2]}", AT + r".*uniform's bounds must be finite numbers, but got 'a'"),
    ("{uniform: [0, .inf]}", AT + r".*uniform's bounds must be finite numbers, but got inf"),
    ("{uniform: [0, 1, 2]}", AT + r".*uniform takes a list of two bounds \[lo, hi\], but got \[0, 1, 2\]"),
    ("{uniform: [0, 1], log: true}", AT + r".*log: true goes with int only, not uniform; use \{loguniform: "),
    ("{int: [1, 3], log: yes_please}", AT + r".*log must be true or false, but got 'yes_please'"),
    ("{unifrom: [0, 1]}", AT + r".*a distribution takes no key 'unifrom'; write it as \{uniform: \[lo, hi\]\}"),
    ("{uniform: [0, 1], choice: [1]}", AT + r".*names exactly one kind, but got 2 kinds \(uniform, choice\)"),
    ("{log: true}", AT + r".*names exactly one kind, but got no kind"),
    ("[0.1, 1]", AT + r"\[0.1, 1\]: a distribution is a mapping"),
    ("{choice: [.nan, 1]}", AT + r".*choice holds nan, which a configuration cannot hold; give finite numbers"),
    ("{int: [0, 10000000000000000000]}", AT + r".*int's bounds must be within ±2\*\*53"),
])
def test_bad_distribution_messages(tmp_path, dist, expected):
    p = tmp_path / "s.yaml"
    p.write_text(GOOD.replace("{loguniform: [1.0e-3, 100]}", dist))
    with pytest.raises(ConfigError, match=expected) as info:
        load_space(p)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("edit, expected", [
    (("search: {method: random, n: 4, seed: 1}", "search: {method: optuna, sampler: gp, n: 4}"),
     r"s\.yaml:3:1: key 'search' has invalid value .*sampler 'gp' is not offered \(Optuna's GPSampler needs "
     r"PyTorch, which sweep does not install\); use one of tpe"),
    (("search: {method: random, n: 4, seed: 1}", "search: {method: optuna, sampler: tpe}"),
     r"key 'search' .*method optuna needs n, the number of configurations to draw"),
    (("search: {method: random, n: 4, seed: 1}", "search: {method: random, n: 4, batch: 2}"),
     r"batch does not apply to method random; remove it or set method: optuna"),
    (("search: {method: random, n: 4, seed: 1}", "search: {method: optuna, n: 4, sobol: true}"),
     r"sobol does not apply to method optuna; remove it or set method: random"),
    (("search: {method: random, n: 4, seed: 1}", "search: {method: random}"),
     r"key 'search' .*method random needs n, the number of configurations to draw; add e.g. n: 20"),
    (("search: {method: random, n: 4, seed: 1}", "search: {method: random, n: 0}"),
     r"s\.yaml:3:26: key 'search.n' has invalid value 0"),
    (("search: {method: random, n: 4, seed: 1}", "search: {method: grid, n: 4}"),
     r"n does not apply to method grid; remove it or set method: random"),
    (("search: {method: random, n: 4, seed: 1}", "search: {method: grid}"),
     r"architectures \['lr'\] have distributions, which method grid does not draw from; add `search: "),
    (("search: {method: random, n: 4, seed: 1}", ""),
     r"architectures \['lr'\] have distributions, which method grid does not draw from"),
    (("search: {method: random, n: 4, seed: 1}", "search: {method: random, n: 4, sobel: true}"),
     r"s\.yaml:3:32: unknown key 'search.sobel'; check the spelling \(allowed keys here: method, n, seed, sobol, sampler, batch\)"),
    (("    distributions:\n      C: {loguniform: [1.0e-3, 100]}\n", "    grid: {C: [1.0]}\n"),
     r"search method random draws from distributions, but no architecture has any"),
    (("    params: {max_iter: 50}", "    params: {max_iter: 50, C: 1.0}"),
     r"\['C'\] are both in params and in distributions; keep one"),
    (("    params: {max_iter: 50}", "    params: {max_iter: 50}\n    grid: {C: [1.0]}"),
     r"\['C'\] are both in grid and in distributions; keep one"),
    (("      C: {loguniform", "      random_state: {int: [0, 9]}\n      C: {loguniform"),
     r"random_state is set from the search space's seeds"),
    (("      C: {loguniform", "      2C: {int: [0, 9]}\n      C: {loguniform"),
     r"'2C' is not a hyperparameter name"),
    (("    params: {max_iter: 50}", "    params: {max_iter: 50, tol: .inf}"),
     r"params.tol holds inf, which a configuration cannot hold \(its id is a hash of its JSON\)"),
])
def test_bad_search_messages(tmp_path, edit, expected):
    p = tmp_path / "s.yaml"
    old, new = edit
    assert old in GOOD
    p.write_text(GOOD.replace(old, new))
    with pytest.raises(ConfigError, match=expected) as info:
        load_space(p)
    assert "\n" not in str(info.value)


def test_n_must_reach_every_sampled_architecture(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(GOOD.replace("n: 4", "n: 1") + "  - name: tree\n    estimator: sklearn.tree.DecisionTreeClassifier\n"
                 "    distributions: {max_depth: {int: [1, 9]}}\n")
    with pytest.raises(ConfigError, match=r"search.n is 1, fewer than the 2 architectures with distributions "
                                          r"\(lr, tree\), so some would never be drawn; set n to at least 2"):
        load_space(p)


@given(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9), st.sampled_from(["uniform", "loguniform"]))
def test_any_range_is_accepted_exactly_when_it_is_one(lo, hi, kind):
    ok = lo < hi and (kind == "uniform" or lo > 0)
    try:
        d = Distribution.model_validate({kind: [lo, hi]})
    except ValidationError:
        assert not ok
    else:
        assert ok and d.values == (lo, hi)


# --- through the CLI: exit 2, one line, before Ray ------------------------------------

SPACE = yaml.safe_load(GOOD)


def _with(dist: dict | None = None, **arch) -> dict:
    s = yaml.safe_load(yaml.safe_dump(SPACE))
    if dist is not None:
        s["architectures"][0]["distributions"] = dist
    s["architectures"][0].update(arch)
    return s


CLI = {
    "lo > hi": (_with({"C": {"uniform": [1.0, 0.5]}}),
                r"space\.yaml:\d+:\d+: key 'architectures\[0\]\.distributions\.C' has invalid value .*uniform's lo "
                r"1.0 is above its hi 0.5; write \[lo, hi\] with lo < hi"),
    "loguniform lo <= 0": (_with({"C": {"loguniform": [0.0, 1.0]}}),
                           r"space\.yaml:\d+:\d+: key 'architectures\[0\]\.distributions\.C' .*loguniform needs lo > 0"),
    "unknown parameter": (_with({"Cs": {"loguniform": [0.1, 1.0]}}),
                          r"space\.yaml:\d+:\d+: key 'architectures\[0\]\.distributions\.Cs' \(lr\): "
                          r"sklearn.linear_model.LogisticRegression takes no hyperparameter 'Cs'; did you mean 'C'\?"),
    "empty choice": (_with({"C": {"choice": []}}),
                     r"space\.yaml:\d+:\d+: key 'architectures\[0\]\.distributions\.C' .*choice is an empty list"),
    "optuna without distributions": ({**SPACE, "search": {"method": "optuna", "n": 8},
                                      "architectures": [{k: v for k, v in SPACE["architectures"][0].items()
                                                         if k != "distributions"}]},
                                     r"search method optuna draws from distributions, but no architecture has any"),
    "path-like choice": (_with({"solver": {"choice": ["lbfgs", "../x"]}}),  # (before the draws: too few)
                         r"hyperparameter 'solver' = '../x' names a path"),
}


@pytest.mark.parametrize("case", list(CLI))
def test_bad_sampled_space_is_refused_before_ray(case, space_file, tmp_path):
    space, expected = CLI[case]
    out = tmp_path / "run"
    proc = cli_proc("run", str(space_file(space)), "--out", str(out))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(expected, lines[0]), lines[0]
    assert not out.exists()


JSONISH = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(),
                                 st.text(max_size=6)),
                       lambda inner: st.one_of(st.lists(inner, max_size=4),
                                               st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)
KIND_KEYS = st.sampled_from(["uniform", "loguniform", "int", "choice", "log", "x"])


@settings(max_examples=300, deadline=None)
@example({"choice": [float("nan"), 1.0]})
@example({"choice": [[float("inf")], 1.0]})
@example({"uniform": [-1e308, 1e308]})
@example({"int": [-2**60, 2**60]})
@example({"uniform": [0, 10**400]})
@example({"uniform": [-5e-324, 0]})
@example({"uniform": [1.0, 1.000001]})
@given(st.one_of(JSONISH, st.dictionaries(KIND_KEYS, JSONISH, min_size=1, max_size=2),
                 st.builds(lambda k, a, b: {k: [a, b]}, st.sampled_from(["uniform", "loguniform", "int"]),
                           st.one_of(st.integers(-2**60, 2**60), st.floats()),
                           st.one_of(st.integers(-2**60, 2**60), st.floats()))))
def test_any_distribution_loads_and_draws_or_is_one_config_error(d):
    """Whatever a distribution holds: a ConfigError of one line, or a space whose draws are
    within the distribution and hash (no other exception, no NaN reaching the ids)."""
    from sweep.grid import expand
    from sweep.spec import SearchSpace
    from sweep.spec._load import validate

    data = {**SPACE, "architectures": [{**SPACE["architectures"][0], "distributions": {"C": d}}]}
    try:
        sp = validate(SearchSpace, data, Path("s.yaml"))
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("s.yaml")
        return
    dist = sp.architectures[0].distributions["C"]
    try:
        configs = expand(sp)
    except ConfigError as exc:   # fewer distinct values than n: a short choice, a narrow range: said so
        assert "lower search.n" in str(exc)
        if dist.kind == "choice":
            assert len(dist.values) < 4
        else:
            lo, hi = dist.values   # (6 significant digits resolve few values in a range this narrow)
            assert (dist.kind == "int" and hi - lo < 3) or hi - lo <= 1e-4 * max(abs(lo), abs(hi)) or hi - lo < 1e-300
        return
    for c in configs:
        v = c.params["C"]
        if dist.kind == "choice":
            assert v in dist.values
        else:
            assert dist.values[0] <= v <= dist.values[1]
