"""Pilot fits: a few cheap (configuration, rung) fits per architecture, run as Ray tasks, that
the cost model (sweep.cost) learns from before a sweep is planned or budgeted.

Which: per architecture, the fewest configurations that between them show every searched
value (cheapest first by the prior; a value drawn from a numeric range by a random search
counts by its third of the drawn values: low, middle, high), at the smallest rung; then, while the pilots stay
within `share` of the predicted exhaustive cost, one configuration per architecture at the
second rung as well (so the model sees how the cost grows with n_train): the cheapest such
fit first, whose slope then sizes the share left for the others. The fits are the
trials' own (sweep.trainable.run_rungs: the same nested sample, thread limits and scoring),
and their records go to the run's ledger, so the sweep that follows does not fit them again.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from . import ledger
from .cost import CostModel, prior_cost, value_key
from .grid import Configuration

SHARE = 0.05  # pilots' core-seconds: at most this share of the predicted exhaustive cost
SLACK = 0.7   # the second rung's pilots are planned to this much of what the share leaves


def choose(configs: list[Configuration]) -> list[Configuration]:
    """Per architecture, a small set of configurations that covers every searched value."""
    by_arch: dict[str, list[Configuration]] = {}
    for c in configs:
        by_arch.setdefault(c.architecture, []).append(c)
    out = []
    for group in by_arch.values():
        group = sorted(group, key=lambda c: (prior_cost(c), c.config_id))
        shows = _shows(group)
        todo = set().union(*shows.values())
        picked: list[Configuration] = []
        while True:
            best, gain = None, 0
            for c in group:
                g = len(todo & shows[c.config_id]) if c not in picked else 0
                if g > gain:
                    best, gain = c, g
            if best is None:
                break
            picked.append(best)
            todo -= shows[best.config_id]
        out.extend(picked or group[:1])
    return out


def _shows(group: list[Configuration]) -> dict[str, set]:
    """Per configuration, the (parameter, value) pairs it shows: a grid value or choice as
    itself, a value drawn from a numeric range as its third (by rank) of the group's draws, so
    a random search's n distinct values need three pilots, not n."""
    thirds: dict[tuple[str, str], int] = {}
    for p in sorted({p for c in group for p in c.sampled}):
        drawn = sorted({c.params[p] for c in group if p in c.sampled and p in c.params})
        thirds.update({(p, value_key(v)): 3 * i // len(drawn) for i, v in enumerate(drawn)})
    out = {}
    for c in group:
        keys = set()
        for p in c.searched:
            k = value_key(c.params.get(p))
            keys.add((p, f"third {thirds[(p, k)]}") if p in c.sampled and (p, k) in thirds else (p, k))
        out[c.config_id] = keys
    return out


class _Collect:
    """A sink (sweep.recorder's interface) that keeps the records: the driver writes them."""

    def __init__(self):
        self.records: list[dict] = []

    def open(self, *a) -> None: ...
    def rung(self, *a) -> None: ...
    def close(self, *a, **k) -> None: ...
    def sync(self) -> None: ...

    def append(self, rec: dict) -> None:
        self.records.append(rec)


def _pilot(todo: list[tuple[dict, list[int]]], data: dict, task: str) -> list[dict]:
    """One architecture's pilots in one process, after one unrecorded warm-up fit (a fresh
    process's first fit of an estimator pays for imports and thread pools that a trial, which
    fits many, pays once)."""
    import ray

    from . import models
    from .pair import fit_one
    from .trainable import run_rungs

    from threadpoolctl import threadpool_limits

    cfg0, rungs0 = todo[0]
    order = models.nested_order(data["y_train"], cfg0["seed"])
    threads = max(1, int(cfg0.get("cpu", 1)))
    with threadpool_limits(limits=threads):  # as the trial's own fits are
        try:
            fit_one(cfg0, data, order[:rungs0[0]], task, threads)
        except Exception:  # the estimator's own error: run_rungs below records it per pair
            pass
    sink = _Collect()
    node = ray.get_runtime_context().get_node_id()
    for cfg, rungs in todo:  # no time limit: its timer would end this task's process
        run_rungs(dict(cfg, time_limit_s=None), data, rungs, task, "", None, sink=sink, trial_id="pilot",
                  node_id=node)
    for r in sink.records:
        r["pilot"] = True
    return sink.records


def run(todo: list[tuple[dict, list[int]]], data_ref, task: str, ledger_path: str | Path) -> list[dict]:
    """Fit each (configuration dict, rungs), one Ray task per architecture; append the records
    to the ledger (in the driver: a task on another node cannot see its disk). Returns them."""
    import ray

    fn = ray.remote(_pilot)
    groups: dict[str, list] = {}
    for cfg, rungs in todo:
        groups.setdefault(cfg["architecture"], []).append((cfg, rungs))
    refs = [fn.options(num_cpus=g[0][0]["cpu"], num_gpus=g[0][0]["gpu"], max_retries=0).remote(g, data_ref, task)
            for g in groups.values()]
    died = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError,
            ray.exceptions.LocalRayletDiedError)  # a bug in the pilot code (RayTaskError) is raised
    out = []
    for ref, group in zip(refs, groups.values()):
        try:
            recs = ray.get(ref)
        except died as exc:  # a pilot's process died: the model does without it
            print(f"warning: the pilot fits of {group[0][0]['architecture']} did not run "
                  f"({type(exc).__name__}); the cost model does without them", file=sys.stderr)
            continue
        for r in recs:
            ledger.append(ledger_path, r)
        out.extend(recs)
    return out


def cheapest(configs: list[Configuration]) -> list[Configuration]:
    """Per architecture, its cheapest configuration by the prior."""
    out: dict[str, Configuration] = {}
    for c in sorted(configs, key=lambda c: (prior_cost(c), c.config_id)):
        out.setdefault(c.architecture, c)
    return list(out.values())


def pilot(configs: list[Configuration], rungs: list[int], prepared, task: str, ledger_path: str | Path,
          cfg_dict, echo=print, share: float = SHARE, few: bool = False) -> dict:
    """Run the pilots the ledger lacks (see the module docstring); returns what they cost:
    fits, core_s (their fit seconds), wall_s, and every ok record the model may learn from.
    `few` (a --time-budget run, which pays for its pilots out of the budget): each
    architecture's cheapest configuration at the smallest rung only; the prior's shape
    (sweep.cost) carries it to the others."""
    import ray

    records, _ = ledger.read(ledger_path)
    held = ledger.latest(records)
    chosen = cheapest(configs) if few else choose(configs)
    seen_arch = {r.get("architecture") for r in held.values() if r.get("status") == "ok"}
    first = [c for c in chosen if c.architecture not in seen_arch and (c.config_id, rungs[0]) not in held]
    t0 = time.perf_counter()
    data_ref = ray.put(prepared.trial_data) if first else None
    new = run([(cfg_dict(c), [rungs[0]]) for c in first], data_ref, task, ledger_path) if first else []
    observed = [r for r in held.values() if r.get("status") == "ok"] + [r for r in new if r["status"] == "ok"]
    if len(rungs) > 1 and first and not few:
        # one architecture's median pilot at the second rung first (the cheapest such fit): the
        # slope it shows replaces the default slope, so the share left for the others is not overstated
        candidates = {}
        model = CostModel.fit(configs, observed)
        for arch in sorted({c.architecture for c in first}):
            pilots = sorted((c for c in first if c.architecture == arch),
                            key=lambda c: model.predict(c.config_id, rungs[1]))
            candidates[arch] = pilots[len(pilots) // 2]
        order = sorted(candidates.values(), key=lambda c: model.predict(c.config_id, rungs[1]))
        for step in (order[:1], order[1:]):
            model = CostModel.fit(configs, observed)
            # with slack: a pilot's time, and the prediction it is held to, both move once fitted
            room = SLACK * share * float(model.table(configs, rungs).sum()) - sum(_secs(r) for r in new)
            second = []
            for c in step:
                cost = model.predict(c.config_id, rungs[1])
                if cost <= room:
                    second.append(c)
                    room -= cost
            if second:
                more = run([(cfg_dict(c), [rungs[1]]) for c in second], data_ref, task, ledger_path)
                new += more
                observed += [r for r in more if r["status"] == "ok"]
    wall = time.perf_counter() - t0
    if new:
        echo(f"pilots: {len(new)} fit(s) of {len({r['config_id'] for r in new})} configuration(s) "
             f"in {wall:.1f} s ({sum(_secs(r) for r in new):.2f} core-s)")
    return {"fits": len(new), "core_s": sum(_secs(r) for r in new), "wall_s": wall, "observed": observed}


def _secs(r: dict) -> float:
    """A pilot's cost: the wall its measurement took (sweep.budget.wall_of)."""
    from .budget import wall_of

    return wall_of(r)
