"""Configurations, config_id stability and the sample-size ladder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.errors import ConfigError
from sweep.grid import expand, ladder, make_ids, sizes_for
from sweep.spec import load_space

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "search_spaces" / "default.yaml"


def test_default_grid_size():
    sp = load_space(DEFAULT)
    configs = expand(sp)
    assert len(configs) >= 40
    assert len({c.architecture for c in configs}) >= 5
    assert len(sp.sample_sizes) >= 4
    assert len({c.config_id for c in configs}) == len(configs)
    mlp = {json.dumps(c.params["hidden_layer_sizes"]) for c in configs if c.architecture == "mlp"}
    assert len(mlp) >= 2


def test_smoke_is_small_but_not_trivial():
    sp = load_space(DEFAULT)
    configs = expand(sp, smoke=True)
    assert len({c.architecture for c in configs}) >= 2
    assert len(sizes_for(sp, smoke=True)) >= 2
    assert len(configs) < len(expand(sp))
    # smoke configurations are configurations of the full grid (same ids)
    assert {c.config_id for c in configs} <= {c.config_id for c in expand(sp)}


def test_repeats_add_seeds_and_share_group():
    sp = load_space(DEFAULT)
    two = expand(sp, repeats=2)
    assert len(two) == 2 * len(expand(sp))
    groups = {}
    for c in two:
        groups.setdefault(c.group_id, set()).add(c.seed)
    assert all(seeds == {0, 1} for seeds in groups.values())


def test_config_id_is_a_content_hash():
    a, ga = make_ids("sklearn.svm.SVC", {"C": 1.0, "gamma": "scale"}, 0)
    b, gb = make_ids("sklearn.svm.SVC", {"gamma": "scale", "C": 1.0}, 0)   # key order
    c, gc = make_ids("sklearn.svm.SVC", {"C": 1.0, "gamma": "scale"}, 1)   # seed
    d, _ = make_ids("sklearn.svm.SVC", {"C": 10.0, "gamma": "scale"}, 0)
    assert a == b and ga == gb
    assert a != c and ga == gc
    assert a != d
    e, _ = make_ids("m.X", {"h": (64, 32)}, 0)
    f, _ = make_ids("m.X", {"h": [64, 32]}, 0)
    assert e == f


def test_config_ids_same_in_separate_processes():
    code = ("import json,sys; from sweep.grid import expand; from sweep.spec import load_space; "
            f"print(json.dumps([c.config_id for c in expand(load_space({str(DEFAULT)!r}))]))")
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.append(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   env=env, check=True).stdout)
    assert outs[0] == outs[1]
    assert json.loads(outs[0]) == [c.config_id for c in expand(load_space(DEFAULT))]


def test_ladder():
    assert ladder([0.1, 0.25, 0.5, 1.0], 1000) == [100, 250, 500, 1000]
    assert ladder([50, 0.5], 1000) == [50, 500]
    with pytest.raises(ConfigError, match=r"sample size 5000 asks for 5000 rows, but the training split has 1000"):
        ladder([5000], 1000)
    with pytest.raises(ConfigError, match=r"not strictly ascending"):
        ladder([0.1, 0.1001], 100)


def test_a_grid_value_that_is_not_finite_is_refused(tmp_path):
    """NaN or infinity cannot be hashed into a config_id (canonical JSON has neither): one line,
    not an internal error."""
    p = tmp_path / "s.yaml"
    p.write_text("name: t\nsample_sizes: [1.0]\narchitectures:\n  - name: lr\n"
                 "    estimator: sklearn.linear_model.LogisticRegression\n    grid: {C: [1.0, .nan]}\n")
    with pytest.raises(ConfigError, match=r"s.yaml:4:5: key 'architectures\[0\]' .*grid.C holds nan, which a "
                                          r"configuration cannot hold"):
        load_space(p)
