"""Configurations packed into Tune trials: the order they go in (longest expected first, or
cheapest first for adaptive and budgeted sweeps), cheap ones sharing a trial on large grids,
and how many run at once."""

from __future__ import annotations

import math

from .cost import prior_cost
from .grid import Configuration


def expected_cost(cfg: Configuration) -> float:
    """A rough prior of a configuration's fit time (relative; sweep.cost.prior_cost): the order
    trials go in when nothing has been fitted yet."""
    return prior_cost(cfg)


PACK_ABOVE_PER_CORE = 16  # >= 4 x cores trials always remain (docs/design.md)


def pack(items: list[dict], min_trials: int, cheapest_first: bool = False) -> dict[str, list[dict]]:
    """Trials for the configurations, longest expected first.

    Each configuration is its own trial while there are at most `min_trials` of them. With
    more, cheap configurations share trials: within each resource shape the items go, most
    expensive first, to the trial with the least expected work so far (LPT), into as many
    trials as that shape's share of `min_trials` (never fewer). A trial's key is its first
    configuration's id; trials are ordered by expected work, longest first.

    With `cheapest_first` (adaptive sweeps) the configurations run cheapest first instead:
    each shape's items, ascending by expected work, are cut into that many contiguous
    chunks, and the trials go in that order, so what runs first is what is cheapest.
    """
    shapes: dict[tuple, list[dict]] = {}
    for it in sorted(items, key=lambda i: i["cost"] if cheapest_first else -i["cost"]):
        shapes.setdefault((it["config"]["cpu"], it["config"]["gpu"]), []).append(it)
    bins: list[tuple[float, list[dict]]] = []
    for group in shapes.values():
        n = len(group) if len(items) <= min_trials else \
            max(1, min(len(group), math.ceil(min_trials * len(group) / len(items))))
        if cheapest_first:
            size = math.ceil(len(group) / n)
            bins.extend((sum(i["cost"] for i in group[k:k + size]), group[k:k + size])
                        for k in range(0, len(group), size))
            continue
        loads = [[0.0, []] for _ in range(n)]
        for it in group:
            target = min(loads, key=lambda b: b[0])
            target[0] += it["cost"]
            target[1].append(it)
        bins.extend((load, members) for load, members in loads if members)
    bins.sort(key=lambda b: b[0] if cheapest_first else -b[0])
    return {members[0]["config"]["config_id"]: members for _, members in bins}


def slots(configs: list[Configuration], cores: int, max_concurrent: int | None = None) -> int:
    """How many configurations run at once on `cores` CPUs: cores over the CPUs a
    configuration takes (the median's), at most --max-concurrent."""
    cpus = sorted(max(c.cpu, 1e-9) for c in configs)[len(configs) // 2] if configs else 1.0
    n = max(1, int(cores // cpus)) if cpus >= 1 else cores
    return min(n, max_concurrent) if max_concurrent else n


def trial_order(configs: list[Configuration], rungs: list[int], cores: int, adaptive: bool) -> list[str]:
    """The order in which run_trials hands configurations to Tune (its trials in order, each
    trial's configurations in order): what sweep.prune.simulate should replay."""
    items = [{"config": {"config_id": c.config_id, "cpu": c.cpu, "gpu": c.gpu},
              "cost": expected_cost(c) * sum(rungs) / rungs[-1]} for c in configs]
    plan = pack(items, min_trials=PACK_ABOVE_PER_CORE * cores, cheapest_first=adaptive)
    return [it["config"]["config_id"] for members in plan.values() for it in members]
