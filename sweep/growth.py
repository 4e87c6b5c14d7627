"""How a fit's seconds grow with its sample size: the exponent b of t ∝ n ** b.

One estimate for the package: between two sizes it is the log-log slope (`exponent`); a
configuration's is the slope from its smallest to its largest fitted size
(`by_configuration`); an architecture's is the median of its configurations'
(`by_architecture`). The cost model starts from it (sweep.cost), the report draws it and the
stops' savings are counted with it (sweep.pareto.cost_slopes), and the adaptive rule predicts
a later rung's time with it (sweep.prune: the smallest exponent seen between two rungs, for
optimism, or the configuration's own between its last two).
"""

from __future__ import annotations

import math
import statistics
from typing import Iterable


def exponent(n0: float, t0: float, n1: float, t1: float) -> float | None:
    """b with t1 / t0 = (n1 / n0) ** b; None when a time or size is not positive or n1 == n0."""
    if min(n0, n1, t0, t1) <= 0 or n0 == n1:
        return None
    return math.log(t1 / t0) / math.log(n1 / n0)


def by_configuration(points: Iterable[tuple[str, float, float]]) -> dict[str, float]:
    """config_id → its exponent from its smallest to its largest size, over (config_id,
    n_train, seconds) points; configurations seen at one size only are left out."""
    by: dict[str, dict[float, float]] = {}
    for cid, n, t in points:
        by.setdefault(cid, {})[n] = t
    out = {}
    for cid, pts in by.items():
        ns = sorted(pts)
        b = exponent(ns[0], pts[ns[0]], ns[-1], pts[ns[-1]]) if len(ns) >= 2 else None
        if b is not None:
            out[cid] = b
    return out


def by_architecture(points: Iterable[tuple[str, str, float, float]]) -> dict[str, float]:
    """architecture → the median of its configurations' exponents, over (architecture,
    config_id, n_train, seconds) points; architectures with none are left out."""
    per: dict[str, list] = {}
    for arch, cid, n, t in points:
        per.setdefault(arch, []).append((cid, n, t))
    out = {}
    for arch, pts in per.items():
        own = list(by_configuration(pts).values())
        if own:
            out[arch] = statistics.median(own)
    return out
