"""Trial planning: packing keeps >= 4 x cores trials, balances expected work, keeps every config."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.packing import pack


def _items(costs, cpus=None):
    return [{"config": {"config_id": f"c{i}", "cpu": (cpus[i] if cpus else 1), "gpu": 0}, "rungs": [1],
             "cost": c} for i, c in enumerate(costs)]


@settings(max_examples=200, deadline=None)
@given(costs=st.lists(st.floats(0.01, 10), min_size=1, max_size=80), cores=st.integers(1, 16),
       two_shapes=st.booleans())
def test_pack_invariants(costs, cores, two_shapes):
    cpus = [1 + (i % 2) for i in range(len(costs))] if two_shapes else None
    items = _items(costs, cpus)
    plan = pack(items, 4 * cores)
    ids = [m["config"]["config_id"] for members in plan.values() for m in members]
    assert sorted(ids) == sorted(i["config"]["config_id"] for i in items)     # each once
    assert len(plan) >= min(len(items), 4 * cores)                             # enough trials
    for members in plan.values():                                              # one resource shape a trial
        assert len({m["config"]["cpu"] for m in members}) == 1
    loads = [sum(m["cost"] for m in members) for members in plan.values()]
    assert loads == sorted(loads, reverse=True)                                # longest first


def test_no_packing_when_few_configs():
    plan = pack(_items([3, 1, 2]), 8)
    assert [len(m) for m in plan.values()] == [1, 1, 1]
    assert list(plan) == ["c0", "c2", "c1"]


def test_trial_actors_carry_no_runtime_env(monkeypatch):
    """Tune's actor class carries env var PL_DISABLE_FORK, which keeps Ray from handing its
    trial actors the workers prestarted at ray.init; sweep drops it (sweep.runner)."""
    import json
    import subprocess
    import sys

    from ray.tune.execution import class_cache

    from sweep.runner import _plain_actor_env

    # Tune's default as a fresh process has it (an earlier run in this one already dropped it)
    pristine = json.loads(subprocess.check_output([sys.executable, "-c", (
        "import json; from ray.tune.execution import class_cache as c; print(json.dumps(c.DEFAULT_ENV_VARS))")]))
    assert pristine == {"PL_DISABLE_FORK": "1"}, pristine
    monkeypatch.setattr(class_cache, "DEFAULT_ENV_VARS", pristine)
    for name in class_cache.ENV_VARS_TO_PROPAGATE:
        monkeypatch.delenv(name, raising=False)

    class Before:
        pass

    class After:
        pass

    env = class_cache._ActorClassCache().get(Before)._default_options["runtime_env"]
    assert env["env_vars"] == {"PL_DISABLE_FORK": "1"}, env  # Tune's default, as measured
    _plain_actor_env()
    assert not class_cache._ActorClassCache().get(After)._default_options["runtime_env"]
